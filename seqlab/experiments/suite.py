"""The notes' claims as experiments. Each function trains (through the shared ``Runner``) what it needs,
measures, writes figures into ``out`` and returns an ``Outcome``: the numbers and one verdict per claim.

A verdict is decided by a stated rule on the measured means, never assumed: ``held``, ``did not hold``,
or ``n/a`` when the variants needed for the rule are missing (a user may edit the YAML).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqlab.bundle import WEIGHTS
from seqlab.data import read_corpus
from seqlab import plots
from seqlab.experiments.measures import apple_accuracy, gate_means, gradient_by_distance, last_token_accuracy
from seqlab.experiments.runner import Run, Runner
from seqlab.experiments.settings import ExperimentConfig, extra, load_experiment
from seqlab.experiments.tasks import read_meta
from seqlab.model import build_model

CHANCE = 0.5  # the long-range task has two equally likely keys


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


def _cell(run: Run) -> str:
    encoder = run.config.model.encoder
    return encoder.cell if encoder.cell != "rnn" else f"rnn-{encoder.nonlinearity}"


def _seeds(exp: ExperimentConfig) -> range:
    return range(1, exp.seeds + 1)


def _plot(draw: Callable[[], None], outcome: Outcome) -> None:
    try:
        draw()
    except plots.PlotUnavailable as err:
        outcome.results.setdefault("notes", []).append(str(err))


# ------------------------------------------------------------------------------------------ apple


def _apple_scores(runner: Runner, exp: ExperimentConfig) -> dict[str, list[dict[str, float]]]:
    out: dict[str, list[dict[str, float]]] = {}
    for variant in exp.variants:
        for seed in _seeds(exp):
            run = runner.run(exp, variant, seed)
            data_dir = Path(run.config.data.test or "").parent
            out.setdefault(variant.name, []).append(apple_accuracy(run.tagger, data_dir))
    return out


def context(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """A per-token classifier can only learn the majority sense of *apple*; a recurrent encoder reads context."""
    scores = _apple_scores(runner, exp)
    cells = {v.name: runner.run(exp, v, 1).config.model.encoder.cell for v in exp.variants}
    majority = next(iter(scores.values()))[0]["majority"]
    outcome = Outcome({"majority_share": majority, "variants": {
        name: {"cell": cells[name], "apple_accuracy": [r["all"] for r in rows], "span_f1": [r["f1"] for r in rows]}
        for name, rows in scores.items()
    }})
    series = {"apple-token accuracy": [mean_std([r["all"] for r in rows]) for rows in scores.values()]}
    _plot(lambda: plots.bars(out / "context.png", "Sense of 'apple' on unseen test frames", list(scores), series, "accuracy", baseline=("majority sense", majority)), outcome)
    plain = [mean_std([r["all"] for r in rows])[0] for name, rows in scores.items() if cells[name] == "none"]
    recurrent = {name: mean_std([r["all"] for r in rows])[0] for name, rows in scores.items() if cells[name] != "none"}
    measured = "; ".join(f"{name} {pct([r['all'] for r in rows])}" for name, rows in scores.items()) + f"; majority sense {100 * majority:.1f}%"
    held = None
    if plain and recurrent:
        held = plain[0] <= majority + 0.05 and min(recurrent.values()) >= plain[0] + 0.2
    outcome.verdict("per-token classifier ≈ majority sense (within 5 points); every recurrent cell ≥ 20 points above it", measured, held)
    return outcome


def future(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """A forward-only RNN cannot use a cue that comes after the word; reading backwards too fixes it."""
    scores = _apple_scores(runner, exp)
    directions = {v.name: runner.run(exp, v, 1).config.model.encoder.bidirectional for v in exp.variants}
    outcome = Outcome({"variants": {
        name: {"bidirectional": directions[name], "cue_before": [r["before"] for r in rows], "cue_after": [r["after"] for r in rows]}
        for name, rows in scores.items()
    }})
    series = {name: [mean_std([r[k] for r in rows]) for k in ("before", "after")] for name, rows in scores.items()}
    _plot(lambda: plots.bars(out / "future.png", "Apple accuracy by where the deciding cue stands", ["cue before the word", "cue only after"], series, "accuracy"), outcome)
    uni = [n for n, bi in directions.items() if not bi]
    bi = [n for n, b in directions.items() if b]
    measured = "; ".join(f"{n}: before {pct([r['before'] for r in scores[n]])}, after {pct([r['after'] for r in scores[n]])}" for n in scores)
    held = None
    if uni and bi:
        after = lambda n: mean_std([r["after"] for r in scores[n]])[0]  # noqa: E731
        before = lambda n: mean_std([r["before"] for r in scores[n]])[0]  # noqa: E731
        held = all(before(u) - after(u) >= 0.15 for u in uni) and min(after(b) for b in bi) - max(after(u) for u in uni) >= 0.15
    outcome.verdict("forward-only: cue-after accuracy ≥ 15 points below cue-before; bidirectional ≥ 15 points above it on cue-after", measured, held)
    return outcome


# ------------------------------------------------------------------------------------ long range


@dataclass
class _Grid:
    """The long-range runs of one experiment, by variant."""

    accuracy: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    """Query accuracy per distance, one value per seed."""
    kinds: dict[str, str] = field(default_factory=dict)
    """The variant's cell (``rnn-tanh``, ``lstm``, …)."""
    epochs: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """Epochs each run trained (fewer than ``train.epochs`` when ``train.stop_at`` ended it: solved on dev)."""
    failed: list[str] = field(default_factory=list)
    """``label: error`` of every run that stopped with an error (a non-finite gradient)."""

    def results(self, distances: tuple[int, ...], **per_variant: dict[str, Any]) -> dict[str, Any]:
        """The ``results.json`` part: per variant its cell, accuracies, epochs (and ``per_variant`` extras)."""
        variants = {
            n: {"cell": self.kinds[n], **{k: v[n] for k, v in per_variant.items()}, "accuracy": {str(d): a for d, a in row.items()}, "epochs": self.epochs[n]}
            for n, row in self.accuracy.items()
        }
        return {"distances": list(distances), "variants": variants, "failed_runs": self.failed}


def _accuracy_grid(runner: Runner, exp: ExperimentConfig) -> _Grid:
    """Train (or fetch) every variant × distance × seed and score the query. A run that stopped with an
    error is scored with the best model it kept, as a user would be left with."""
    grid = _Grid()
    for variant in exp.variants:
        for distance in exp.distances:
            test = runner.long_range_test(exp, distance)
            for seed in _seeds(exp):
                run = runner.run(exp, variant, seed, distance)
                grid.kinds[variant.name] = _cell(run)
                kept = run.result is not None or (run.directory / WEIGHTS).exists()
                accuracy = last_token_accuracy(run.tagger, test) if kept else float("nan")
                grid.accuracy.setdefault(variant.name, {}).setdefault(distance, []).append(accuracy)
                grid.epochs.setdefault(variant.name, {}).setdefault(str(distance), []).append(len(run.history))
                if run.error:
                    grid.failed.append(f"{run.label}: {run.error.split(';')[0]}")
    return grid


def _reach(by_distance: dict[int, list[float]], threshold: float = 0.9) -> int:
    """The largest distance up to which the mean accuracy stays ≥ threshold (0 if none; a distance
    with no score at all ends the reach)."""
    reach = 0
    for distance in sorted(by_distance):
        mean = mean_std(by_distance[distance])[0]
        if not mean >= threshold:  # NaN too
            break
        reach = distance
    return reach


def _distance_plot(exp: ExperimentConfig, grid: dict[str, dict[int, list[float]]], path: Path, title: str, outcome: Outcome) -> None:
    series = {
        name: (list(exp.distances), [mean_std(row[d])[0] for d in exp.distances], [mean_std(row[d])[1] for d in exp.distances])
        for name, row in grid.items()
    }
    _plot(lambda: plots.lines(path, title, series, "distance T between the key and the query (tokens)", "query accuracy", logx=True, hline=("chance", CHANCE)), outcome)


def long_range(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """A vanilla RNN loses far-away information; LSTM and GRU keep it."""
    grid = _accuracy_grid(runner, exp)
    outcome = Outcome(grid.results(exp.distances))
    _distance_plot(exp, grid.accuracy, out / "long_range.png", "Remembering the first token", outcome)
    reach = {name: _reach(row) for name, row in grid.accuracy.items()}
    outcome.results["reach_90"] = reach
    far = max(exp.distances)
    measured = "; ".join(f"{n}: ≥90% up to T={reach[n]}, {pct(grid.accuracy[n][far])} at T={far}" for n in grid.accuracy)
    measured += "".join(f"; stopped with an error: {f}" for f in grid.failed)
    kinds = grid.kinds
    plain = [reach[n] for n in reach if kinds[n].startswith("rnn")]
    gated = [reach[n] for n in reach if kinds[n] in ("lstm", "gru")]
    held = None if not plain or not gated else min(gated) > max(plain)
    outcome.verdict("every gated cell stays ≥ 90% accurate to a longer distance than every vanilla RNN", measured, held)
    return outcome


def init_and_relu(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """Careful initialisation of W (orthogonal, identity) and ReLU ease the vanilla RNN's forgetting."""
    grid = _accuracy_grid(runner, exp)
    inits = {v.name: runner.run(exp, v, 1, exp.distances[0]).config.model.encoder.recurrent_init for v in exp.variants}
    outcome = Outcome(grid.results(exp.distances, recurrent_init=inits))
    _distance_plot(exp, grid.accuracy, out / "init_and_relu.png", "Vanilla RNN: initialisation of W and activation", outcome)
    reach = {name: _reach(row) for name, row in grid.accuracy.items()}
    outcome.results["reach_90"] = reach
    baseline = [n for n in reach if grid.kinds[n] == "rnn-tanh" and inits[n] == "default"]
    others = [n for n in reach if n not in baseline]
    measured = "; ".join(f"{n}: ≥90% up to T={reach[n]}" for n in reach)
    measured += "".join(f"; stopped with an error: {f}" for f in grid.failed)
    held = None if not baseline or not others else max(reach[n] for n in others) > reach[baseline[0]]
    outcome.verdict("some careful-init or ReLU variant stays ≥ 90% accurate to a longer distance than tanh with torch's init", measured, held)
    return outcome


def vanishing(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """‖∂ log p(y_n)/∂x_{n-k}‖ falls with k for the vanilla RNN far faster than for the LSTM (and GRU)."""
    distance = exp.probe_distance
    sentences = runner.long_range_test(exp, distance)[:200]
    curves: dict[str, dict[str, list[list[float]]]] = {}
    kinds: dict[str, str] = {}
    for variant in exp.variants:
        for seed in _seeds(exp):
            run = runner.run(exp, variant, seed, distance)
            kinds[variant.name] = _cell(run)
            tagger = run.tagger
            torch.manual_seed(run.config.seed)  # the exact initial weights of this run
            initial = build_model(run.config.model, tagger.bundle.vocabs)
            entry = curves.setdefault(variant.name, {"init": [], "trained": []})
            entry["init"].append(gradient_by_distance(tagger, initial, sentences))
            entry["trained"].append(gradient_by_distance(tagger, tagger.model, sentences))
    ks = list(range(distance + 2))
    mean_curve = lambda rows: [statistics.mean(r[k] for r in rows) for k in ks]  # noqa: E731
    summary = {name: {stage: mean_curve(rows) for stage, rows in entry.items()} for name, entry in curves.items()}
    outcome = Outcome({"distance": distance, "k": ks, "variants": {n: {"cell": kinds[n], **summary[n]} for n in summary}})
    series: dict[str, tuple[list[float], list[float], list[float]]] = {}
    styles = {}
    for name, stages in summary.items():
        for stage, curve in stages.items():
            label = f"{name} ({'trained' if stage == 'trained' else 'at init'})"
            series[label] = ([k + 1 for k in ks], [max(v, 1e-30) for v in curve], [0.0] * len(ks))
            styles[label] = "-" if stage == "trained" else "--"
    _plot(lambda: plots.lines(out / "vanishing.png", f"Gradient reaching back k steps (T={distance})", series, "k + 1 (steps back from the query)", "‖∂ log p(y_n) / ∂x_{n-k}‖", logx=True, logy=True, styles=styles), outcome)
    ratio = {name: {stage: curve[distance + 1] / curve[1] if curve[1] > 0 else float("nan") for stage, curve in stages.items()} for name, stages in summary.items()}
    outcome.results["far_over_near"] = ratio
    measured = "; ".join(f"{n}: far/near {ratio[n]['init']:.1e} at init, {ratio[n]['trained']:.1e} trained" for n in ratio)
    plain = [ratio[n]["trained"] for n in ratio if kinds[n].startswith("rnn")]
    lstm = [ratio[n]["trained"] for n in ratio if kinds[n] == "lstm"]
    held = None if not plain or not lstm else max(plain) * 10 <= min(lstm)
    outcome.verdict(f"trained: the key's gradient (k={distance + 1}) relative to k=1 is ≥ 10× smaller for the vanilla RNN than for the LSTM", measured, held)
    return outcome


def exploding(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """LSTM/GRU do not prevent exploding gradients; clipping does."""
    distance = exp.probe_distance
    test = runner.long_range_test(exp, distance)
    rows: dict[str, list[Run]] = {}
    for variant in exp.variants:
        rows[variant.name] = [runner.run(exp, variant, seed, distance) for seed in _seeds(exp)]
    result: dict[str, Any] = {"distance": distance, "variants": {}}
    for name, runs in rows.items():
        first = runs[0].config
        result["variants"][name] = {
            "cell": _cell(runs[0]),
            "recurrent_gain": first.model.encoder.recurrent_gain,
            "clip_grad_norm": first.train.clip_grad_norm,
            "max_grad_norm": [max((h["max_grad_norm"] for h in r.history), default=float("nan")) for r in runs],
            "loss_curves": [[h["loss"] for h in r.history] for r in runs],
            "grad_norm_curves": [[h["max_grad_norm"] for h in r.history] for r in runs],
            "failed": [r.error for r in runs],
            "accuracy": [last_token_accuracy(r.tagger, test) if r.result is not None else float("nan") for r in runs],
        }
    outcome = Outcome(result)
    v = result["variants"]
    norm_series = {n: (list(range(1, len(d["grad_norm_curves"][0]) + 1)), d["grad_norm_curves"][0], [0.0] * len(d["grad_norm_curves"][0])) for n, d in v.items() if d["grad_norm_curves"][0]}
    loss_series = {n: (list(range(1, len(d["loss_curves"][0]) + 1)), d["loss_curves"][0], [0.0] * len(d["loss_curves"][0])) for n, d in v.items() if d["loss_curves"][0]}
    _plot(lambda: plots.lines(out / "exploding_grad_norm.png", "Largest gradient norm per epoch (seed 1, before clipping)", norm_series, "epoch", "max ‖∇‖", logy=True), outcome)
    _plot(lambda: plots.lines(out / "exploding_loss.png", "Training loss per epoch (seed 1)", loss_series, "epoch", "loss per sentence", logy=True), outcome)
    grads = "; ".join(f"{n}: largest ‖∇‖ {mean_std(d['max_grad_norm'])[0]:.3g}" for n, d in v.items())
    losses = "; ".join(
        f"{n}: final loss {mean_std([c[-1] for c in d['loss_curves'] if c])[0]:.3g}, accuracy {pct(d['accuracy'])}, "
        f"failed runs {sum(e is not None for e in d['failed'])}/{len(d['failed'])}"
        for n, d in v.items()
    )
    factor = extra(exp, "explode_factor", 10.0)
    largest = lambda d: mean_std(d["max_grad_norm"])[0]  # noqa: E731
    final_loss = lambda d: mean_std([c[-1] if c and e is None else float("inf") for c, e in zip(d["loss_curves"], d["failed"])])[0]  # noqa: E731
    baseline = {d["cell"]: d for d in v.values() if d["recurrent_gain"] == 1.0 and d["clip_grad_norm"] is None}
    big = [d for d in v.values() if d["recurrent_gain"] > 1.0 and d["clip_grad_norm"] is None]
    gated = [d for d in big if d["cell"] in ("lstm", "gru") and d["cell"] in baseline]
    held_gated = None if not gated else all(largest(d) >= factor * largest(baseline[d["cell"]]) for d in gated)
    outcome.verdict(f"LSTM/GRU with a large W: largest gradient norm ≥ {factor:g}× the same cell's with torch's init", grads, held_gated)
    clipped = [d for d in v.values() if d["recurrent_gain"] > 1.0 and d["clip_grad_norm"] is not None]
    held_clip = None
    if clipped and big:
        pairs = [(c, u) for c in clipped for u in big if u["cell"] == c["cell"] and u["recurrent_gain"] == c["recurrent_gain"]]
        held_clip = bool(pairs) and all(final_loss(c) < 0.5 * final_loss(u) for c, u in pairs)
    outcome.verdict("same large W: clipping ends training at less than half the unclipped loss (failed runs: infinite loss)", losses, held_clip)
    return outcome


def gates(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """Forget ≈ 1 and input ≈ 0 while nothing important arrives; the input gate opens on important tokens."""
    distance = exp.probe_distance
    sentences = runner.long_range_test(exp, distance)[:200]
    found: dict[str, dict[str, Any]] = {}
    for variant in exp.variants:
        per_seed = []
        for seed in _seeds(exp):
            run = runner.run(exp, variant, seed, distance)
            if _cell(run) in ("lstm", "gru"):
                per_seed.append(gate_means(run.tagger, sentences, [[0]] * len(sentences)))
        if per_seed:
            found[f"{variant.name} (long-range T={distance})"] = _average_gates(per_seed)
    apple_file = extra(exp, "apple_experiment", None)
    if apple_file:
        apple = load_experiment(Path(apple_file), quick=runner.quick, seeds=exp.seeds)
        for variant in apple.variants:
            per_seed = []
            for seed in _seeds(apple):
                run = runner.run(apple, variant, seed)
                if _cell(run) not in ("lstm", "gru"):
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
        _plot(lambda: plots.bars(path, f"Mean gate value: {name}", gates_, series, "mean over units and tokens"), outcome)
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
    apple_file = extra(exp, "apple_experiment", None)
    if apple_file:
        sources.append(("apple", load_experiment(Path(apple_file), quick=runner.quick, seeds=exp.seeds), None))
    for task, source, dist in sources:
        for variant in source.variants:
            runs = [runner.run(source, variant, seed, dist) for seed in _seeds(source)]
            cell = _cell(runs[0])
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
    _plot(lambda: plots.bars(out / "lstm_vs_gru.png", "LSTM vs GRU", groups, {"accuracy": [mean_std(table[g]["accuracy"]) for g in groups]}, "accuracy"), outcome)
    return outcome


EXPERIMENTS: dict[str, Callable[[Runner, ExperimentConfig, Path], Outcome]] = {
    "context": context,
    "future": future,
    "long-range": long_range,
    "vanishing": vanishing,
    "exploding": exploding,
    "gates": gates,
    "lstm-vs-gru": lstm_vs_gru,
    "init-and-relu": init_and_relu,
}
"""``seqlab experiment NAME`` → the function; its settings are ``configs/experiments/NAME.yaml`` (``-`` → ``_``)."""
