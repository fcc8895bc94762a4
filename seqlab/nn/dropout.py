"""Inverted dropout whose CPU mask comes from 32-bit random integers instead of ``bernoulli_``.

    y_i = x_i · m_i / q,   m_i ~ Bernoulli(q),   q = 1 − p

On the CPU torch's ``bernoulli_`` draws each mask value by itself from the generator, which made
dropout one of the dearest operations of a training step on small batches (docs/benchmarks.md). Here
the generator fills half as many 64-bit integers as there are values, each read as two 32-bit
integers ``r``, uniform on ``[−2³¹, 2³¹)``; a value is kept when ``r < ⌊q·2³²⌉ − 2³¹``. The keep
probability is then ``q`` rounded to a multiple of ``2⁻³²``, and the kept values are divided by that
rounded ``q``, so ``E[y] = x`` exactly. Other devices (and ``p = 0``) use ``torch.nn.functional.dropout``.
The draws come from torch's generator, so a seed and a saved generator state reproduce the masks.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_SPAN = 2**32


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout of ``x`` (any shape) with drop probability ``p`` in training, ``x`` itself otherwise."""
    if not training or p == 0.0:
        return x
    threshold = round((1.0 - p) * _SPAN)  # kept values: r + 2^31 < threshold
    if x.device.type != "cpu" or threshold == 0:  # threshold 0: p within 2^-33 of 1
        return F.dropout(x, p, training)
    if threshold >= _SPAN:  # p below 2^-33: 1 − p rounds to 1, every value is kept
        return x
    count = x.numel()
    draws = torch.randint(-(2**63), 2**63 - 1, ((count + 1) // 2,), dtype=torch.int64)  # (⌈n/2⌉,)
    uniform = draws.view(torch.int32)[:count].view(x.shape)  # each uniform on [-2^31, 2^31)
    keep = (uniform < threshold - 2**31).to(x.dtype)  # (same shape as x)
    return x * keep.mul_(_SPAN / threshold)


class Dropout(nn.Module):
    """``dropout`` as a module (``p`` fixed, active in training mode)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)
