"""Streaming prediction: read sentences lazily, tag them in chunks, format each as it is done.

Memory stays bounded by the chunk size whatever the input length, and the output keeps the input order.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TextIO

from seqlab.config import DataConfig
from seqlab.data import iter_conll, iter_jsonl
from seqlab.errors import DataError
from seqlab.metrics import spans
from seqlab.tagger import TaggedSentence, Tagger
from seqlab.tokenizer import tokenize

FORMATS = ("conll", "jsonl", "text")
INPUT_FORMATS = ("text", "conll", "jsonl")


def _text_lines(handle: TextIO, name: str) -> Iterator[tuple[str, ...]]:
    for number, line in enumerate(handle, start=1):
        if "\x00" in line:
            raise DataError(name, number, "contains a NUL byte; expected text")
        yield tuple(tokenize(line))


def read_sentences(source: str, input_format: str, data: DataConfig) -> Iterator[tuple[str, ...]]:
    """Token tuples from a file (or ``-`` for stdin): one raw sentence per line, or CoNLL/JSONL."""
    if input_format == "text":
        if source == "-":
            stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="strict", closefd=False)
            return _guard_decode(_text_lines(stdin, "<stdin>"), "<stdin>")
        return _guard_decode(_file_lines(Path(source)), source)
    if source == "-":
        raise DataError("<stdin>", None, f"--input - reads raw text only; save {input_format} input to a file")
    if input_format == "conll":
        sentences = iter_conll(source, data.token_column, data.tag_column, data.separator, require_tags=False)
    else:
        sentences = iter_jsonl(source, require_tags=False)
    return (s.tokens for s in sentences)


def _file_lines(path: Path) -> Iterator[tuple[str, ...]]:
    try:
        handle = open(path, encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise DataError(path, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, None, "is a directory, expected a file") from None
    except OSError as err:
        raise DataError(path, None, f"cannot read ({err.strerror})") from None
    with handle:
        yield from _text_lines(handle, str(path))


def _guard_decode(lines: Iterator[tuple[str, ...]], name: str) -> Iterator[tuple[str, ...]]:
    count = 0
    try:
        for count, tokens in enumerate(lines, start=1):
            yield tokens
    except UnicodeDecodeError:
        raise DataError(name, count + 1, "not valid UTF-8") from None


def tag_stream(tagger: Tagger, sentences: Iterable[tuple[str, ...]], chunk: int = 2048) -> Iterator[TaggedSentence]:
    """Tag sentences ``chunk`` at a time (each chunk is length-sorted into batches), in input order."""
    iterator = iter(sentences)
    while True:
        block = list(islice(iterator, chunk))
        if not block:
            return
        for tokens, tags in zip(block, tagger.predict_tokens(block)):
            yield TaggedSentence(tokens, tags)


def format_sentence(sentence: TaggedSentence, fmt: str) -> str:
    """One sentence as text, newline-terminated.

    ``conll``: ``token<TAB>tag`` lines then a blank line; ``jsonl``: ``{"tokens": [...], "tags": [...]}``;
    ``text``: the tokens with each entity bracketed as ``[TYPE tokens]``.
    """
    if fmt == "conll":
        return "".join(f"{t}\t{g}\n" for t, g in zip(sentence.tokens, sentence.tags)) + "\n"
    if fmt == "jsonl":
        return json.dumps({"tokens": list(sentence.tokens), "tags": list(sentence.tags)}, ensure_ascii=False) + "\n"
    words = list(sentence.tokens)
    for span in reversed(spans(sentence.tags)):
        words[span.start : span.end] = [f"[{span.type} " + " ".join(words[span.start : span.end]) + "]"]
    return " ".join(words) + "\n"
