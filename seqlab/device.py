"""Device names (``train.device``, ``predict --device``): their one syntax check and their resolution.

The check needs no torch (config validation and the command line's start-up stay light); torch is
imported when a name is resolved.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from seqlab.errors import ConfigError

if TYPE_CHECKING:
    import torch

NAMES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def device_problem(name: str, key: str) -> str | None:
    """Why ``name`` is not a device name (a message naming ``key``), or None when it is one."""
    if name in ("auto", "cpu", "cuda") or (name.startswith("cuda:") and name[5:].isdigit()):
        return None
    return f"{key}: expected {NAMES}, got {name!r}"


def resolve_device(name: str, key: str = "'train.device'") -> torch.device:
    """``auto`` → CUDA when available, else CPU; explicit CUDA names must exist (errors name ``key``)."""
    import torch

    problem = device_problem(name, key)
    if problem:
        raise ConfigError([problem])
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError([f"{key}: {name!r} requested but CUDA is not available"])
    return torch.device(name)
