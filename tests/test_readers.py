"""The readers: CoNLL columns, JSONL, CoNLL-U and raw text, each format's errors naming file and line,
and the one dispatch over them. (CoNLL-U end to end: tests/test_conllu.py.)"""
from __future__ import annotations

import json

import pytest

from seqlab.config.settings import DataConfig
from seqlab.data.readers import (
    conll_sentences,
    iter_sentences,
    read_corpus,
    read_lines,
    sniff_format,
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
    assert [s.tokens for s in conll_sentences(read_lines(path), path, require_tags=False)] == [("a", "b")]


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


def test_text_format_tokenises_each_line_and_refuses_nul(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("I like eating apple!\n\nThe Apple is great.\n", encoding="utf-8")
    sentences = list(iter_sentences(path, DataConfig(), require_tags=False, fmt="text"))
    assert [s.tokens for s in sentences] == [("I", "like", "eating", "apple", "!"), (), ("The", "Apple", "is", "great", ".")]
    assert [s.line for s in sentences] == [1, 2, 3] and all(s.tags is None for s in sentences)
    path.write_text("fine\nbro\x00ken\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"raw.txt:2: contains a NUL byte"):
        list(iter_sentences(path, DataConfig(), fmt="text"))


def test_one_dispatch_reads_every_format_with_the_data_settings(tmp_path):
    conll = tmp_path / "a.conll"
    conll.write_text("x\tParis\tB-LOC\n", encoding="utf-8")
    data = DataConfig(token_column=1, tag_column=2, separator="tab")
    assert [s.tokens for s in iter_sentences(conll, data)] == [("Paris",)]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"tokens": ["Paris"]}) + "\n", encoding="utf-8")
    assert [s.tokens for s in iter_sentences(jsonl, data, require_tags=False, fmt="jsonl")] == [("Paris",)]
    with pytest.raises(DataError, match="unknown format 'xml'"):
        iter_sentences(jsonl, data, fmt="xml")


def test_stdin_is_read_for_every_format(monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps({"tokens": ["a", "b"]}).encode() + b"\n")))
    assert [s.tokens for s in iter_sentences("-", DataConfig(), require_tags=False, fmt="jsonl")] == [("a", "b")]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a\tO\n\xff\tO\n")))
    with pytest.raises(DataError, match=r"<stdin>:2: not valid UTF-8"):
        list(iter_sentences("-", DataConfig()))


def test_old_mac_line_endings_are_line_breaks_counted_as_lines(tmp_path):
    path = tmp_path / "mac.conll"
    path.write_bytes(b"I\tO\rate\tO\r\rapple\tB-FRUIT\r")
    sentences = read_corpus(path, DataConfig())
    assert [s.tokens for s in sentences] == [("I", "ate"), ("apple",)] and [s.line for s in sentences] == [1, 4]
    path.write_bytes(b"I\tO\r\nate\tO\r\n\r\nx\xff\tO\r")
    with pytest.raises(DataError, match=r"mac.conll:4: not valid UTF-8"):
        read_corpus(path, DataConfig())


@pytest.mark.parametrize("text,message", [
    ("a\tO\t\nb\tO\t\n", "expected a column|empty tag"),  # a trailing tab makes the last column ''
    ("a\tO\n\tO\n", "empty token"),
    ("a\x00b\tO\n", "NUL byte"),
])
def test_tab_separated_columns_refuse_what_would_be_read_silently_wrong(tmp_path, text, message):
    path = tmp_path / "t.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_corpus(path, DataConfig(separator="tab"))


def test_jsonl_tokens_cannot_carry_line_breaks_tabs_or_nul(tmp_path):
    path = tmp_path / "a.jsonl"
    for token in ("two\nlines", "a\tb", "nul\x00", "  "):
        path.write_text(json.dumps({"tokens": [token], "tags": ["O"]}) + "\n", encoding="utf-8")
        with pytest.raises(DataError, match="without line breaks, tabs or NUL bytes"):
            read_corpus(path, DataConfig(format="jsonl"))


@pytest.mark.parametrize("name,text,expected", [
    ("test.conll", "whatever\n", "conll"),
    ("x.txt", "Yesterday O\n, O\napple B-ORG\n\nshares O\n", "conll"),
    ("x.txt", '{"tokens": ["a"]}\n{"tokens": ["b"]}\n{"tokens": ["c"]}\n', "jsonl"),
    ("x.txt", "# sent_id = 1\n" + "".join(f"{k}\tw\t_\tX\t_\t_\t_\t_\t_\t_\n" for k in (1, 2, 3)), "conllu"),
    ("x.txt", "I like eating apple!\nThe Apple is a great company!\nApple shares fell.\n", None),
    ("x.txt", "One line only\n", None),
])
def test_sniffing_finds_the_plain_cases_and_leaves_raw_text_alone(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    found = sniff_format(path)
    assert (found[0] if found else None) == expected


def test_devices_and_pipes_are_refused_instead_of_read_forever(tmp_path):
    import os

    with pytest.raises(DataError, match="/dev/zero: is not a regular file"):
        read_corpus("/dev/zero", DataConfig())
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="pipe: is not a regular file"):
        read_corpus(fifo, DataConfig())


def test_a_json_number_python_cannot_convert_is_a_data_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"tokens": ["a"], "tags": ["O"], "n": ' + "9" * 5000 + "}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.jsonl:1: invalid JSON"):
        read_corpus(path, DataConfig(format="jsonl"))


def test_a_lone_surrogate_escape_in_jsonl_is_a_data_error_naming_its_line(tmp_path):
    from seqlab.config.settings import DataConfig
    from seqlab.data.readers import read_corpus
    from seqlab.errors import DataError

    path = tmp_path / "s.jsonl"
    path.write_text('{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["\\ud800"], "tags": ["O"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"s.jsonl:2: a lone surrogate"):
        read_corpus(path, DataConfig(format="jsonl"))
    path.write_text('{"tokens": ["a"], "tags": ["\\udfff"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"s.jsonl:1: a lone surrogate"):
        read_corpus(path, DataConfig(format="jsonl"))


def test_a_line_beyond_the_bound_is_a_data_error_read_with_bounded_memory(tmp_path, monkeypatch):
    import seqlab.data.readers as readers
    from seqlab.config.settings import DataConfig
    from seqlab.errors import DataError

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "nul.txt"
    path.write_bytes(b"ok O\n\n" + b"\x00" * 5000)
    with pytest.raises(DataError, match=r"nul.txt:3: a line longer than 1,000 bytes"):
        readers.read_corpus(path, DataConfig())
    path.write_bytes(b"w O\n" * 10 + b"x" * 999 + b"\n")  # a line of exactly the bound (newline included) is read
    assert len(list(readers.read_lines(path))) == 11
