"""Checkpoints and resume: a run killed anywhere (SIGKILL mid-epoch, SIGKILL between a checkpoint's write
and its rename, Ctrl-C) and resumed ends bit-identical to an uninterrupted run; faults leave work intact."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from seqlab.config.settings import load_config, replace_in
from seqlab.errors import ConfigError, ModelError
from seqlab.nn.model import TaggerModel
from seqlab.tagger.bundle import HISTORY, METRICS, WEIGHTS
from seqlab.train.checkpoint import CHECKPOINT, read_checkpoint
from seqlab.train.run import TrainingError, resume, train
from tests.conftest import tiny_overrides, tiny_sentences, write_conll

ROOT = Path(__file__).resolve().parents[1]
TIMING = ("seconds", "train_sents_per_s")

# 60 sentences, batch 8: 8 batches an epoch; a checkpoint every 3 batches and at each epoch's end.
RUN = [
    "train.threads=1",
    "train.epochs=4",
    "train.checkpoint_every=3",
    "train.patience=null",
    "model.embedding.dropout=0.3",
    "model.embedding.word_dropout=0.1",
    "model.embedding.char.kind=cnn",
    "model.encoder.dropout=0.2",
]

# Runs the CLI with a fault injected: a signal to itself after optimizer step N, or SIGKILL inside the
# N-th checkpoint write, after the temporary file is complete and before the rename.
WRAPPER = textwrap.dedent(
    """
    import os, signal, sys
    from torch.optim.optimizer import register_optimizer_step_post_hook
    from seqlab.cli import main as cli
    kind, at = os.environ["FAULT"].split(":")
    at = int(at)
    count = [0]
    if kind in ("SIGKILL", "SIGINT", "SIGTERM"):
        def hook(optimizer, args, kwargs):
            count[0] += 1
            if count[0] == at:
                os.kill(os.getpid(), getattr(signal, kind))
        register_optimizer_step_post_hook(hook)
    else:
        real_replace = os.replace
        def replace(src, dst):
            if str(dst).endswith("checkpoint.safetensors"):
                count[0] += 1
                if count[0] == at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst)
        os.replace = replace
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def cli(args: list[str], fault: str | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if fault is None:
        command = [sys.executable, "-m", "seqlab", *args]
    else:
        wrapper = tmp / "fault.py"
        wrapper.write_text(WRAPPER)
        command = [sys.executable, str(wrapper), *args]
        env["FAULT"] = fault
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def train_args(tiny_data, out: Path, extra: list[str] = ()) -> list[str]:
    base = tiny_data["train"].parent / "base.yaml"
    base.write_text("# every key comes from --set\n")
    args = ["train", "--config", str(base)]
    for override in tiny_overrides(tiny_data, out) + RUN + list(extra):
        args += ["--set", override]
    return args


def outcome(directory: Path) -> dict:
    """What must match between runs: best and last weights, the history and summary without timings."""
    history = [json.loads(line) for line in (directory / HISTORY).read_text().splitlines()]
    summary = json.loads((directory / METRICS).read_text())
    checkpoint = read_checkpoint(directory)
    return {
        "best": load_file(str(directory / WEIGHTS)),
        "last": checkpoint.model,
        "history": [{k: v for k, v in row.items() if k not in TIMING} for row in history],
        "summary": {k: v for k, v in summary.items() if k != "seconds"},
    }


def assert_same(a: dict, b: dict) -> None:
    assert a["history"] == b["history"]
    assert a["summary"] == b["summary"]
    for kind in ("best", "last"):
        assert a[kind].keys() == b[kind].keys()
        for name in a[kind]:
            assert torch.equal(a[kind][name], b[kind][name]), f"{kind} weights differ in {name}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """Data and an uninterrupted reference run (Adam), shared by the tests that compare against it."""
    base = tmp_path_factory.mktemp("resume")
    data = {
        "train": write_conll(base / "train.conll", tiny_sentences(60, 1)),
        "dev": write_conll(base / "dev.conll", tiny_sentences(20, 2)),
        "test": write_conll(base / "test.conll", tiny_sentences(20, 3)),
    }
    done = cli(train_args(data, base / "whole"))
    assert done.returncode == 0, done.stderr
    return {**data, "whole": base / "whole"}


@pytest.fixture
def reference(shared) -> dict:
    return outcome(shared["whole"])


def test_sigkill_mid_epoch_then_resume_is_bit_identical(shared, tmp_path, reference):
    # Step 13 is epoch 2, batch 5: the last checkpoint on disk is epoch 2, batch 3.
    killed = cli(train_args(shared, tmp_path / "killed"), fault="SIGKILL:13", tmp=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    state = read_checkpoint(tmp_path / "killed")
    assert (state.progress.epoch, state.progress.step) == (1, 3)
    resumed = cli(["train", "--resume", str(tmp_path / "killed")])
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "epoch 2, batch 3" in resumed.stderr
    assert_same(reference, outcome(tmp_path / "killed"))


class Crash(Exception):
    """Stands in for a crash inside the training process."""


def test_crash_then_resume_in_process_with_sgd_momentum(shared, tmp_path):
    from torch.optim.optimizer import register_optimizer_step_post_hook

    config = load_config(None, tiny_overrides(shared, tmp_path / "whole") + RUN + ["train.optimizer=sgd", "train.momentum=0.9", "train.lr=0.05"])
    train(config, progress=False)
    steps = [0]

    def crash(optimizer, args, kwargs):
        steps[0] += 1
        if steps[0] == 21:  # epoch 3, batch 5
            raise Crash

    handle = register_optimizer_step_post_hook(crash)
    try:
        with pytest.raises(Crash):
            train(config, tmp_path / "crashed", progress=False)
    finally:
        handle.remove()
    torch.manual_seed(12345)  # whatever the generators hold now must not matter
    resume(tmp_path / "crashed", progress=False)
    assert_same(outcome(tmp_path / "whole"), outcome(tmp_path / "crashed"))


def test_sigkill_between_checkpoint_write_and_rename(shared, tmp_path, reference):
    tiny_data = shared
    # The 5th checkpoint write is the end of epoch 2 (batches 3, 6, end; 3, 6, end): killed before the
    # rename, so the directory keeps epoch 2's batch-6 checkpoint and epoch 2's history line.
    killed = cli(train_args(tiny_data, tmp_path / "killed"), fault="rename:6", tmp=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p.name for p in (tmp_path / "killed").iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the torn temporary file should be there before resuming"
    state = read_checkpoint(tmp_path / "killed")
    assert (state.progress.epoch, state.progress.step) == (1, 6)
    assert len((tmp_path / "killed" / HISTORY).read_text().splitlines()) == 2
    resumed = cli(["train", "--resume", str(tmp_path / "killed")])
    assert resumed.returncode == 0, resumed.stderr
    assert not [p.name for p in (tmp_path / "killed").iterdir() if p.name.endswith(".tmp")]
    assert_same(reference, outcome(tmp_path / "killed"))


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(shared, tmp_path, reference):
    tiny_data, sig = shared, "SIGINT"
    stopped = cli(train_args(tiny_data, tmp_path / "stopped"), fault=f"{sig}:10", tmp=tmp_path)
    assert stopped.returncode == 130
    assert "Traceback" not in stopped.stderr
    assert f"--resume {tmp_path / 'stopped'}" in stopped.stderr
    state = read_checkpoint(tmp_path / "stopped")
    assert (state.progress.epoch, state.progress.step) == (1, 2)  # step 10 = epoch 2, batch 2
    resumed = cli(["train", "--resume", str(tmp_path / "stopped")])
    assert resumed.returncode == 0, resumed.stderr
    assert_same(reference, outcome(tmp_path / "stopped"))


def test_sigterm_is_a_stop_request_like_ctrl_c():
    from seqlab.train.loop import stop_requests

    before = signal.getsignal(signal.SIGTERM)
    with stop_requests() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):  # a second request aborts at once
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before


def test_resume_with_more_epochs_continues_a_finished_run(tiny_config, tmp_path):
    config = replace_in(replace_in(tiny_config, "train.patience", None), "train.epochs", 2)
    result = train(config, tmp_path / "short", progress=False)
    assert result.epochs_run == 2
    longer = resume(tmp_path / "short", ["train.epochs=4"], progress=False)
    assert longer.epochs_run == 4
    rows = (tmp_path / "short" / HISTORY).read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [1, 2, 3, 4]
    assert load_config(tmp_path / "short" / "config.yaml").train.epochs == 4


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A small finished run (in-process), copied by the tests that damage it."""
    base = tmp_path_factory.mktemp("finished")
    data = {"train": write_conll(base / "train.conll", tiny_sentences(60, 1)), "dev": write_conll(base / "dev.conll", tiny_sentences(20, 2))}
    train(load_config(None, [f"data.train={data['train']}", f"data.dev={data['dev']}", "model.embedding.dim=8", "model.encoder.hidden=8", "train.epochs=1", f"output_dir={base / 'm'}"]), progress=False)
    return base / "m"


@pytest.fixture
def damaged(finished, tmp_path) -> Path:
    copy = tmp_path / "m"
    shutil.copytree(finished, copy)
    return copy


def test_resume_refuses_another_training_file(tiny_config, tiny_data, tmp_path):
    train(tiny_config, tmp_path / "m", progress=False)
    tiny_data["train"].write_text(tiny_data["train"].read_text() + "extra\tO\n\n")
    with pytest.raises(ModelError, match=r"train\.conll: not the training file this run started with"):
        resume(tmp_path / "m", ["train.epochs=6"])  # a run granted more epochs (a finished one reads no data)


def test_resume_without_a_checkpoint(damaged):
    (damaged / CHECKPOINT).unlink()
    with pytest.raises(ModelError, match="checkpoint.safetensors: no checkpoint"):
        resume(damaged)


def test_truncated_checkpoint_is_a_model_error(damaged):
    path = damaged / CHECKPOINT
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match="checkpoint.safetensors: not a valid checkpoint"):
        resume(damaged)


def test_a_safetensors_file_that_is_not_a_checkpoint(damaged):
    (damaged / CHECKPOINT).write_bytes((damaged / WEIGHTS).read_bytes())
    with pytest.raises(ModelError, match="checkpoint.safetensors: not a seqlab checkpoint"):
        resume(damaged)


class _CreatesAFile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_a_pickle_in_place_of_the_checkpoint_is_refused_and_runs_nothing(damaged, tmp_path, how):
    marker = tmp_path / "pwned"
    path = damaged / CHECKPOINT
    if how == "pickle":
        path.write_bytes(pickle.dumps(_CreatesAFile(marker)))
    else:
        torch.save({"model": _CreatesAFile(marker)}, path)
    assert not marker.exists()
    with pytest.raises(ModelError, match="checkpoint.safetensors: not a valid checkpoint"):
        resume(damaged)
    assert not marker.exists()


def poison_losses(monkeypatch, factors: dict[int, float]) -> list[int]:
    """Multiply the loss of the listed calls (1-based) by a factor such as NaN; returns the call counter."""
    real = TaggerModel.loss
    calls = [0]

    def poisoned(self, batch):
        calls[0] += 1
        return real(self, batch) * factors.get(calls[0], 1.0)

    monkeypatch.setattr(TaggerModel, "loss", poisoned)
    return calls


def test_nonfinite_loss_stops_naming_the_batch_and_keeps_the_work(tiny_config, tmp_path, monkeypatch):
    config = replace_in(replace_in(tiny_config, "train.epochs", 4), "train.patience", None)
    calls = poison_losses(monkeypatch, {20: float("nan")})  # call 20: epoch 3, batch 4
    with pytest.raises(TrainingError, match=r"the loss became nan at epoch 3, batch 4; the last checkpoint \(continue with seqlab train --resume\) and the best model so far in"):
        train(config, tmp_path / "m", progress=False)
    state = read_checkpoint(tmp_path / "m")
    assert (state.progress.epoch, state.progress.step) == (2, 0)
    assert (tmp_path / "m" / WEIGHTS).exists()
    assert all(torch.isfinite(t).all() for t in load_file(str(tmp_path / "m" / WEIGHTS)).values())
    calls[0] = 10**6  # no more poison: the run resumes from the end of epoch 2
    assert resume(tmp_path / "m", progress=False).epochs_run == 4


def test_skip_nonfinite_skips_and_counts(tiny_config, tmp_path, monkeypatch):
    config = replace_in(replace_in(tiny_config, "train.epochs", 2), "train.skip_nonfinite", True)
    poison_losses(monkeypatch, {2: float("inf"), 5: float("inf")})
    result = train(config, tmp_path / "m", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "m" / HISTORY).read_text().splitlines()]
    assert [r["skipped_batches"] for r in rows] == [2, 0]
    assert result.epochs_run == 2
    assert all(torch.isfinite(t).all() for t in load_file(str(tmp_path / "m" / WEIGHTS)).values())


def test_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tiny_config, tmp_path, monkeypatch):
    config = replace_in(replace_in(tiny_config, "train.epochs", 3), "train.patience", None)
    writes = [0]
    real_fsync = os.fsync

    def fsync(fd):
        if ".checkpoint.safetensors." in os.readlink(f"/proc/self/fd/{fd}"):
            writes[0] += 1
            if writes[0] == 2:  # the disk fills while epoch 2's checkpoint is written
                raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(ModelError, match="No space left on device"):
        train(config, tmp_path / "m", progress=False)
    monkeypatch.setattr(os, "fsync", real_fsync)
    state = read_checkpoint(tmp_path / "m")
    assert state.progress.epoch == 1
    assert not [p for p in (tmp_path / "m").iterdir() if p.name.endswith(".tmp")]
    assert resume(tmp_path / "m", progress=False).epochs_run == 3


def test_unwritable_output_directory_is_one_clear_error(tiny_config, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ModelError, match=r"file/model: cannot write \(Not a directory\)"):
        train(tiny_config, blocker / "model", progress=False)


def test_resume_applies_a_new_learning_rate(tiny_config, tmp_path):
    """The NaN error's advice, "resume with a lower train.lr", must work: the optimiser takes it."""
    config = replace_in(replace_in(tiny_config, "train.patience", None), "train.epochs", 2)
    train(config, tmp_path / "m", progress=False)
    before = read_checkpoint(tmp_path / "m").model
    resume(tmp_path / "m", ["train.epochs=3", "train.lr=0.0"])
    after = read_checkpoint(tmp_path / "m").model
    assert all(torch.equal(before[k], after[k]) for k in before)  # Adam with lr 0 moves nothing
    last = json.loads((tmp_path / "m" / HISTORY).read_text().splitlines()[-1])
    assert last["epoch"] == 3 and last["lr"] == 0.0


def test_resume_refuses_a_change_to_what_the_run_is(tiny_config, tmp_path):
    config = replace_in(replace_in(tiny_config, "train.patience", None), "train.epochs", 2)
    train(config, tmp_path / "m", progress=False)
    with pytest.raises(ConfigError) as err:
        resume(tmp_path / "m", ["train.epochs=3", "model.encoder.hidden=8", "train.batch_size=2"])
    assert err.value.problems == [
        "--set model.encoder.hidden: cannot change when resuming (it fixes what the run is); start a new run with --output instead",
        "--set train.batch_size: cannot change when resuming (it fixes what the run is); start a new run with --output instead",
    ]


def rewrite_checkpoint_metadata(path: Path, change) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["seqlab"])
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    change(meta)
    save_file(tensors, str(path), metadata={"seqlab": json.dumps(meta)})


CRAFTED = {
    "progress missing": lambda m: m.pop("progress"),
    "progress a list": lambda m: m.update(progress=[]),
    "epoch a string": lambda m: m["progress"].update(epoch="x"),
    "seen negative": lambda m: m["progress"].update(seen=-1),
    "stopped a number": lambda m: m["progress"].update(stopped=1),
    "loss_sum null": lambda m: m["progress"].update(loss_sum=None),
    "best_dev a string": lambda m: m["progress"].update(best_dev="x"),
    "order_rng garbage": lambda m: m["progress"].update(order_rng=[1, 2]),
    "scheduler last_epoch a string": lambda m: m["scheduler"].update(last_epoch="x"),
    "scheduler takes over the optimizer": lambda m: m["scheduler"].update(optimizer="x"),
    "optimizer groups garbage": lambda m: m["optimizer"].update(param_groups=[{"lr": "x"}]),
    "fingerprint a number": lambda m: m.update(fingerprint=5),
    # the optimiser's groups, key by key: deleted or of another type (33 of 637 such variants were tracebacks)
    **{f"group {key} deleted": (lambda key: lambda m: m["optimizer"]["param_groups"][0].pop(key))(key)
       for key in ("lr", "betas", "eps", "amsgrad", "capturable", "params", "weight_decay")},
    **{f"group {key} = {value!r}": (lambda key, value: lambda m: m["optimizer"]["param_groups"][0].update({key: value}))(key, value)
       for key, value in (("lr", "x"), ("lr", None), ("lr", 1e400), ("betas", [0.9]), ("betas", "ab"), ("betas", [0.9, None]), ("eps", True),
                          ("amsgrad", "yes"), ("amsgrad", 3), ("capturable", [1]), ("params", [0.5]), ("params", []), ("params", "0"),
                          ("initial_lr", "x"))},
    "groups not a list": lambda m: m["optimizer"].update(param_groups={}),
    "a second group": lambda m: m["optimizer"]["param_groups"].append(dict(m["optimizer"]["param_groups"][0])),
    "scaler a list": lambda m: m.update(scaler=[]),
}


@pytest.mark.parametrize("change", list(CRAFTED.values()), ids=list(CRAFTED))
def test_crafted_checkpoint_metadata_is_one_model_error_never_a_traceback(damaged, change):
    rewrite_checkpoint_metadata(damaged / CHECKPOINT, change)
    with pytest.raises(ModelError, match="checkpoint.safetensors"):
        resume(damaged, ["train.epochs=2"])


def test_a_run_killed_before_its_first_save_can_be_started_again(tiny_config, tmp_path, monkeypatch):
    import seqlab.train.loop as loop

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train_epoch", killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config, tmp_path / "m", progress=False)
    assert (tmp_path / "m" / "config.yaml").exists() and not (tmp_path / "m" / CHECKPOINT).exists()
    monkeypatch.undo()
    assert train(tiny_config, tmp_path / "m", progress=False).best_epoch >= 1  # no --overwrite needed: it held no model
