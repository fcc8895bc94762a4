"""Word features: casing classes, the character BiLSTM against a word-by-word oracle, training with both."""
from __future__ import annotations

import pytest
import torch

from seqlab.config import replace_in
from seqlab.data import CASINGS, casing_id, collate
from seqlab.embedding import CharCNN, CharLSTM
from seqlab.tagger import Tagger
from seqlab.train import train


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

    from seqlab.embedding import CharCNN, TokenEmbedding, initialise_embeddings

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
