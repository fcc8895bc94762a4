"""Export: the TorchScript program and the ONNX graph + NumPy decode give the eager model's tags, tag for
tag, for every head and encoder."""
from __future__ import annotations

import itertools

import pytest
import torch

from seqlab.config import load_config
from seqlab.data import Sentence, encode, read_corpus
from seqlab.errors import ModelError
from seqlab.export import check, export, load_exported, viterbi_ids, viterbi_numpy, viterbi_scan
from seqlab.tagger import Tagger
from seqlab.train import train
from tests.conftest import tiny_overrides, tiny_sentences, write_conll

VARIANTS = {
    "lstm-crf-charcnn": ["model.encoder.cell=lstm", "model.embedding.char.kind=cnn"],
    "gru-scratch-softmax-constrained-charlstm": ["model.encoder.cell=gru", "model.encoder.impl=scratch", "model.decoder.kind=softmax", "model.embedding.char.kind=lstm"],
    "rnn-2layers-crf-casing": ["model.encoder.cell=rnn", "model.encoder.layers=2", "model.embedding.casing_dim=4"],
    "none-softmax-unconstrained": ["model.encoder.cell=none", "model.decoder.kind=softmax", "model.decoder.constrained=false"],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Each variant trained once (2 epochs) for both export formats."""
    base = tmp_path_factory.mktemp("export")
    data = {name: write_conll(base / f"{name}.conll", tiny_sentences(n, seed)) for name, n, seed in (("train", 60, 1), ("dev", 20, 2), ("test", 20, 3))}
    for name, extra in VARIANTS.items():
        train(load_config(None, tiny_overrides(data, base / name) + extra + ["train.epochs=2"]), progress=False)
    return {"base": base, **data}


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


def brute_force(emissions, length, start, transitions, end):
    num_tags = emissions.shape[1]
    best, arg = float("-inf"), None
    for path in itertools.product(range(num_tags), repeat=length):
        score = start[path[0]] + emissions[0, path[0]] + end[path[-1]]
        score = score + sum(transitions[path[t - 1], path[t]] + emissions[t, path[t]] for t in range(1, length))
        if score > best:
            best, arg = float(score), path
    return list(arg)


@pytest.mark.parametrize("seed", range(4))
def test_scripted_viterbi_against_enumeration(seed):
    gen = torch.Generator().manual_seed(seed)
    num_tags, lengths = 4, torch.tensor([5, 1, 3, 4])
    emissions = torch.randn(4, 5, num_tags, generator=gen) * 3  # (B, L, T)
    start, transitions, end = torch.randn(num_tags, generator=gen), torch.randn(num_tags, num_tags, generator=gen), torch.randn(num_tags, generator=gen)
    transitions[0, 1] = transitions[2, 2] = float("-inf")  # forbidden moves, as constrained decoding has
    start[3] = float("-inf")
    paths = viterbi_ids(emissions, lengths, start, transitions, end)
    scanned = viterbi_scan(emissions, lengths, start, transitions, end)
    on_host = viterbi_numpy(emissions.numpy(), lengths.numpy(), start.numpy(), transitions.numpy(), end.numpy())
    for b, n in enumerate(lengths.tolist()):
        best = brute_force(emissions[b], n, start, transitions, end)
        assert paths[b, :n].tolist() == best and on_host[b, :n].tolist() == best and scanned[b, :n].tolist() == best
        assert paths[b, n:].eq(0).all() and (on_host[b, n:] == 0).all() and scanned[b, n:].eq(0).all()


@pytest.mark.parametrize("fmt,message", [("torchscript", "not a TorchScript file"), ("onnx", "not an ONNX file"), ("torch-export", "not a torch.export file")])
def test_a_file_that_is_not_an_export_is_a_model_error(tmp_path, fmt, message):
    path = tmp_path / "bogus.bin"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=f"bogus.bin: {message}"):
        load_exported(path, fmt)


def test_export_cli_with_check(trained, tmp_path, capsys):
    from seqlab.cli import main

    model = str(trained["base"] / "lstm-crf-charcnn")
    for fmt in ("torchscript", "onnx", "torch-export"):
        assert main(["export", "--model", model, "--format", fmt, "--out", str(tmp_path / f"m.{fmt}"), "--check"]) == 0
        assert "check: identical tags on all 20 sentences" in capsys.readouterr().out
