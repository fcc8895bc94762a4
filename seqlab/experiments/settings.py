"""An experiment's YAML (``seqlab/experiments/configs/NAME.yaml``) as a frozen dataclass.

```yaml
# seqlab experiment long-range [--quick] [--seeds N] [--out DIR]
base: long_range_base.yaml                       # a seqlab config every run starts from (relative to this file)
set: [train.epochs=12]                           # overrides of the base for this experiment ({apple}: the apple set's directory)
seeds: 3
variants:                                        # name → overrides; each variant is trained per seed
  rnn-tanh: {model.encoder.cell: rnn}
  lstm: {model.encoder.cell: lstm}
distances: [5, 10, 20, 50, 100, 200]             # long-range task only
sizes: {train: 1000, dev: 200, test: 400}        # long-range task only
probe_distance: 50                               # which distance's models an analysis looks at
budgets: [{train: 1000, epochs: 20}, {train: 16000, epochs: 40, max_distance: 200}]   # long-range-budget only
grid: {train.lr: [0.01, 0.002]}                  # every variant is also run with each combination of these
quick: {seeds: 1, distances: [5, 20], set: [train.epochs=3]}   # replaces those keys under --quick
```
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqlab.errors import ConfigError


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: tuple[str, ...]
    """``key=value`` overrides of the base config."""


@dataclass(frozen=True)
class Budget:
    """A training budget of the long-range sweep: ``train`` sentences, at most ``epochs`` epochs."""

    train: int
    epochs: int
    max_distance: int | None = None
    """Distances above this are not tried at this budget (a failing run there would cost hours)."""

    @property
    def name(self) -> str:
        return f"{self.train}x{self.epochs}"


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    source: Path
    """The experiment's YAML file (relative paths in it are read from its directory)."""
    base: Path
    """The seqlab config every run starts from."""
    set: tuple[str, ...] = ()
    """Overrides of ``base`` shared by every variant."""
    seeds: int = 3
    """Seeds per variant (1, 2, …); results are mean ± std over them."""
    variants: tuple[Variant, ...] = ()
    """Each variant is trained with every seed (and every distance for the long-range task)."""
    distances: tuple[int, ...] = ()
    """Long-range task: number of distractors between the key and the query."""
    sizes: tuple[tuple[str, int], ...] = (("train", 1000), ("dev", 200), ("test", 400))
    """Long-range task: sentences per split."""
    probe_distance: int = 50
    """The distance whose models the analyses (gradients, gates, exploding) use."""
    extra: tuple[tuple[str, Any], ...] = field(default=())
    """Experiment-specific numbers (e.g. ``clip`` for exploding), as given."""
    budgets: tuple[Budget, ...] = ()
    """long-range-budget: the training budgets swept (``sizes.train`` is replaced by each one's)."""
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """long-range-budget: config keys and values; every variant runs with each combination."""
    only: str | None = None
    """``--cell``: run only the one sweep cell this names (``VARIANT/KEY=VALUE…/BUDGET/T/seed``)."""


_KEYS = {"base", "set", "seeds", "variants", "distances", "sizes", "probe_distance", "extra", "budgets", "grid", "quick"}


def _budgets(raw: Any, problems: list[str]) -> tuple[Budget, ...]:
    if not isinstance(raw, list):
        problems.append(f"'budgets': expected a list of {{train: N, epochs: N[, max_distance: N]}}, got {raw!r}")
        return ()
    out = []
    for k, item in enumerate(raw):
        ok = isinstance(item, dict) and {"train", "epochs"} <= set(item) <= {"train", "epochs", "max_distance"}
        values = list(item.values()) if isinstance(item, dict) else []
        if not ok or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
            problems.append(f"'budgets[{k}]': expected {{train: N, epochs: N[, max_distance: N]}} with N >= 1, got {item!r}")
            continue
        out.append(Budget(item["train"], item["epochs"], item.get("max_distance")))
    return tuple(out)


def _grid(raw: Any, problems: list[str]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not isinstance(raw, dict) or not all(isinstance(v, list) and v for v in raw.values()):
        problems.append(f"'grid': expected a mapping of config keys to non-empty lists of values, got {raw!r}")
        return ()
    return tuple((str(k), tuple(v)) for k, v in raw.items())


def _variants(raw: Any, problems: list[str]) -> tuple[Variant, ...]:
    if not isinstance(raw, dict) or not raw:
        problems.append("'variants': expected a non-empty mapping of name → {key: value}")
        return ()
    out = []
    for name, overrides in raw.items():
        if not isinstance(overrides, dict):
            problems.append(f"'variants.{name}': expected a mapping of config keys to values, got {overrides!r}")
            continue
        out.append(Variant(str(name), tuple(f"{k}={json.dumps(v)}" for k, v in overrides.items())))
    return tuple(out)


def parse_experiment(name: str, raw: Any, source: str | Path, quick: bool) -> ExperimentConfig:
    """Validate an experiment mapping (``quick`` merges its ``quick:`` section over the top)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError([f"expected a mapping at the top level, got {type(raw).__name__}"], str(source))
    unknown = sorted(set(raw) - _KEYS)
    problems += [f"unknown key '{k}'; expected one of {', '.join(sorted(_KEYS))}" for k in unknown]
    merged = dict(raw)
    if quick:
        section = raw.get("quick") or {}
        if not isinstance(section, dict):
            problems.append("'quick': expected a mapping")
        else:
            problems += [f"unknown key 'quick.{k}'" for k in sorted(set(section) - _KEYS)]
            merged.update(section)
    merged.pop("quick", None)
    if "base" not in merged:
        problems.append("'base': required (a seqlab config file)")
    overrides = merged.get("set", [])
    if not isinstance(overrides, list) or not all(isinstance(s, str) for s in overrides):
        problems.append("'set': expected a list of KEY=VALUE strings")
        overrides = []
    seeds = merged.get("seeds", 3)
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        problems.append(f"'seeds': expected an integer >= 1, got {seeds!r}")
    distances = merged.get("distances", [])
    if not isinstance(distances, list) or not all(isinstance(d, int) and d >= 1 for d in distances):
        problems.append(f"'distances': expected a list of integers >= 1, got {distances!r}")
        distances = []
    sizes = merged.get("sizes", {"train": 1000, "dev": 200, "test": 400})
    if not isinstance(sizes, dict) or set(sizes) != {"train", "dev", "test"} or not all(isinstance(v, int) and v >= 1 for v in sizes.values()):
        problems.append(f"'sizes': expected {{train: N, dev: N, test: N}} with N >= 1, got {sizes!r}")
        sizes = {"train": 1, "dev": 1, "test": 1}
    probe = merged.get("probe_distance", 50)
    if not isinstance(probe, int) or probe < 1:
        problems.append(f"'probe_distance': expected an integer >= 1, got {probe!r}")
    extra = merged.get("extra", {})
    if not isinstance(extra, dict):
        problems.append("'extra': expected a mapping")
        extra = {}
    variants = _variants(merged.get("variants"), problems)
    budgets = _budgets(merged.get("budgets", []), problems)
    grid = _grid(merged.get("grid", {}), problems)
    if problems:
        raise ConfigError(problems, str(source))
    return ExperimentConfig(
        name=name,
        source=Path(source),
        base=Path(source).parent / merged["base"],
        set=tuple(overrides),
        seeds=seeds,
        variants=variants,
        distances=tuple(distances),
        sizes=tuple((k, sizes[k]) for k in ("train", "dev", "test")),
        probe_distance=probe,
        extra=tuple(sorted(extra.items())),
        budgets=budgets,
        grid=grid,
    )


def load_experiment(path: Path, quick: bool = False, seeds: int | None = None) -> ExperimentConfig:
    """Read ``path``; ``seeds`` (from ``--seeds``) replaces the file's."""
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(["file not found"], source) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"invalid YAML ({err.__class__.__name__})"], source) from None
    config = parse_experiment(path.stem.replace("_", "-"), raw, path, quick)
    if seeds is not None:
        config = dataclasses.replace(config, seeds=seeds)
    return config


def extra(config: ExperimentConfig, key: str, default: Any) -> Any:
    return dict(config.extra).get(key, default)


def related(config: ExperimentConfig, key: str, quick: bool) -> ExperimentConfig | None:
    """The experiment that ``extra.<key>`` names (a YAML file next to ``config``'s), with ``config``'s
    seeds; None when the key is not set."""
    name = extra(config, key, None)
    return None if name is None else load_experiment(config.source.parent / name, quick, config.seeds)
