"""Export: the TorchScript program, the torch.export program and the ONNX graph + decode give the eager
model's tags, tag for tag, for every head and encoder. (The decode's backends against enumeration:
tests/test_decode.py.)"""
from __future__ import annotations

import pytest

from seqlab.data.batches import encode
from seqlab.data.readers import Sentence, read_corpus
from seqlab.errors import ModelError
from seqlab.export import check, export, load_exported
from seqlab.tagger.inference import Tagger
from tests.conftest import train_variants

VARIANTS = {
    "lstm-crf-charcnn": ["model.encoder.cell=lstm", "model.embedding.char.kind=cnn"],
    "gru-scratch-softmax-constrained-charlstm": ["model.encoder.cell=gru", "model.encoder.impl=scratch", "model.decoder.kind=softmax", "model.embedding.char.kind=lstm"],
    "rnn-2layers-crf-casing": ["model.encoder.cell=rnn", "model.encoder.layers=2", "model.embedding.casing_dim=4"],
    "none-softmax-unconstrained": ["model.encoder.cell=none", "model.decoder.kind=softmax", "model.decoder.constrained=false"],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Each variant trained once (2 epochs) for both export formats."""
    return train_variants(tmp_path_factory.mktemp("export"), {name: extra + ["train.epochs=2"] for name, extra in VARIANTS.items()})


@pytest.mark.parametrize("fmt", ["torchscript", "onnx", "torch-export"])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_exported_tags_equal_eager_tags(name, fmt, trained, tmp_path):
    tagger = Tagger.load(trained["base"] / name)
    path = export(tagger, fmt, tmp_path / f"{name}.{fmt}")
    exported = load_exported(path, fmt)
    sentences = read_corpus(trained["dev"], tagger.bundle.config.data) + read_corpus(trained["test"], tagger.bundle.config.data)
    odd = [Sentence(("Zyx", "qq", "apple", "!!", "Apple") * 9, None), Sentence(("x",), None)]  # unseen words, long and short
    encoded = [encode(Sentence(s.tokens, None), tagger.bundle.vocabs, tagger.bundle.config.data) for s in sentences + odd]
    parity = check(exported, tagger, encoded, batch_size=7)
    assert parity.sentences == len(encoded) and not parity.mismatched


@pytest.mark.parametrize("fmt,message", [("torchscript", "not a TorchScript file"), ("onnx", "not an ONNX file"), ("torch-export", "not a torch.export file")])
def test_a_file_that_is_not_an_export_is_a_model_error(tmp_path, fmt, message):
    path = tmp_path / "bogus.bin"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=f"bogus.bin: {message}"):
        load_exported(path, fmt)


def test_export_cli_with_check(trained, tmp_path, capsys):
    from seqlab.cli.main import main

    model = str(trained["base"] / "lstm-crf-charcnn")
    for fmt in ("torchscript", "onnx", "torch-export"):
        assert main(["export", "--model", model, "--format", fmt, "--out", str(tmp_path / f"m.{fmt}"), "--check"]) == 0
        assert "check: identical tags on all 20 sentences" in capsys.readouterr().out
