from __future__ import annotations

import json
import random

import pytest

from seqlab.config import DataConfig
from seqlab.data import (
    Sentence,
    build_vocabularies,
    bucketed_order,
    collate,
    encode,
    iter_conll,
    read_corpus,
    sorted_order,
    word_key,
)
from seqlab.errors import DataError


def test_conll_reads_sentences_skips_docstart_and_blank_lines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\n\nPeter NNP B-NP I-PER\n", encoding="utf-8")
    sentences = read_corpus(path, DataConfig())
    assert [s.tokens for s in sentences] == [("EU", "rejects"), ("Peter",)]
    assert [s.tags for s in sentences] == [("I-ORG", "O"), ("I-PER",)]
    assert sentences[0].line == 3 and sentences[1].line == 7


def test_conll_tab_separator_keeps_spaces_in_tokens(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text("New York\tB-LOC\n", encoding="utf-8")
    assert read_corpus(path, DataConfig(separator="tab"))[0].tokens == ("New York",)


def test_conll_columns_are_configurable(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1 Paris NOUN B-LOC\n", encoding="utf-8")
    sentence = read_corpus(path, DataConfig(token_column=1, tag_column=2))[0]
    assert sentence.tokens == ("Paris",) and sentence.tags == ("NOUN",)


def test_wrong_column_count_names_file_and_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("a O\nb O\n\nc d O\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_corpus(path, DataConfig())
    assert err.value.line == 4 and f"{path}:4" in str(err.value) and "expected 2 columns" in str(err.value)


def test_single_column_is_an_error_when_tags_are_needed(tmp_path):
    path = tmp_path / "one.conll"
    path.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"one.conll:1: expected a column -1|expected at least 2 columns"):
        read_corpus(path, DataConfig())
    assert [s.tokens for s in iter_conll(path, require_tags=False)] == [("a", "b")]


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.conll"
    path.write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.conll: no sentences"):
        read_corpus(path, DataConfig())


def test_non_utf8_names_line(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes("a O\n".encode() + "caf\xe9 O\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.conll:2: not valid UTF-8"):
        read_corpus(path, DataConfig())


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_corpus(tmp_path / "nope.conll", DataConfig())


def test_jsonl_reader_and_its_errors(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"tokens": ["I", "eat"], "tags": ["O", "O"]}) + "\n\n", encoding="utf-8")
    assert read_corpus(path, DataConfig(format="jsonl"))[0].tokens == ("I", "eat")
    cases = {
        "{bad json": "invalid JSON",
        "[1, 2]": "expected a JSON object",
        json.dumps({"tokens": "I eat", "tags": ["O"]}): "\"tokens\"",
        json.dumps({"tokens": ["I"], "tags": ["O", "O"]}): "1 tokens but 2 tags",
        json.dumps({"tokens": ["I"]}): "\"tags\"",
    }
    for line, message in cases.items():
        path.write_text("\n" + line + "\n", encoding="utf-8")
        with pytest.raises(DataError, match=message) as err:
            read_corpus(path, DataConfig(format="jsonl"))
        assert err.value.line == 2


def test_word_key():
    assert word_key("Apple1995", lowercase=True, normalize_digits=True) == "apple0000"
    assert word_key("Apple", lowercase=False, normalize_digits=False) == "Apple"


def test_vocabularies_min_count_and_unknown_tag(tmp_path):
    sentences = [Sentence(("a", "b", "a"), ("O", "X", "O")), Sentence(("a", "c"), ("O", "O"))]
    vocabs = build_vocabularies(sentences, DataConfig(min_count=2))
    assert vocabs.words.items == ["<pad>", "<unk>", "a"]
    assert vocabs.tags.items == ["O", "X"]
    encoded = encode(Sentence(("a", "zzz"), ("O", "X")), vocabs, DataConfig())
    assert encoded.words.tolist() == [2, 1]
    with pytest.raises(DataError, match="tag 'Y' was never seen"):
        encode(Sentence(("a",), ("Y",)), vocabs, DataConfig())


def test_collate_pads_and_masks():
    sentences = [Sentence(("a", "bb"), ("O", "X")), Sentence(("ccc",), ("O",))]
    vocabs = build_vocabularies(sentences, DataConfig())
    batch = collate([encode(s, vocabs, DataConfig()) for s in sentences], [0, 1])
    assert batch.words.shape == (2, 2) and batch.chars.shape == (2, 2, 3)
    assert batch.mask.tolist() == [[True, True], [True, False]]
    assert batch.lengths.tolist() == [2, 1]
    assert batch.words[1, 1] == 0 and batch.chars[0, 0, 1] == 0


def test_bucketed_order_covers_everything_once_and_limits_padding():
    rng = random.Random(0)
    lengths = [rng.randint(1, 60) for _ in range(1000)]
    order = bucketed_order(lengths, batch_size=10, bucket_batches=20, rng=random.Random(1))
    flat = sorted(k for batch in order for k in batch)
    assert flat == list(range(1000))
    padded = sum(len(b) * max(lengths[k] for k in b) for b in order)
    random_padded = sum(10 * max(lengths[k] for k in range(i, i + 10)) for i in range(0, 1000, 10))
    assert padded < 0.7 * random_padded
    assert bucketed_order(lengths, 10, 20, random.Random(1)) == order
    assert bucketed_order(lengths, 10, 20, random.Random(2)) != order


def test_sorted_order_is_by_length():
    order = sorted_order([3, 1, 2, 5], batch_size=2)
    assert order == [[1, 2], [0, 3]]
