"""The resumable checkpoint on its own: what goes in comes out (progress, weights, optimiser and
schedule state, every generator), the training file's fingerprint, and the format check. (Kills,
corruption and resume end to end: tests/test_resume.py.)"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from seqlab.errors import ModelError
from seqlab.train.checkpoint import (
    CHECKPOINT,
    Progress,
    file_fingerprint,
    read_checkpoint,
    restore_rng,
    save_checkpoint,
)


def small_run():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + 0.5 * epoch))
    return model, optimizer, schedule


def step(model, optimizer, x):
    optimizer.zero_grad()
    model(x).pow(2).sum().backward()
    optimizer.step()


def test_a_saved_run_continues_exactly_as_the_original(tmp_path):
    model, optimizer, schedule = small_run()
    x = torch.randn(5, 3)
    step(model, optimizer, x)
    schedule.step()
    progress = Progress(epoch=3, step=7, loss_sum=1.5, seen=12, best_score=0.8, best_epoch=2, stale=1, best_dev={"f1": 0.8})
    progress.order_rng = random.Random(4).getstate()
    save_checkpoint(tmp_path, progress, model, optimizer, schedule, "abc", scaler={"scale": 1024.0})
    checkpoint = read_checkpoint(tmp_path)
    assert checkpoint.path == tmp_path / CHECKPOINT and checkpoint.fingerprint == "abc" and checkpoint.scaler == {"scale": 1024.0}
    assert dataclasses.asdict(checkpoint.progress) == dataclasses.asdict(progress)
    assert all(torch.equal(checkpoint.model[k], v) for k, v in model.state_dict().items())
    again, again_optimizer, again_schedule = small_run()
    again.load_state_dict(checkpoint.model)
    again_optimizer.load_state_dict(checkpoint.optimizer)
    again_schedule.load_state_dict({**checkpoint.scheduler, "lr_lambdas": [None]})
    assert again_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 1.5)
    step(model, optimizer, x)
    step(again, again_optimizer, x)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))


def test_the_torch_generator_is_put_back_and_nothing_training_does_not_use_is_stored(tmp_path):
    model, optimizer, schedule = small_run()
    torch.manual_seed(11)
    save_checkpoint(tmp_path, Progress(order_rng=random.getstate()), model, optimizer, schedule, "")
    expected = torch.rand(3)
    torch.manual_seed(0)
    checkpoint = read_checkpoint(tmp_path)
    restore_rng(checkpoint)
    assert torch.equal(torch.rand(3), expected)
    assert set(checkpoint.rng) == {"rng.torch"}  # NumPy's and Python's global generators: training never draws from them
    np.random.seed(1)
    random.seed(1)
    save_checkpoint(tmp_path / "b", Progress(order_rng=random.Random(0).getstate()), model, optimizer, schedule, "")
    np.random.seed(2)
    random.seed(2)
    save_checkpoint(tmp_path / "c", Progress(order_rng=random.Random(0).getstate()), model, optimizer, schedule, "")
    assert (tmp_path / "b" / CHECKPOINT).read_bytes() == (tmp_path / "c" / CHECKPOINT).read_bytes()  # the same run state, the same bytes


def test_a_ranks_own_generator_is_restored_when_present(tmp_path):
    model, optimizer, schedule = small_run()
    states = [torch.manual_seed(s).get_state() for s in (21, 22)]
    save_checkpoint(tmp_path, Progress(order_rng=random.getstate()), model, optimizer, schedule, "", rank_states=states)
    restore_rng(read_checkpoint(tmp_path), rank=1)
    got = torch.rand(2)
    torch.manual_seed(22)
    assert torch.equal(got, torch.rand(2))


def test_fingerprint_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "train.conll"
    path.write_bytes(b"a\tO\n" * 100_000)
    assert file_fingerprint(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_another_format_is_refused_with_both_versions(tmp_path):
    model, optimizer, schedule = small_run()
    save_checkpoint(tmp_path, Progress(order_rng=random.getstate()), model, optimizer, schedule, "")
    path = tmp_path / CHECKPOINT
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["seqlab"])
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    meta["format"] = 99
    save_file(tensors, str(path), metadata={"seqlab": json.dumps(meta)})
    with pytest.raises(ModelError, match=r"checkpoint format 99, this seqlab reads 1"):
        read_checkpoint(tmp_path)
