"""Character features remembered across inference batches.

A word's character feature depends only on its spelling and the weights, so in inference (eval mode,
no gradient) each spelling needs computing once per set of weights, in whichever batch first holds
it: decoding a corpus then computes each distinct spelling of the whole corpus once instead of once
per batch, and a long-running service computes a frequent word once.

Lookups are vectorised: each spelling's key is the 64-bit hash ``k = Σ_i c_i·a_i mod 2^64`` of its
character ids ``c_i`` with fixed odd multipliers ``a_i`` (one per character position), found by binary
search among the held keys. Every hit is checked against the held spelling's characters, and the
spellings new to a call against each other, so a shared key can never hand one word another's feature:
should two spellings ever share one, that call computes its spellings without the memo.

The memo belongs to the weights as they are: its ``stamp`` names the weight tensors and their versions
(torch counts every in-place write, so an optimiser step or loading a state dict changes it) and the
autocast dtype in force, and a different stamp empties it. It holds at most ``limit`` spellings and is
emptied when full, so memory stays bounded on an endless stream. One lock serialises its use, so threads
may share a model.

Shapes: ``N`` rows of character ids ``(N, C)``, one word per row, 0-padded at the end (characters are
never 0 inside a word; an all-0 row is a padding position); ``F`` features per spelling.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from functools import lru_cache

import numpy as np
import torch

Compute = Callable[[torch.Tensor], torch.Tensor]


@lru_cache(maxsize=256)
def _multipliers(width: int) -> np.ndarray:
    """``a_0 … a_{width-1}``, odd 64-bit constants: the SplitMix64 finaliser of each position, so that
    position ``i`` has the same multiplier at every width."""
    z = np.arange(1, width + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # uint64 arithmetic wraps mod 2^64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (z ^ (z >> np.uint64(31))) | np.uint64(1)  # (width,)


def spelling_keys(ids: np.ndarray) -> np.ndarray:
    """``k = Σ_i c_i·a_i mod 2^64`` of each row of ``ids (N, C)``, ``(N,)`` uint64; trailing 0s add nothing,
    so a spelling has one key at every padded width."""
    return (ids.astype(np.uint64) * _multipliers(ids.shape[1])).sum(axis=1, dtype=np.uint64)


class SpellingMemo:
    """Features of spellings ``(N, C)`` character ids → ``(N, F)``."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.stamp: Hashable = None
        self.lock = threading.Lock()
        self.clear()

    def __reduce__(self) -> tuple:
        """Copies and pickles (``copy.deepcopy`` of a model, quantisation) start empty: no lock, no stale rows."""
        return (SpellingMemo, (self.limit,))

    def __len__(self) -> int:
        return len(self.keys)

    def clear(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        """The held spellings' keys, sorted, ``(n,)``."""
        self.slots = np.empty(0, dtype=np.int64)
        """The row of ``table`` of each key, ``(n,)``."""
        self.table: torch.Tensor | None = None
        """Features of the held spellings by row, ``(capacity, F)``; the first ``n`` rows are filled."""
        self.lengths = np.empty(0, dtype=np.int64)
        """Each row's character count, ``(capacity,)``."""
        self.offsets = np.empty(0, dtype=np.int64)
        """Where each row's characters start in ``chars``, ``(capacity,)``."""
        self.chars = np.empty(0, dtype=np.int64)
        """The held spellings' characters, one after another (to check every hit)."""
        self.used = 0
        """Characters held in ``chars``."""

    def features(self, spellings: torch.Tensor, compute: Compute, stamp: Hashable) -> torch.Tensor:
        """``compute(spellings)``, ``(N, F)``, computing only the distinct spellings this memo does not hold,
        each once (CPU)."""
        with self.lock:
            rows = self._fill(spellings, compute, stamp)
            if rows is None:
                return _each_once(spellings, compute)
            assert self.table is not None
            return self.table[torch.from_numpy(rows)]  # (N, F)

    def _fill(self, spellings: torch.Tensor, compute: Compute, stamp: Hashable) -> np.ndarray | None:
        """Each row's row of ``table``, ``(N,)``, after computing and storing what was missing; None when
        the memo cannot answer (two spellings share a key, more new spellings than ``limit``, no rows)."""
        if stamp != self.stamp:
            self.clear()
            self.stamp = stamp
        ids = spellings.numpy()  # (N, C)
        if ids.shape[0] == 0:
            return None
        lengths = (ids != 0).sum(axis=1)  # (N,)
        keys = spelling_keys(ids)  # (N,)
        rows = self._find(keys)  # (N,), -1 where not held
        held = rows >= 0
        if held.any() and not self._holds(ids[held], lengths[held], rows[held]):
            return None
        missing = np.flatnonzero(~held)  # (M,)
        if missing.size == 0:
            return rows
        new_keys, first, inverse = np.unique(keys[missing], return_index=True, return_inverse=True)  # (U,), (U,), (M,)
        chosen = missing[first]  # (U,): one row of each new spelling
        if not np.array_equal(ids[missing], ids[chosen][inverse]) or new_keys.size > self.limit:
            return None
        if len(self) + new_keys.size > self.limit:
            self.clear()
            return self._fill(spellings, compute, stamp)
        fresh = compute(spellings[torch.from_numpy(chosen)])  # (U, F)
        rows[missing] = self._store(new_keys, fresh, ids[chosen], lengths[chosen])[inverse]
        return rows

    def _find(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, ``(N,)``; -1 where none is held."""
        if not len(self):
            return np.full(keys.shape[0], -1, dtype=np.int64)
        at = np.searchsorted(self.keys, keys).clip(max=len(self) - 1)  # (N,)
        return np.where(self.keys[at] == keys, self.slots[at], -1)

    def _holds(self, ids: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> bool:
        """Whether the held spelling of each of ``rows`` is the row of ``ids (H, C)`` (of ``lengths (H,)``)."""
        if not np.array_equal(self.lengths[rows], lengths):
            return False
        columns = np.arange(int(lengths.max()))  # (W,)
        inside = columns < lengths[:, None]  # (H, W)
        held = np.where(inside, self.chars[np.where(inside, self.offsets[rows, None] + columns, 0)], 0)  # (H, W)
        return bool((held == ids[:, : columns.size]).all())

    def _store(self, keys: np.ndarray, fresh: torch.Tensor, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Hold ``fresh (U, F)`` as the features of the new spellings ``ids (U, C)`` with sorted distinct
        ``keys (U,)``, growing the arrays by doubling; their rows, ``(U,)``."""
        start, count = len(self), keys.shape[0]
        need, chars_need = start + count, self.used + int(lengths.sum())
        if self.table is None or self.table.shape[0] < need:
            capacity = max(need, 2 * self.lengths.shape[0], 1024)
            grown = fresh.new_empty(capacity, fresh.shape[1])  # (capacity, F)
            if self.table is not None:
                grown[:start] = self.table[:start]
            self.table = grown
            self.lengths, self.offsets = np.resize(self.lengths, capacity), np.resize(self.offsets, capacity)
        if self.chars.shape[0] < chars_need:
            self.chars = np.resize(self.chars, max(chars_need, 2 * self.chars.shape[0], 8192))
        self.table[start:need] = fresh
        self.lengths[start:need] = lengths
        self.offsets[start:need] = self.used + np.cumsum(lengths) - lengths
        self.chars[self.used : chars_need] = ids[np.arange(ids.shape[1]) < lengths[:, None]]  # row by row, each word's characters
        self.used = chars_need
        rows = np.arange(start, need)
        at = np.searchsorted(self.keys, keys)
        self.keys, self.slots = np.insert(self.keys, at, keys), np.insert(self.slots, at, rows)
        return rows


def distinct_words(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of ``flat (N, C)`` (character ids, one word per row) and, for each row, the index
    of its distinct row, so that ``words[inverse] == flat``.

    A word's character feature depends on its characters only, so each distinct spelling in a batch is
    computed once and copied to its positions. Rows are keyed by ``k = Σ_i c_i·a_i`` with fixed random weights ``a_i``
    small enough that the sum cannot overflow int64; a 1-D ``unique`` of the keys is far cheaper than
    ``unique(dim=0)``. The result is checked (``words[inverse] == flat``): if two spellings ever shared a
    key, every row is returned as its own word. Gradients flow back through the copy to the shared row.
    """
    n, width = flat.shape
    top = int(flat.max()) if n * width else 0
    bits = 62 - max(1, top.bit_length()) - max(1, width.bit_length())  # Σ_i c_i·a_i < 2^62
    identity = (flat, torch.arange(n, device=flat.device))
    if bits < 16:
        return identity
    weights = torch.randint(1, 2**bits, (width,), generator=_KEY_GENERATOR.manual_seed(width)).to(flat.device)  # (C,)
    keys, inverse = torch.unique((flat * weights).sum(dim=1), return_inverse=True)  # (W,), (N,)
    first = torch.empty(keys.shape[0], dtype=torch.long, device=flat.device).scatter_(0, inverse, identity[1])  # (W,)
    words = flat[first]  # (W, C)
    if not torch.equal(words[inverse], flat):
        return identity
    return words, inverse


_KEY_GENERATOR = torch.Generator()


def _each_once(spellings: torch.Tensor, compute: Compute) -> torch.Tensor:
    """``compute(spellings)`` without the memo, each distinct row computed once, ``(N, F)``."""
    words, inverse = distinct_words(spellings)  # (S, C), (N,)
    return compute(words)[inverse]  # (N, F)
