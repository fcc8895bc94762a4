"""The epoch loop's parts on a real tiny run: one epoch's running totals, the end-of-epoch decisions
(best weights kept, patience, ``stop_at``), and the clock. (Kills, Ctrl-C and non-finite losses:
tests/test_resume.py; whole runs: tests/test_train.py.)"""
from __future__ import annotations

import dataclasses
import json
import random
import time

import pytest
import torch

from seqlab.config.settings import replace_in
from seqlab.data.batches import bucketed_order, collate
from seqlab.tagger import bundle as files
from seqlab.tagger.metrics import Report
from seqlab.train.checkpoint import Progress
from seqlab.train.loop import Clock, Place, TrainingError, end_epoch, train_epoch
from seqlab.train.prepare import prepare_run
from seqlab.train.run import start_run


def make_run(config, directory):
    prepared = prepare_run(config)
    directory.mkdir(parents=True, exist_ok=True)
    progress = Progress()
    rng = random.Random(config.seed)
    progress.start_epoch(rng)
    return start_run(prepared, Place(directory, torch.device("cpu")), progress, rng, Clock(time.perf_counter()))


def test_one_epoch_sees_every_sentence_once_and_updates_the_model(tiny_config, tmp_path):
    run = make_run(tiny_config, tmp_path / "m")
    before = [p.detach().clone() for p in run.optimisation.model.parameters()]
    lengths = [e.words.shape[0] for e in run.corpus.encoded]
    order = bucketed_order(lengths, 8, 50, run.rng)
    train_epoch(run, order, 1, False, [])
    state = run.progress
    assert state.step == len(order) and state.seen == len(run.corpus.encoded) == 60
    assert state.loss_sum > 0 and state.largest > 0 and state.skipped == 0 and state.epoch_seconds > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, run.optimisation.model.parameters()))


def test_the_logged_loss_is_the_mean_sentence_loss_of_the_batches(tiny_config, tmp_path):
    """With lr 0 nothing moves, so the epoch's logged loss must equal the mean sentence loss computed
    directly on the same batches (dropout off)."""
    config = replace_in(replace_in(tiny_config, "train.lr", 0.0), "model.embedding.dropout", 0.0)
    run = make_run(config, tmp_path / "m")
    model = run.optimisation.model
    order = bucketed_order([e.words.shape[0] for e in run.corpus.encoded], 8, 50, run.rng)
    train_epoch(run, order, 1, False, [])
    model.train()
    with torch.no_grad():
        total = sum(float(model.loss(collate([run.corpus.encoded[k] for k in index], index))) for index in order)
    assert run.progress.loss_sum / run.progress.seen == pytest.approx(total / 60, rel=1e-5)


class Scores:
    """A dev scorer that returns the given F1 values in turn."""

    def __init__(self, values):
        self.values = iter(values)

    def __call__(self) -> Report:
        f1 = next(self.values)
        return Report(f1, f1, f1, f1, 0.0, 0, 0.0, 0, 1, 1, {})


def test_end_of_epoch_keeps_the_best_weights_counts_patience_and_stops(tiny_config, tmp_path):
    config = replace_in(replace_in(tiny_config, "train.patience", 2), "train.epochs", 10)
    run = make_run(config, tmp_path / "m")
    run.dev = Scores([0.5, 0.7, 0.6, 0.7, 0.2])
    weights = run.place.directory / files.WEIGHTS
    decisions = []
    for epoch in range(1, 5):
        with torch.no_grad():
            next(run.optimisation.model.parameters()).add_(1.0)  # a different model each epoch
        stamp = weights.stat().st_mtime_ns if weights.exists() else None
        end_epoch(run, epoch, {"loss": 1.0, "train_sents_per_s": 1.0})
        decisions.append((run.progress.best_epoch, run.progress.stale, run.progress.stopped, weights.stat().st_mtime_ns != stamp))
    assert decisions == [(1, 0, False, True), (2, 0, False, True), (2, 1, False, False), (2, 2, True, False)]  # a tie is no improvement
    history = [json.loads(line) for line in (run.place.directory / files.HISTORY).read_text().splitlines()]
    assert [h["dev_f1"] for h in history] == [0.5, 0.7, 0.6, 0.7] and [h["best"] for h in history] == [True, True, False, False]
    assert run.progress.best_dev["f1"] == 0.7


def test_patience_starts_once_the_dev_score_is_above_zero(tiny_config, tmp_path):
    """Epochs at dev F1 0 (everything tagged O: nothing found yet) do not use up the patience."""
    config = replace_in(replace_in(tiny_config, "train.patience", 2), "train.epochs", 10)
    run = make_run(config, tmp_path / "m")
    run.dev = Scores([0.0, 0.0, 0.0, 0.0, 0.3, 0.3, 0.2])
    stale = []
    for epoch in range(1, 8):
        end_epoch(run, epoch, {"loss": 1.0, "train_sents_per_s": 1.0})
        stale.append((run.progress.stale, run.progress.stopped))
    assert stale == [(0, False)] * 4 + [(0, False), (1, False), (2, True)]
    assert run.progress.best_epoch == 5


def test_stop_at_ends_the_run_once_dev_reaches_it(tiny_config, tmp_path):
    config = replace_in(replace_in(tiny_config, "train.stop_at", 0.9), "train.epochs", 10)
    run = make_run(config, tmp_path / "m")
    run.dev = Scores([0.5, 0.95])
    end_epoch(run, 1, {"loss": 1.0, "train_sents_per_s": 1.0})
    assert not run.progress.stopped
    end_epoch(run, 2, {"loss": 1.0, "train_sents_per_s": 1.0})
    assert run.progress.stopped and run.progress.epoch == 2


def test_the_clock_counts_earlier_processes_time():
    clock = Clock(time.perf_counter() - 2.0, before=10.0)
    assert 12.0 <= clock.elapsed() < 13.0
    assert dataclasses.replace(clock, before=0.0).elapsed() < 3.0


def test_non_finite_weights_end_the_epoch_before_anything_is_saved(tiny_config, tmp_path):
    run = make_run(tiny_config, tmp_path / "m")
    run.dev = Scores([0.9])
    with torch.no_grad():
        next(run.optimisation.model.parameters())[0] = float("nan")
    with pytest.raises(TrainingError, match=r"the weights became non-finite \(embedding.words.weight\) at epoch 1.*they were not saved; nothing was saved"):
        end_epoch(run, 1, {"loss": 1.0, "train_sents_per_s": 1.0})
    assert not (run.place.directory / files.WEIGHTS).exists()
