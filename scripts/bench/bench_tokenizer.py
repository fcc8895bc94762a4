"""The raw-text tokenizer's time against the length of adversarial inputs: each family of hostile units
(combining marks, joiners, variation selectors, mixed scripts, clitic and joiner chains) repeated to
several lengths. A linear tokenizer keeps microseconds per character flat as the length grows; the last
column is the per-character time at the longest length over that at the shortest.

    python scripts/bench/bench_tokenizer.py [--lengths 1000 4000 16000 64000 256000] [--rounds 5]

Also prints plain English text (CoNLL-2003-like sentences) as the reference throughput.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from seqlab.data.tokenizer import sentences_of  # noqa: E402

FAMILIES = {
    "combining marks": "x" + "\u0301" * 3,
    "marks after marks": "\u0301\u0302\u20dd",
    "enclosing marks": "a\u20dd\u0489",
    "joiners": "a\u200d\u0301",
    "variation selectors": "\u2764\ufe0f\u0301",
    "mixed scripts": "\u0915\u094d\u0937a\u0301\u05d0\u05b0",
    "clitic chains": "a's'",
    "n't chains": "xn't-",
    "decimal chains": "1.2,",
    "hyphen chains": "a-\u0301-",
    "plain English": "EU rejects German call to boycott British lamb. Peter Blackburn's car, isn't it? ",
}


def seconds(text: str, rounds: int) -> float:
    """The best of ``rounds`` runs of tokenising and sentence-splitting ``text``."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        sentences_of(text, split=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1000, 4000, 16000, 64000, 256000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lengths = sorted(args.lengths)
    print(f"{'family':22}" + "".join(f"{f'us/char @{n}':>16}" for n in lengths) + f"{'growth':>9}")
    for name, unit in FAMILIES.items():
        per_char = []
        for n in lengths:
            text = unit * max(1, n // len(unit))
            per_char.append(seconds(text, args.rounds) / len(text) * 1e6)
        print(f"{name:22}" + "".join(f"{v:16.3f}" for v in per_char) + f"{per_char[-1] / per_char[0]:9.2f}")


if __name__ == "__main__":
    main()
