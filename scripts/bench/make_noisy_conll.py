#!/usr/bin/env python3
"""A small, noisy NER corpus made from a CoNLL file, for trying recipes on data nobody tuned for:
the first ``--sentences`` sentences, lowercased, with

- each entity mention (its every token) replaced by random unseen strings with probability
  ``--replace`` (so many names are out of vocabulary, as in social-media text);
- each other word of three or more letters misspelt by one random edit (a letter dropped, doubled,
  swapped with the next or replaced) with probability ``--typos``;
- each mention's annotation damaged with probability ``--label-noise``: half of these get another
  type of the file, half are left untagged (annotators of noisy text disagree; use it on training
  files only).

Tags are written in the file's scheme. Writes word<TAB>tag lines.

Usage: python scripts/bench/make_noisy_conll.py IN OUT [--sentences 3000] [--replace 0.3] [--typos 0.0]
                                          [--label-noise 0.0] [--seed 1]
"""
from __future__ import annotations

import argparse
import random
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqlab.config.settings import DataConfig  # noqa: E402
from seqlab.data.readers import read_corpus  # noqa: E402
from seqlab.data.schemes import spans  # noqa: E402


def misspell(word: str, rng: random.Random) -> str:
    """One random edit of ``word``: a letter dropped, doubled, swapped with the next, or replaced."""
    k = rng.randrange(len(word) - 1)
    edit = rng.randrange(4)
    if edit == 0:
        return word[:k] + word[k + 1:]
    if edit == 1:
        return word[:k] + word[k] + word[k:]
    if edit == 2:
        return word[:k] + word[k + 1] + word[k] + word[k + 2:]
    return word[:k] + rng.choice(string.ascii_lowercase) + word[k + 1:]


def retag(tags: list[str], start: int, end: int, label: str | None) -> None:
    """Give the mention ``[start, end)`` the type ``label`` (``None``: untagged), keeping each tag's prefix."""
    for k in range(start, end):
        tags[k] = "O" if label is None else tags[k].split("-", 1)[0] + "-" + label


def noisy(tokens: tuple[str, ...], tags: tuple[str, ...], args: argparse.Namespace, types: list[str],
          rng: random.Random) -> tuple[list[str], list[str]]:
    words = [t.lower() for t in tokens]
    out_tags = list(tags)
    inside = set()
    for span in spans(list(tags)):
        inside.update(range(span.start, span.end))
        if rng.random() < args.replace:
            for k in range(span.start, span.end):
                words[k] = "".join(rng.choice(string.ascii_lowercase) for _ in range(max(3, len(tokens[k]))))
        if args.label_noise and rng.random() < args.label_noise:
            others = [t for t in types if t != span.type]
            retag(out_tags, span.start, span.end, rng.choice(others) if rng.random() < 0.5 and others else None)
    for k, word in enumerate(words):
        if k not in inside and len(word) >= 3 and word.isalpha() and args.typos and rng.random() < args.typos:
            words[k] = misspell(word, rng)
    return words, out_tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--replace", type=float, default=0.3)
    parser.add_argument("--typos", type=float, default=0.0)
    parser.add_argument("--label-noise", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sentences = read_corpus(args.source, DataConfig())[: args.sentences]
    types = sorted({span.type for s in sentences for span in spans(list(s.tags or ()))})
    lines = []
    for s in sentences:
        words, tags = noisy(s.tokens, s.tags or (), args, types, rng)
        lines += [f"{w}\t{t}" for w, t in zip(words, tags)] + [""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(sentences)} sentences to {args.out}")


if __name__ == "__main__":
    main()
