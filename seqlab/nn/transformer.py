"""Contextual word vectors from a pretrained transformer (``model.embedding.transformer``).

seqlab's words go to the transformer's fast tokenizer as pre-split words; word ``i``'s vector pools the
hidden states of its own subwords ``S_i`` (from the chosen ``layers``, averaged or concatenated):

    first: v_i = h_{min S_i}      last: v_i = h_{max S_i}      mean: v_i = (1/|S_i|) Σ_{s ∈ S_i} h_s

A word the tokenizer turns into no subword at all (e.g. a lone zero-width or control character) is
given the tokenizer's unknown token in its place, so it still has one subword and a contextual vector
(a tokenizer without an unknown token leaves such a word the zero vector). No word is dropped or moved.

A sentence of more subwords than fit in one input (``max_length`` less the special tokens) is read in
windows that overlap by ``stride`` subwords; each subword takes its state from the window where it has
the most context, ``max_w min(p − start_w, end_w − 1 − p)`` (the first such window on a tie). A sentence
that fits is one window: exactly a single pass.

Frozen (``fine_tune: false``), the transformer stays in eval mode, runs without gradients and reads
each sentence on its own (no padding, so a sentence's vectors never depend on its batch); with the
cache on, each sentence's vectors are kept in host memory for the run. Fine-tuned, a batch's windows
run together, padded, with gradients.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seqlab.config.model import TransformerConfig
from seqlab.errors import ModelError
from seqlab.nn.backbone import Backbone


def plan_windows(count: int, size: int, stride: int) -> list[tuple[int, int]]:
    """``[start, end)`` windows of at most ``size`` over ``count`` subwords, consecutive ones sharing
    ``stride``; the last ends at ``count``. One window when ``count ≤ size``."""
    if count <= size:
        return [(0, count)]
    step = size - stride
    starts = list(range(0, count - size, step)) + [count - size]
    return [(s, s + size) for s in starts]


def best_window(windows: Sequence[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """For each subword ``p < count``: ``(window, p − start)`` of the window where ``p`` has the most
    context, ``min(p − start, end − 1 − p)``; the first on a tie."""
    chosen = []
    for p in range(count):
        score, index = max((min(p - s, e - 1 - p), -w) for w, (s, e) in enumerate(windows) if s <= p < e)
        chosen.append((-index, p - windows[-index][0]))
    return chosen


def input_limit(backbone: Backbone) -> int:
    """The most tokens one input may hold: the tokenizer's ``model_max_length`` and 512, whichever is less.
    A tokenizer that states no limit leaves the position table's size, checked by running the network
    on inputs that long: some models (RoBERTa's family) read fewer positions than their table holds."""
    stated = getattr(backbone.tokenizer, "model_max_length", None)
    if isinstance(stated, int) and 0 < stated <= 100_000:
        return min(512, stated)
    table = getattr(backbone.network.config, "max_position_embeddings", None)
    length = min(512, table) if isinstance(table, int) and table > 0 else 512
    word = backbone.tokenizer(["a"], is_split_into_words=True, add_special_tokens=False)["input_ids"][0]  # not padding: positions count
    for candidate in range(length, max(length - 8, 1), -1):
        try:
            with torch.no_grad():
                backbone.network(input_ids=torch.full((1, candidate), word, dtype=torch.long, device=next(backbone.network.parameters()).device))
            return candidate
        except (IndexError, RuntimeError):
            continue
    return max(length - 8, 1)


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after one sequence (e.g. ``[CLS]`` and ``[SEP]``), found by
    tokenising a probe word with and without them."""
    bare = list(tokenizer(["a"], is_split_into_words=True, add_special_tokens=False)["input_ids"])
    full = list(tokenizer(["a"], is_split_into_words=True)["input_ids"])
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    raise ModelError("model.embedding.transformer.model: its tokenizer changes a word when it adds special tokens; cannot align words")


@dataclass(frozen=True)
class Pieces:
    """One sentence prepared for the transformer."""

    windows: list[list[int]]
    """Input ids of each window, special tokens included."""
    where: list[tuple[int, int]]
    """For each subword: (window, position in that window's input)."""
    owner: list[int]
    """For each subword: the word it belongs to."""
    words: int


class TransformerEmbedding(nn.Module):
    """Word vectors ``(B, L, D)`` from the transformer for pre-split sentences (see the module docstring)."""

    def __init__(self, backbone: Backbone, config: TransformerConfig) -> None:
        super().__init__()
        self.network = backbone.network
        self.backbone = backbone
        self.fine_tune = config.fine_tune
        self.pooling = config.pooling
        self.combine = config.combine
        network_config = self.network.config
        count = int(getattr(network_config, "num_hidden_layers", 0)) + 1
        for layer in config.layers:
            if not -count <= layer < count:
                raise ModelError(f"model.embedding.transformer.layers: {layer} is out of range for '{config.model}' ({count} hidden states, 0..{count - 1} or -{count}..-1)")
        self.layers = tuple(layer % count for layer in config.layers)
        hidden = int(network_config.hidden_size)
        self.output_dim = hidden * (len(self.layers) if config.combine == "concat" else 1)
        self.prefix, self.suffix = special_tokens(backbone.tokenizer)
        self.lead = len(self.prefix)
        limit = input_limit(backbone)
        length = config.max_length if config.max_length is not None else limit
        if length > limit:
            raise ModelError(f"model.embedding.transformer.max_length: {length} is more than '{config.model}' reads ({limit})")
        self.size = length - len(self.prefix) - len(self.suffix)
        self.stride = config.stride if config.stride is not None else self.size // 2
        if self.size < 1 or self.stride >= self.size:
            raise ModelError(f"model.embedding.transformer.stride: {self.stride} must be less than the {self.size} subwords a window of max_length {length} holds")
        self.cache: dict[tuple[str, ...], torch.Tensor] | None = None
        if not self.fine_tune:
            self.network.requires_grad_(False)

    def train(self, mode: bool = True) -> "TransformerEmbedding":
        super().train(mode)
        if not self.fine_tune:
            self.network.eval()  # a fixed transformer never applies dropout
        return self

    def keep_vectors(self) -> None:
        """Cache each sentence's vectors from now on (frozen only; the cache lives as long as this module)."""
        if not self.fine_tune and self.cache is None:
            self.cache = {}

    def pieces(self, words: Sequence[str]) -> Pieces:
        """Subwords, windows and word ownership of one sentence."""
        tokenizer = self.backbone.tokenizer
        words = list(words)
        encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
        owners = encoding.word_ids()
        empty = set(range(len(words))) - set(owners)
        if empty and tokenizer.unk_token is not None:
            words = [tokenizer.unk_token if i in empty else w for i, w in enumerate(words)]
            encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
            owners = encoding.word_ids()
        ids = list(encoding["input_ids"])
        windows = plan_windows(len(ids), self.size, self.stride)
        inputs = [self.prefix + ids[s:e] + self.suffix for s, e in windows]
        where = [(w, self.lead + offset) for w, offset in best_window(windows, len(ids))]
        return Pieces(inputs, where, [int(o) for o in owners], len(words))

    def _states(self, windows: list[list[int]]) -> torch.Tensor:
        """Hidden states of ``windows`` (padded into one batch), ``(N, S, D)`` after combining layers."""
        device = next(self.network.parameters()).device
        width = max(len(w) for w in windows)
        pad = self.backbone.tokenizer.pad_token_id or 0
        ids = torch.full((len(windows), width), pad, dtype=torch.long)  # (N, S)
        attention = torch.zeros((len(windows), width), dtype=torch.long)  # (N, S)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = torch.tensor(window, dtype=torch.long)
            attention[row, : len(window)] = 1
        out = self.network(input_ids=ids.to(device), attention_mask=attention.to(device), output_hidden_states=True)
        chosen = [out.hidden_states[layer] for layer in self.layers]  # each (N, S, H)
        return torch.stack(chosen).mean(dim=0) if self.combine == "mean" else torch.cat(chosen, dim=2)

    def _pool(self, states: torch.Tensor, pieces: Pieces) -> torch.Tensor:
        """``states (N, S, D)`` of the sentence's windows → word vectors ``(words, D)``."""
        window = torch.tensor([w for w, _ in pieces.where], dtype=torch.long, device=states.device)  # (P,)
        position = torch.tensor([p for _, p in pieces.where], dtype=torch.long, device=states.device)  # (P,)
        sub = states[window, position]  # (P, D)
        owner = torch.tensor(pieces.owner, dtype=torch.long, device=states.device)  # (P,)
        out = sub.new_zeros(pieces.words, sub.shape[1])  # (words, D)
        if self.pooling == "mean":
            counts = torch.zeros(pieces.words, dtype=sub.dtype, device=sub.device).index_add_(0, owner, torch.ones_like(owner, dtype=sub.dtype))
            return out.index_add(0, owner, sub) / counts.clamp(min=1).unsqueeze(1)
        order = torch.arange(len(pieces.owner), device=sub.device)  # subword positions are increasing per word
        pick = torch.full((pieces.words,), -1, dtype=torch.long, device=sub.device)
        pick = pick.scatter_reduce(0, owner, order, reduce="amin" if self.pooling == "first" else "amax", include_self=False)
        present = pick >= 0  # (words,)
        return out.index_put((present.nonzero(as_tuple=True)[0],), sub[pick[present]])

    def _sentence(self, words: tuple[str, ...]) -> torch.Tensor:
        """One sentence's word vectors on its own, ``(n, D)``, from the cache when it holds them."""
        if self.cache is not None and words in self.cache:
            return self.cache[words]
        pieces = self.pieces(words)
        vectors = self._pool(self._states(pieces.windows), pieces)  # (n, D)
        if self.cache is not None:
            vectors = vectors.cpu()
            self.cache[words] = vectors
        return vectors

    def forward(self, tokens: Sequence[Sequence[str]], seq: int) -> torch.Tensor:
        """``tokens``: each sentence's words (B of them) → ``(B, seq, D)``, zero past each sentence's end."""
        device = next(self.network.parameters()).device
        if self.fine_tune:
            prepared = [self.pieces(words) for words in tokens]
            states = self._states([w for p in prepared for w in p.windows])  # (N, S, D)
            vectors, first = [], 0
            for p in prepared:
                vectors.append(self._pool(states[first : first + len(p.windows)], p))
                first += len(p.windows)
        else:
            with torch.no_grad():
                vectors = [self._sentence(tuple(words)) for words in tokens]
        out = torch.zeros(len(tokens), seq, self.output_dim, device=device)  # (B, seq, D)
        for row, v in enumerate(vectors):
            out[row, : v.shape[0]] = v.to(device=device, dtype=out.dtype)
        return out
