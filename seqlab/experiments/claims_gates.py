"""The gate claims: forget ≈ 1 and input ≈ 0 on unimportant input, and the GRU against the LSTM."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from seqlab import plots
from seqlab.experiments.outcome import Outcome, cell_name, draw, mean_std, pct, seed_range
from seqlab.experiments.runner import Runner
from seqlab.experiments.settings import ExperimentConfig, related
from seqlab.experiments.measures import apple_accuracy, gate_means, last_token_accuracy
from seqlab.experiments.tasks import read_meta
from seqlab.readers import read_corpus


def gates(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """Forget ≈ 1 and input ≈ 0 while nothing important arrives; the input gate opens on important tokens."""
    distance = exp.probe_distance
    sentences = runner.long_range_test(exp, distance)[:200]
    found: dict[str, dict[str, Any]] = {}
    for variant in exp.variants:
        per_seed = []
        for seed in seed_range(exp):
            run = runner.run(exp, variant, seed, distance)
            if cell_name(run) in ("lstm", "gru"):
                per_seed.append(gate_means(run.tagger, sentences, [[0]] * len(sentences)))
        if per_seed:
            found[f"{variant.name} (long-range T={distance})"] = _average_gates(per_seed)
    apple = related(exp, "apple_experiment", runner.quick)
    if apple:
        for variant in apple.variants:
            per_seed = []
            for seed in seed_range(apple):
                run = runner.run(apple, variant, seed)
                if cell_name(run) not in ("lstm", "gru"):
                    continue
                data_dir = Path(run.config.data.test or "").parent
                tagger = run.tagger
                test = read_corpus(data_dir / "test.conll", tagger.bundle.config.data)
                meta = read_meta(data_dir / "test.meta.jsonl")
                chosen = [(s, [m["apple"]]) for s, m in zip(test, meta) if m["apple"] is not None][:300]
                per_seed.append(gate_means(tagger, [s for s, _ in chosen], [d for _, d in chosen]))
            if per_seed:
                found[f"{variant.name} (apple, forward direction)"] = _average_gates(per_seed)
    outcome = Outcome({"models": found, "decisive": "long-range: the key token; apple: the apple token"})
    for name, table in found.items():
        gates_ = list(table)
        series = {where: [(table[g][where], 0.0) for g in gates_] for where in ("decisive", "other")}
        path = out / f"gates_{len(outcome.results.setdefault('plots', []))}.png"
        outcome.results["plots"].append({"model": name, "file": path.name})
        draw(lambda: plots.bars(path, f"Mean gate value: {name}", gates_, series, "mean over units and tokens"), outcome)
    lstm = {n: t for n, t in found.items() if "forget" in t and "long-range" in n}
    measured = "; ".join(", ".join(f"{n} {g}: decisive {t[g]['decisive']:.2f} / other {t[g]['other']:.2f}" for g in t) for n, t in found.items())
    held = None
    if lstm:
        held = all(t["forget"]["other"] >= 0.9 and t["input"]["other"] <= 0.1 and t["input"]["decisive"] > t["input"]["other"] for t in lstm.values())
    outcome.verdict("long-range LSTM: forget ≥ 0.9 and input ≤ 0.1 on distractors, input higher on the key", measured, held)
    return outcome


def _average_gates(tables: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {g: {w: statistics.mean(t[g][w] for t in tables) for w in ("decisive", "other")} for g in tables[0]}


def lstm_vs_gru(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """GRU has fewer parameters (≈ 3/4 of the LSTM's recurrent weights), trains faster, performs about the same."""
    distance = exp.probe_distance
    test = runner.long_range_test(exp, distance)
    table: dict[str, dict[str, Any]] = {}
    sources: list[tuple[str, ExperimentConfig, int | None]] = [(f"long-range T={distance}", exp, distance)]
    apple = related(exp, "apple_experiment", runner.quick)
    if apple:
        sources.append(("apple", apple, None))
    for task, source, dist in sources:
        for variant in source.variants:
            runs = [runner.run(source, variant, seed, dist) for seed in seed_range(source)]
            cell = cell_name(runs[0])
            if cell not in ("lstm", "gru"):
                continue
            tagger = runs[0].tagger
            encoder = sum(p.numel() for p in tagger.model.encoder.parameters())
            if task == "apple":
                data_dir = Path(runs[0].config.data.test or "").parent
                accuracy = [apple_accuracy(r.tagger, data_dir)["all"] for r in runs]
            else:
                accuracy = [last_token_accuracy(r.tagger, test) if r.result is not None else float("nan") for r in runs]
            speeds = [statistics.mean(h["train_sents_per_s"] for h in r.history) for r in runs if r.history]
            table[f"{cell} ({task})"] = {
                "cell": cell, "task": task, "encoder_parameters": encoder, "model_parameters": runs[0].result.parameters if runs[0].result else None,
                "train_sents_per_s": speeds, "accuracy": accuracy,
            }
    outcome = Outcome({"models": table})
    held_params = held_speed = held_acc = None
    details = []
    for task in sorted({row["task"] for row in table.values()}):
        pair = {row["cell"]: row for row in table.values() if row["task"] == task}
        if set(pair) != {"lstm", "gru"}:
            continue
        lstm, gru = pair["lstm"], pair["gru"]
        ratio = gru["encoder_parameters"] / lstm["encoder_parameters"]
        speed = mean_std(gru["train_sents_per_s"])[0] / mean_std(lstm["train_sents_per_s"])[0]
        gap = mean_std(gru["accuracy"])[0] - mean_std(lstm["accuracy"])[0]
        details.append((
            f"{task}: GRU/LSTM encoder parameters {ratio:.3f} ({gru['encoder_parameters']} / {lstm['encoder_parameters']})",
            f"{task}: GRU {mean_std(gru['train_sents_per_s'])[0]:.0f} vs LSTM {mean_std(lstm['train_sents_per_s'])[0]:.0f} sentences/s ({speed:.2f}×)",
            f"{task}: GRU {pct(gru['accuracy'])} vs LSTM {pct(lstm['accuracy'])} ({100 * gap:+.1f} points)",
        ))
        held_params = (held_params is not False) and abs(ratio - 0.75) < 0.02
        held_speed = (held_speed is not False) and speed > 1.0
        held_acc = (held_acc is not False) and abs(gap) <= 0.02
    outcome.verdict("GRU encoder has 0.75× the LSTM's parameters (±0.02)", "; ".join(d[0] for d in details), held_params)
    outcome.verdict("GRU trains faster (sentences/s) than the LSTM", "; ".join(d[1] for d in details), held_speed)
    outcome.verdict("GRU accuracy within 2 points of the LSTM's", "; ".join(d[2] for d in details), held_acc)
    groups = [t for t in table]
    draw(lambda: plots.bars(out / "lstm_vs_gru.png", "LSTM vs GRU", groups, {"accuracy": [mean_std(table[g]["accuracy"]) for g in groups]}, "accuracy"), outcome)
    return outcome
