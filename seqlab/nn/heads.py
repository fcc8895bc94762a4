"""Tagger heads: the softmax head and the CRF (``seqlab.nn.crf``), both a ``ChainHead`` with one interface
(``loss``, ``decode``, ``decode_nbest``, ``marginals``, ``segment_log_probs``; see ``seqlab.nn.crf.ChainHead``).

Shapes: ``emissions (B, L, T)``, ``tags (B, L)`` long, ``mask (B, L)`` bool.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from seqlab.nn.chain import forward_scores
from seqlab.nn.crf import CRF, ChainHead


class SoftmaxHead(ChainHead):
    """Independent per-token decisions: ``p(y_t | x) = softmax(E[t])``.

    The loss is the sum over tokens of ``−log p(y_t | x)``, on the same scale as the CRF's sentence
    negative log-likelihood.

    With constraint masks the sequence distribution is the per-token model conditioned on validity,
    ``p(y | x) ∝ Π_t p(y_t | x)`` over the sequences the scheme allows: a linear chain whose emissions are
    ``log p(y_t | x)`` and whose transitions are 0 or ``-inf``. Decoding (Viterbi), n-best lists, marginals
    and segment probabilities are all computed on that chain, so they agree with each other; without
    constraints decoding and marginals are exactly the independent softmax's.
    """

    normalise = True

    @property
    def independent(self) -> bool:
        return not self.constrained

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(start, transitions, end)``: 0 where allowed, ``-inf`` where forbidden."""
        zero = torch.zeros((), device=self.allowed.device)
        neg_inf = torch.tensor(float("-inf"), device=self.allowed.device)
        return (
            torch.where(self.allowed_start, zero, neg_inf),  # (T,)
            torch.where(self.allowed, zero, neg_inf),  # (T, T)
            torch.where(self.allowed_end, zero, neg_inf),  # (T,)
        )

    def log_z(self, chained: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``log Σ_y Π_t p(y_t | x)`` over the allowed sequences (0 without constraints), ``(B,)``."""
        start, transitions, end = self.scores()
        return torch.logsumexp(forward_scores(chained, mask, start, transitions)[-1] + end, dim=1)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``Σ_b Σ_t −log p(y_t | x)`` over the batch's real tokens (a scalar)."""
        self.check(emissions, mask, tags)
        per_token = F.cross_entropy(emissions.transpose(1, 2), tags, reduction="none")  # (B, L)
        return (per_token * mask).sum()


HEADS: dict[str, Callable[..., nn.Module]] = {
    "softmax": SoftmaxHead,
    "crf": CRF,
}
"""Head name (``model.decoder.kind``) → constructor ``(num_tags, allowed=None, allowed_start=None, allowed_end=None)``."""
