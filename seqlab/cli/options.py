"""Checks of command-line options that config keys do not cover: numeric ranges and a free port."""
from __future__ import annotations

import argparse
import socket

from seqlab.errors import ConfigError

SERVE_RANGES = {"port": (0, 65535), "max_batch": (1, 4096), "max_wait_ms": (0, 10_000), "max_request_bytes": (1, 1 << 30),
                "max_sentences": (1, 100_000), "max_tokens": (1, 100_000), "request_timeout": (0.1, 3600)}
"""The range of each numeric option of ``seqlab serve`` (a wait of ``inf`` answered nothing, ever)."""
ANNOTATE_RANGES = {"port": (0, 65535), "retrain_every": (1, 1_000_000), "per_sentence": (1, 100)}
"""The same for ``seqlab annotate``."""


def check_ranges(args: argparse.Namespace, ranges: dict[str, tuple[float, float]]) -> None:
    """Every numeric option within its range (NaN and infinities are outside every range); one error lists them all."""
    bad = [f"--{name.replace('_', '-')}: expected {low} to {high}, got {getattr(args, name)}" for name, (low, high) in ranges.items()
           if not low <= getattr(args, name) <= high]
    if bad:
        raise ConfigError(bad)


def check_port(host: str, port: int) -> None:
    """The address must be free before anything is loaded (else uvicorn fails only after the model loaded)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        raise ConfigError([f"--host/--port: cannot listen on {host}:{port} ({err.strerror or err})"]) from None
