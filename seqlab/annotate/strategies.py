"""Which sentence to ask about next: each strategy scores a sentence from what the model says about it
(``Inference`` with ``uncertainty``), and the queue asks the highest score first.

With ``y*`` the best tag sequence of a sentence ``x`` of ``n`` tokens, ``p_t`` the marginal distribution
of token ``t``'s tag and ``c_s`` the confidence of a predicted span ``s`` (the probability that the
sentence holds exactly that span):

    least-confidence   1 − p(y* | x)                                  (Culotta and McCallum, 2005)
    mnlp               −(1/n) log p(y* | x)                            (Shen et al., 2018: maximum normalised log-probability, asked lowest first)
    token-entropy      (1/n) Σ_t H(p_t),  H(p) = −Σ_y p(y) log p(y)   (Settles and Craven, 2008)
    span-confidence    1 − min_s c_s; when y* has no span, 1 − p(y* | x)^(1/n), the per-token
                       probability that the sentence holds an entity after all (the least sure entity decides)
    random             a uniform draw fixed by the seed and the sentence

Every score is higher for a sentence the model is less sure of; ties keep pool order.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable

from seqlab.tagger.inference import Inference


def least_confidence(found: Inference) -> float:
    return 1.0 - math.exp(found.log_prob)


def mnlp(found: Inference) -> float:
    return -found.log_prob / max(1, len(found.ids))


def token_entropy(found: Inference) -> float:
    return sum(found.entropies) / max(1, len(found.entropies))


def span_confidence(found: Inference) -> float:
    if found.confidences:
        return 1.0 - min(found.confidences)
    return 1.0 - math.exp(found.log_prob / max(1, len(found.ids)))  # per token: 1 − p(y*) favoured every long sentence


STRATEGIES: dict[str, Callable[[Inference], float]] = {
    "least-confidence": least_confidence,
    "mnlp": mnlp,
    "token-entropy": token_entropy,
    "span-confidence": span_confidence,
}
"""The model-based strategies by name; ``random`` needs no model (``random_scores``)."""
NAMES = ("random", *STRATEGIES)
DEFAULT = "mnlp"
"""The strategy used when none is named (chosen by the benchmark in docs/active-learning.md)."""


def random_scores(ids: list[int], seed: int) -> dict[int, float]:
    """A uniform score per sentence id, the same for the same seed whatever else is in the pool."""
    return {i: random.Random(f"{seed}:{i}").random() for i in ids}


def ranked(scores: dict[int, float]) -> list[int]:
    """Sentence ids, highest score first (ties: lower id first)."""
    return sorted(scores, key=lambda i: (-scores[i], i))
