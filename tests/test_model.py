from __future__ import annotations

import dataclasses

import pytest
import torch

from seqlab.config.settings import DecoderConfig, EncoderConfig, load_config, with_impl
from seqlab.data.batches import build_vocabularies, collate, encode
from seqlab.data.readers import Sentence
from seqlab.errors import ModelError
from seqlab.nn.model import Objective, build_model, rebuild

SENTENCES = [
    Sentence(("I", "eat", "the", "apple", "."), ("O", "O", "O", "B-FRUIT", "O")),
    Sentence(("Apple", "shares", "rose"), ("B-ORG", "O", "O")),
    Sentence(("General", "Motors", "and", "Apple", "compete", "hard", "in", "cars"), ("B-ORG", "I-ORG", "O", "B-ORG", "O", "O", "O", "O")),
    Sentence(("ok",), ("O",)),
]


def make(overrides: list[str]):
    config = load_config(None, ["model.embedding.dim=8", "model.encoder.hidden=6", *overrides])
    vocabs = build_vocabularies(SENTENCES, config.data)
    torch.manual_seed(0)
    model = build_model(config.model, vocabs).eval()
    encoded = [encode(s, vocabs, config.data) for s in SENTENCES]
    return model, encoded


CASES = [
    [f"model.encoder.cell={cell}", f"model.decoder.kind={head}", f"model.encoder.bidirectional={bi}", f"model.encoder.layers={layers}", f"model.embedding.char.kind={char}"]
    for cell in ("rnn", "lstm", "gru", "none")
    for head in ("softmax", "crf")
    for bi, layers, char in ((True, 2, "cnn"), (False, 1, "none"), (True, 1, "lstm"))
]
CASES.append(["model.embedding.casing_dim=3", "model.embedding.char.kind=lstm", "model.encoder.impl=scratch"])


@pytest.mark.parametrize("overrides", CASES, ids=lambda o: "-".join(x.split("=")[1] for x in o))
def test_a_sentence_alone_and_in_a_padded_batch_get_the_same_result(overrides):
    model, encoded = make(overrides)
    batch = collate(encoded, range(len(encoded)))
    with torch.no_grad():
        emissions = model.emissions(batch)
        decoded = model.decode(batch)
        for k, item in enumerate(encoded):
            alone = collate([item], [0])
            n = len(item.words)
            assert torch.allclose(model.emissions(alone)[0], emissions[k, :n], atol=1e-5)
            assert torch.equal(model.decode(alone)[0], decoded[k, :n])


def test_output_sizes_are_derived_from_the_config():
    model, _ = make(["model.encoder.cell=gru", "model.encoder.bidirectional=true", "model.embedding.char.kind=cnn", "model.embedding.char.filters=5"])
    assert model.embedding.output_dim == 8 + 5
    assert model.encoder.output_dim == 12
    assert model.projection.out_features == 4  # O, B-FRUIT, B-ORG, I-ORG


def test_rnn_nonlinearity_reaches_torch():
    model, _ = make(["model.encoder.cell=rnn", "model.encoder.nonlinearity=relu"])
    assert isinstance(model.encoder.rnn, torch.nn.RNN) and model.encoder.rnn.nonlinearity == "relu"


def test_none_encoder_is_context_free():
    model, encoded = make(["model.encoder.cell=none"])
    with torch.no_grad():
        a = model.emissions(collate([encoded[1]], [0]))[0, 0]  # "Apple" in "Apple shares rose"
        b = model.emissions(collate([encoded[2]], [0]))[0, 3]  # "Apple" in the long sentence
    assert torch.allclose(a, b)


@pytest.mark.parametrize("key,value,message", [
    ("encoder", dataclasses.replace(EncoderConfig(), cell="transformer"), "model.encoder.cell: unknown name 'transformer'; expected one of rnn, lstm, gru, none"),
    ("decoder", dataclasses.replace(DecoderConfig(), kind="mlp"), "model.decoder.kind: unknown name 'mlp'; expected one of softmax, crf"),
])
def test_an_unknown_family_name_lists_the_valid_ones(key, value, message):
    """A ModelConfig built in code bypasses load_config's checks: build_model still names the choices."""
    config = dataclasses.replace(load_config(None).model, **{key: value})
    with pytest.raises(ModelError, match=message):
        build_model(config, build_vocabularies(SENTENCES, load_config(None).data))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_objective_reduces_the_heads_summed_loss(reduction):
    model, encoded = make(["model.decoder.kind=crf"])
    batch = collate(encoded, range(len(encoded)))
    objective, summed = Objective(model, reduction)(batch, sentences=10)
    emissions = model.emissions(batch)
    per_sentence = model.head.nll(emissions, batch.tags, batch.mask)  # (B,)
    assert torch.allclose(summed, per_sentence.sum()) and not summed.requires_grad
    expected = per_sentence.sum() if reduction == "sum" else per_sentence.sum() / 10  # 10: the global batch, not this share
    assert torch.allclose(objective, expected) and objective.requires_grad


def test_rebuild_carries_the_weights_into_the_other_implementation():
    model, encoded = make(["model.encoder.cell=lstm"])
    config = with_impl(load_config(None, ["model.embedding.dim=8", "model.encoder.hidden=6"]), "scratch")
    scratch = rebuild(model, config.model, build_vocabularies(SENTENCES, config.data))
    assert scratch is not model and type(scratch.encoder.rnn).__name__ == "ScratchRecurrent"
    batch = collate(encoded, range(len(encoded)))
    with torch.no_grad():
        assert torch.allclose(scratch.emissions(batch), model.emissions(batch), atol=1e-5)
    assert isinstance(model.encoder.rnn, torch.nn.LSTM)  # the original is unchanged


def test_empty_tag_vocabulary_is_a_model_error():
    config = load_config(None)
    vocabs = build_vocabularies([Sentence(("a",), None)], config.data)
    with pytest.raises(ModelError, match="tag vocabulary is empty"):
        build_model(config.model, vocabs)
