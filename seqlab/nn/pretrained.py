"""Pretrained word vectors in the GloVe / word2vec text format (optionally gzip-compressed).

One word and its vector per line, separated by spaces; word2vec's first line ``COUNT DIM`` is
recognised and skipped. Only the vectors of the model's vocabulary are kept while the file streams
by, so a multi-gigabyte file needs no more memory than the vocabulary's rows. A vocabulary word takes
the vector of its exact form when the file has it, else of its lowercased form; words not found keep
their random initialisation.
"""
from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from seqlab.data.readers import decode_lines
from seqlab.data.vocab import Vocab
from seqlab.errors import DataError


@dataclass(frozen=True)
class Coverage:
    """How much of the training data the vectors cover."""

    types_found: int
    types: int
    tokens_found: int
    tokens: int
    exact: int
    """Types matched by their exact form (the rest of ``types_found`` by their lowercased form)."""

    @property
    def type_rate(self) -> float:
        return self.types_found / self.types if self.types else 0.0

    @property
    def token_rate(self) -> float:
        return self.tokens_found / self.tokens if self.tokens else 0.0

    def to_json(self) -> dict[str, float | int]:
        return {"types_found": self.types_found, "types": self.types, "tokens_found": self.tokens_found, "tokens": self.tokens, "exact": self.exact}


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        handle = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except FileNotFoundError:
        raise DataError(path, None, "pretrained vector file not found") from None
    except OSError as err:
        raise DataError(path, None, f"cannot read ({err.strerror})") from None
    with handle:
        try:
            yield from decode_lines(handle, path)
        except (OSError, EOFError) as err:  # a truncated or non-gzip .gz file
            raise DataError(path, None, f"cannot read the compressed file ({err})") from None


def read_vectors(path: str | Path, wanted: set[str], dim: int) -> dict[str, torch.Tensor]:
    """The ``(dim,)`` vectors of the words of ``wanted`` that the file holds (first occurrence wins)."""
    path = Path(path)
    found: dict[str, torch.Tensor] = {}
    for number, text in _lines(path):
        fields = text.rstrip().split(" ")
        if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
            continue  # word2vec header: COUNT DIM
        if len(fields) == 1 and not fields[0]:
            continue
        if len(fields) != dim + 1:
            raise DataError(path, number, f"expected a word and {dim} numbers (model.embedding.dim), found {len(fields) - 1} numbers")
        word = fields[0]
        if word in wanted and word not in found:
            try:
                found[word] = torch.tensor([float(v) for v in fields[1:]])
            except ValueError:
                raise DataError(path, number, f"vector of '{word}' holds a value that is not a number") from None
    return found


def load_pretrained(path: str | Path, weight: torch.Tensor, vocab: Vocab, counts: Counter[str]) -> Coverage:
    """Copy vectors into the rows of ``weight (V, dim)`` for ``vocab``'s words; ``counts`` are the training
    token counts per vocabulary form (for the token coverage). Specials (``<pad>``, ``<unk>``) are untouched."""
    words = vocab.items[2:] if vocab.specials else vocab.items
    wanted = set(words) | {w.lower() for w in words}
    vectors = read_vectors(path, wanted, weight.shape[1])
    types_found = tokens_found = exact = 0
    with torch.no_grad():
        for word in words:
            vector = vectors.get(word)
            if vector is not None:
                exact += 1
            else:
                vector = vectors.get(word.lower())
            if vector is None:
                continue
            weight[vocab.index[word]] = vector
            types_found += 1
            tokens_found += counts.get(word, 0)
    return Coverage(types_found, len(words), tokens_found, sum(counts.get(w, 0) for w in words), exact)
