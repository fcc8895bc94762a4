"""torchrun with two CPU processes (gloo): one model directory, the same global batches, and a model as
good as the single-process one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from seqlab.distributed import SINGLE, Context, gradient_weight, share
from seqlab.tagger.bundle import HISTORY, METRICS, WEIGHTS
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["train.threads=1", "train.epochs=4", "train.patience=null", "model.embedding.dropout=0", "train.batch_size=8", "train.checkpoint_every=2"]


def test_share_splits_each_global_batch_and_keeps_every_rank_busy():
    two = [Context(0, 2), Context(1, 2)]
    assert [share([5, 6, 7], c) for c in two] == [([5, 7], 1.0), ([6], 1.0)]
    assert [share([9], c) for c in two] == [([9], 1.0), ([9], 0.0)]  # rank 1 runs a sentence at weight 0
    assert share([1, 2], SINGLE) == ([1, 2], 1.0)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("batch", [5, 1])
def test_weighted_rank_objectives_average_to_the_whole_batch_objective(reduction, batch):
    """Each rank's objective as ``seqlab.nn.model.Objective`` forms it (its share's summed loss, divided by the
    global batch's sentence count for mean), times ``gradient_weight``: DDP's average over the ranks is the
    single-process objective of the whole batch (a rank with weight 0 only takes part)."""
    losses = torch.tensor([0.5, 1.5, 2.0, 4.0, 3.0])[:batch]  # per sentence, one global batch
    whole = losses.mean() if reduction == "mean" else losses.sum()
    shares = []
    for context in (Context(0, 2), Context(1, 2)):
        mine, weight = share(list(range(batch)), context)
        summed = losses[mine].sum()
        objective = summed if reduction == "sum" else summed / batch
        shares.append(objective * gradient_weight(weight, context))
    assert torch.allclose(torch.stack(shares).mean(), whole)  # DDP averages the ranks' gradients


def run(args: list[str], tmp: Path, torchrun: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun}", "-m", "seqlab"] if torchrun else [sys.executable, "-m", "seqlab"]
    return subprocess.run(launcher + args, capture_output=True, text=True, env=env, cwd=tmp, timeout=600)


def test_torchrun_two_processes_matches_one_process(tiny_data, tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("# keys from --set\n")
    # One-token sentences: bucketed together, a rank's whole share can lack any CRF transition.
    with open(tiny_data["train"], "a", encoding="utf-8") as handle:
        handle.write("".join(f"{word}\t{tag}\n\n" for word, tag in [("Apple", "B-ORG"), ("Yes", "O")] * 10))
    outputs = {}
    for name, procs in (("single", 0), ("ddp", 2)):
        args = ["train", "--config", str(base)]
        for override in tiny_overrides(tiny_data, tmp_path / "runs" / name) + SETTINGS:
            args += ["--set", override]
        done = run(args, tmp_path, torchrun=procs)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs[name] = tmp_path / "runs" / name
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["ddp", "single"]  # one directory per run
    single, ddp = (json.loads((outputs[k] / METRICS).read_text()) for k in ("single", "ddp"))
    assert ddp["processes"] == 2 and "processes" not in single
    assert abs(ddp["dev"]["f1"] - single["dev"]["f1"]) <= 0.05
    history = [json.loads(line) for line in (outputs["ddp"] / HISTORY).read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]  # written once, by rank 0
    # Same global batches, same init, exact loss scaling, no dropout: the weights stay close.
    a, b = load_file(str(outputs["single"] / WEIGHTS)), load_file(str(outputs["ddp"] / WEIGHTS))
    worst = max(float((a[k] - b[k]).abs().max()) for k in a if a[k].is_floating_point())
    assert worst < 1e-3, worst
    assert done.stdout.count("saved ") == 1  # rank 0 alone reports

    # Resume under torchrun: 2 epochs, then --resume to 4, ends bit-identical to the 4-epoch run.
    args = ["train", "--config", str(base)]
    for override in tiny_overrides(tiny_data, tmp_path / "part") + SETTINGS + ["train.epochs=2"]:
        args += ["--set", override]
    assert run(args, tmp_path, torchrun=2).returncode == 0
    resumed = run(["train", "--resume", str(tmp_path / "part"), "--set", "train.epochs=4"], tmp_path, torchrun=2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    c = load_file(str(tmp_path / "part" / WEIGHTS))
    assert all(torch.equal(b[k], c[k]) for k in b)
    drop = lambda rows: [{k: v for k, v in json.loads(r).items() if k not in ("seconds", "train_sents_per_s")} for r in rows]
    assert drop((tmp_path / "part" / HISTORY).read_text().splitlines()) == drop((outputs["ddp"] / HISTORY).read_text().splitlines())
