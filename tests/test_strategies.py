"""The active-learning strategies' scores, each against its formula computed by hand on made-up model
outputs, and the queue order they give."""
from __future__ import annotations

import math

import pytest

from seqlab.annotate.strategies import STRATEGIES, random_scores, ranked
from seqlab.tagger.inference import Inference


def inference(length: int, log_prob: float, entropies=(), confidences=()) -> Inference:
    return Inference(tuple([0] * length), (), tuple(confidences), (), log_prob, tuple(entropies))


@pytest.mark.parametrize(("name", "found", "expected"), [
    ("least-confidence", inference(4, math.log(0.25)), 0.75),
    ("mnlp", inference(4, math.log(0.25)), math.log(4) / 4),
    ("token-entropy", inference(3, -1.0, entropies=(0.0, 0.3, 0.9)), 0.4),
    ("span-confidence", inference(5, -2.0, confidences=(0.9, 0.6, 0.8)), 0.4),
    ("span-confidence", inference(4, math.log(0.0625)), 0.5),  # no span: 1 − 0.0625^(1/4)
])
def test_each_score_is_its_formula(name, found, expected):
    assert STRATEGIES[name](found) == pytest.approx(expected)


def test_length_normalised_scores_do_not_favour_long_sentences_for_their_length():
    """Two sentences whose tokens are each as sure: the plain sequence probability ranks the long one
    first, the normalised scores tie them."""
    short, long = inference(2, 2 * math.log(0.9)), inference(40, 40 * math.log(0.9))
    assert STRATEGIES["least-confidence"](long) > STRATEGIES["least-confidence"](short)
    for name in ("mnlp", "span-confidence"):
        assert STRATEGIES[name](long) == pytest.approx(STRATEGIES[name](short))


def test_the_queue_asks_the_highest_score_first_ties_in_id_order_and_random_is_fixed_by_the_seed():
    assert ranked({3: 0.5, 1: 0.9, 2: 0.5, 4: 0.1}) == [1, 2, 3, 4]
    assert random_scores([1, 2, 3], 7) == random_scores([3, 2, 1], 7) != random_scores([1, 2, 3], 8)
    assert random_scores([1, 2], 7)[2] == random_scores([2, 5, 9], 7)[2]  # a sentence's draw does not depend on the rest of the pool
