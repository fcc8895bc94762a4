"""Bad input never crashes: arbitrary Unicode and bytes into the readers, the tokenizer and prediction give
one tag per token or a typed error, never another exception.

Example counts come from the hypothesis profile: ``ci`` (default, bounded) or ``long``
(``HYPOTHESIS_PROFILE=long pytest tests/test_robustness.py``), registered in ``tests/conftest.py``.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.cli.main import main
from seqlab.config.settings import load_config
from seqlab.data.batches import word_key
from seqlab.data.readers import iter_sentences
from seqlab.data.tokenizer import tokenize
from seqlab.errors import DataError
from seqlab.tagger.evaluate import evaluate_file
from seqlab.tagger.inference import Tagger
from seqlab.tagger.predict import format_sentence, read_sentences, tag_stream
from seqlab.train.run import train
from tests.conftest import tiny_overrides, tiny_sentences, write_conll

# Characters that break naive text handling: controls, combining marks, right-to-left text and marks,
# zero-width characters, emoji (with ZWJ sequences and skin tones), separators and surrogate-free oddities.
NASTY = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x1c\x1f\x7f\x85\xa0\xad"
    "\u0301\u0308\u20dd\u0489"
    "\u05d0\u05d1\u0627\u0644\u200e\u200f\u202a\u202b\u202e\u2066\u2069"
    "\u200b\u200c\u200d\u2060\ufeff"
    "\U0001f34e\U0001f44d\U0001f3fd\u2764\ufe0f\U0001f468\u200d\U0001f469"
    "\u2028\u2029\u3000\t\r "
    "aA1-'.,!?\"/\\"
)
nasty_text = st.text(alphabet=st.sampled_from(NASTY) | st.characters(exclude_categories=("Cs",)), max_size=60)
nasty_token = nasty_text.filter(bool)


@pytest.fixture(scope="module")
def tagger(tmp_path_factory) -> Tagger:
    """A small CRF model with char CNN features, trained once for this module."""
    base = tmp_path_factory.mktemp("robust")
    data = {name: write_conll(base / f"{name}.conll", tiny_sentences(n, seed)) for name, n, seed in (("train", 60, 1), ("dev", 20, 2), ("test", 20, 3))}
    config = load_config(None, tiny_overrides(data, base / "m") + ["model.embedding.char.kind=cnn", "train.epochs=2"])
    train(config, progress=False)
    return Tagger.load(base / "m")


def assert_one_tag_per_token(tagger: Tagger, sentences: list[tuple[str, ...]], tagged: list[tuple[str, ...]]) -> None:
    assert len(tagged) == len(sentences)
    allowed = set(tagger.tags)
    for tokens, tags in zip(sentences, tagged):
        assert len(tags) == len(tokens)
        assert set(tags) <= allowed


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(nasty_token, max_size=25), max_size=6))
def test_any_tokens_get_one_valid_tag_each(tagger, sentences):
    sentences = [tuple(s) for s in sentences]
    assert_one_tag_per_token(tagger, sentences, tagger.predict_tokens(sentences))


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(nasty_text, max_size=6))
def test_any_raw_text_is_tagged_token_for_token(tagger, texts):
    tagged = tagger.predict(texts)
    assert [t.tokens for t in tagged] == [tuple(tokenize(text)) for text in texts]
    assert_one_tag_per_token(tagger, [t.tokens for t in tagged], [t.tags for t in tagged])


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(nasty_text.filter(lambda t: "\n" not in t and "\r" not in t), max_size=8), st.booleans())
def test_predict_streams_a_file_of_any_lines_in_order(tagger, tmp_path_factory, lines, probs):
    path = tmp_path_factory.mktemp("lines") / "input.txt"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    try:
        analyses = list(tag_stream(tagger, read_sentences(str(path), "text", tagger.bundle.config.data), with_probs=probs, chunk=3))
    except DataError as err:
        assert "\x00" in "".join(lines) and "NUL byte" in str(err)
        return
    assert [a.tokens for a in analyses] == [tuple(tokenize(line)) for line in lines]
    for analysis in analyses:
        assert len(analysis.tags) == len(analysis.tokens)
        for fmt in ("conll", "jsonl", "text"):
            assert format_sentence(analysis, fmt).endswith("\n")


@settings(deadline=None)
@given(st.binary(max_size=300) | nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")), st.sampled_from(["conll", "jsonl", "conllu"]))
def test_readers_return_sentences_or_a_data_error(tmp_path_factory, raw, fmt):
    path = tmp_path_factory.mktemp("raw") / f"input.{fmt}"
    path.write_bytes(raw)
    data = load_config(None, [f"data.format={fmt}"]).data
    for require_tags in (True, False):
        try:
            sentences = list(iter_sentences(path, data, require_tags))
        except DataError as err:
            assert str(path) in str(err)
            continue
        for s in sentences:
            assert all(isinstance(t, str) and t for t in s.tokens)
            assert s.tags is None or len(s.tags) == len(s.tokens)


@settings(deadline=None)
@given(st.text())
def test_word_keys_never_fail(text):
    for lowercase in (False, True):
        for digits in (False, True):
            assert isinstance(word_key(text, lowercase, digits), str)


def test_a_10000_token_sentence_gets_10000_tags(tagger):
    tokens = tuple(["I", "eat", "the", "apple", "."] * 2000)
    (tags,) = tagger.predict_tokens([tokens])
    assert len(tags) == 10_000 and set(tags) <= set(tagger.tags)
    assert tagger.predict_tokens([("I",), tokens])[1] == tags  # batched with a 1-token sentence: the same


def test_a_10000_character_token_gets_one_tag(tagger):
    word = "x" * 10_000
    (tagged,) = tagger.predict([f"I eat the {word} ."])
    assert tagged.tokens[3] == word and len(tagged.tags) == 5


def test_unknown_gold_tags_are_reported_not_a_key_error(tagger, tmp_path, caplog):
    path = write_conll(tmp_path / "odd.conll", [(["I", "eat", "the", "apple", "."], ["O", "O", "O", "B-VEGETABLE", "B-WEIRD"])])
    with caplog.at_level(logging.WARNING):
        rep = evaluate_file(tagger, path)
    assert "B-VEGETABLE" in caplog.text and "B-WEIRD" in caplog.text
    assert rep.tokens == 5 and rep.per_type["VEGETABLE"].support == 1


def test_predict_cli_on_nasty_lines(tagger, tmp_path, capsys):
    from seqlab.cli.main import main

    lines = ["I like eating apple!", "", "   ", "\u202eelppa\u202c \U0001f34e", "e\u0301\u0301 \u200b", "x" * 5000]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = Path(tagger.bundle.config.output_dir)
    assert main(["predict", "--model", str(model), "--input", str(path), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["tokens"] for r in records] == [tokenize(line) for line in lines]
    assert all(len(r["tags"]) == len(r["tokens"]) for r in records)



def test_tag_stream_is_lazy_on_endless_input(tagger):
    from itertools import islice, repeat

    endless = repeat(("I", "eat", "the", "apple", "."))  # never ends: only a streaming reader returns
    first = list(islice(tag_stream(tagger, endless, chunk=16), 40))
    assert len(first) == 40 and all(len(a.tags) == 5 for a in first)


def check_offsets(text: str, records: list[dict]) -> None:
    """Every span's ``text`` is the original's slice, and the tokens' offsets increase without overlap."""
    previous_end = 0
    for sentence in records:
        for token, (start, end) in zip(sentence["tokens"], sentence["offsets"]):
            assert text[start:end] == token and start >= previous_end and end > start
            previous_end = end
        for span in sentence["spans"]:
            assert text[span["start_char"] : span["end_char"]] == span["text"]
            assert span["start_char"] == sentence["offsets"][span["start"]][0] and span["end_char"] == sentence["offsets"][span["end"] - 1][1]


@settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(nasty_text, min_size=1, max_size=4), st.booleans())
def test_raw_text_offsets_in_the_python_api_and_the_cli(tagger, texts, split):
    from seqlab.data.tokenizer import split_sentences
    from seqlab.tagger.predict import record

    analyses = iter(tagger.analyse_text(texts, split=split, probs=True))
    for text in texts:  # analyses come in the texts' order, as many per text as it has sentences
        count = len(split_sentences(text)) if split else 1
        records = [record(next(analyses)) for _ in range(count)]
        assert all(r["tokens"] == [] or r["offsets"] for r in records)
        check_offsets(text, records)
    text = texts[0]
    if "\x00" not in text and tokenize(text):  # the command line: --text, as a user types it
        out = io.StringIO()
        args = ["-q", "predict", "--model", str(tagger.directory), f"--text={text}", "--format", "jsonl"] + ["--split-sentences"] * split
        with contextlib.redirect_stdout(out):
            assert main(args) == 0
        check_offsets(text, [json.loads(line) for line in out.getvalue().splitlines()])
