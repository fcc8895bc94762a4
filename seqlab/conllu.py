"""CoNLL-U reader (Universal Dependencies, https://universaldependencies.org/format.html).

A sentence is a block of lines ended by a blank line; lines starting with ``#`` are comments. A word
line has ten tab-separated fields, ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``. Tagging
works on syntactic words, as UD annotates them:

* a multiword-token line (``ID`` a range such as ``1-2``, e.g. Spanish *del* = *de* + *el*) carries the
  surface form only; its words follow on their own lines and are the ones read;
* an empty node (``ID`` such as ``8.1``, enhanced dependencies) is not a word of the sentence: skipped.

Word IDs must count 1, 2, 3… within each sentence; anything else is a ``DataError`` naming the line.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from seqlab.data import Sentence, decoded_lines
from seqlab.errors import DataError

FIELDS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_RANGE = re.compile(r"^[1-9][0-9]*-[1-9][0-9]*$")
_EMPTY = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_WORD = re.compile(r"^[1-9][0-9]*$")


def iter_conllu(path: str | Path, tag_field: str = "upos", require_tags: bool = True) -> Iterator[Sentence]:
    """Sentences of a CoNLL-U file with ``tag_field`` (``upos`` or ``xpos``) as tags.

    With ``require_tags=False`` (prediction input) tags are read when present and ``_`` is allowed;
    with ``require_tags=True`` an unannotated tag (``_``) is an error naming the line.
    """
    path = Path(path)
    column = FIELDS.index(tag_field)
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for number, text in decoded_lines(path):
        if not text.strip():
            if tokens:
                yield Sentence(tuple(tokens), tuple(tags) if require_tags else None, start)
            tokens, tags = [], []
            continue
        if text.startswith("#"):
            continue
        fields = text.split("\t")
        if len(fields) != 10:
            raise DataError(path, number, f"expected 10 tab-separated CoNLL-U fields, found {len(fields)}")
        word_id = fields[0]
        if _RANGE.match(word_id) or _EMPTY.match(word_id):
            continue  # multiword token (its words follow) or empty node
        if not _WORD.match(word_id):
            raise DataError(path, number, f"ID '{word_id}' is not a word index, a range (1-2) or an empty node (8.1)")
        if int(word_id) != len(tokens) + 1:
            raise DataError(path, number, f"word ID {word_id} out of sequence: expected {len(tokens) + 1}")
        form, tag = fields[1], fields[column]
        if not form:
            raise DataError(path, number, "empty FORM")
        if require_tags and (not tag or tag == "_"):
            raise DataError(path, number, f"{tag_field.upper()} is '{tag}': the file has no {tag_field.upper()} annotation to train on")
        if not tokens:
            start = number
        tokens.append(form)
        tags.append(tag)
    if tokens:
        yield Sentence(tuple(tokens), tuple(tags) if require_tags else None, start)
