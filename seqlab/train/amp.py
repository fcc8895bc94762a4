"""Mixed precision: ``train.precision`` → ``torch.autocast`` settings and the gradient scaler (the one
guard the CPU needs is ``seqlab.nn.fp32``, inside the network).

``bf16`` and ``fp16`` run the network's matrix products in 16 bits under ``torch.autocast``; the
CRF/softmax head always computes in fp32 (``TaggerModel.loss``), and ``fp16`` adds a gradient scaler
(its overflowing steps are skipped and counted, as the scaler intends). Evaluation and decoding run
in fp32.
"""
from __future__ import annotations

import contextlib

import torch

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of ``train.precision`` (a no-op for ``fp32``)."""
    dtype = DTYPES[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
