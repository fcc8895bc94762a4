"""Out of the store: the answers as a training file ``seqlab train`` reads as it is, and the figures of
``seqlab annotate stats`` (answers per annotator and per type, agreement between annotators)."""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from seqlab.annotate.learner import spans_to_tags, tagged, write_labelled
from seqlab.annotate.store import Store, accepted
from seqlab.config.settings import DataConfig
from seqlab.tagger.metrics import span_scores


def labelled_sentences(store: Store) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every accepted sentence with its BIO tags (its latest accept), in pool order."""
    labelled = store.labelled()
    return tagged(store.sentences(list(labelled)), labelled)


def export(store: Store, fmt: str, out: Path) -> int:
    """Write the accepted sentences to ``out`` as CoNLL (``token<TAB>tag``, BIO) or JSONL
    (``{"tokens", "tags"}``); returns how many."""
    sentences = labelled_sentences(store)
    write_labelled(out, sentences, DataConfig(format=fmt, separator="tab"))
    return len(sentences)


@dataclass(frozen=True)
class Agreement:
    first: str
    second: str
    sentences: int
    """Sentences both accepted."""
    f1: float
    """Span F1 of one annotator's spans against the other's (symmetric)."""


@dataclass(frozen=True)
class Stats:
    pool: int
    accepted: int
    skipped: int
    per_annotator: dict[str, dict[str, int]] = field(default_factory=dict)
    """Annotator → {"accept": n, "skip": n}."""
    per_type: dict[str, int] = field(default_factory=dict)
    """Entity type → spans in the accepted sentences (each sentence's latest accept)."""
    agreement: list[Agreement] = field(default_factory=list)


def stats(store: Store) -> Stats:
    current = store.current()
    per_annotator: dict[str, Counter] = {}
    for answer in current:
        per_annotator.setdefault(answer.annotator, Counter())[answer.action] += 1
    labelled = accepted(current)
    per_type = Counter(label for spans in labelled.values() for _, _, label in spans)
    accepts: dict[str, dict[int, tuple]] = {}
    for answer in current:
        if answer.action == "accept":
            accepts.setdefault(answer.annotator, {})[answer.sentence] = answer.spans
    lengths = {s.id: len(s.tokens) for s in store.sentences()}
    agreement = []
    for first, second in itertools.combinations(sorted(accepts), 2):
        shared = sorted(set(accepts[first]) & set(accepts[second]))
        if shared:
            gold = [spans_to_tags(lengths[k], accepts[first][k]) for k in shared]
            other = [spans_to_tags(lengths[k], accepts[second][k]) for k in shared]
            agreement.append(Agreement(first, second, len(shared), span_scores(gold, other).f1))
    skipped = {a.sentence for a in current if a.action == "skip"} - set(labelled)
    return Stats(
        store.pool_size(), len(labelled), len(skipped), {name: dict(sorted(c.items())) for name, c in sorted(per_annotator.items())},
        dict(sorted(per_type.items())), agreement,
    )


def render(found: Stats) -> str:
    out = [f"pool {found.pool:,} sentences: {found.accepted:,} accepted, {found.skipped:,} skipped"]
    out += [f"  {name}: {counts.get('accept', 0):,} accepted, {counts.get('skip', 0):,} skipped" for name, counts in found.per_annotator.items()]
    out.append("spans per type: " + (", ".join(f"{kind} {n:,}" for kind, n in found.per_type.items()) or "none"))
    for pair in found.agreement:
        out.append(f"agreement {pair.first} / {pair.second}: span F1 {pair.f1:.4f} on {pair.sentences:,} sentences both accepted")
    if not found.agreement:
        out.append("agreement: no sentence accepted by two annotators")
    return "\n".join(out)
