"""``seqlab sweep``: train every combination of a grid of config values, for several seeds, and tabulate.

    seqlab sweep --config configs/apple_lstm.yaml --grid model.encoder.cell=rnn,lstm,gru \\
                 --grid model.encoder.hidden=64,128 --seeds 3 --out runs/sweep

Each combination is trained once per seed (``seed`` = 1 … N) into ``OUT/<combination>-s<seed>/``; the
table gives dev and test span F1 as mean ± std over seeds, the parameter count and the training speed,
and is also written as ``OUT/sweep.json`` and ``OUT/sweep.csv``. Values are read as YAML (``true``,
``0.1``, ``null``); a value that itself holds commas cannot be swept (set it with ``--set``).
"""
from __future__ import annotations

import csv
import itertools
import json
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from seqlab.config.settings import Config, load_config
from seqlab.errors import ConfigError
from seqlab.train.run import TrainingError, quiet_training, train


@dataclass(frozen=True)
class SweepRow:
    setting: dict[str, str]
    """Grid key → value of this combination."""
    seeds: int
    dev_f1: list[float]
    test_f1: list[float]
    parameters: int
    train_sents_per_s: list[float]
    """Mean training speed over the epochs of each seed's run."""
    failed: list[str]
    """One message per seed whose training stopped (e.g. a non-finite loss)."""


def parse_grid(texts: list[str]) -> list[tuple[str, list[str]]]:
    """``["a.b=1,2", "c=x"]`` → ``[("a.b", ["1", "2"]), ("c", ["x"])]``; every problem in one ``ConfigError``."""
    grid, problems = [], []
    for text in texts:
        key, sep, values = text.partition("=")
        items = [v.strip() for v in values.split(",")]
        if not sep or not key.strip() or not all(items):
            problems.append(f"--grid '{text}': expected KEY=V1,V2,... with no empty value")
            continue
        if key.strip() in (k for k, _ in grid):
            problems.append(f"--grid '{text}': key '{key.strip()}' is already swept")
            continue
        grid.append((key.strip(), items))
    if not texts:
        problems.append("--grid: give at least one KEY=V1,V2,...")
    if problems:
        raise ConfigError(problems)
    return grid


def _mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def run_sweep(
    config_path: str, grid: list[tuple[str, list[str]]], seeds: int, out: Path, overrides: tuple[str, ...] = (), echo: bool = True
) -> list[SweepRow]:
    """Train every combination × seed; every combination's config is checked before any training starts."""
    if seeds < 1:
        raise ConfigError([f"--seeds: expected a number >= 1, got {seeds}"])
    keys = [k for k, _ in grid]
    combos = [dict(zip(keys, values)) for values in itertools.product(*(v for _, v in grid))]
    configs: list[list[Config]] = []
    for combo in combos:
        settings = [f"{k}={v}" for k, v in combo.items()]
        configs.append([load_config(config_path, [*overrides, *settings, f"seed={seed}"]) for seed in range(1, seeds + 1)])
    rows = []
    with quiet_training():
        for combo, per_seed in zip(combos, configs):
            name = "_".join(f"{k.split('.')[-1]}-{v}" for k, v in combo.items())
            dev, test, speeds, failed, parameters = [], [], [], [], 0
            for config in per_seed:
                directory = out / f"{name}-s{config.seed}"
                try:
                    result = train(config, directory, overwrite=True, progress=False)
                except TrainingError as err:
                    failed.append(f"seed {config.seed}: {err}")
                    continue
                parameters = result.parameters
                if result.dev:
                    dev.append(result.dev.f1)
                if result.test:
                    test.append(result.test.f1)
                history = [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]
                speeds.append(statistics.mean(h["train_sents_per_s"] for h in history))
                if echo:
                    print(f"  trained {name} seed {config.seed} ({result.seconds:.1f}s)", file=sys.stderr)
            rows.append(SweepRow(combo, len(per_seed), dev, test, parameters, speeds, failed))
    return rows


def format_sweep(rows: list[SweepRow]) -> str:
    keys = list(rows[0].setting) if rows else []
    header = [*keys, "dev F1", "test F1", "params", "train sent/s", "failed"]
    table = [
        [*row.setting.values(), _mean_std(row.dev_f1), _mean_std(row.test_f1), str(row.parameters),
         f"{statistics.mean(row.train_sents_per_s):.0f}" if row.train_sents_per_s else "—", str(len(row.failed))]
        for row in rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *table)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in [header, *table]]
    return "\n".join(lines)


def write_sweep(rows: list[SweepRow], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n", encoding="utf-8")
    with open(out / "sweep.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        keys = list(rows[0].setting) if rows else []
        writer.writerow([*keys, "seeds", "dev_f1_mean", "dev_f1_std", "test_f1_mean", "test_f1_std", "parameters", "train_sents_per_s", "failed"])
        for r in rows:
            stats = []
            for values in (r.dev_f1, r.test_f1):
                stats += [statistics.mean(values) if values else "", statistics.stdev(values) if len(values) > 1 else ""]
            speed = statistics.mean(r.train_sents_per_s) if r.train_sents_per_s else ""
            writer.writerow([*r.setting.values(), r.seeds, *stats, r.parameters, speed, len(r.failed)])
