"""Character features remembered across inference batches.

A word's character feature depends only on its spelling and the weights, so in inference (eval mode,
no gradient) each spelling needs computing once per set of weights, in whichever batch first holds
it: decoding a corpus then computes each distinct spelling of the whole corpus once instead of once
per batch, and a long-running service computes a frequent word once.

The memo belongs to the weights as they are: its ``stamp`` names the weight tensors and their versions
(torch counts every in-place write, so an optimiser step or loading a state dict changes it) and the
autocast dtype in force, and a different stamp empties it. It holds at most ``limit`` spellings and is emptied when full, so memory
stays bounded on an endless stream. One lock serialises its use, so threads may share a model.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

import numpy as np
import torch


class SpellingMemo:
    """Features of spellings ``(N, C)`` character ids (0-padded at the end) → ``(N, F)``."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.rows: dict[bytes, int] = {}
        """Spelling (its character ids without padding, as bytes) → row of ``table``."""
        self.table: torch.Tensor | None = None
        """Features of the remembered spellings, ``(capacity, F)``; the first ``len(rows)`` rows are filled."""
        self.stamp: Hashable = None
        self.lock = threading.Lock()

    def __reduce__(self) -> tuple:
        """Copies and pickles (``copy.deepcopy`` of a model, quantisation) start empty: no lock, no stale rows."""
        return (SpellingMemo, (self.limit,))

    def clear(self) -> None:
        self.rows.clear()
        self.table = None

    def features(self, spellings: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor], stamp: Hashable) -> torch.Tensor:
        """``compute(spellings)``, ``(N, F)``, computing only the spellings this memo does not hold (CPU)."""
        with self.lock:
            return self._features(spellings, compute, stamp)

    def _features(self, spellings: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor], stamp: Hashable) -> torch.Tensor:
        if stamp != self.stamp or len(self.rows) + spellings.shape[0] > self.limit:
            self.clear()
            self.stamp = stamp
        ids = spellings.numpy()
        lengths = (spellings != 0).sum(dim=1).tolist()  # characters are never 0 inside a word
        keys = [ids[k, :n].tobytes() for k, n in enumerate(lengths)]
        held = self.rows
        new: dict[bytes, int] = {}  # each spelling not held → its first row
        for k, key in enumerate(keys):
            if key not in held:
                new.setdefault(key, k)
        if new:
            self._store(list(new), compute(spellings[torch.tensor(list(new.values()))]))  # (M, F)
        rows = np.fromiter(map(held.__getitem__, keys), dtype=np.int64, count=len(keys))  # (N,)
        assert self.table is not None
        return self.table[torch.from_numpy(rows)]  # (N, F)

    def _store(self, keys: list[bytes], fresh: torch.Tensor) -> None:
        """Append ``fresh (M, F)`` as the rows of ``keys`` (distinct, new), growing ``table`` by doubling."""
        start = len(self.rows)
        need = start + len(keys)
        if self.table is None or self.table.shape[0] < need:
            capacity = max(need, 2 * (0 if self.table is None else self.table.shape[0]), 1024)
            grown = fresh.new_empty(capacity, fresh.shape[1])  # (capacity, F)
            if self.table is not None:
                grown[:start] = self.table[:start]
            self.table = grown
        self.table[start:need] = fresh
        self.rows.update(zip(keys, range(start, need)))
