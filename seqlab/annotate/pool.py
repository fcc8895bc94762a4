"""What is to be annotated: a source file read into pool sentences, each with the text the page shows
and every token's character offsets in it.

Raw text (one text per line) is tokenised and cut into sentences as ``seqlab predict
--split-sentences`` does, and a sentence's text is its own part of the line. CoNLL, CoNLL-U and JSONL
are read with the config's data settings, their tags (if any) ignored; a sentence's text is its tokens
joined by single spaces. The format comes from the file as ``seqlab predict`` decides it.
"""
from __future__ import annotations

from pathlib import Path

from seqlab.annotate.store import PoolSentence
from seqlab.config.settings import DataConfig
from seqlab.data.readers import iter_sentences, sniff_format
from seqlab.errors import DataError

MAX_POOL = 2_000_000
"""The most sentences a pool may hold."""
MAX_TOKENS = 1_000
"""The most tokens a pool sentence may hold (the page shows one sentence at a time)."""


def joined(tokens: tuple[str, ...]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``tokens`` joined by single spaces, with each token's offsets in the result."""
    offsets, at = [], 0
    for token in tokens:
        offsets.append((at, at + len(token)))
        at += len(token) + 1
    return " ".join(tokens), tuple(offsets)


def read_pool(path: str | Path, data: DataConfig, fmt: str | None = None) -> list[PoolSentence]:
    """The sentences of ``path`` with ids 1, 2, … in file order (sentences without tokens are left out)."""
    if fmt is None:
        sniffed = sniff_format(path)
        fmt = sniffed[0] if sniffed else "text"
    pool: list[PoolSentence] = []
    for sentence in iter_sentences(path, data, require_tags=False, fmt=fmt, split=True):
        if not sentence.tokens:
            continue
        if len(sentence.tokens) > MAX_TOKENS:
            raise DataError(path, sentence.line, f"a sentence of {len(sentence.tokens):,} tokens; the page shows at most {MAX_TOKENS:,}")
        if len(pool) >= MAX_POOL:
            raise DataError(path, sentence.line, f"more than {MAX_POOL:,} sentences; annotate a part of the file")
        if sentence.source is not None:
            begin, end = sentence.source.region
            text = sentence.source.text[begin:end]
            offsets = tuple((a - begin, b - begin) for a, b in sentence.source.offsets)
        else:
            text, offsets = joined(sentence.tokens)
        pool.append(PoolSentence(len(pool) + 1, text, sentence.tokens, offsets))
    if not pool:
        raise DataError(path, None, "no sentences to annotate (the file is empty or holds only blank lines)")
    return pool
