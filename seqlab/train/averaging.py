"""An exponential moving average of the weights, the model a run scores and keeps (``train.ema_decay``).

After every update t (1-based) of the trained weights θ, the average θ̄ moves towards them:

.. math::

    d_t = \\min\\left(d, \\frac{1 + t}{10 + t}\\right), \\qquad \\bar\\theta \\leftarrow d_t\\,\\bar\\theta + (1 - d_t)\\,\\theta

with θ̄ = θ before the first update. The average of iterates is Polyak and Juditsky's (1992); the
exponential form with the warm-up :math:`(1 + t)/(10 + t)` is the one TensorFlow's
``ExponentialMovingAverage`` takes with ``num_updates``: without it the first epochs' average would
mostly hold the random initialisation. Only trainable parameters are averaged; frozen ones (a frozen
pretrained table, a frozen transformer) and buffers are the model's own.

The average smooths the last few hundred updates, so that the weights scored on a small, noisy dev set
do not jump with the last batches: the dev score, the kept weights and the test score are the average's.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class WeightAverage:
    """The running average θ̄ of ``model``'s trainable parameters (same names, same devices)."""

    def __init__(self, model: nn.Module, decay: float, shadow: dict[str, torch.Tensor] | None = None, updates: int = 0) -> None:
        self.model = model
        self.decay = decay
        self.updates = updates
        """Updates averaged so far (t)."""
        params = self._params()
        if shadow is None:
            shadow = {name: p.detach().clone() for name, p in params.items()}
        elif set(shadow) != set(params):
            raise ValueError(f"averaged weights {sorted(set(shadow) ^ set(params))[:3]} do not match the model's")
        self.shadow = {name: shadow[name].to(device=p.device, dtype=p.dtype).clone() for name, p in params.items()}

    def _params(self) -> dict[str, nn.Parameter]:
        return {name: p for name, p in self.model.named_parameters() if p.requires_grad}

    def update(self) -> None:
        """Fold the current weights into the average (after an optimiser step)."""
        self.updates += 1
        weight = 1.0 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        with torch.no_grad():
            for name, p in self._params().items():
                self.shadow[name].lerp_(p.detach(), weight)  # θ̄ + w·(θ − θ̄)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds θ̄ inside the block and its trained weights θ again after it."""
        params = self._params()
        with torch.no_grad():
            trained = {name: p.detach().clone() for name, p in params.items()}
            for name, p in params.items():
                p.copy_(self.shadow[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in params.items():
                    p.copy_(trained[name])
