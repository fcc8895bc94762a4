"""Tagger heads. Every head turns emissions into a loss and decoded tags with one interface:

- ``loss(emissions, tags, mask)``: a scalar, the mean over sentences of the per-sentence loss;
- ``decode(emissions, mask)``: ``(B, L)`` long tag ids, 0 at padding;
- ``decode_nbest(emissions, mask, k)``: ``(paths (B, k, L), log-probabilities (B, k))``, best first;
- ``marginals(emissions, mask)``: ``p(y_t = y | x)``, ``(B, L, T)``;
- ``segment_log_probs(emissions, mask, segments)``: ``log p(y_s … y_{s+n-1} = pattern | x)`` (see
  ``CRF.sequence_log_prob`` for the layout of ``segments``).

Shapes: ``emissions (B, L, T)``, ``tags (B, L)`` long, ``mask (B, L)`` bool.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from seqlab.crf import CRF, chain_marginals, register_constraints, chain_segment_log_probs, forward_scores, viterbi, viterbi_nbest


class SoftmaxHead(nn.Module):
    """Independent per-token decisions: ``p(y_t | x) = softmax(E[t])``.

    The loss is the sum over a sentence's tokens of ``−log p(y_t | x)``, averaged over sentences, so it is
    on the same scale as the CRF's sentence negative log-likelihood.

    With constraint masks the sequence distribution is the per-token model conditioned on validity,
    ``p(y | x) ∝ Π_t p(y_t | x)`` over the sequences the scheme allows: a linear chain whose emissions are
    ``log p(y_t | x)`` and whose transitions are 0 or ``-inf``. Decoding (Viterbi), n-best lists, marginals
    and segment probabilities are all computed on that chain, so they agree with each other; without
    constraints it is exactly the independent softmax.
    """

    def __init__(
        self,
        num_tags: int,
        allowed: torch.Tensor | None = None,
        allowed_start: torch.Tensor | None = None,
        allowed_end: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.constrained = allowed is not None
        register_constraints(self, num_tags, allowed, allowed_start, allowed_end)

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(start, transitions, end)``: 0 where allowed, ``-inf`` where forbidden."""
        zero = torch.zeros((), device=self.allowed.device)
        neg_inf = torch.tensor(float("-inf"), device=self.allowed.device)
        return (
            torch.where(self.allowed_start, zero, neg_inf),  # (T,)
            torch.where(self.allowed, zero, neg_inf),  # (T, T)
            torch.where(self.allowed_end, zero, neg_inf),  # (T,)
        )

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        per_token = F.cross_entropy(emissions.transpose(1, 2), tags, reduction="none")  # (B, L)
        return (per_token * mask).sum() / emissions.shape[0]

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.constrained:
            return emissions.argmax(dim=2) * mask  # (B, L)
        return viterbi(emissions.log_softmax(dim=2), mask, *self.scores())

    def decode_nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs = emissions.log_softmax(dim=2)  # (B, L, T)
        paths, scores = viterbi_nbest(log_probs, mask, *self.scores(), k)  # (B, k, L), (B, k)
        start, transitions, end = self.scores()
        log_z = torch.logsumexp(forward_scores(log_probs, mask, start, transitions)[-1] + end, dim=1)  # (B,)
        return paths, scores - log_z.unsqueeze(1)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.constrained:
            return emissions.softmax(dim=2) * mask.unsqueeze(2)  # (B, L, T)
        return chain_marginals(emissions.log_softmax(dim=2), mask, *self.scores())

    def segment_log_probs(self, emissions: torch.Tensor, mask: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        return chain_segment_log_probs(emissions.log_softmax(dim=2), mask, *self.scores(), segments)


class CRFHead(CRF):
    """The linear-chain CRF (``seqlab.crf.CRF``) with n-best scores turned into log-probabilities."""

    def decode_nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        paths, scores = super().decode_nbest(emissions, mask, k)  # (B, k, L), (B, k)
        return paths, scores - self.log_partition(emissions, mask).unsqueeze(1)

    def segment_log_probs(self, emissions: torch.Tensor, mask: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        return self.sequence_log_prob(emissions, mask, segments)


HEADS: dict[str, Callable[..., nn.Module]] = {
    "softmax": SoftmaxHead,
    "crf": CRFHead,
}
"""Head name (``model.decoder.kind``) → constructor ``(num_tags, allowed=None, allowed_start=None, allowed_end=None)``."""
