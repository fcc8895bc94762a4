"""Word features: casing classes, the character BiLSTM against a word-by-word oracle, training with both."""
from __future__ import annotations

import pytest
import torch

from seqlab.config.settings import replace_in
from seqlab.data.batches import CASINGS, casing_id, collate
from seqlab.nn import embedding
from seqlab.nn.embedding import CharCNN, CharLSTM, distinct_words
from seqlab.tagger.inference import Tagger
from seqlab.train.run import train


@pytest.mark.parametrize(
    "token,casing",
    [("apple", "lower"), ("APPLE", "UPPER"), ("Apple", "Title"), ("I", "Title"), ("iPhone", "mIxed"), ("McDonald", "mIxed"),
     ("1995", "numeric"), ("3.14", "numeric"), ("12-05", "numeric"), ("B52", "has-digit"), ("!", "other"), ("--", "other"),
     ("über", "lower"), ("Éire", "Title")],
)
def test_casing_classes(token, casing):
    assert CASINGS[casing_id(token)] == casing


def test_char_lstm_feature_is_the_final_states_of_each_word_alone():
    torch.manual_seed(0)
    module = CharLSTM(num_chars=12, dim=5, hidden=4).eval()
    words = [[3, 4, 5], [6], [7, 8, 9, 10, 11]]
    chars = torch.zeros(2, 3, 5, dtype=torch.long)  # (B, L, C): sentence 0 has 2 words, sentence 1 one
    chars[0, 0, :3] = torch.tensor(words[0])
    chars[0, 1, :1] = torch.tensor(words[1])
    chars[1, 0, :5] = torch.tensor(words[2])
    with torch.no_grad():
        out = module(chars)  # (2, 3, 8)
        for (b, t), ids in zip([(0, 0), (0, 1), (1, 0)], words):
            _, (h_n, _) = module.rnn(module.embed(torch.tensor([ids])))  # one word, no padding at all
            assert torch.allclose(out[b, t], torch.cat([h_n[0, 0], h_n[1, 0]]), atol=1e-6)
        assert torch.equal(out[0, 2], torch.zeros(8)) and torch.equal(out[1, 1:], torch.zeros(2, 8))  # padded words
    assert module.output_dim == 8 and CharCNN(12, 5, 7, 3).output_dim == 7


def test_training_with_char_lstm_and_casing_on_lowercased_words(tiny_config, tmp_path):
    config = tiny_config
    for key, value in {"data.lowercase": True, "model.embedding.char.kind": "lstm", "model.embedding.char.hidden": 6, "model.embedding.casing_dim": 4, "train.epochs": 4}.items():
        config = replace_in(config, key, value)
    result = train(config, tmp_path / "m", progress=False)
    tagger = Tagger.load(result.output_dir)
    assert tagger.model.embedding.output_dim == 16 + 12 + 4
    assert result.test is not None and result.test.f1 > 0.5
    # "Apple" and "apple" share a word id once lowercased; the casing feature still tells them apart.
    with torch.no_grad():
        upper = tagger.model.embed(collate(tagger.encode_tokens([["Apple"]]), [0]))  # (1, 1, D)
        lower = tagger.model.embed(collate(tagger.encode_tokens([["apple"]]), [0]))
    assert tagger.encode_tokens([["Apple"]])[0].words.tolist() == tagger.encode_tokens([["apple"]])[0].words.tolist()
    assert not torch.allclose(upper[0, 0, -4:], lower[0, 0, -4:])


def test_uniform_init_bounds_every_table_and_keeps_padding_zero():
    import math

    from seqlab.nn.embedding import CharCNN, TokenEmbedding, initialise_embeddings

    torch.manual_seed(0)
    emb = TokenEmbedding(500, 100, 0.0, 0.0, CharCNN(60, 30, 20, 3), casing_dim=6)
    initialise_embeddings(emb, "uniform")
    for table, dim in ((emb.words, 100), (emb.char.embed, 30), (emb.casing, 6)):
        bound = math.sqrt(3.0 / dim)
        weight = table.weight.detach()
        assert weight.abs().max() <= bound
        assert weight[0].eq(0).all()
        # unit expected squared norm per vector (uniform variance bound²/3 = 1/dim per entry)
        assert abs(float(weight[1:].pow(2).sum(1).mean()) - 1.0) < 0.15
    before = emb.words.weight.detach().clone()
    initialise_embeddings(emb, "normal")  # torch's default: left as it is
    assert torch.equal(before, emb.words.weight.detach())


def _repeated_chars(seed: int) -> torch.Tensor:
    """``(4, 6, 7)`` character ids drawn from a few spellings, so most words repeat; some words padded."""
    gen = torch.Generator().manual_seed(seed)
    spellings = torch.randint(1, 9, (5, 7), generator=gen)
    spellings[:, 3:] *= torch.randint(0, 2, (5, 1), generator=gen)  # some short words
    spellings[0] = 0  # the padding "word"
    return spellings[torch.randint(0, 5, (4, 6), generator=gen)]  # (B, L, C)


def test_distinct_words_are_distinct_and_rebuild_the_input():
    flat = _repeated_chars(0).reshape(24, 7)
    words, inverse = distinct_words(flat)
    assert torch.equal(words[inverse], flat)
    assert words.shape[0] == torch.unique(flat, dim=0).shape[0] < 24


def test_distinct_words_falls_back_to_every_row_when_two_spellings_share_a_key(monkeypatch):
    monkeypatch.setattr(torch, "randint", lambda low, high, size, generator=None: torch.ones(size, dtype=torch.long))
    flat = torch.tensor([[1, 2], [2, 1], [1, 2]])  # with all weights 1 the keys are the row sums: 3, 3, 3
    words, inverse = distinct_words(flat)
    assert torch.equal(words, flat) and torch.equal(inverse, torch.arange(3))


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_char_features_of_shared_spellings_equal_computing_every_word(kind, monkeypatch):
    """Computing each distinct spelling once gives the values and the gradients of computing every word
    (the oracle runs the same module with the sharing switched off)."""
    torch.manual_seed(1)
    module = CharCNN(9, 5, 6, 3) if kind == "cnn" else CharLSTM(9, 5, 4)
    chars = _repeated_chars(1)
    shared = module(chars)
    grads = torch.autograd.grad(shared.square().sum(), list(module.parameters()))
    monkeypatch.setattr(embedding, "distinct_words", lambda flat: (flat, torch.arange(flat.shape[0])))
    alone = module(chars)
    oracle = torch.autograd.grad(alone.square().sum(), list(module.parameters()))
    assert torch.allclose(shared, alone, atol=1e-6)
    for a, b in zip(grads, oracle):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_char_cnn_window_product_is_torchs_convolution(kernel, monkeypatch):
    """The CPU path (each position's window times the filters, one matrix product) gives the values and
    gradients of ``nn.Conv1d`` (the path graph captures and GPUs take), padding characters included."""
    torch.manual_seed(kernel)
    module = CharCNN(9, 5, 6, kernel)
    chars = _repeated_chars(kernel)
    windows = module(chars)
    grads = torch.autograd.grad(windows.square().sum(), list(module.parameters()))
    monkeypatch.setattr(embedding, "_share_spellings", lambda flat: False)
    conv = module(chars)
    oracle = torch.autograd.grad(conv.square().sum(), list(module.parameters()))
    assert torch.allclose(windows, conv, atol=1e-6)
    for a, b in zip(grads, oracle):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("shared", [True, False])
def test_char_cnn_of_no_words_is_an_empty_feature_table(shared, monkeypatch):
    """Zero rows (an inference group or a memo call with nothing new) give ``(0, filters)`` on both paths."""
    monkeypatch.setattr(embedding, "_share_spellings", lambda flat: shared)
    module = CharCNN(9, 5, 6, 3)
    assert module._features(torch.zeros(0, 7, dtype=torch.long)).shape == (0, 6)
