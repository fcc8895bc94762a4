"""``seqlab experiment NAME``: the notes' claims about RNN, LSTM and GRU, checked on real runs.

Each experiment reads ``NAME.yaml`` (``-`` written ``_``) from ``seqlab/experiments/configs/`` (installed
with the package; ``--configs DIR`` reads another directory), trains what it needs,
writes ``results.json`` and PNG figures into ``OUT/NAME/``, and returns verdict rows. ``all`` runs every
experiment in one process, so a model that several of them use is trained once.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

from seqlab.errors import ConfigError
from seqlab.experiments.runner import Runner
from seqlab.experiments.settings import load_experiment
from seqlab.experiments.suite import EXPERIMENTS, SWEEPS, Outcome

__all__ = ["EXPERIMENTS", "format_verdicts", "run_experiments", "shipped_configs"]


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def shipped_configs() -> Path:
    """The directory of the experiments' YAML files installed with seqlab."""
    return Path(str(resources.files("seqlab.experiments") / "configs"))


def run_experiments(
    names: list[str], out: Path, config_dir: Path | None = None, quick: bool = False, seeds: int | None = None, echo: bool = True,
    cell: str | None = None, corpus: str | None = None,
) -> dict[str, Outcome]:
    """Run each named experiment (``all`` = every one but the ``SWEEPS``), writing ``out/NAME/results.json``
    and figures; the YAML files come from ``config_dir`` (default: ``shipped_configs()``). ``cell`` (a
    sweep's ``--cell``) runs only that one run of the sweep; ``corpus`` (``--corpus``) adds a real corpus to
    lstm-vs-gru."""
    config_dir = config_dir or shipped_configs()
    if names == ["all"]:
        names = [n for n in EXPERIMENTS if n not in SWEEPS]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ConfigError([f"unknown experiment '{n}'; expected all or one of {', '.join(EXPERIMENTS)}" for n in unknown])
    if cell is not None and [n for n in names if n not in SWEEPS]:
        raise ConfigError([f"--cell: only for {', '.join(SWEEPS)}, run alone"])
    configs = {name: load_experiment(config_dir / f"{name.replace('-', '_')}.yaml", quick, seeds) for name in names}
    configs = {name: dataclasses.replace(c, only=cell) for name, c in configs.items()}
    if corpus is not None:
        if "lstm-vs-gru" not in configs:
            raise ConfigError(["--corpus: only lstm-vs-gru uses a corpus; name it"])
        lstm_gru = configs["lstm-vs-gru"]
        configs["lstm-vs-gru"] = dataclasses.replace(lstm_gru, extra=tuple(sorted({**dict(lstm_gru.extra), "corpus": corpus}.items())))
    runner = Runner(out, quick=quick, echo=echo)
    outcomes = {}
    for name in names:
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        outcome = EXPERIMENTS[name](runner, configs[name], target)
        payload = {
            "experiment": name,
            "quick": quick,
            "seeds": configs[name].seeds,
            "seconds": round(time.perf_counter() - start, 1),
            "verdicts": outcome.verdicts,
            "results": outcome.results,
        }
        (target / "results.json").write_text(json.dumps(_finite(payload), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        outcomes[name] = outcome
    return outcomes


def format_verdicts(outcomes: dict[str, Outcome]) -> str:
    lines = []
    for name, outcome in outcomes.items():
        for row in outcome.verdicts:
            lines.append(f"{name:<14} {row['verdict']:<13} {row['claim']}")
            lines.append(f"{'':<14} {'':<13} measured: {row['measured']}")
    return "\n".join(lines)
