"""What every experiment returns and the small helpers they share: ``Outcome`` (numbers and one verdict
per claim), mean ± std, and drawing a figure when matplotlib is there."""
from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seqlab import plots
from seqlab.experiments.runner import Run
from seqlab.experiments.settings import ExperimentConfig


@dataclass
class Outcome:
    results: dict[str, Any]
    verdicts: list[dict[str, str]] = field(default_factory=list)

    def verdict(self, claim: str, measured: str, held: bool | None) -> None:
        word = "n/a" if held is None else "held" if held else "did not hold"
        self.verdicts.append({"claim": claim, "measured": measured, "verdict": word})


def mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if v == v]
    if not finite:
        return float("nan"), 0.0
    return statistics.mean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0


def pct(values: list[float]) -> str:
    m, s = mean_std(values)
    return f"{100 * m:.1f} ± {100 * s:.1f}%"


def cell_name(run: Run) -> str:
    """The run's cell, the vanilla RNN with its activation (``rnn-tanh``, ``lstm``, …)."""
    encoder = run.config.model.encoder
    return encoder.cell if encoder.cell != "rnn" else f"rnn-{encoder.nonlinearity}"


def seed_range(exp: ExperimentConfig) -> range:
    """Seeds 1 … ``exp.seeds``."""
    return range(1, exp.seeds + 1)


def draw(figure: Callable[[], None], outcome: Outcome) -> None:
    """Draw a figure; without matplotlib note why in the results instead."""
    try:
        figure()
    except plots.PlotUnavailable as err:
        outcome.results.setdefault("notes", []).append(str(err))
