"""Token representations: a word embedding, optionally concatenated with character-level features
(CNN or BiLSTM over the word's characters) and a casing-class embedding."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from seqlab.capture import capturing
from seqlab.data.batches import CASINGS
from seqlab.errors import ModelError
from seqlab.nn.dropout import Dropout
from seqlab.nn.fp32 import fp32_lstm_on_cpu
from seqlab.nn.spelling_memo import SpellingMemo, distinct_words

GROUP_COST = 1000
"""One more call of the character features costs about as much as this many character positions (CPU)."""


def length_groups(counts: list[int], call_cost: int = GROUP_COST) -> list[tuple[int, int]]:
    """Cut words sorted by length, ``counts`` (ascending), into runs ``[(start, end)]`` that minimise
    ``Σ_g rows_g · width_g + call_cost · groups``, where a run's width is its last (longest) count: each
    run is computed at its own width. Dynamic programming over the places where the count changes,
    ``cost(j) = min_{i<j} cost(i) + (j − i) · counts[j−1] + call_cost``."""
    n = len(counts)
    ends = [k for k in range(1, n + 1) if k == n or counts[k] != counts[k - 1]]
    cost, back = {0: 0}, {0: 0}
    for j in ends:
        cost[j], back[j] = min((cost[i] + (j - i) * max(counts[j - 1], 1) + call_cost, i) for i in back)  # every earlier end
    groups = []
    while n:
        groups.append((back[n], n))
        n = back[n]
    return groups[::-1]


def _share_spellings(flat: torch.Tensor) -> bool:
    """Whether to compute each distinct spelling once: eagerly on the CPU. A captured graph keeps the
    general path; on a GPU the per-word work is cheap and ``distinct_words`` would wait on the device
    twice per batch."""
    return flat.device.type == "cpu" and not capturing()


class CharFeatures(nn.Module):
    """A per-word feature from the word's characters: ``(B, L, C)`` character ids → ``(B, L, output_dim)``.

    Each distinct spelling of a batch is computed once (``_features``, by the subclass) and copied to its
    positions; in inference on the CPU (eval mode, no gradients) the features are also remembered
    across batches (``seqlab.nn.spelling_memo``), keyed by the weights as they are.
    """

    pads_to_width = True
    """Whether ``_features`` works on every position up to the widest word, padding included; then
    inference computes new spellings in groups of similar length (``_features_by_length``)."""

    def __init__(self, output_dim: int) -> None:
        super().__init__()
        self.output_dim = output_dim
        self.memo = SpellingMemo(limit=max(1, 10_000_000 // output_dim))  # at most 10M numbers (40 MB in fp32)
        """In inference on the CPU, the features of spellings already computed with the same weights."""

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """``chars (B, L, C)`` long → ``(B, L, output_dim)``."""
        batch, seq, width = chars.shape
        flat = chars.reshape(batch * seq, width)  # (B*L, C)
        if self._remembers(flat):
            return self.memo.features(flat, self._inference_features, self._stamp()).reshape(batch, seq, -1)  # (B, L, F)
        spellings, inverse = distinct_words(flat) if _share_spellings(flat) else (flat, None)  # (S, C), (B*L,)
        h = self._features(spellings)  # (S, F)
        h = h if inverse is None else h[inverse]  # (B*L, F)
        return h.reshape(batch, seq, -1)  # (B, L, F)

    def _remembers(self, flat: torch.Tensor) -> bool:
        """Whether the memo serves ``flat``: inference (eval mode, no gradients), eagerly on the CPU."""
        return _share_spellings(flat) and not self.training and not torch.is_grad_enabled()

    def _inference_features(self, flat: torch.Tensor) -> torch.Tensor:
        """``_features`` of ``flat (N, C)``, in groups of similar length where that saves work."""
        return self._features_by_length(flat) if self.pads_to_width else self._features(flat)

    def _features_by_length(self, flat: torch.Tensor) -> torch.Tensor:
        """``_features`` of ``flat (N, C)`` computed in groups of words of similar length, each group cut
        to its own longest word (``length_groups``): the same features, since the characters past a
        word's end are padding, which never enters its feature, but far fewer padded positions when one
        long word sets the width of all (the CoNLL-2003 test set at batch 128: 177K positions for 62K
        characters). Used in inference only: in training the split would change the order in which the
        weights' gradients are summed."""
        if flat.shape[0] == 0:
            return self._features(flat)
        counts = (flat != 0).sum(dim=1)  # (N,)
        order = counts.argsort(stable=True)  # (N,): ties in input order, so that each run computes the same rows together
        ranked = counts[order].tolist()
        parts = [self._features(flat[order[i:j], : max(ranked[j - 1], 1)]) for i, j in length_groups(ranked)]  # [(n_g, F)]
        return torch.cat(parts).index_select(0, order.argsort())  # (N, F), rows back in input order

    def _stamp(self) -> tuple:
        """What the features depend on besides the spelling: each weight tensor as it is (its identity and
        in-place write count) and the CPU autocast dtype in force, if any."""
        cast = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None
        return (cast, *((id(p), p._version) for p in self.parameters()))

    def _features(self, flat: torch.Tensor) -> torch.Tensor:
        """``flat (N, C)`` character ids, one word per row (all-0 rows are padding) → ``(N, output_dim)``."""
        raise NotImplementedError


class CharCNN(CharFeatures):
    """Per-word character CNN with max-pooling over the word's characters (Ma & Hovy, 2016).

    ``c_w = max_k conv(chars(w))_k`` over the real characters of ``w`` only: padding characters never
    win the max, so a word's feature does not depend on the longest word in its batch.
    """

    def __init__(self, num_chars: int, dim: int, filters: int, kernel: int) -> None:
        super().__init__(filters)
        self.embed = nn.Embedding(num_chars, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, filters, kernel_size=kernel, padding=kernel // 2)

    def _features(self, flat: torch.Tensor) -> torch.Tensor:
        """``flat (N, C)`` character ids, one word per row → ``(N, filters)``."""
        width = flat.shape[1]
        if _share_spellings(flat):
            h = self._window_conv(flat)  # (N, C, filters)
        else:
            h = self.conv(self.embed(flat).transpose(1, 2))[:, :, :width].transpose(1, 2)  # (N, C, filters)
        real = (flat != 0).unsqueeze(2)  # (N, C, 1)
        h = h.masked_fill(~real, float("-inf")).max(dim=1).values  # (N, filters)
        return h.masked_fill(~real.any(dim=1), 0.0)  # padded words: 0 instead of -inf

    def _window_conv(self, flat: torch.Tensor) -> torch.Tensor:
        """``self.conv`` over the embedded characters of ``flat (N, C)`` as one matrix product of each
        position's window of ``kernel`` characters with the filters,
        ``h[n, c, f] = b_f + Σ_{j,d} w[f, d, j]·e[id_pad[n, c + j], d]``, ``(N, C, filters)``.

        The windows are cut from the character ids (the padding id 0, whose embedding row is 0, stands for
        the convolution's zero padding) and then looked up, so the forward pass makes no padded copy of the
        embedded characters and the backward pass adds each window's gradient straight into the embedding
        rows instead of undoing an ``unfold``. The same convolution; on the CPU the small, ever-changing
        shapes of per-batch spellings cost oneDNN's convolution about twice as much, forward and backward."""
        count, width = flat.shape
        kernel, pad = self.conv.kernel_size[0], self.conv.padding[0]
        windows = F.pad(flat, (pad, pad)).unfold(1, kernel, 1)[:, :width]  # (N, C, kernel) ids
        x = self.embed(windows)  # (N, C, kernel, dim)
        size = kernel * self.embed.embedding_dim
        weight = self.conv.weight.transpose(1, 2).reshape(self.conv.out_channels, size)  # (filters, kernel·dim)
        return F.linear(x.reshape(count, width, size), weight, self.conv.bias)  # (N, C, filters)


class CharLSTM(CharFeatures):
    """Per-word character BiLSTM (Lample et al., 2016): ``c_w = [→h_last; ←h_first]`` over ``w``'s characters.

    Each word is its own sequence (packed by its character count), so a word's feature does not depend
    on the other words in its batch; padded words (no characters) get 0. (``seqlab.export`` swaps in a
    selection-free equivalent for graph exports.)
    """

    pads_to_width = False  # packed by each word's length: grouping would only add calls (15% slower)

    def __init__(self, num_chars: int, dim: int, hidden: int) -> None:
        super().__init__(2 * hidden)
        self.embed = nn.Embedding(num_chars, dim, padding_idx=0)
        self.rnn = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)

    def _features(self, spellings: torch.Tensor) -> torch.Tensor:
        """``spellings (S, C)`` → ``(S, 2·hidden)``; padding rows get 0."""
        counts = (spellings != 0).sum(dim=1)  # (S,)
        real = counts > 0  # (S,)
        out = spellings.new_zeros(spellings.shape[0], self.output_dim, dtype=self.embed.weight.dtype)  # (S, 2H)
        if bool(real.any()):
            words = spellings[real]  # (W, C): only real words go through the LSTM, each spelling once
            with fp32_lstm_on_cpu(self.embed(words)) as embedded:
                packed = pack_padded_sequence(embedded, counts[real].cpu(), batch_first=True, enforce_sorted=False)
                _, (h_n, _) = self.rnn(packed)  # h_n (2, W, H)
            h_n = h_n.to(out.dtype)
            out = out.index_put((real.nonzero(as_tuple=True)[0],), torch.cat([h_n[0], h_n[1]], dim=1))  # (S, 2H)
        return out


def initialise_embeddings(module: nn.Module, kind: str) -> None:
    """Re-draw every ``nn.Embedding`` under ``module``: ``uniform`` is U(−√(3/d), √(3/d)) (unit expected
    squared norm per vector); ``normal`` leaves torch's N(0, 1). Padding rows stay 0. A pretrained
    transformer's tables (under a ``transformer`` child) keep their weights."""
    if kind == "normal":
        return
    for name, table in module.named_modules():
        if isinstance(table, nn.Embedding) and not name.startswith("transformer."):
            bound = math.sqrt(3.0 / table.embedding_dim)
            with torch.no_grad():
                table.weight.uniform_(-bound, bound)
                if table.padding_idx is not None:
                    table.weight[table.padding_idx].zero_()


class TokenEmbedding(nn.Module):
    """``x_t = dropout([word(w_t); char(w_t); casing(w_t); transformer(sentence)_t])``, each part optional
    (``dim = 0`` turns the word part off); word dropout replaces known words by ``<unk>`` (id 1). The
    casing part (``casing_dim > 0``) embeds the class of ``seqlab.data.batches.casing_id``; the transformer part
    is ``seqlab.nn.transformer.TransformerEmbedding``, which reads the sentence's words as strings."""

    def __init__(
        self,
        num_words: int,
        dim: int,
        dropout: float,
        word_dropout: float,
        char: nn.Module | None,
        casing_dim: int = 0,
        transformer: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, dim, padding_idx=0) if dim > 0 else None
        self.char = char
        self.casing = nn.Embedding(len(CASINGS), casing_dim, padding_idx=0) if casing_dim > 0 else None
        self.dropout = Dropout(dropout)
        self.word_dropout = word_dropout
        self.transformer = transformer
        parts = (char, transformer)
        self.output_dim = dim + casing_dim + sum(part.output_dim for part in parts if part is not None)

    def forward(
        self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor | None = None, tokens: tuple[tuple[str, ...], ...] = (),
    ) -> torch.Tensor:
        """``words (B, L)``, ``chars (B, L, C)``, ``casing (B, L)``, ``tokens`` (the B sentences' words, for
        the transformer part) → ``(B, L, output_dim)``."""
        parts = []
        if self.words is not None:
            if self.training and self.word_dropout > 0:
                drop = (torch.rand(words.shape, device=words.device) < self.word_dropout) & (words > 1)  # (B, L)
                words = words.masked_fill(drop, 1)
            parts.append(self.words(words))  # (B, L, dim)
        if self.char is not None:
            parts.append(self.char(chars))  # (B, L, char features)
        if self.casing is not None:
            if casing is None:
                raise ModelError("this model embeds casing classes; pass the batch's casing ids")
            parts.append(self.casing(casing))  # (B, L, casing_dim)
        if self.transformer is not None:
            if len(tokens) != words.shape[0]:
                raise ModelError("this model reads words with a transformer; pass the batch's tokens")
            parts.append(self.transformer(tokens, words.shape[1]))  # (B, L, transformer features)
        x = torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]  # (B, L, output_dim)
        return self.dropout(x)
