"""Fused LSTMs stay in float32 on the CPU under autocast (the one guard mixed precision needs there)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def fp32_lstm_on_cpu(x: torch.Tensor) -> Iterator[torch.Tensor]:
    """Run a fused ``nn.LSTM`` in fp32 on the CPU even under autocast: CPU autocast sends it to oneDNN in
    bf16, which fails on CPUs without bf16 support ("could not create a primitive descriptor")."""
    if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            yield x.float()
    else:
        yield x
