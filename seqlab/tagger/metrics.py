"""Span-level precision/recall/F1 with conlleval semantics, token accuracy, and the context-sensitive subsets.

Spans are read by ``seqlab.data.schemes.spans`` (conlleval's chunk rules, so IOB1, BIO and BIOES are all read
correctly; an unprefixed tag such as ``NOUN`` is a one-token span of its own type).

Undefined ratios (no predicted spans for precision, no gold spans for recall, no tokens for accuracy)
are 0.0, never NaN or -1. Nothing here prints.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from seqlab.data.schemes import spans


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class TypeScores:
    precision: float
    recall: float
    f1: float
    support: int
    """Number of gold spans of this type."""
    predicted: int
    """Number of predicted spans of this type."""


@dataclass(frozen=True)
class SpanScores:
    precision: float
    recall: float
    f1: float
    gold: int
    """Gold spans."""
    predicted: int
    """Predicted spans."""
    correct: int
    """Predicted spans with exactly the gold start, end and type."""
    per_type: dict[str, TypeScores] = field(default_factory=dict)


def span_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> SpanScores:
    """Micro-averaged span precision/recall/F1 over sentences, and the same per type."""
    if len(gold) != len(predicted):
        raise ValueError(f"expected as many predicted sentences as gold ones, got {len(predicted)} and {len(gold)}")
    counts: dict[str, list[int]] = {}  # type -> [gold, predicted, correct]
    for g_tags, p_tags in zip(gold, predicted):
        if len(g_tags) != len(p_tags):
            raise ValueError(f"expected predicted tags of the gold length {len(g_tags)}, got {len(p_tags)}")
        g_spans, p_spans = set(spans(g_tags)), set(spans(p_tags))
        for span in g_spans:
            counts.setdefault(span.type, [0, 0, 0])[0] += 1
        for span in p_spans:
            counts.setdefault(span.type, [0, 0, 0])[1] += 1
        for span in g_spans & p_spans:
            counts[span.type][2] += 1
    per_type = {}
    for kind in sorted(counts):
        n_gold, n_pred, n_correct = counts[kind]
        p, r = _ratio(n_correct, n_pred), _ratio(n_correct, n_gold)
        per_type[kind] = TypeScores(p, r, _f1(p, r), n_gold, n_pred)
    n_gold = sum(c[0] for c in counts.values())
    n_pred = sum(c[1] for c in counts.values())
    n_correct = sum(c[2] for c in counts.values())
    p, r = _ratio(n_correct, n_pred), _ratio(n_correct, n_gold)
    return SpanScores(p, r, _f1(p, r), n_gold, n_pred, n_correct, per_type)


@dataclass(frozen=True)
class Report:
    """Everything ``seqlab evaluate`` reports; ratios are fractions in [0, 1]."""

    precision: float
    recall: float
    f1: float
    accuracy: float
    """Fraction of tokens whose predicted tag equals the gold tag."""
    ambiguous_accuracy: float
    """Token accuracy on words seen with more than one tag in training (0.0 when there are none)."""
    ambiguous_tokens: int
    oov_accuracy: float
    """Token accuracy on words outside the model's word vocabulary (0.0 when there are none)."""
    oov_tokens: int
    sentences: int
    tokens: int
    per_type: dict[str, TypeScores]
    calibration_error: float | None = None
    """Expected calibration error of the predicted spans' confidences (10 equal-width bins), when known."""
    mean_confidence: float | None = None
    """Mean confidence of the predicted spans, when known."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Report":
        """Inverse of ``to_json``."""
        return cls(**{**data, "per_type": {k: TypeScores(**v) for k, v in data["per_type"].items()}})


def report(
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    is_ambiguous: Callable[[str], bool],
    is_oov: Callable[[str], bool],
) -> Report:
    """Span scores plus token accuracy overall, on ambiguous words and on out-of-vocabulary words."""
    scores = span_scores(gold, predicted)
    right = total = amb_right = amb_total = oov_right = oov_total = 0
    for words, g_tags, p_tags in zip(tokens, gold, predicted):
        for word, g, p in zip(words, g_tags, p_tags):
            hit = int(g == p)
            right, total = right + hit, total + 1
            if is_ambiguous(word):
                amb_right, amb_total = amb_right + hit, amb_total + 1
            if is_oov(word):
                oov_right, oov_total = oov_right + hit, oov_total + 1
    return Report(
        scores.precision,
        scores.recall,
        scores.f1,
        _ratio(right, total),
        _ratio(amb_right, amb_total),
        amb_total,
        _ratio(oov_right, oov_total),
        oov_total,
        len(gold),
        total,
        scores.per_type,
    )


def ambiguous_words(sentences_tokens: Sequence[Sequence[str]], sentences_tags: Sequence[Sequence[str]]) -> list[str]:
    """Word forms (exactly as written) seen with more than one distinct tag, sorted."""
    seen: dict[str, set[str]] = {}
    for words, tags in zip(sentences_tokens, sentences_tags):
        for word, tag in zip(words, tags):
            seen.setdefault(word, set()).add(tag)
    return sorted(word for word, tags in seen.items() if len(tags) > 1)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """``Σ_b (n_b / N) · |accuracy_b − mean confidence_b|`` over ``bins`` equal-width confidence bins
    (Guo et al., 2017); 0.0 when there is nothing to score."""
    if len(confidences) != len(correct):
        raise ValueError(f"expected one correctness flag per confidence, got {len(correct)} and {len(confidences)}")
    totals = [[0, 0.0, 0] for _ in range(bins)]  # count, confidence sum, correct count
    for confidence, hit in zip(confidences, correct):
        slot = min(int(confidence * bins), bins - 1)
        totals[slot][0] += 1
        totals[slot][1] += confidence
        totals[slot][2] += int(hit)
    n = len(confidences)
    return sum(abs(c_sum / count - hits / count) * count / n for count, c_sum, hits in totals if count)
