from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import (
    classification_report,
    f1_score,
    precision_score,
    recall_score,
)

from seqlab.data.schemes import Span, spans
from seqlab.tagger.metrics import ambiguous_words, report, span_scores

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def test_spans_bio_and_iob1():
    assert spans(["B-PER", "I-PER", "O", "B-ORG"]) == [Span(0, 2, "PER"), Span(3, 4, "ORG")]
    # IOB1: I-X after O starts a span; B-X only separates two touching spans of one type
    assert spans(["I-ORG", "I-ORG", "B-ORG", "O", "I-LOC"]) == [Span(0, 2, "ORG"), Span(2, 3, "ORG"), Span(4, 5, "LOC")]
    # a type change inside I- tags starts a new span
    assert spans(["B-PER", "I-ORG"]) == [Span(0, 1, "PER"), Span(1, 2, "ORG")]


def test_spans_bioes_and_unprefixed():
    assert spans(["S-PER", "B-LOC", "I-LOC", "E-LOC", "O"]) == [Span(0, 1, "PER"), Span(1, 4, "LOC")]
    assert spans(["NOUN", "NOUN", "VERB"]) == [Span(0, 1, "NOUN"), Span(1, 2, "NOUN"), Span(2, 3, "VERB")]


def test_undefined_ratios_are_zero():
    scores = span_scores([["O", "O"]], [["O", "O"]])
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)
    only_gold = span_scores([["B-PER"]], [["O"]])
    assert only_gold.precision == 0.0 and only_gold.recall == 0.0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="gold length"):
        span_scores([["O", "O"]], [["O"]])


def random_corpus(rng: random.Random, sentences: int) -> list[list[str]]:
    return [[rng.choice(TAGS) for _ in range(rng.randint(1, 12))] for _ in range(sentences)]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6))
def test_matches_seqeval_overall_and_per_type(seed):
    rng = random.Random(seed)
    gold = random_corpus(rng, rng.randint(1, 15))
    pred = [[rng.choice(TAGS) if rng.random() < 0.4 else g for g in sent] for sent in gold]
    ours = span_scores(gold, pred)
    assert ours.precision == pytest.approx(precision_score(gold, pred, zero_division=0))
    assert ours.recall == pytest.approx(recall_score(gold, pred, zero_division=0))
    assert ours.f1 == pytest.approx(f1_score(gold, pred, zero_division=0))
    theirs = classification_report(gold, pred, output_dict=True, zero_division=0)
    for kind, scores in ours.per_type.items():
        if scores.support == 0:
            continue  # seqeval lists only gold types
        assert scores.precision == pytest.approx(theirs[kind]["precision"])
        assert scores.recall == pytest.approx(theirs[kind]["recall"])
        assert scores.f1 == pytest.approx(theirs[kind]["f1-score"])
        assert scores.support == theirs[kind]["support"]


def test_report_accuracy_ambiguous_and_oov():
    tokens = [["apple", "pie", "zz"], ["Apple", "shares"]]
    gold = [["B-FRUIT", "O", "O"], ["B-ORG", "O"]]
    pred = [["B-FRUIT", "O", "B-ORG"], ["B-FRUIT", "O"]]
    rep = report(tokens, gold, pred, {"apple", "Apple"}.__contains__, lambda w: w == "zz")
    assert rep.accuracy == pytest.approx(3 / 5)
    assert rep.ambiguous_accuracy == pytest.approx(1 / 2) and rep.ambiguous_tokens == 2
    assert rep.oov_accuracy == 0.0 and rep.oov_tokens == 1
    assert rep.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert set(rep.to_json()) >= {"precision", "recall", "f1", "accuracy", "per_type", "ambiguous_accuracy", "oov_accuracy"}


def test_ambiguous_words():
    assert ambiguous_words([["a", "b", "a"], ["b"]], [["X", "O", "Y"], ["O"]]) == ["a"]
