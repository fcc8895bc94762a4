"""Transformer embeddings on a tiny BERT built by the tests: word alignment against an independent
pooling, windows, batch invariance, words without subwords, the cache, fine-tuning, saving and loading."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from seqlab.config.settings import ConfigError, TransformerConfig, load_config
from seqlab.data.batches import collate, encode
from seqlab.errors import ModelError
from seqlab.nn.backbone import PREFIX, load_backbone
from seqlab.nn.model import build_model
from seqlab.nn.transformer import TransformerEmbedding, best_window, plan_windows
from seqlab.tagger.bundle import WEIGHTS
from seqlab.tagger.inference import Tagger
from seqlab.train.run import train
from tests.conftest import tiny_overrides, tiny_sentences

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = ["I", "like", "eating", "apples", "with", "Zyxwvut", "friends", "!"]


def embedding(path: Path, **keys: object) -> TransformerEmbedding:
    config = TransformerConfig(model=str(path), **keys)
    return TransformerEmbedding(load_backbone(config), config)


def reference(path: Path, words: list[str], layers: tuple[int, ...] = (-1,), combine: str = "mean", pooling: str = "first") -> torch.Tensor:
    """Word vectors computed independently: one pass of the whole sentence with the tokenizer's own
    special tokens, each word pooled over the subwords whose ``word_ids`` name it."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    network = AutoModel.from_pretrained(str(path)).eval()
    encoding = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        hidden = network(**encoding, output_hidden_states=True).hidden_states
    chosen = [hidden[layer][0] for layer in layers]
    states = torch.stack(chosen).mean(0) if combine == "mean" else torch.cat(chosen, dim=1)
    owners = encoding.word_ids(0)
    rows = []
    for word in range(len(words)):
        mine = [states[p] for p, owner in enumerate(owners) if owner == word]
        rows.append({"first": mine[0], "last": mine[-1], "mean": torch.stack(mine).mean(0)}[pooling])
    return torch.stack(rows)


@pytest.mark.parametrize("pooling", ["first", "last", "mean"])
@pytest.mark.parametrize(("layers", "combine"), [((-1,), "mean"), ((0, -1), "mean"), ((1, 2), "concat")])
def test_word_vectors_pool_their_own_subwords(tiny_transformer: Path, pooling: str, layers: tuple[int, ...], combine: str) -> None:
    module = embedding(tiny_transformer, pooling=pooling, layers=layers, combine=combine)
    assert len(module.pieces(SENTENCE).owner) > len(SENTENCE)  # some words really are several subwords
    got = module([SENTENCE], len(SENTENCE) + 2)  # (1, L + 2, D)
    want = reference(tiny_transformer, SENTENCE, layers, combine, pooling)
    assert got.shape == (1, len(SENTENCE) + 2, module.output_dim) == (1, len(SENTENCE) + 2, want.shape[1])
    torch.testing.assert_close(got[0, : len(SENTENCE)], want, rtol=0, atol=1e-6)
    assert torch.equal(got[0, len(SENTENCE) :], torch.zeros(2, module.output_dim))


def test_a_byte_level_bpe_model_aligns_words_and_reads_long_sentences_within_its_positions(tmp_path: Path) -> None:
    from tests.tiny_transformer import build_tiny_roberta

    path = build_tiny_roberta(tmp_path / "roberta")
    module = embedding(path, pooling="mean")
    assert module.size == 62  # 66 position rows, 64 read (RoBERTa counts from its padding index), less <s> and </s>
    words = [*SENTENCE, "\u200b"]  # byte-level BPE gives every word subwords, even a zero-width space
    torch.testing.assert_close(module([words], len(words))[0], reference(path, words, pooling="mean"), rtol=0, atol=1e-6)
    long = SENTENCE * 10
    assert len(module.pieces(long).windows) > 1
    assert module([long], len(long)).shape == (1, len(long), 32)


@given(count=st.integers(1, 300), size=st.integers(2, 40), data=st.data())
def test_windows_cover_every_subword_and_pick_the_most_context(count: int, size: int, data: st.DataObject) -> None:
    stride = data.draw(st.integers(0, size - 1))
    windows = plan_windows(count, size, stride)
    assert windows[0][0] == 0 and windows[-1][1] == count
    assert all(0 < e - s <= size for s, e in windows)
    assert all(b[0] <= a[1] for a, b in zip(windows, windows[1:]))  # no gap
    if count <= size:
        assert windows == [(0, count)]
    for p, (w, offset) in enumerate(best_window(windows, count)):
        s, e = windows[w]
        assert s + offset == p
        context = [min(p - a, b - 1 - p) for a, b in windows if a <= p < b]
        assert min(p - s, e - 1 - p) == max(context)  # brute force: no window gives more


def test_a_long_sentence_is_read_in_windows_each_subword_from_its_best_window(tiny_transformer: Path) -> None:
    words = (SENTENCE * 6)[:45]
    module = embedding(tiny_transformer, max_length=16, stride=6)
    pieces = module.pieces(words)
    assert len(pieces.windows) > 3 and all(len(w) <= 16 for w in pieces.windows)
    got = module([words], len(words))[0]  # (n, D)
    # Independently: each window through the network alone; each word's first subword from the window
    # where it has the most context on both sides.
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_transformer))
    network = AutoModel.from_pretrained(str(tiny_transformer)).eval()
    encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    ids, owners = encoding["input_ids"], encoding.word_ids()
    spans = plan_windows(len(ids), 14, 6)
    with torch.no_grad():
        states = [network(input_ids=torch.tensor([[tokenizer.cls_token_id, *ids[s:e], tokenizer.sep_token_id]])).last_hidden_state[0] for s, e in spans]
    for word in range(len(words)):
        p = owners.index(word)
        best = max(range(len(spans)), key=lambda w: (min(p - spans[w][0], spans[w][1] - 1 - p) if spans[w][0] <= p < spans[w][1] else -1, -w))
        torch.testing.assert_close(got[word], states[best][1 + p - spans[best][0]], rtol=0, atol=1e-6)


def test_a_sentence_that_fits_is_one_window_equal_to_a_single_pass(tiny_transformer: Path) -> None:
    module = embedding(tiny_transformer, max_length=64, stride=10)
    assert len(module.pieces(SENTENCE).windows) == 1
    torch.testing.assert_close(module([SENTENCE], len(SENTENCE))[0], reference(tiny_transformer, SENTENCE), rtol=0, atol=1e-6)


def test_vectors_do_not_depend_on_the_batch(tiny_transformer: Path) -> None:
    other = ["Apple", "shares", "rose", "sharply", "today", "after", "the", "earnings", "call", "."] * 3
    frozen = embedding(tiny_transformer)
    alone = frozen([SENTENCE], len(other))
    together = frozen([other, SENTENCE], len(other))
    assert torch.equal(alone[0], together[1])  # frozen: each sentence is read on its own
    tuned = embedding(tiny_transformer, fine_tune=True).eval()
    with torch.no_grad():
        padded = tuned([other, SENTENCE], len(other))[1]  # fine-tuned: the batch runs together, padded
        single = tuned([SENTENCE], len(other))[0]
    torch.testing.assert_close(padded, single, rtol=0, atol=1e-5)
    torch.testing.assert_close(padded, alone[0], rtol=0, atol=1e-5)


def test_a_word_with_no_subwords_keeps_its_place_and_gets_the_unknown_tokens_vector(tiny_transformer: Path) -> None:
    module = embedding(tiny_transformer)
    tokenizer = module.backbone.tokenizer
    blank = "\u200b"  # a zero-width space: the BERT normaliser removes it, leaving no subword
    assert tokenizer([blank], is_split_into_words=True, add_special_tokens=False)["input_ids"] == []
    words = ["I", blank, "eating", "apple"]
    got = module([words], 4)[0]
    assert got.shape[0] == 4 and bool(got[1].abs().sum() > 0)
    assert torch.equal(got, module([["I", tokenizer.unk_token, "eating", "apple"]], 4)[0])
    assert torch.equal(got[[0, 2, 3]], module([["I", tokenizer.unk_token, "eating", "apple"]], 4)[0][[0, 2, 3]])


def _model_config(tiny_transformer: Path, data: dict[str, Path], out: Path, *extra: str):
    keys = [*tiny_overrides(data, out), "model.embedding.dim=0", f"model.embedding.transformer.model={tiny_transformer}", *extra]
    return load_config(None, keys)


def test_the_cache_gives_the_loss_recomputing_gives(tiny_transformer: Path, tiny_data: dict[str, Path], tmp_path: Path) -> None:
    config = _model_config(tiny_transformer, tiny_data, tmp_path / "m")
    sentences = tiny_sentences(12, 5)
    from seqlab.data.batches import build_vocabularies
    from seqlab.data.readers import Sentence

    labelled = [Sentence(tuple(w), tuple(t)) for w, t in sentences]
    vocabs = build_vocabularies(labelled, config.data)
    torch.manual_seed(0)
    model = build_model(config.model, vocabs).eval()
    batch = collate([encode(s, vocabs, config.data) for s in labelled], range(len(labelled)))
    recomputed = model.loss(batch)
    model.embedding.transformer.keep_vectors()
    first, cached = model.loss(batch), model.loss(batch)
    assert len(model.embedding.transformer.cache) == len({s.tokens for s in labelled})
    assert torch.equal(recomputed, first) and torch.equal(first, cached)
    assert not any(p.requires_grad for p in model.embedding.transformer.parameters())


def _transformer_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    inner = PREFIX + "network."
    return {k[len(inner) :]: v for k, v in load_file(str(path)).items() if k.startswith(inner)}


def test_fine_tuning_changes_the_transformer_and_the_saved_model_predicts_the_same_after_the_source_moves(
    tiny_transformer: Path, tiny_data: dict[str, Path], tmp_path: Path,
) -> None:
    source = tmp_path / "bert"
    shutil.copytree(tiny_transformer, source)
    out = tmp_path / "tuned"
    config = _model_config(source, tiny_data, out, "model.embedding.transformer.fine_tune=true", "train.epochs=2", "train.transformer_lr=0.001")
    train(config, progress=False)
    from safetensors.torch import load_file

    before = load_file(str(source / "model.safetensors"))
    after = _transformer_weights(out / WEIGHTS)
    changed = [name for name in after if name in before and not torch.equal(before[name], after[name])]
    assert len(after) == len(before) and len(changed) > 10  # the encoder layers were trained
    expected = Tagger.load(out).analyse([SENTENCE[:5]], probs=True)[0]
    shutil.move(str(source), str(tmp_path / "elsewhere"))  # the source is gone: the model directory has what it needs
    moved = Tagger.load(out).analyse([SENTENCE[:5]], probs=True)[0]
    assert moved.tags == expected.tags
    assert moved.token_probs == expected.token_probs and len(moved.token_probs) == 5
    assert not list(out.rglob("*.bin")) and not list(out.rglob("*.pt")) and not list(out.rglob("*.pkl"))


def test_resume_with_a_cached_transformer_gives_the_uninterrupted_weights(tiny_transformer: Path, tiny_data: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from seqlab.train.run import resume

    whole = _model_config(tiny_transformer, tiny_data, tmp_path / "whole", "train.epochs=2")
    train(whole, progress=False)
    halves = _model_config(tiny_transformer, tiny_data, tmp_path / "halves", "train.epochs=1")
    train(halves, progress=False)
    resume(tmp_path / "halves", ["train.epochs=2"], progress=False)
    a, b = load_file(str(tmp_path / "whole" / "checkpoint.safetensors")), load_file(str(tmp_path / "halves" / "checkpoint.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model."))


def test_warm_up_raises_the_transformer_lr_linearly_through_the_first_epoch() -> None:
    from seqlab.train.prepare import warm_up

    body, tuned = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [body]}, {"params": [tuned], "lr": 0.5, "warmup": 0.25}], lr=1.0)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    seen = []
    for done in range(1, 9):
        warm_up(optimizer, done, 8)
        seen.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[1]["lr"]))
    assert [b for b, _ in seen] == [1.0] * 8
    assert [t for _, t in seen] == [0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]


def test_bad_transformer_settings_are_one_line_errors(tiny_transformer: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"layers: 7 is out of range .*3 hidden states"):
        embedding(tiny_transformer, layers=(7,))
    with pytest.raises(ModelError, match=r"max_length: 100 is more than .* reads \(64\)"):
        embedding(tiny_transformer, max_length=100)
    with pytest.raises(ModelError, match=r"stride: 20 must be less than the 14 subwords"):
        embedding(tiny_transformer, max_length=16, stride=20)
    with pytest.raises(ConfigError, match=r"without a representation"):
        load_config(None, ["model.embedding.dim=0", "model.embedding.char.kind=none"])
    with pytest.raises(ConfigError, match=r"layers.*expected list of int"):
        load_config(None, ["model.embedding.transformer.layers=last"])
    assert load_config(None, ["model.embedding.transformer.layers=[-1, -2]"]).model.embedding.transformer.layers == (-1, -2)


def test_an_unreachable_model_names_itself_and_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    run = subprocess.run(
        [sys.executable, "-m", "seqlab", "train", "--config", str(ROOT / "configs" / "apple_lstm.yaml"), "--output", str(tmp_path / "m"),
         "--set", "model.embedding.transformer.model=no-such-org/no-such-model"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )
    assert run.returncode != 0 and "Traceback" not in run.stderr
    message = run.stderr.strip().splitlines()[-1]
    assert message.startswith("seqlab train: error: ") and "no-such-org/no-such-model" in message and str(tmp_path / "hf") in message


def test_without_the_transformers_package_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ModelError, match=r"pip install 'seqlab\[transformers\]'"):
        load_backbone(TransformerConfig(model="anything"))


def test_a_model_with_a_transformer_is_not_exported(tiny_transformer: Path, tiny_data: dict[str, Path], tmp_path: Path) -> None:
    from seqlab.export import export

    config = _model_config(tiny_transformer, tiny_data, tmp_path / "m", "train.epochs=1")
    train(config, progress=False)
    with pytest.raises(ModelError, match="cannot be exported"):
        export(Tagger.load(tmp_path / "m"), "torchscript", tmp_path / "x.pt")


@pytest.mark.parametrize("cell", ["lstm", "none"])
def test_the_apple_example_trains_predicts_and_evaluates_with_the_tiny_transformer(
    tiny_transformer: Path, tmp_path: Path, cell: str, capsys: pytest.CaptureFixture[str],
) -> None:
    from seqlab.cli.main import main

    lines = (ROOT / "data" / "apple" / "train.conll").read_text(encoding="utf-8").split("\n\n")
    small = tmp_path / "train.conll"
    small.write_text("\n\n".join(lines[:200]) + "\n\n", encoding="utf-8")
    out = tmp_path / cell
    keys = ["--set", f"data.train={small}", "--set", f"data.dev={small}", "--set", f"data.test={small}", "--set", "model.embedding.dim=0",
            "--set", f"model.embedding.transformer.model={tiny_transformer}", "--set", f"model.encoder.cell={cell}", "--set", "train.epochs=2"]
    assert main(["-q", "train", "--config", str(ROOT / "configs" / "apple_lstm.yaml"), "--output", str(out), *keys]) == 0
    assert (out / "transformer" / "config.json").is_file() and (out / "transformer" / "origin.json").is_file()
    capsys.readouterr()
    assert main(["predict", "--model", str(out), "--text", "I like eating apple!", "--format", "jsonl"]) == 0
    assert '"tokens": ["I", "like", "eating", "apple", "!"]' in capsys.readouterr().out
    assert main(["evaluate", "--model", str(out), "--data", str(small), "--json"]) == 0
    assert '"f1"' in capsys.readouterr().out


def test_word_representations_concatenate_with_the_transformers(tiny_transformer: Path, tiny_data: dict[str, Path], tmp_path: Path) -> None:
    config = _model_config(tiny_transformer, tiny_data, tmp_path / "m", "model.embedding.dim=8", "model.embedding.char.kind=cnn", "model.embedding.casing_dim=4")
    from seqlab.data.batches import build_vocabularies
    from seqlab.data.readers import Sentence

    labelled = [Sentence(tuple(w), tuple(t)) for w, t in tiny_sentences(4, 1)]
    vocabs = build_vocabularies(labelled, config.data)
    model = build_model(config.model, vocabs).eval()
    batch = collate([encode(s, vocabs, config.data) for s in labelled], range(4))
    x = model.embed(batch)  # (B, L, 8 + 50 + 4 + 32)
    assert x.shape[2] == 8 + 50 + 4 + 32 == model.embedding.output_dim
    torch.testing.assert_close(x[0, : len(labelled[0].tokens), -32:], model.embedding.transformer([labelled[0].tokens], len(labelled[0].tokens))[0])
    with pytest.raises(ModelError, match="pass the batch's tokens"):
        model.embedding(batch.words, batch.chars, batch.casing)
    assert dataclasses.replace(batch, tokens=()).tokens == ()
