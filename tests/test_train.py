from __future__ import annotations

import hashlib
import json

import pytest
import torch

from seqlab.config.settings import replace_in
from seqlab.errors import ConfigError, ModelError
from seqlab.tagger.bundle import HISTORY, METRICS, WEIGHTS
from seqlab.tagger.inference import Tagger
from seqlab.train.run import TrainingError, train


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def history(directory) -> list[dict]:
    return [json.loads(line) for line in (directory / HISTORY).read_text().splitlines()]


def test_seeded_runs_reproduce_exactly(tiny_config, tmp_path):
    config = replace_in(tiny_config, "model.embedding.dropout", 0.3)
    a = train(config, tmp_path / "a", progress=False)
    b = train(config, tmp_path / "b", progress=False)
    assert digest(a.output_dir / WEIGHTS) == digest(b.output_dir / WEIGHTS)
    drop_time = lambda rows: [{k: v for k, v in r.items() if k not in ("seconds", "train_sents_per_s")} for r in rows]
    assert drop_time(history(a.output_dir)) == drop_time(history(b.output_dir))
    c = train(replace_in(config, "seed", 2), tmp_path / "c", progress=False)
    assert digest(c.output_dir / WEIGHTS) != digest(a.output_dir / WEIGHTS)


def test_history_summary_and_learning(tiny_config):
    result = train(replace_in(tiny_config, "train.epochs", 6), progress=False)
    rows = history(result.output_dir)
    assert [r["epoch"] for r in rows] == list(range(1, result.epochs_run + 1))
    assert {"loss", "lr", "dev_f1", "train_sents_per_s", "best"} <= set(rows[0])
    assert rows[-1]["loss"] < rows[0]["loss"]
    summary = json.loads((result.output_dir / METRICS).read_text())
    assert summary["best_epoch"] == result.best_epoch
    assert summary["dev"]["f1"] == max(r["dev_f1"] for r in rows)
    assert result.test is not None and result.test.f1 > 0.5


def test_lr_decay_schedule(tiny_config):
    config = replace_in(replace_in(tiny_config, "train.lr_decay", 0.5), "train.patience", None)
    rows = history(train(config, progress=False).output_dir)
    assert [r["lr"] for r in rows] == pytest.approx([0.01 / (1 + 0.5 * e) for e in range(3)])


def test_early_stopping_when_dev_f1_stalls(tiny_config):
    config = replace_in(replace_in(replace_in(tiny_config, "train.lr", 0.0), "train.patience", 2), "train.epochs", 10)
    result = train(config, progress=False)
    assert result.epochs_run == 3 and result.best_epoch == 1


def test_stop_at_ends_training_once_dev_reaches_the_score(tiny_config, tmp_path):
    free = history(train(replace_in(replace_in(tiny_config, "train.epochs", 8), "train.patience", None), tmp_path / "free", progress=False).output_dir)
    scores = [r["dev_f1"] for r in free]
    target = max(scores[1:-1])  # first reached after epoch 1 and before the last (asserted below)
    first = next(i for i, f1 in enumerate(scores) if f1 >= target)
    assert 0 < first < len(scores) - 1, scores
    config = replace_in(replace_in(replace_in(tiny_config, "train.epochs", 8), "train.patience", None), "train.stop_at", target)
    result = train(config, tmp_path / "stopped", progress=False)
    assert result.epochs_run == first + 1
    assert history(result.output_dir)[-1]["dev_f1"] == scores[first]
    with pytest.raises(ConfigError, match="train.stop_at"):
        replace_in(replace_in(tiny_config, "data.dev", None), "train.stop_at", 0.9)


@pytest.mark.parametrize("clip", [None, 1e-3])
def test_gradient_clipping_bounds_the_sgd_step(tiny_config, tmp_path, clip):

    overrides = {"model.decoder.scheme": "bio", "train.optimizer": "sgd", "train.lr": 1.0, "train.epochs": 1, "train.batch_size": 1000, "train.clip_grad_norm": clip, "train.ema_decay": None, "data.dev": None, "data.test": None}
    for key, value in overrides.items():
        tiny_config = replace_in(tiny_config, key, value)
    torch.manual_seed(tiny_config.seed)
    from seqlab.data.batches import build_vocabularies
    from seqlab.data.readers import read_corpus
    from seqlab.nn.model import build_model

    vocabs = build_vocabularies(read_corpus(tiny_config.data.train, tiny_config.data), tiny_config.data)
    before = torch.cat([p.detach().flatten() for p in build_model(tiny_config.model, vocabs).parameters()])
    result = train(tiny_config, tmp_path / "m", progress=False)
    after = torch.cat([p.detach().flatten() for p in Tagger.load(result.output_dir).model.parameters()])
    step = float((after - before).norm())
    norm = history(result.output_dir)[0]["max_grad_norm"]  # the one step's gradient norm, before clipping
    if clip is None:
        assert step > 1e-2
        assert step == pytest.approx(norm, rel=1e-3)  # plain SGD, lr 1: the step is the gradient
    else:
        assert step <= 1.0 * clip * 1.001
        assert norm > clip * 10


def test_refuses_to_overwrite_a_model_unless_asked(tiny_config):
    train(tiny_config, progress=False)
    with pytest.raises(ModelError, match="already holds a model; pass --overwrite"):
        train(tiny_config, progress=False)
    train(tiny_config, overwrite=True, progress=False)


def test_training_needs_a_train_file(tiny_config):
    with pytest.raises(ConfigError, match="data.train"):
        train(replace_in(tiny_config, "data.train", None), progress=False)


def test_no_dev_file_keeps_the_last_epoch(tiny_config):
    result = train(replace_in(tiny_config, "data.dev", None), progress=False)
    assert result.best_epoch == result.epochs_run == 3 and result.dev is None


def test_sum_reduction_is_mean_with_batch_size_times_the_lr(tiny_config, tmp_path):
    from safetensors.torch import load_file

    one_batch = [("train.optimizer", "sgd"), ("train.batch_size", 60), ("train.epochs", 1), ("train.clip_grad_norm", None), ("data.dev", None)]
    config = tiny_config
    for key, value in one_batch:
        config = replace_in(config, key, value)
    weights = {}
    # One batch of all 60 sentences: summing is the mean with a 60 times larger learning rate.
    for name, lr, reduction in (("start", 0.0, "mean"), ("mean", 0.6, "mean"), ("sum", 0.01, "sum")):
        run = replace_in(replace_in(config, "train.lr", lr), "train.loss_reduction", reduction)
        weights[name] = load_file(str(train(run, tmp_path / name, progress=False).output_dir / WEIGHTS))
    moved = 0
    for key, start in weights["start"].items():
        if not start.is_floating_point():
            continue
        step_mean, step_sum = weights["mean"][key] - start, weights["sum"][key] - start
        assert torch.allclose(step_sum, step_mean, rtol=1e-3, atol=1e-6), key
        moved += int(step_mean.abs().sum() > 0)
    assert moved > 3


def test_on_epoch_gives_python_callers_each_epochs_record(tiny_config, tmp_path):
    seen = []
    result = train(tiny_config, tmp_path / "m", progress=False, on_epoch=seen.append)
    history = [json.loads(line) for line in (result.output_dir / "metrics.jsonl").read_text().splitlines()]
    assert seen == history and [r["epoch"] for r in seen] == list(range(1, result.epochs_run + 1))


def test_weights_that_stop_being_finite_are_never_saved(tiny_config, tmp_path):
    """A learning rate of 1e38 with skip_nonfinite (the case that saved an all-NaN model with exit 0):
    training stops with an error once it cannot learn, and whatever it saved is finite."""
    import dataclasses

    config = tiny_config
    for key, value in (("train.optimizer", "sgd"), ("train.clip_grad_norm", None), ("train.skip_nonfinite", True)):
        config = replace_in(config, key, value)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, lr=1e38))  # past the config's bound: the loop's own guard is tested
    with pytest.raises(TrainingError, match=r"the weights became non-finite|every batch of epoch \d+ was skipped"):
        train(config, tmp_path / "m", progress=False)
    weights = tmp_path / "m" / WEIGHTS
    if weights.exists():
        from safetensors.torch import load_file

        assert all(torch.isfinite(t).all() for t in load_file(str(weights)).values())


def test_a_second_writer_of_a_model_directory_is_refused_at_once(tiny_config, tmp_path):
    from seqlab.files import writer_lock

    with writer_lock(tmp_path / "m"):
        with pytest.raises(ModelError, match=r"another seqlab train \(pid \d+\) is writing this directory"):
            train(tiny_config, tmp_path / "m", progress=False)
    assert train(tiny_config, tmp_path / "m", progress=False).best_epoch >= 1  # released


def test_an_overwrite_that_dies_leaves_no_old_weights_beside_new_vocabularies(tiny_config, tiny_data, tmp_path, monkeypatch):
    """A run that overwrites a model and is killed after writing its vocabularies must not leave a
    directory that loads and predicts with the old weights."""
    import seqlab.train.run as training
    from seqlab.tagger.inference import Tagger

    train(tiny_config, tmp_path / "m", progress=False)
    shuffled = tmp_path / "other.conll"
    shuffled.write_text("Zebra\tB-ORG\nruns\tO\n\n" * 30, encoding="utf-8")

    def die(directory, bundle):
        raise KeyboardInterrupt  # a kill right after the new run started writing

    monkeypatch.setattr(training, "save_bundle", die)
    with pytest.raises(KeyboardInterrupt):
        train(replace_in(tiny_config, "data.train", str(shuffled)), tmp_path / "m", overwrite=True, progress=False)
    with pytest.raises(ModelError):
        Tagger.load(tmp_path / "m")


def test_quiet_training_silences_the_epoch_lines_of_the_loop(tiny_config, caplog):
    import logging

    from seqlab.train.run import quiet_training

    with caplog.at_level(logging.INFO, logger="seqlab"):
        with quiet_training():
            train(tiny_config, progress=False)
    assert not [r for r in caplog.records if r.getMessage().startswith("epoch ")]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seqlab"):
        train(tiny_config, progress=False, overwrite=True)
    assert [r for r in caplog.records if r.getMessage().startswith("epoch ")]
