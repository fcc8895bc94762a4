"""Sentences from files, one reader per format, and the one dispatch over them: ``iter_sentences``.

Formats (``FORMATS``):

* ``conll``: one token per line in columns, blank lines between sentences, ``-DOCSTART-`` skipped;
* ``jsonl``: one ``{"tokens": [...], "tags": [...]}`` object per line, blank lines skipped;
* ``conllu``: Universal Dependencies CoNLL-U (https://universaldependencies.org/format.html). A block
  of lines ended by a blank line; ``#`` lines are comments; a word line has ten tab-separated fields
  ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``. Tagging works on syntactic words, as UD
  annotates them: a multiword-token line (``ID`` a range such as ``1-2``, Spanish *del* = *de* + *el*)
  carries the surface form only and its words follow on their own lines; an empty node (``ID`` such as
  ``8.1``) is not a word of the sentence and is skipped; word IDs must count 1, 2, 3… in each sentence;
* ``text``: one raw sentence per line, split into tokens by ``seqlab.data.tokenizer.tokenize`` (no tags).

Readers are generators, so large inputs stream; ``-`` reads standard input. Every problem is a
``DataError`` naming the file and line.
"""
from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab.config.settings import DataConfig
from seqlab.data.tokenizer import Source, sentences_of
from seqlab.errors import DataError

FORMATS = ("conll", "jsonl", "conllu", "text")
STDIN = "-"
"""The source name that reads standard input."""


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[str, ...]
    """The tokens, as in the file."""
    tags: tuple[str, ...] | None
    """One tag per token, or None for unlabelled input."""
    line: int = 0
    """1-based line of the first token in its file (0 when not read from a file)."""
    source: Source | None = None
    """For raw text: the text and each token's character offsets in it."""


Lines = Iterator[tuple[int, str]]
"""``(1-based line number, text without its newline)`` pairs."""


def decode_lines(raw_lines: Iterable[bytes], name: str | Path) -> Lines:
    """Each line decoded as UTF-8 (a BOM on the first line is dropped); a line that is not UTF-8 is a
    ``DataError`` naming it. Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (old Mac files), each
    counted as an editor counts it."""
    number = 0
    for raw in raw_lines:
        for piece in raw.rstrip(b"\r\n").split(b"\r"):
            number += 1
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(name, number, f"not valid UTF-8 (byte 0x{piece[err.start]:02x} at column {err.start + 1})") from None
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text


MAX_LINE_BYTES = 16 << 20
"""The longest line a file may hold (a document per line fits; a 1 GB file of NULs is one line, and
reading it whole took 2.4 GB of memory)."""


def bounded_lines(handle: Any, name: str | Path) -> Iterator[bytes]:
    """The lines of a binary stream, each read with a bound: a line over ``MAX_LINE_BYTES`` is a
    ``DataError`` naming it, after reading at most that much of it."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1 + raw.count(b"\r", 0, len(raw) - 1)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise DataError(name, number, f"a line longer than {MAX_LINE_BYTES:,} bytes (is this a text file?)")
        yield raw


def read_lines(source: str | Path) -> Lines:
    """``decode_lines`` over a file (or standard input for ``-``), streamed; a missing or unreadable file
    is a ``DataError``."""
    if str(source) == STDIN:
        yield from decode_lines(bounded_lines(sys.stdin.buffer, "<stdin>"), "<stdin>")
        return
    try:
        kind = os.stat(source).st_mode
    except FileNotFoundError:
        raise DataError(source, None, "file not found") from None
    except OSError as err:
        raise DataError(source, None, f"cannot read ({err.strerror})") from None
    if stat.S_ISDIR(kind):
        raise DataError(source, None, "is a directory, expected a file")
    if not stat.S_ISREG(kind):
        raise DataError(source, None, "is not a regular file (a device or a pipe never ends or may block); use - to read standard input")
    try:
        handle = open(source, "rb")
    except FileNotFoundError:
        raise DataError(source, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(source, None, "is a directory, expected a file") from None
    except OSError as err:
        raise DataError(source, None, f"cannot read ({err.strerror})") from None
    with handle:
        yield from decode_lines(bounded_lines(handle, source), source)


def conll_sentences(
    lines: Lines, name: str | Path, token_column: int = 0, tag_column: int = -1, separator: str = "whitespace", require_tags: bool = True,
    problems: list[DataError] | None = None,
) -> Iterator[Sentence]:
    """Sentences of a CoNLL column file: one token per line, blank lines between sentences.

    ``-DOCSTART-`` lines are skipped; every token line must have as many columns as the first one.
    With ``require_tags=False`` a file of one column is read as tokens only. A line that cannot be read
    is a ``DataError``; given a ``problems`` list, it is appended there and the line skipped instead.
    """
    width: int | None = None
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for number, text in lines:
        try:
            if separator == "tab":
                columns = text.split("\t") if text.strip() else []
            else:
                columns = text.split()
            if not columns or columns[0] == "-DOCSTART-":
                if tokens:
                    yield Sentence(tuple(tokens), tuple(tags) if tags else None, start)
                tokens, tags = [], []
                continue
            if width is None:
                width = len(columns)
                needed = [token_column] + ([tag_column] if require_tags or width > 1 else [])
                for col in needed:
                    if not -width <= col < width:
                        raise DataError(name, number, f"expected a column {col} (token_column/tag_column), found {width} column(s)")
                if require_tags and width < 2:
                    raise DataError(name, number, "expected at least 2 columns (token and tag), found 1")
            elif len(columns) != width:
                raise DataError(name, number, f"expected {width} columns like the first token line, found {len(columns)}")
            token = columns[token_column]
            tag = columns[tag_column] if width > 1 else None
            _check_token(token, name, number)
            if tag is not None and not tag.strip():
                raise DataError(name, number, "empty tag (a trailing tab, with data.separator: tab?)")
            if not tokens:
                start = number
            tokens.append(token)
            if tag is not None:
                tags.append(tag)
        except DataError as err:
            if problems is None:
                raise
            problems.append(err)
    if tokens:
        yield Sentence(tuple(tokens), tuple(tags) if tags else None, start)


def _check_token(token: str, name: str | Path, number: int) -> None:
    if not token.strip():
        raise DataError(name, number, "empty token")
    if "\x00" in token:
        raise DataError(name, number, "token contains a NUL byte")


def jsonl_sentences(lines: Lines, name: str | Path, require_tags: bool = True) -> Iterator[Sentence]:
    """Sentences of a JSONL file: one ``{"tokens": [...], "tags": [...]}`` object per line; blank lines skipped."""
    for number, text in lines:
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(name, number, f"invalid JSON ({err.msg} at column {err.colno})") from None
        except (ValueError, RecursionError) as err:  # e.g. an integer of more digits than Python converts, or deep nesting
            raise DataError(name, number, f"invalid JSON ({str(err)[:80]})") from None
        if not isinstance(record, dict):
            raise DataError(name, number, f"expected a JSON object, found {type(record).__name__}")
        tokens = record.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t.strip() and not any(c in t for c in "\n\r\t\x00") for t in tokens):
            raise DataError(name, number, "expected \"tokens\": a list of non-empty strings without line breaks, tabs or NUL bytes")
        given = record.get("tags")
        strings = [*tokens, *(t for t in given if isinstance(t, str))] if isinstance(given, list) else tokens
        if any(SURROGATE.search(t) for t in strings):
            raise DataError(name, number, "a lone surrogate escape (\\ud800-\\udfff) is not a character; expected text")
        tags = record.get("tags")
        if tags is None and not require_tags:
            yield Sentence(tuple(tokens), None, number)
            continue
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise DataError(name, number, "expected \"tags\": a list of non-empty strings")
        if len(tags) != len(tokens):
            raise DataError(name, number, f"{len(tokens)} tokens but {len(tags)} tags")
        if tokens:
            yield Sentence(tuple(tokens), tuple(tags), number)


SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate: JSON can write one as an escape, but it is no character and cannot be written out as UTF-8."""

CONLLU_FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_RANGE = re.compile(r"^[1-9][0-9]*-[1-9][0-9]*$")
_EMPTY = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_WORD = re.compile(r"^[1-9][0-9]*$")


def conllu_sentences(lines: Lines, name: str | Path, tag_field: str = "upos", require_tags: bool = True) -> Iterator[Sentence]:
    """Sentences of a CoNLL-U file with ``tag_field`` (``upos`` or ``xpos``) as tags.

    With ``require_tags=False`` (prediction input) no tags are returned and ``_`` is allowed; with
    ``require_tags=True`` an unannotated tag (``_``) is an error naming the line.
    """
    column = CONLLU_FIELDS.index(tag_field)
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for number, text in lines:
        if not text.strip():
            if tokens:
                yield Sentence(tuple(tokens), tuple(tags) if require_tags else None, start)
            tokens, tags = [], []
            continue
        if text.startswith("#"):
            continue
        fields = text.split("\t")
        if len(fields) != 10:
            raise DataError(name, number, f"expected 10 tab-separated CoNLL-U fields, found {len(fields)}")
        word_id = fields[0]
        if _RANGE.match(word_id) or _EMPTY.match(word_id):
            continue  # multiword token (its words follow) or empty node
        if not _WORD.match(word_id):
            raise DataError(name, number, f"ID '{word_id}' is not a word index, a range (1-2) or an empty node (8.1)")
        if int(word_id) != len(tokens) + 1:
            raise DataError(name, number, f"word ID {word_id} out of sequence: expected {len(tokens) + 1}")
        form, tag = fields[1], fields[column]
        if not form.strip():
            raise DataError(name, number, "empty FORM")
        _check_token(form, name, number)
        if require_tags and (not tag or tag == "_"):
            raise DataError(name, number, f"{tag_field.upper()} is '{tag}': the file has no {tag_field.upper()} annotation to train on")
        if not tokens:
            start = number
        tokens.append(form)
        tags.append(tag)
    if tokens:
        yield Sentence(tuple(tokens), tuple(tags) if require_tags else None, start)


def text_sentences(lines: Lines, name: str | Path, split: bool = False) -> Iterator[Sentence]:
    """One raw sentence per line, tokenised, with each token's offsets in the line (a blank line is a
    sentence with no tokens); with ``split`` each line may hold several sentences (``split_sentences``)."""
    for number, text in lines:
        if "\x00" in text:
            raise DataError(name, number, "contains a NUL byte; expected text")
        for tokens, source in sentences_of(text, split):
            yield Sentence(tokens, None, number, source)


SUFFIXES = {".conll": "conll", ".conllu": "conllu", ".jsonl": "jsonl"}
"""File name endings that say the format."""


def sniff_format(path: str | Path, sample: int = 200) -> tuple[str, str] | None:
    """``(format, why)`` when ``path`` is plainly not raw text: its ending is one of ``SUFFIXES``, its
    lines are JSON objects, CoNLL-U word lines, or column lines that all have the same number (≥ 2) of
    columns; None otherwise (or when it cannot be read: reading it will say why)."""
    path = Path(path)
    if path.suffix.lower() in SUFFIXES:
        return SUFFIXES[path.suffix.lower()], f"its name ends in {path.suffix}"
    lines = []
    try:
        for _, text in read_lines(path):
            if text.strip():
                lines.append(text)
            if len(lines) >= sample:
                break
    except DataError:
        return None
    if len(lines) < 3:
        return None
    if all(text.lstrip().startswith("{") for text in lines):
        return "jsonl", "every line is a JSON object"
    words = [text for text in lines if not text.startswith("#")]
    if words and all(len(text.split("\t")) == 10 for text in words):
        return "conllu", "every line has the 10 tab-separated fields of CoNLL-U"
    widths = {len(text.split()) for text in lines}
    if len(widths) == 1 and widths.pop() >= 2:
        return "conll", f"every line has the same {len(lines[0].split())} columns"
    return None


def iter_sentences(
    source: str | Path, data: DataConfig, require_tags: bool = True, fmt: str | None = None, split: bool = False,
    problems: list[DataError] | None = None,
) -> Iterator[Sentence]:
    """Sentences of ``source`` (a file, or ``-`` for standard input) in format ``fmt`` (default
    ``data.format``), read with ``data``'s column, separator and CoNLL-U settings (``split``: raw text
    lines split into sentences). ``problems``: CoNLL lines that cannot be read are kept there and
    skipped (``conll_sentences``); other formats stop at their first unreadable line."""
    fmt = fmt or data.format
    if fmt not in FORMATS:
        raise DataError(source, None, f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}")
    name = "<stdin>" if str(source) == STDIN else Path(source)
    lines = read_lines(source)
    if fmt == "jsonl":
        return jsonl_sentences(lines, name, require_tags)
    if fmt == "conllu":
        return conllu_sentences(lines, name, data.conllu_tag, require_tags)
    if fmt == "text":
        return text_sentences(lines, name, split)
    return conll_sentences(lines, name, data.token_column, data.tag_column, data.separator, require_tags, problems)


def read_corpus(path: str | Path, data: DataConfig, require_tags: bool = True) -> list[Sentence]:
    """All sentences of a file in ``data.format``; an empty file is a ``DataError``."""
    sentences = list(iter_sentences(path, data, require_tags))
    if not sentences:
        raise DataError(path, None, "no sentences found (the file is empty or holds only blank lines)")
    return sentences
