"""The gate claim: forget ≈ 1 and input ≈ 0 on unimportant input, in a model that has learnt to keep something."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from seqlab import plots
from seqlab.data.readers import read_corpus
from seqlab.experiments.claims_distance import CHANCE
from seqlab.experiments.gate_units import unit_gate_report
from seqlab.experiments.measures import gate_means, last_token_accuracy
from seqlab.experiments.outcome import Outcome, cell_name, draw, seed_range
from seqlab.experiments.runner import Runner
from seqlab.experiments.settings import ExperimentConfig, related
from seqlab.experiments.tasks import read_meta
from seqlab.experiments.verdicts import GATED, REACHED, gate_verdict


def gates(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """Forget ≈ 1 and input ≈ 0 while nothing important arrives; the input gate opens on important tokens.

    The claim is about a model that has learnt to keep something, so the verdict is decided on the
    long-range runs that solved the task (query accuracy ≥ 90%), each seed at the longest of
    ``probe_distance`` and ``distances`` it solved, per unit: on the units that carry the key
    (``gate_units``). A seed that solved none is listed, not judged; the apple models' gate means
    (averaged over units) are reported beside them."""
    report: dict[str, Any] = {}
    unsolved: list[str] = []
    for variant in exp.variants:
        for seed in seed_range(exp):
            for distance in sorted({exp.probe_distance, *exp.distances}, reverse=True):  # the longest T it solved
                run = runner.run(exp, variant, seed, distance)
                if cell_name(run) not in GATED:
                    break
                sentences = runner.long_range_test(exp, distance)[:200]
                if last_token_accuracy(run.tagger, sentences) >= REACHED:
                    budget = f"{dict(exp.sizes)['train']}x{run.config.train.epochs}"
                    entry = report.setdefault(variant.name, {"cell": cell_name(run), "budget": budget, "models": []})
                    entry["models"].append({"seed": seed, "distance": distance, **unit_gate_report(run.tagger, sentences, chance=CHANCE)})
                    break
            else:
                unsolved.append(f"{variant.name} seed {seed}")
    found: dict[str, dict[str, Any]] = {}
    apple = related(exp, "apple_experiment", runner.quick)
    if apple:
        for variant in apple.variants:
            per_seed = []
            for seed in seed_range(apple):
                run = runner.run(apple, variant, seed)
                if cell_name(run) not in GATED:
                    continue
                data_dir = Path(run.config.data.test or "").parent
                tagger = run.tagger
                test = read_corpus(data_dir / "test.conll", tagger.bundle.config.data)
                meta = read_meta(data_dir / "test.meta.jsonl")
                chosen = [(s, [m["apple"]]) for s, m in zip(test, meta) if m["apple"] is not None][:300]
                per_seed.append(gate_means(tagger, [s for s, _ in chosen], [d for _, d in chosen]))
            if per_seed:
                found[f"{variant.name} (apple, forward direction)"] = _average_gates(per_seed)
    outcome = Outcome({"long_range": report, "unsolved": unsolved, "apple_means": found, "decisive": "long-range: the key token; apple: the apple token"})
    for name, entry in report.items():
        for model in entry["models"]:
            path = out / f"gates_{name}_seed{model['seed']}.png"
            draw(lambda: plots.unit_gates(path, f"{name}, T={model['distance']}, seed {model['seed']}", model["gates"], model["key_units"]), outcome)
    for name, table in found.items():
        gates_ = list(table)
        series = {where: [(table[g][where], 0.0) for g in gates_] for where in ("decisive", "other")}
        path = out / f"gates_apple_{name.split()[0]}.png"
        draw(lambda: plots.bars(path, f"Mean gate value: {name}", gates_, series, "mean over units and tokens"), outcome)
    claim, measured, held = gate_verdict(report)
    if unsolved:
        measured += f"; not judged (< 90% at every T tried): {', '.join(unsolved)}"
    outcome.verdict(claim, measured, held)
    return outcome


def _average_gates(tables: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {g: {w: statistics.mean(t[g][w] for t in tables) for w in ("decisive", "other")} for g in tables[0]}
