"""Sentences to ids and batches: the word key, casing classes, vocabularies, encoding, and
length-bucketed batching. (Reading files is ``seqlab.data.readers``.)"""
from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqlab.config.settings import DataConfig
from seqlab.data.readers import Sentence
from seqlab.data.vocab import Vocab
from seqlab.errors import DataError

MAX_WORD_CHARS = 64
"""Character features look at the first 64 characters of a word (the word itself is always tagged)."""


# ------------------------------------------------------------------------------------------- encoding


def word_key(token: str, lowercase: bool, normalize_digits: bool) -> str:
    """The form of a token looked up in the word vocabulary."""
    if lowercase:
        token = token.lower()
    if normalize_digits:
        token = "".join("0" if ch.isdigit() else ch for ch in token)
    return token


CASINGS = ("<pad>", "lower", "UPPER", "Title", "mIxed", "numeric", "has-digit", "other")
"""Casing classes of ``casing_id``; index 0 is padding."""


@functools.lru_cache(maxsize=1 << 16)
def casing_id(token: str) -> int:
    """The casing class of a token, an index into ``CASINGS`` (1-based; 0 is padding).

    ``numeric``: only digits (and ``.,-/``); ``has-digit``: some digit; ``lower``/``UPPER``: all letters
    of one case (a one-letter capital like ``I`` is ``Title``); ``Title``: a capital then lower case;
    ``mIxed``: other letter mixes; ``other``: no letter and no digit (punctuation, symbols).
    """
    if any(ch.isdigit() for ch in token):
        return CASINGS.index("numeric") if all(ch.isdigit() or ch in ".,-/" for ch in token) else CASINGS.index("has-digit")
    letters = [ch for ch in token if ch.isalpha()]
    if not letters:
        return CASINGS.index("other")
    if all(ch.islower() for ch in letters):
        return CASINGS.index("lower")
    if letters[0].isupper() and all(not ch.isupper() for ch in letters[1:]):
        return CASINGS.index("Title")
    if all(ch.isupper() for ch in letters):
        return CASINGS.index("UPPER")
    return CASINGS.index("mIxed")


@dataclass(frozen=True)
class Vocabularies:
    words: Vocab
    """Word forms (after ``word_key``), with ``<pad>``/``<unk>``."""
    chars: Vocab
    """Characters, with ``<pad>``/``<unk>``."""
    tags: Vocab
    """Tags, no specials."""


def build_vocabularies(sentences: Sequence[Sentence], data: DataConfig) -> Vocabularies:
    words = Vocab.build(
        (word_key(t, data.lowercase, data.normalize_digits) for s in sentences for t in s.tokens), data.min_count
    )
    chars = Vocab.build(ch for s in sentences for t in s.tokens for ch in t[:MAX_WORD_CHARS])
    tags = Vocab.build((t for s in sentences for t in (s.tags or ())), specials=False)
    return Vocabularies(words, chars, tags)


@dataclass(frozen=True)
class EncodedSentence:
    words: torch.Tensor
    """Word ids, ``(length,)``."""
    chars: torch.Tensor
    """Character ids, ``(length, max chars in this sentence)``, 0-padded."""
    tags: torch.Tensor | None
    """Tag ids, ``(length,)``, or None for unlabelled input."""
    casing: torch.Tensor
    """Casing class of each token (``casing_id``), ``(length,)``."""
    tokens: tuple[str, ...] = ()
    """The words themselves (what a transformer embedding reads)."""


TokenIds = tuple[int, list[int], int]
"""One token's word id, character ids (at least one) and casing class."""


def _token_ids(token: str, vocabs: Vocabularies, data: DataConfig) -> TokenIds:
    """The ids ``encode`` gives ``token``."""
    word = vocabs.words.id(word_key(token, data.lowercase, data.normalize_digits))
    return word, vocabs.chars.ids(token[:MAX_WORD_CHARS]) or [1], casing_id(token)


def encode_all(sentences: Iterable[Sentence], vocabs: Vocabularies, data: DataConfig, path: str | None = None) -> list[EncodedSentence]:
    """Ids for each sentence, as ``encode`` gives them; each distinct token is looked up once per call.
    A tag the model does not know is a ``DataError`` naming it (``path``, the sentence's line)."""
    known: dict[str, TokenIds] = {}
    encoded = []
    for sentence in sentences:
        rows = []
        for token in sentence.tokens:
            ids = known.get(token)
            if ids is None:
                ids = known[token] = _token_ids(token, vocabs, data)
            rows.append(ids)
        encoded.append(_encoded(sentence, rows, vocabs, path))
    return encoded


def encode(sentence: Sentence, vocabs: Vocabularies, data: DataConfig, path: str | None = None) -> EncodedSentence:
    """Ids for one sentence; a tag the model does not know is a ``DataError`` naming it."""
    return encode_all([sentence], vocabs, data, path)[0]


def _encoded(sentence: Sentence, rows: Sequence[TokenIds], vocabs: Vocabularies, path: str | None) -> EncodedSentence:
    """The tensors of one sentence from its tokens' ids, built as NumPy arrays (``torch.tensor`` of short
    Python lists costs several times more per sentence)."""
    length = len(rows)
    words = np.fromiter((row[0] for row in rows), np.int64, length)  # (length,)
    casing = np.fromiter((row[2] for row in rows), np.int64, length)  # (length,)
    chars = np.zeros((length, max((len(row[1]) for row in rows), default=1)), np.int64)  # (length, chars), 0-padded
    for k, row in enumerate(rows):
        chars[k, : len(row[1])] = row[1]
    tags = None
    if sentence.tags is not None:
        unknown = [t for t in sentence.tags if t not in vocabs.tags]
        if unknown:
            raise DataError(path, sentence.line or None, f"tag '{unknown[0]}' was never seen in training (known: {', '.join(vocabs.tags.items)})")
        tags = torch.from_numpy(np.array(vocabs.tags.ids(sentence.tags), np.int64))  # (length,)
    return EncodedSentence(torch.from_numpy(words), torch.from_numpy(chars), tags, torch.from_numpy(casing), tuple(sentence.tokens))


# ------------------------------------------------------------------------------------------- batching


@dataclass(frozen=True)
class Batch:
    words: torch.Tensor
    """Word ids, ``(batch, seq)``, 0-padded."""
    chars: torch.Tensor
    """Character ids, ``(batch, seq, chars)``, 0-padded."""
    tags: torch.Tensor | None
    """Tag ids, ``(batch, seq)`` (0 at padding), or None."""
    mask: torch.Tensor
    """True at real tokens, ``(batch, seq)`` bool."""
    lengths: torch.Tensor
    """Sentence lengths, ``(batch,)`` long, always on the CPU (packing wants them there)."""
    index: tuple[int, ...]
    """Positions of these sentences in the list they were batched from."""
    casing: torch.Tensor
    """Casing classes, ``(batch, seq)``, 0-padded."""
    tokens: tuple[tuple[str, ...], ...] = ()
    """Each sentence's words."""

    def to(self, device: torch.device) -> "Batch":
        tags = None if self.tags is None else self.tags.to(device)
        moved = (self.words.to(device), self.chars.to(device), tags, self.mask.to(device), self.lengths, self.index, self.casing.to(device))
        return Batch(*moved, self.tokens)


def _scatter(values: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Per-sentence 1-D tensors into a 0-padded ``(batch, seq)`` tensor: one ``cat`` and one masked write."""
    out = torch.zeros(mask.shape, dtype=torch.long)  # (batch, seq)
    out[mask] = torch.cat(values)  # row-major order of the mask is sentence order, then position
    return out


def collate(items: Sequence[EncodedSentence], index: Sequence[int]) -> Batch:
    sizes = [e.words.shape[0] for e in items]
    lengths = torch.tensor(sizes, dtype=torch.long)  # (batch,)
    seq = max(sizes)
    mask = torch.arange(seq).unsqueeze(0) < lengths.unsqueeze(1)  # (batch, seq)
    words = _scatter([e.words for e in items], mask)  # (batch, seq)
    casing = _scatter([e.casing for e in items], mask)  # (batch, seq)
    width = max(e.chars.shape[1] for e in items)
    padded = np.zeros((len(items), seq, width), dtype=np.int64)  # (batch, seq, chars)
    for row, e in enumerate(items):  # NumPy's slice writes cost a fraction of torch's per-call dispatch
        block = e.chars.numpy()
        padded[row, : block.shape[0], : block.shape[1]] = block
    chars = torch.from_numpy(padded)  # (batch, seq, chars)
    tags = None
    if all(e.tags is not None for e in items):
        tags = _scatter([e.tags for e in items], mask)  # (batch, seq)
    return Batch(words, chars, tags, mask, lengths, tuple(index), casing, tuple(e.tokens for e in items))


def bucketed_order(lengths: Sequence[int], batch_size: int, bucket_batches: int, rng: random.Random) -> list[list[int]]:
    """Training batches as index lists: shuffle, sort each chunk of ``bucket_batches`` batches by length,
    cut it into batches, then shuffle the batches. Padding stays small and the order stays random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda k: lengths[k])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def sorted_order(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: all sentences sorted by length, cut into the fewest batches that hold at most
    ``batch_size`` sentences and at most ``position_budget`` padded positions (sentences × the batch's
    longest). Restore the order with ``Batch.index``.

    Sentences too long for ``batch_size`` of them to fit the budget are batched from the longest down,
    each batch as many as fit: long sentences come in smaller batches, with little padding (by sentence
    count alone, the 128 longest CoNLL-2003 test sentences, 38 to 124 tokens, fill 15,872 positions
    for about 6,000 tokens). The rest is cut into batches whose sizes differ by at most one (33
    sentences at 32 are 17 + 16, not 32 + 1: a batch of one costs nearly what a full one does). Both
    steps take the most sentences they can, so no partition within the two limits has fewer batches."""
    order = sorted(range(len(lengths)), key=lambda k: lengths[k])
    if not order:
        return []
    budget = position_budget(lengths, batch_size)
    long: list[list[int]] = []
    end = len(order)
    while end and lengths[order[end - 1]] * batch_size > budget:
        take = max(1, int(budget // lengths[order[end - 1]]))  # the longest left sets the width
        long.append(order[max(0, end - take) : end])
        end -= len(long[-1])
    count = -(-end // batch_size)  # ceil; 0 when every sentence went into the long batches
    return [order[end * k // count : end * (k + 1) // count] for k in range(count)] + long[::-1]


def position_budget(lengths: Sequence[int], batch_size: int) -> float:
    """Padded positions an evaluation batch may hold: ``batch_size`` sentences of twice the mean length.
    Twice: a tighter budget splits moderately long sentences into more, smaller batches, whose per-batch
    cost outweighs the padding saved at small batch sizes (docs/benchmarks.md)."""
    return 2 * batch_size * sum(lengths) / max(len(lengths), 1)


def make_batches(encoded: Sequence[EncodedSentence], order: Iterable[Sequence[int]]) -> Iterator[Batch]:
    for index in order:
        yield collate([encoded[k] for k in index], index)
