"""train.precision on the CPU: bf16 and fp16 autocast train, the head stays fp32, fp16's scaler resumes."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from seqlab.config.settings import replace_in
from seqlab.data.batches import collate
from seqlab.tagger.bundle import HISTORY
from seqlab.tagger.inference import Tagger
from seqlab.train.amp import autocast
from seqlab.train.checkpoint import read_checkpoint
from seqlab.train.run import resume, train


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("encoder", [("lstm", "fused", "lstm"), ("gru", "scratch", "cnn")])
def test_mixed_precision_trains_on_cpu(tiny_config, tmp_path, precision, encoder):
    cell, impl, char = encoder
    config = tiny_config
    for key, value in (("train.precision", precision), ("model.encoder.cell", cell), ("model.encoder.impl", impl), ("model.embedding.char.kind", char), ("train.epochs", 4)):
        config = replace_in(config, key, value)
    result = train(config, tmp_path / "m", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "m" / HISTORY).read_text().splitlines()]
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert result.dev.f1 > 0.5
    tagger = Tagger.load(tmp_path / "m")
    assert all(p.dtype == torch.float32 for p in tagger.model.parameters())  # weights stay fp32
    batch = collate(tagger.encode_tokens([["I", "eat", "the", "apple", "."]]), [0])
    with autocast(torch.device("cpu"), precision):
        emissions = tagger.model.emissions(batch)
        tagger.model.train()
        labelled = dataclasses.replace(batch, tags=batch.words.clamp(max=len(tagger.bundle.vocabs.tags) - 1))
        loss = tagger.model.loss(labelled)
    assert emissions.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    assert loss.dtype == torch.float32  # the CRF ran in fp32


def test_fp16_scaler_state_is_checkpointed_and_resumed(tiny_config, tmp_path):
    config = replace_in(replace_in(replace_in(tiny_config, "train.precision", "fp16"), "train.epochs", 2), "train.patience", None)
    train(config, tmp_path / "m", progress=False)
    checkpoint = read_checkpoint(tmp_path / "m")
    assert checkpoint.scaler is not None and checkpoint.scaler["scale"] > 0
    assert resume(tmp_path / "m", ["train.epochs=3"], progress=False).epochs_run == 3


def test_gpu_check_script_passes_on_the_cpu():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "scripts" / "bench" / "gpu_check.py"), "--device", "cpu", "--epochs", "2"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fused vs scratch on cpu" in done.stdout and "unpacked vs packed fused BiLSTM on cpu" in done.stdout
    assert "all checks passed" in done.stdout
