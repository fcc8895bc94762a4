"""``model.encoder.impl`` end to end, weights moving between implementations, and ``seqlab inspect``."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqlab.cli.main import main
from seqlab.data.batches import collate
from seqlab.tagger.inference import Tagger
from seqlab.tagger.trace import trace_sentence
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [["I", "peel", "the", "apple", "."], ["the", "Apple", "shares", "rose", "today", "."]]


def train(tiny_data, out: Path, *overrides: str) -> Path:
    args = ["-q", "train", "--config", str(ROOT / "configs" / "apple_lstm.yaml")]
    for override in [*tiny_overrides(tiny_data, out), "model.embedding.word_dropout=0", *overrides]:
        args += ["--set", override]
    assert main(args) == 0
    return out


def emissions(tagger: Tagger) -> torch.Tensor:
    batch = collate(tagger.encode_tokens(SENTENCES), [0, 1])
    with torch.no_grad():
        return tagger.model.emissions(batch) * batch.mask.unsqueeze(2)  # (B, L, T)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_scratch_impl_trains_and_predicts_and_runs_as_fused(cell, tiny_data, tmp_path, capsys):
    model_dir = train(tiny_data, tmp_path / "model", f"model.encoder.cell={cell}", "model.encoder.impl=scratch", "model.encoder.layers=2")
    scratch = Tagger.load(model_dir)
    assert type(scratch.model.encoder.rnn).__name__ == "ScratchRecurrent"
    fused = Tagger.load(model_dir, impl="fused")
    assert isinstance(fused.model.encoder.rnn, torch.nn.RNNBase)
    assert torch.allclose(emissions(scratch), emissions(fused), atol=1e-5)
    assert scratch.predict_tokens(SENTENCES) == fused.predict_tokens(SENTENCES)
    capsys.readouterr()
    assert main(["-q", "predict", "--model", str(model_dir), "--text", "I peel the apple .", "--impl", "fused"]) == 0
    tags = [line.split("\t")[1] for line in capsys.readouterr().out.strip().split("\n")]
    assert tags == list(fused.predict_tokens([SENTENCES[0]])[0])
    assert main(["-q", "evaluate", "--model", str(model_dir), "--data", str(tiny_data["test"]), "--impl", "fused"]) == 0


def test_a_fused_model_evaluates_with_scratch_cells(tiny_data, tmp_path):
    model_dir = train(tiny_data, tmp_path / "model", "model.encoder.cell=gru")
    fused, scratch = Tagger.load(model_dir), Tagger.load(model_dir, impl="scratch")
    assert torch.allclose(emissions(fused), emissions(scratch), atol=1e-5)


def test_a_scratch_only_activation_cannot_run_fused(tiny_data, tmp_path, capsys):
    model_dir = train(tiny_data, tmp_path / "model", "model.encoder.impl=scratch", "model.encoder.nonlinearity=relu", "train.epochs=1")
    capsys.readouterr()
    assert main(["predict", "--model", str(model_dir), "--text", "apple", "--impl", "fused"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "the fused lstm supports only tanh" in err and "Traceback" not in err


def test_trace_values_are_gate_means_and_norms(tiny_data, tmp_path):
    tagger = Tagger.load(train(tiny_data, tmp_path / "model", "train.epochs=1"))
    tokens = SENTENCES[0]
    trace = trace_sentence(tagger, tokens)
    assert trace.columns == ("forget →", "input →", "output →", "‖C‖ →", "‖h‖ →", "forget ←", "input ←", "output ←", "‖C‖ ←", "‖h‖ ←")
    assert trace.tokens == tuple(tokens) and len(trace.values) == len(tokens)
    assert trace.tags == tagger.predict_tokens([tokens])[0]
    # Independent check of the ‖h‖ columns: the encoder output (fused model) split into directions.
    batch = collate(tagger.encode_tokens([tokens]), [0])
    with torch.no_grad():
        h = tagger.model.encoder(tagger.model.embed(batch), batch.lengths)[0]  # (n, 2H)
    hidden = h.shape[1] // 2
    for t, row in enumerate(trace.values):
        assert row[4] == pytest.approx(float(h[t, :hidden].norm()), abs=1e-5)
        assert row[9] == pytest.approx(float(h[t, hidden:].norm()), abs=1e-5)
        assert all(0.0 <= row[k] <= 1.0 for k in (0, 1, 2, 5, 6, 7))
    assert trace.units["forget →"].shape == (len(tokens), hidden)


def test_inspect_cli_prints_a_row_per_token_and_plots(tiny_data, tmp_path, capsys):
    model_dir = train(tiny_data, tmp_path / "model", "model.encoder.cell=gru", "train.epochs=1")
    capsys.readouterr()
    plot = tmp_path / "gates.png"
    code = main(["inspect", "--model", str(model_dir), "--text", "I peel the apple!", "--text", "the Apple shares rose", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert code == 0
    assert "update →" in out and "reset ←" in out and "‖h‖ ←" in out and "forget" not in out
    rows = [line.split() for line in out.split("\n") if line and not line.startswith(("#", "token"))]
    assert [r[0] for r in rows] == ["I", "peel", "the", "apple", "!", "the", "Apple", "shares", "rose"]
    for name in ("gates-1.png", "gates-2.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "overrides,args,message",
    [
        (["model.encoder.cell=none"], [], "no recurrent encoder"),
        ([], ["--layer", "3"], "--layer: the encoder has 1 layer(s), got 3"),
        ([], ["--text", " "], "--text is empty"),
        (["model.encoder.cell=rnn"], ["--plot", "x.png"], "the rnn cell has no gates to draw"),
    ],
)
def test_inspect_errors_are_one_line(overrides, args, message, tiny_data, tmp_path, capsys):
    model_dir = train(tiny_data, tmp_path / "model", "train.epochs=1", *overrides)
    capsys.readouterr()
    assert main(["inspect", "--model", str(model_dir), "--text", "apple", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
