"""The distance claims on the synthetic long-range task: the vanilla RNN forgets, careful initialisation
and ReLU help it, its gradient vanishes with distance, and gradients can explode (clipping helps)."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqlab import plots
from seqlab.experiments.measures import gradient_by_distance, last_token_accuracy
from seqlab.experiments.outcome import (
    Outcome,
    cell_name,
    draw,
    mean_std,
    pct,
    seed_range,
)
from seqlab.experiments.runner import Run, Runner
from seqlab.experiments.settings import ExperimentConfig, extra
from seqlab.nn.model import build_model

CHANCE = 0.5  # the long-range task has two equally likely keys


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
            for seed in seed_range(exp):
                run = runner.run(exp, variant, seed, distance)
                grid.kinds[variant.name] = cell_name(run)
                accuracy = last_token_accuracy(run.tagger, test) if run.kept else float("nan")
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


def _distancedraw(exp: ExperimentConfig, grid: dict[str, dict[int, list[float]]], path: Path, title: str, outcome: Outcome) -> None:
    series = {
        name: (list(exp.distances), [mean_std(row[d])[0] for d in exp.distances], [mean_std(row[d])[1] for d in exp.distances])
        for name, row in grid.items()
    }
    draw(lambda: plots.lines(path, title, series, "distance T between the key and the query (tokens)", "query accuracy", logx=True, hline=("chance", CHANCE)), outcome)


def long_range(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """A vanilla RNN loses far-away information; LSTM and GRU keep it."""
    grid = _accuracy_grid(runner, exp)
    outcome = Outcome(grid.results(exp.distances))
    _distancedraw(exp, grid.accuracy, out / "long_range.png", "Remembering the first token", outcome)
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
    _distancedraw(exp, grid.accuracy, out / "init_and_relu.png", "Vanilla RNN: initialisation of W and activation", outcome)
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
        for seed in seed_range(exp):
            run = runner.run(exp, variant, seed, distance)
            kinds[variant.name] = cell_name(run)
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
    draw(lambda: plots.lines(out / "vanishing.png", f"Gradient reaching back k steps (T={distance})", series, "k + 1 (steps back from the query)", "‖∂ log p(y_n) / ∂x_{n-k}‖", logx=True, logy=True, styles=styles), outcome)
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
        rows[variant.name] = [runner.run(exp, variant, seed, distance) for seed in seed_range(exp)]
    result: dict[str, Any] = {"distance": distance, "variants": {}}
    for name, runs in rows.items():
        first = runs[0].config
        result["variants"][name] = {
            "cell": cell_name(runs[0]),
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
    draw(lambda: plots.lines(out / "exploding_grad_norm.png", "Largest gradient norm per epoch (seed 1, before clipping)", norm_series, "epoch", "max ‖∇‖", logy=True), outcome)
    draw(lambda: plots.lines(out / "exploding_loss.png", "Training loss per epoch (seed 1)", loss_series, "epoch", "loss per sentence", logy=True), outcome)
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
