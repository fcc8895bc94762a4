"""Export: the TorchScript program gives the eager model's tags, tag for tag, for every head and encoder."""
from __future__ import annotations

import itertools

import pytest
import torch

from seqlab.config import load_config
from seqlab.data import Sentence, encode, read_corpus
from seqlab.errors import ModelError
from seqlab.export import check, export, load_exported, viterbi_ids
from seqlab.tagger import Tagger
from seqlab.train import train
from tests.conftest import tiny_overrides

VARIANTS = {
    "lstm-crf-charcnn": ["model.encoder.cell=lstm", "model.embedding.char.kind=cnn"],
    "gru-scratch-softmax-constrained-charlstm": ["model.encoder.cell=gru", "model.encoder.impl=scratch", "model.decoder.kind=softmax", "model.embedding.char.kind=lstm"],
    "rnn-2layers-crf-casing": ["model.encoder.cell=rnn", "model.encoder.layers=2", "model.embedding.casing_dim=4"],
    "none-softmax-unconstrained": ["model.encoder.cell=none", "model.decoder.kind=softmax", "model.decoder.constrained=false"],
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_exported_tags_equal_eager_tags(name, tiny_data, tmp_path):
    config = load_config(None, tiny_overrides(tiny_data, tmp_path / name) + VARIANTS[name] + ["train.epochs=2"])
    train(config, progress=False)
    tagger = Tagger.load(tmp_path / name)
    path = export(tagger, "torchscript", tmp_path / f"{name}.pt")
    exported = load_exported(path)
    sentences = read_corpus(tiny_data["dev"], tagger.bundle.config.data) + read_corpus(tiny_data["test"], tagger.bundle.config.data)
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
    for b, n in enumerate(lengths.tolist()):
        assert paths[b, :n].tolist() == brute_force(emissions[b], n, start, transitions, end)
        assert paths[b, n:].eq(0).all()


def test_a_file_that_is_not_an_export_is_a_model_error(tmp_path):
    path = tmp_path / "bogus.pt"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ModelError, match="bogus.pt: not a TorchScript file"):
        load_exported(path)


def test_export_cli_with_check(tiny_config, tmp_path, capsys):
    from seqlab.cli import main

    train(tiny_config, progress=False)
    model = str(tiny_config.output_dir)
    assert main(["export", "--model", model, "--out", str(tmp_path / "m.pt"), "--check"]) == 0
    out = capsys.readouterr().out
    assert "check: identical tags on all 20 sentences" in out
