"""The GRU against the LSTM: fewer parameters, "trains faster" in both of its meanings, as accurate.

* **Per step**: training sentences per second (the mean over a run's epochs), with torch's fused cells and
  with the scratch cells (``model.encoder.impl: scratch``, one epoch per seed).
* **To a given accuracy**: optimizer updates until the dev score first reaches the task's target
  (``epoch × ⌈train sentences / batch size⌉`` at the end of that epoch; never, if no epoch reached it).

Tasks: the long-range task at each of ``distances``, the apple set (the runs of ``extra.apple_experiment``)
and, with ``seqlab experiment lstm-vs-gru --corpus DIR``, the first ``extra.corpus_sentences`` training
sentences of a CoNLL corpus (``DIR/{train,dev,test}.*``) with seqlab's default recipe.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any

from seqlab import plots
from seqlab.config.settings import DataConfig
from seqlab.data.readers import read_corpus
from seqlab.experiments.measures import apple_accuracy, last_token_accuracy
from seqlab.experiments.outcome import Outcome, cell_name, draw, mean_std, seed_range
from seqlab.experiments.runner import Run, Runner
from seqlab.experiments.settings import ExperimentConfig, Variant, extra, related
from seqlab.experiments.verdicts import (
    GATED,
    accuracy_verdict,
    parameters_verdict,
    per_step_verdict,
    to_target_verdict,
)
from seqlab.tagger.evaluate import evaluate_file

__all__ = ["lstm_vs_gru", "updates_to_target"]


def updates_to_target(history: tuple[dict, ...], target: float, updates_per_epoch: int) -> int | None:
    """Updates until the end of the first epoch whose dev score is ≥ ``target`` (None: never)."""
    for record in history:
        if record.get("dev_f1") is not None and record["dev_f1"] >= target:
            return record["epoch"] * updates_per_epoch
    return None


@dataclasses.dataclass(frozen=True)
class _Task:
    name: str
    exp: ExperimentConfig
    distance: int | None
    data: dict[str, Path] | None
    target: float


def _tasks(runner: Runner, exp: ExperimentConfig) -> list[_Task]:
    tasks = [_Task(f"long-range T={d}", exp, d, None, extra(exp, "long_range_target", 1.0)) for d in exp.distances]
    apple = related(exp, "apple_experiment", runner.quick)
    if apple:
        tasks.append(_Task("apple", apple, None, None, extra(exp, "apple_target", 0.95)))
    corpus = extra(exp, "corpus", None)
    if corpus:
        base = exp.source.parent / extra(exp, "corpus_base", "corpus_base.yaml")
        corpus_exp = dataclasses.replace(exp, base=base, variants=tuple(Variant(c, (f"model.encoder.cell={c}",)) for c in ("lstm", "gru")))
        data = runner.corpus_data(Path(corpus), extra(exp, "corpus_sentences", 4000))
        tasks.append(_Task(f"corpus {Path(corpus).name}", corpus_exp, None, data, extra(exp, "corpus_target", 0.8)))
    return tasks


def _accuracy(runner: Runner, task: _Task, run: Run) -> float:
    if not run.kept:
        return float("nan")
    if task.distance is not None:
        return last_token_accuracy(run.tagger, runner.long_range_test(task.exp, task.distance))
    if task.data is not None:
        return evaluate_file(run.tagger, task.data["test"]).f1
    return apple_accuracy(run.tagger, Path(run.config.data.test or "").parent)["all"]


def lstm_vs_gru(runner: Runner, exp: ExperimentConfig, out: Path) -> Outcome:
    """GRU has fewer parameters (≈ 3/4 of the LSTM's recurrent weights), trains faster, performs about the same."""
    table: list[dict[str, Any]] = []
    for task in _tasks(runner, exp):
        for variant in task.exp.variants:
            runs = [runner.run(task.exp, variant, seed, task.distance, task.data) for seed in seed_range(task.exp)]
            cell = cell_name(runs[0])
            if cell not in GATED:
                continue
            config = runs[0].config
            per_epoch = math.ceil(_train_size(Path(config.data.train or ""), config.data) / config.train.batch_size)
            scratch = Variant(f"{variant.name}-scratch", (*variant.overrides, "model.encoder.impl=scratch", "train.epochs=1", "train.stop_at=null"))
            scratch_runs = [runner.run(task.exp, scratch, seed, task.distance, task.data) for seed in seed_range(task.exp)]
            base = {"task": task.name, "cell": cell, "target": task.target, "encoder_parameters": sum(p.numel() for p in runs[0].tagger.model.encoder.parameters())}
            table.append({
                **base, "impl": "fused", "sents_per_s": [_speed(r) for r in runs],
                "updates_to_target": [updates_to_target(r.history, task.target, per_epoch) for r in runs],
                "epochs": [len(r.history) for r in runs], "accuracy": [_accuracy(runner, task, r) for r in runs],
            })
            table.append({**base, "impl": "scratch", "sents_per_s": [_speed(r) for r in scratch_runs]})
    outcome = Outcome({"rows": table})
    for claim, measured, held in (parameters_verdict(table), per_step_verdict(table), to_target_verdict(table), accuracy_verdict(table)):
        outcome.verdict(claim, measured, held)
    fused = [r for r in table if r["impl"] == "fused"]
    groups = sorted({r["task"] for r in fused})
    series = {cell: [mean_std(next((r["accuracy"] for r in fused if r["task"] == g and r["cell"] == cell), [float("nan")])) for g in groups] for cell in ("lstm", "gru")}
    draw(lambda: plots.bars(out / "lstm_vs_gru.png", "LSTM vs GRU: accuracy per task", groups, series, "accuracy (long-range: query; apple: apple tokens; corpus: test F1)"), outcome)
    return outcome


@functools.lru_cache(maxsize=None)
def _train_size(path: Path, data: DataConfig) -> int:
    """Sentences in a task's training file (read once per task, not once per cell)."""
    return len(read_corpus(path, data))


def _speed(run: Run) -> float:
    speeds = [h["train_sents_per_s"] for h in run.history]
    return sum(speeds) / len(speeds) if speeds else float("nan")
