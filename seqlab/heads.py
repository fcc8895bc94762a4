"""Tagger heads. Every head turns emissions into a loss and a decoded tag sequence with one interface:

- ``loss(emissions, tags, mask)``: a scalar, the mean over sentences of the per-sentence loss;
- ``decode(emissions, mask)``: ``(B, L)`` long tag ids, 0 at padding.

Shapes: ``emissions (B, L, T)``, ``tags (B, L)`` long, ``mask (B, L)`` bool.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from seqlab.crf import CRF


class SoftmaxHead(nn.Module):
    """Independent per-token decisions: ``p(y_t | x) = softmax(E[t])``.

    The loss is the sum over a sentence's tokens of ``−log p(y_t | x)``, averaged over sentences, so it is
    on the same scale as the CRF's sentence negative log-likelihood.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        per_token = F.cross_entropy(emissions.transpose(1, 2), tags, reduction="none")  # (B, L)
        return (per_token * mask).sum() / emissions.shape[0]

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return emissions.argmax(dim=2) * mask  # (B, L)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-token tag probabilities, ``(B, L, T)``; 0 at padding."""
        return emissions.softmax(dim=2) * mask.unsqueeze(2)


HEADS: dict[str, Callable[[int], nn.Module]] = {
    "softmax": SoftmaxHead,
    "crf": CRF,
}
"""Head name (``model.decoder.kind``) → constructor taking the number of tags."""
