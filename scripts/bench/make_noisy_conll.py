#!/usr/bin/env python3
"""A small, noisy NER corpus made from a CoNLL file, for trying recipes on data nobody tuned for:
the first ``--sentences`` sentences, lowercased, with each entity mention (its every token) replaced by
random unseen strings with probability ``--replace`` (so many names are out of vocabulary, as in
social-media text). Tags are kept, in the file's scheme. Writes word<TAB>tag lines.

Usage: python scripts/bench/make_noisy_conll.py IN OUT [--sentences 3000] [--replace 0.3] [--seed 1]
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


def noisy(tokens: tuple[str, ...], tags: tuple[str, ...], replace: float, rng: random.Random) -> list[str]:
    out = [t.lower() for t in tokens]
    for span in spans(list(tags)):
        if rng.random() < replace:
            for k in range(span.start, span.end):
                out[k] = "".join(rng.choice(string.ascii_lowercase) for _ in range(max(3, len(tokens[k]))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--replace", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sentences = read_corpus(args.source, DataConfig())[: args.sentences]
    lines = []
    for s in sentences:
        words = noisy(s.tokens, s.tags or (), args.replace, rng)
        lines += [f"{w}\t{t}" for w, t in zip(words, s.tags or ())] + [""]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(sentences)} sentences to {args.out}")


if __name__ == "__main__":
    main()
