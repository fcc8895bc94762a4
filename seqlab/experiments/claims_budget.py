"""The long-range claim swept over what it may depend on: the training budget (sentences × epochs), the
LSTM's forget-gate bias and the learning rate; and the gate claim measured on the models that solved it.

Each *condition* (variant × grid values × budget) climbs the distances in order: at each T it trains the
seeds and moves on while the mean query accuracy stays ≥ 90%; the first T where it falls short ends the
climb (longer T count as not reached). A seed is skipped when the mean can no longer reach 90% whatever
the remaining seeds score (each scores at most 1), so the reach is exactly the one all seeds would give.
Every finished run is appended to ``cells.jsonl``; a second invocation with the same ``--out`` reuses it.
"""
from __future__ import annotations

import itertools
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from seqlab import plots
from seqlab.errors import ConfigError
from seqlab.experiments.claims_distance import CHANCE
from seqlab.experiments.gate_units import unit_gate_report
from seqlab.experiments.measures import (
    gate_means,
    gradient_by_distance,
    last_token_accuracy,
)
from seqlab.experiments.outcome import Outcome, cell_name, draw, seed_range
from seqlab.experiments.runner import Runner
from seqlab.experiments.settings import Budget, ExperimentConfig, Variant
from seqlab.experiments.verdicts import (
    GATED,
    REACHED,
    budget_verdicts,
    cell_conditions,
    gate_verdict,
)
from seqlab.nn.model import build_model
from seqlab.tagger.inference import Tagger

__all__ = ["Condition", "cell_spec", "conditions", "long_range_budget", "still_possible"]


@dataclass(frozen=True)
class Condition:
    """One line of the sweep: a variant with one value per grid key, trained at one budget."""

    variant: Variant
    settings: tuple[str, ...]
    """``key=value`` of the grid, in the YAML's order."""
    budget: Budget

    def spec(self, distance: int, seed: int) -> str:
        """The ``--cell`` argument that reruns one run of this condition."""
        return cell_spec(self.variant.name, self.settings, self.budget.name, distance, seed)


def cell_spec(variant: str, settings: Sequence[str], budget: str, distance: int, seed: int) -> str:
    """``VARIANT/KEY=VALUE…/BUDGET/T…/seed…``: one run of the sweep (the key of ``cells.jsonl``, ``--cell``)."""
    return "/".join([variant, *settings, budget, f"T{distance}", f"seed{seed}"])


def conditions(exp: ExperimentConfig) -> list[Condition]:
    """Every variant × grid combination × budget, budgets innermost (cheapest first per line)."""
    keys = [k for k, _ in exp.grid]
    combos = itertools.product(*(values for _, values in exp.grid)) if exp.grid else [()]
    settings = [tuple(f"{k}={json.dumps(v)}" for k, v in zip(keys, combo)) for combo in combos]
    return [Condition(v, s, b) for b in exp.budgets for v in exp.variants for s in settings]


def still_possible(scores: list[float], seeds: int, threshold: float = REACHED) -> bool:
    """Whether the mean over ``seeds`` can still be ≥ ``threshold`` when the seeds not yet run score 1."""
    return (sum(scores) + (seeds - len(scores))) / seeds >= threshold


def _train_one(runner: Runner, exp: ExperimentConfig, condition: Condition, distance: int, seed: int) -> dict[str, Any]:
    sized = replace(exp, sizes=(("train", condition.budget.train), *exp.sizes[1:]))
    variant = Variant(condition.variant.name, (*condition.variant.overrides, *condition.settings, f"train.epochs={condition.budget.epochs}"))
    run = runner.run(sized, variant, seed, distance)
    accuracy = last_token_accuracy(run.tagger, runner.long_range_test(exp, distance)) if run.kept else float("nan")
    return {
        "spec": condition.spec(distance, seed), "variant": condition.variant.name, "cell": cell_name(run),
        "settings": list(condition.settings), "budget": condition.budget.name, "distance": distance, "seed": seed,
        "accuracy": accuracy, "epochs": len(run.history), "seconds": round(run.seconds, 1),
        "error": run.error, "directory": str(run.directory),
    }


def _load_cells(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    return {r["spec"]: r for r in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())}


def _climb(runner: Runner, exp: ExperimentConfig, condition: Condition, done: dict[str, dict[str, Any]], log: Path) -> dict[str, Any]:
    """Train the condition up the distance ladder; its row of the results."""
    accuracy: dict[str, list[float | None]] = {}
    reach = 0
    for distance in exp.distances:
        if condition.budget.max_distance is not None and distance > condition.budget.max_distance:
            break
        scores: list[float] = []
        row: list[float | None] = []
        for seed in seed_range(exp):
            if not still_possible(scores, exp.seeds):
                row.append(None)  # skipped: the mean can no longer reach the threshold
                continue
            spec = condition.spec(distance, seed)
            if spec not in done:
                done[spec] = _train_one(runner, exp, condition, distance, seed)
                with log.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(done[spec]) + "\n")
            value = done[spec]["accuracy"]
            scores.append(value if value == value else 0.0)  # a run that kept no model has not learnt
            row.append(value)
        accuracy[str(distance)] = row
        if statistics.mean(scores) < REACHED:
            break
        reach = distance
    first = done[condition.spec(exp.distances[0], 1)]
    return {"variant": condition.variant.name, "cell": first["cell"], "settings": list(condition.settings),
            "budget": condition.budget.name, "accuracy": accuracy, "reach": reach}


def _run_only(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """``--cell``: train (or fetch) the one run it names and report its query accuracy."""
    assert exp.only is not None
    for condition in conditions(exp):
        for distance in exp.distances:
            for seed in seed_range(exp):
                if condition.spec(distance, seed) == exp.only:
                    record = _train_one(runner, exp, condition, distance, seed)
                    outcome = Outcome({"cell": record})
                    outcome.verdict(f"{exp.only}: query accuracy ≥ {REACHED:.0%}", f"accuracy {record['accuracy']:.3f} after {record['epochs']} epochs", record["accuracy"] >= REACHED)
                    return outcome
    example = conditions(exp)[0].spec(exp.distances[0], 1)
    raise ConfigError([f"--cell '{exp.only}' names no run of this sweep; cells look like '{example}'"])


def long_range_budget(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """The long-range claim at every budget, forget bias and learning rate; gates of the solved models."""
    if not exp.budgets:
        raise ConfigError([f"experiment '{exp.name}': 'budgets' is empty; nothing to sweep"], str(exp.source))
    if exp.only:
        return _run_only(runner, exp, out)
    log = out / "cells.jsonl"
    done = _load_cells(log)
    rows = [_climb(runner, exp, condition, done, log) for condition in conditions(exp)]
    budgets = [b.name for b in exp.budgets]
    outcome = Outcome({"distances": list(exp.distances), "budgets": budgets, "threshold": REACHED, "conditions": rows})
    for claim, measured, held in budget_verdicts(rows, budgets):
        outcome.verdict(claim, measured, held)
    outcome.results["cells"] = cell_conditions(rows, budgets)
    _draw_reach(exp, rows, out, outcome)
    outcome.results["lstm_failures"] = _diagnose_failures(runner, exp, rows, done)
    report = _gates_of_solved(runner, exp, rows, done)
    outcome.results["gates"] = report
    for name, entry in report.items():
        for model in entry["models"][:1]:
            path = out / f"gates_{name}.png"
            title = f"{name} ({', '.join(entry['settings'])}, {entry['budget']}), T={model['distance']}, seed {model['seed']}"
            draw(lambda: plots.unit_gates(path, title, model["gates"], model["key_units"]), outcome)
    claim, measured, held = gate_verdict(report)
    outcome.verdict(claim, measured, held)
    outcome.results["rerun"] = f"seqlab experiment long-range-budget --cell {conditions(exp)[0].spec(exp.distances[0], 1)}"
    return outcome


def _gates_of_solved(runner: Runner, exp: ExperimentConfig, rows: list[dict[str, Any]], done: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per gated variant: the per-unit gate report of each seed's model at the variant's longest solved
    distance (the condition with the longest reach; the smallest budget among equals)."""
    report: dict[str, Any] = {}
    for variant in exp.variants:
        mine = [r for r in rows if r["variant"] == variant.name and r["cell"] in GATED and r["reach"] > 0]
        if not mine:
            continue
        best = max(mine, key=lambda r: r["reach"])  # max keeps the first: budgets run cheapest first
        distance = best["reach"]
        sentences = runner.long_range_test(exp, distance)[:200]
        models = []
        for seed in seed_range(exp):
            record = done.get(cell_spec(variant.name, best["settings"], best["budget"], distance, seed))
            if record is None or not record["accuracy"] >= REACHED:
                continue
            tagger = Tagger.load(Path(record["directory"]))
            models.append({"seed": seed, "distance": distance, **unit_gate_report(tagger, sentences, chance=CHANCE)})
        report[variant.name] = {"cell": best["cell"], "settings": best["settings"], "budget": best["budget"], "models": models}
    return report


def _diagnose_failures(runner: Runner, exp: ExperimentConfig, rows: list[dict[str, Any]], done: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Why an LSTM fails: for each LSTM condition at the largest budget that stopped short, the model of
    its worst seed at the first distance it missed. The key's gradient relative to the previous token's
    (``‖∂ log p(y_n)/∂x_1‖`` over ``‖∂ log p(y_n)/∂x_{n-1}‖``, at initialisation and trained: the vanishing
    experiment's far/near ratio) and the mean gates (all units) on distractors and on the key."""
    largest = exp.budgets[-1].name
    out: dict[str, Any] = {}
    for row in rows:
        if row["cell"] != "lstm" or row["budget"] != largest:
            continue
        missed = [int(t) for t in row["accuracy"] if int(t) > row["reach"]]
        if not missed:
            continue
        distance = min(missed)
        scores = row["accuracy"][str(distance)]
        worst = min((a, seed) for seed, a in enumerate(scores, start=1) if a is not None)[1]
        record = done[cell_spec(row["variant"], row["settings"], largest, distance, worst)]
        tagger = Tagger.load(Path(record["directory"]))
        sentences = runner.long_range_test(exp, distance)[:200]
        torch.manual_seed(tagger.bundle.config.seed)  # the run's exact initial weights
        initial = build_model(tagger.bundle.config.model, tagger.bundle.vocabs)
        ratio = {}
        for stage, model in (("init", initial), ("trained", tagger.model)):
            curve = gradient_by_distance(tagger, model, sentences)
            ratio[stage] = curve[distance + 1] / curve[1] if curve[1] > 0 else float("nan")
        gates = gate_means(tagger, sentences, [[0]] * len(sentences))
        out[" ".join([row["variant"], *row["settings"], largest])] = {
            "distance": distance, "seed": worst, "accuracy": record["accuracy"], "far_over_near_gradient": ratio,
            "gates": {g: {"key": v["decisive"], "distractors": v["other"]} for g, v in gates.items()},
        }
    return out


def _draw_reach(exp: ExperimentConfig, rows: list[dict[str, Any]], out: Path, outcome: Outcome) -> None:
    """Per cell, ``reach_CELL.png``: the longest T reached (≥ 90%, mean over seeds) at each budget, one line
    per variant and grid setting (offset by a few percent so equal values stay visible; 1 stands for 'not
    even the shortest T'). Returns the files' names in ``outcome.results["figures"]``."""
    names = [b.name for b in exp.budgets]
    for cell in sorted({r["cell"] for r in rows}):
        mine = [r for r in rows if r["cell"] == cell]
        labels = list(dict.fromkeys(" ".join([r["variant"], *r["settings"]]) for r in mine))
        series: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for row in mine:
            label = " ".join([row["variant"], *row["settings"]])
            xs, ys, errs = series.setdefault(label, ([], [], []))
            xs.append(names.index(row["budget"]))
            ys.append(max(row["reach"], 1) * (1 + 0.04 * labels.index(label)))
            errs.append(0.0)
        path = out / f"reach_{cell}.png"
        outcome.results.setdefault("figures", []).append(path.name)
        draw(lambda: plots.lines(path, f"{cell}: longest T kept at ≥ 90% query accuracy", series, "budget: training sentences x epochs", "longest T reached",
                                 logy=True, xticks=(list(range(len(names))), names), yticks=[1, *exp.distances]), outcome)
