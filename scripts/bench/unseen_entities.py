#!/usr/bin/env python3
"""How many of a test file's entity tokens no labelled sentence holds: for each strategy and seed of a
``seqlab active simulate`` output, at one round, the share of the test set's tokens inside entities
(tag other than ``O``) whose word key (the config's lowercasing and digit normalisation, as the
vocabulary reads them) is missing from the sentences labelled by that round; and the same against the
whole pool. A word never labelled has the ``<unk>`` row, so this is the part of the test set's names
the model meets as unknown.

Usage: python scripts/bench/unseen_entities.py --config C.yaml --pool TRAIN --test TEST --out SIM_OUT [--round N]
(``--round``: default the last round every state holds.)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqlab.config.settings import load_config  # noqa: E402
from seqlab.data.batches import word_key  # noqa: E402
from seqlab.data.readers import read_corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config")
    parser.add_argument("--pool", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--out", required=True, help="the --out of seqlab active simulate")
    parser.add_argument("--round", type=int)
    args = parser.parse_args()
    data = load_config(args.config).data
    def key(token: str) -> str:
        return word_key(token, data.lowercase, data.normalize_digits)

    pool = read_corpus(args.pool, data)
    entity = [key(t) for s in read_corpus(args.test, data) for t, tag in zip(s.tokens, s.tags or ()) if tag != "O"]
    def unseen(sentences) -> float:
        known = {key(t) for i in sentences for t in pool[i].tokens}
        return sum(k not in known for k in entity) / len(entity)

    print(f"{len(entity):,} entity tokens in {args.test}; unseen in the whole pool: {100 * unseen(range(len(pool))):.1f}%")
    for state in sorted(Path(args.out).glob("*/seed*/state.json")):
        rounds = json.loads(state.read_text(encoding="utf-8"))["rounds"]
        chosen = rounds[(args.round or len(rounds)) - 1]
        print(f"{state.parent.parent.name:17}{state.parent.name:7} round {chosen['round']:3} "
              f"({100 * chosen['token_share']:.1f}% of tokens): unseen {100 * unseen(chosen['labelled']):.1f}%")


if __name__ == "__main__":
    main()
