"""The notes' claims as experiments. Each function trains (through the shared ``Runner``) what it needs,
measures, writes figures into ``out`` and returns an ``Outcome``: the numbers and one verdict per claim.

A verdict is decided by a stated rule on the measured means, never assumed: ``held``, ``did not hold``,
or ``n/a`` when the variants needed for the rule are missing (a user may edit the YAML).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqlab.experiments.claims_budget import long_range_budget
from seqlab.experiments.claims_context import context, future
from seqlab.experiments.claims_distance import (
    exploding,
    init_and_relu,
    long_range,
    vanishing,
)
from seqlab.experiments.claims_gates import gates
from seqlab.experiments.claims_speed import lstm_vs_gru
from seqlab.experiments.outcome import Outcome
from seqlab.experiments.runner import Runner
from seqlab.experiments.settings import ExperimentConfig

__all__ = ["EXPERIMENTS", "SWEEPS", "Outcome"]

EXPERIMENTS: dict[str, Callable[[Runner, ExperimentConfig, Path], Outcome]] = {
    "context": context,
    "future": future,
    "long-range": long_range,
    "vanishing": vanishing,
    "exploding": exploding,
    "gates": gates,
    "lstm-vs-gru": lstm_vs_gru,
    "init-and-relu": init_and_relu,
    "long-range-budget": long_range_budget,
}
"""``seqlab experiment NAME`` → the function; its settings are ``seqlab/experiments/configs/NAME.yaml`` (``-`` → ``_``)."""

SWEEPS = ("long-range-budget",)
"""Experiments that take hours on a small CPU: named one by one, never part of ``all``."""
