"""Token representations: a word embedding, optionally concatenated with character-level features."""
from __future__ import annotations

import torch
from torch import nn


class CharCNN(nn.Module):
    """Per-word character CNN with max-pooling over the word's characters (Ma & Hovy, 2016).

    ``c_w = max_k conv(chars(w))_k`` over the real characters of ``w`` only: padding characters never
    win the max, so a word's feature does not depend on the longest word in its batch.
    """

    def __init__(self, num_chars: int, dim: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, filters, kernel_size=kernel, padding=kernel // 2)
        self.output_dim = filters

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """``chars (B, L, C)`` long → ``(B, L, filters)``."""
        batch, seq, width = chars.shape
        flat = chars.reshape(batch * seq, width)  # (B*L, C)
        x = self.embed(flat).transpose(1, 2)  # (B*L, dim, C)
        h = self.conv(x)[:, :, :width]  # (B*L, filters, C)
        real = (flat != 0).unsqueeze(1)  # (B*L, 1, C)
        h = h.masked_fill(~real, float("-inf")).max(dim=2).values  # (B*L, filters)
        h = h.masked_fill(~real.any(dim=2), 0.0)  # padded words: 0 instead of -inf
        return h.reshape(batch, seq, -1)  # (B, L, filters)


class TokenEmbedding(nn.Module):
    """``x_t = dropout([word(w_t); char(w_t)])``; word dropout replaces known words by ``<unk>`` (id 1)."""

    def __init__(
        self,
        num_words: int,
        dim: int,
        dropout: float,
        word_dropout: float,
        char: CharCNN | None,
    ) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, dim, padding_idx=0)
        self.char = char
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = word_dropout
        self.output_dim = dim + (char.output_dim if char is not None else 0)

    def forward(self, words: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
        """``words (B, L)``, ``chars (B, L, C)`` → ``(B, L, output_dim)``."""
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(words.shape, device=words.device) < self.word_dropout) & (words > 1)  # (B, L)
            words = words.masked_fill(drop, 1)
        x = self.words(words)  # (B, L, dim)
        if self.char is not None:
            x = torch.cat([x, self.char(chars)], dim=2)  # (B, L, dim + filters)
        return self.dropout(x)
