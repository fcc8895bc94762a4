"""The order in which the page asks about sentences, and who is working on which.

Before the first model: the ``--seed-file`` sentences in their order, then the rest in a random order
fixed by the seed. Once a model has scored the pool: highest uncertainty first (``random``: the same
random order), with the model's spans as each sentence's suggestion.

An annotator is never given a sentence they answered, one that ``per_sentence`` annotators have
answered, or one another annotator holds: the sentence an annotator is given is theirs until they
answer it or ``lease`` seconds pass, and it is what they are given again (after a reload, an undo, or
a restart of the server: holds are kept in the store).
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

from seqlab.annotate.store import Store, Suggested


class Queue:
    def __init__(self, store: Store, first: Sequence[int] = (), per_sentence: int = 1, lease: float = 600.0, seed: int = 1, by_score: bool = True) -> None:
        self.store, self.per_sentence, self.lease, self.by_score = store, per_sentence, lease, by_score
        ids = [s.id for s in store.sentences()]
        self.size = len(ids)
        firsts = set(first)
        rest = [i for i in ids if i not in firsts]
        random.Random(seed).shuffle(rest)
        self.cold = [*first, *rest]
        self.order = self.cold
        self.version: int | None = None
        self.holders: dict[int, tuple[str, float]] = store.holds()
        self.seen = 0
        """The last answer row folded into ``current`` (rows are read once: ``answered``)."""
        self.current: dict[int, set[str]] = {}
        self.loading = False
        self.lock = threading.Lock()

    def refresh(self) -> None:
        """Take the latest model's order when it changed: the first one at once, later ones in a thread of
        their own (the page goes on with the previous order meanwhile). A sentence's suggested spans are
        read when it is shown (``suggestion``)."""
        version = self.store.suggestion_version()
        if version is None or version == self.version or self.loading:
            return
        if self.version is None:
            self._load(version)
            return
        self.loading = True
        threading.Thread(target=self._load, args=(version,), name="seqlab-queue-refresh", daemon=True).start()

    def _load(self, version: int) -> None:
        try:
            order = self.store.suggestion_order() if self.by_score else self.cold
            with self.lock:
                self.version, self.order = version, order
        finally:
            self.loading = False

    def suggestion(self, sentence: int) -> tuple[int, float, tuple[Suggested, ...]] | None:
        """The latest model's ``(version, score, spans)`` for ``sentence`` (None before the first model)."""
        return self.store.suggestions(sentence).get(sentence)

    def next_for(self, annotator: str) -> int | None:
        """The sentence to show ``annotator`` now (None when nothing is left for them)."""
        return self.choose(annotator)[0]

    def choose(self, annotator: str) -> tuple[int | None, dict[int, set[str]]]:
        """``next_for``'s sentence, with the answers it was chosen against (``Store.answered``), read once."""
        self.refresh()
        with self.lock:  # answers are read under the lock: one committed before a release is always seen
            answered = self._answered()
            now = time.time()
            for sentence, (holder, until) in sorted(self.holders.items()):
                if holder == annotator and until > now and annotator not in answered.get(sentence, ()):
                    return sentence, answered
            for sentence in self.order:
                who = answered.get(sentence, ())
                if annotator in who or len(who) >= self.per_sentence:
                    continue
                holder = self.holders.get(sentence)
                if holder is not None and holder[0] != annotator and holder[1] > now:
                    continue
                self._hold(sentence, annotator)
                return sentence, answered
        return None, answered

    def answered(self) -> dict[int, set[str]]:
        """``Store.answered`` (sentence → annotators with a current answer), kept up to date by reading
        only the rows stored since the last call: its cost does not grow with the answers stored."""
        with self.lock:
            return self._answered()

    def _answered(self) -> dict[int, set[str]]:
        for row, sentence, annotator, action in self.store.rows_since(self.seen):
            self.seen = row
            who = self.current.setdefault(sentence, set())
            if action == "undo":  # an annotator's current answer is their latest row, unless it is an undo
                who.discard(annotator)
            else:
                who.add(annotator)
            if not who:
                del self.current[sentence]
        return {sentence: set(who) for sentence, who in self.current.items()}

    def _hold(self, sentence: int, annotator: str) -> None:
        self.holders[sentence] = (annotator, time.time() + self.lease)
        self.store.set_hold(sentence, annotator, self.holders[sentence][1])

    def hold(self, sentence: int, annotator: str) -> None:
        with self.lock:
            self._hold(sentence, annotator)

    def release(self, sentence: int, annotator: str) -> None:
        with self.lock:
            if self.holders.get(sentence, ("",))[0] == annotator:
                del self.holders[sentence]
                self.store.set_hold(sentence, None)
