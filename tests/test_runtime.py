"""Inference runtimes (``seqlab.export.runtime``): ONNX Runtime gives torch's tags and probabilities; int8 copies
are really quantized, stay close to fp32 and leave the original model untouched; misuse is refused."""
from __future__ import annotations

import json

import pytest
import torch

from seqlab.data.readers import read_corpus
from seqlab.errors import ModelError
from seqlab.export.runtime import quantized, with_runtime
from seqlab.tagger.inference import Tagger, batched
from tests.conftest import train_variants

VARIANTS = {
    "lstm-crf-charcnn": ["model.encoder.cell=lstm", "model.embedding.char.kind=cnn"],
    "gru-softmax-charlstm": ["model.encoder.cell=gru", "model.decoder.kind=softmax", "model.embedding.char.kind=lstm"],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    variants = {name: extra + ["train.epochs=3", "model.encoder.hidden=32"] for name, extra in VARIANTS.items()}
    return train_variants(tmp_path_factory.mktemp("runtime"), variants, test_sentences=40)


def _encoded(tagger: Tagger, path) -> list:
    return tagger.encode_tokens([s.tokens for s in read_corpus(path, tagger.bundle.config.data)])


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_onnxruntime_gives_torch_tags_and_probabilities(name, trained):
    base = Tagger.load(trained["base"] / name)
    onnx = with_runtime(base, "onnxruntime")
    assert onnx.runtime == "onnxruntime" and onnx.scores is not base.scores
    encoded = _encoded(base, trained["test"])
    ours, theirs = onnx.infer(encoded, 7, probs=True, nbest=2), base.infer(encoded, 7, probs=True, nbest=2)
    assert [r.ids for r in ours] == [r.ids for r in theirs]
    for a, b in zip(ours, theirs):
        assert a.probs == pytest.approx(b.probs, abs=1e-5)
        assert a.confidences == pytest.approx(b.confidences, abs=1e-5)
        assert [ids for ids, _ in a.nbest] == [ids for ids, _ in b.nbest]


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_int8_scores_are_quantized_but_close(name, runtime, trained):
    base = Tagger.load(trained["base"] / name)
    before = {k: v.clone() for k, v in base.model.state_dict().items()}
    small = with_runtime(base, runtime, "int8")
    encoded = _encoded(base, trained["test"])
    agree = total = 0
    for batch, _ in batched(encoded, 16):
        with torch.no_grad():
            exact, approx = base.scores(batch), small.scores(batch)
        assert not torch.equal(exact, approx)  # int8 weights really change the arithmetic
        spread = float(exact.abs().max())
        assert float((exact - approx).abs().max()) < 0.2 * spread  # int8 steps of a tiny model: within a fifth of the range
        paths, quant_paths = base.model.head.decode(exact, batch.mask), small.model.head.decode(approx, batch.mask)
        agree += int(((paths == quant_paths) & batch.mask).sum())
        total += int(batch.mask.sum())
    assert agree / total > 0.95
    after = base.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the fp32 model is untouched


def test_quantized_copy_replaces_recurrent_and_linear_layers(trained):
    model = Tagger.load(trained["base"] / "lstm-crf-charcnn").model
    copy = quantized(model)
    kinds = {type(m).__module__ for m in copy.modules()}
    assert any("quantized.dynamic" in k for k in kinds)
    assert not any(isinstance(m, (torch.nn.LSTM, torch.nn.Linear)) and type(m).__module__.startswith("torch.nn.modules") for m in copy.modules())
    assert isinstance(model.encoder.rnn, torch.nn.LSTM)  # the original keeps its fp32 layers


def test_runtime_misuse_is_refused(trained):
    tagger = Tagger.load(trained["base"] / "lstm-crf-charcnn")
    with pytest.raises(ModelError, match="--runtime: expected one of torch, onnxruntime"):
        with_runtime(tagger, "tensorrt")
    with pytest.raises(ModelError, match="--quantize: expected one of int8"):
        with_runtime(tagger, "torch", "int4")
    tagger.device = torch.device("meta")
    with pytest.raises(ModelError, match="runs on the CPU only"):
        with_runtime(tagger, "onnxruntime")
    assert with_runtime(tagger, "torch") is tagger


def test_predict_and_evaluate_take_a_runtime(trained, capsys):
    from seqlab.cli.main import main

    model = str(trained["base"] / "lstm-crf-charcnn")
    outputs = []
    for runtime in ("torch", "onnxruntime"):
        assert main(["predict", "--model", model, "--input", str(trained["test"]), "--input-format", "conll", "--format", "jsonl", "--runtime", runtime]) == 0
        outputs.append([json.loads(line)["tags"] for line in capsys.readouterr().out.splitlines()])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 40
    assert main(["evaluate", "--model", model, "--data", str(trained["test"]), "--json", "--quantize", "int8"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.0 <= report["f1"] <= 1.0
