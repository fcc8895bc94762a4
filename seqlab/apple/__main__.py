"""Write the "apple" data set (``seqlab.apple``): ``{train,dev,test}.conll`` and their ``.meta.jsonl``.

Usage: python -m seqlab.apple [--out data/apple] [--seed 13] [--train 4000 --dev 600 --test 1200]
The output is a deterministic function of the arguments (the defaults give the repository's data/apple).
"""
from __future__ import annotations

import argparse

from seqlab.apple import SEED, SIZES, write_apple_data


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m seqlab.apple", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/apple", help="output directory (default data/apple)")
    parser.add_argument("--seed", type=int, default=SEED)
    for split, count in SIZES.items():
        parser.add_argument(f"--{split}", type=int, default=count, help=f"{split} sentences (default {count})")
    args = parser.parse_args()
    for line in write_apple_data(args.out, args.seed, {split: getattr(args, split) for split in SIZES}):
        print(line)


if __name__ == "__main__":
    main()
