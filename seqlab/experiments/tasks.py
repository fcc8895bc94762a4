"""Data for the experiments: the synthetic long-range task, and the apple set's meta data.

Long-range task: a sentence is a key word, ``distance`` distractor words, then the query word ``?``.
The key and the query are tagged ``B-A`` when the key is ``alpha`` and ``B-B`` when it is ``beta``; the
distractors are ``O``. Keys are equally likely and distractors are drawn uniformly from a fixed list, so
nothing but the first token decides the last tag: a model that has forgotten it scores 50% on the query.
(The key's own tag is local and easy; it gives the key's embedding a direct gradient, so what is hard is
only carrying it over the distance, which is the claim under test.)
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from seqlab.data.readers import Sentence
from seqlab.errors import DataError

KEYS = {"alpha": "B-A", "beta": "B-B"}
DISTRACTORS = tuple(f"w{k}" for k in range(20))
QUERY = "?"
SPLIT_SEEDS = {"train": 0, "dev": 1, "test": 2}


def long_range_sentences(count: int, distance: int, seed: int) -> list[Sentence]:
    """``count`` sentences of ``distance + 2`` tokens; the same arguments give the same sentences."""
    rng = random.Random(f"long-range/{distance}/{seed}")
    out = []
    for _ in range(count):
        key = rng.choice(sorted(KEYS))
        tokens = (key, *rng.choices(DISTRACTORS, k=distance), QUERY)
        tags = (KEYS[key],) + ("O",) * distance + (KEYS[key],)
        out.append(Sentence(tokens, tags))
    return out


def write_long_range(directory: Path, distance: int, sizes: dict[str, int]) -> dict[str, Path]:
    """Write ``{split}.conll`` for each split in ``sizes`` (train/dev/test) and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, count in sizes.items():
        path = directory / f"{split}.conll"
        lines = []
        for sentence in long_range_sentences(count, distance, SPLIT_SEEDS[split]):
            lines.extend(f"{token}\t{tag}" for token, tag in zip(sentence.tokens, sentence.tags or ()))
            lines.append("")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths[split] = path
    return paths


def read_meta(path: Path) -> list[dict]:
    """The apple set's ``.meta.jsonl``: one ``{"sense", "cue", "frame", "apple"}`` object per sentence."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise DataError(path, None, f"cannot read the apple meta file ({err.strerror})") from None
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise DataError(path, number, "not a JSON object") from None
    return out
