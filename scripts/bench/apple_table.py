#!/usr/bin/env python3
"""Train the five apple configs and print the table of the README: accuracy on the *apple* tokens of
data/apple/test.conll, overall and split by where the deciding cue stands (before or only after the word),
plus span F1 over all entities.

Usage: python scripts/bench/apple_table.py [--configs none rnn lstm gru lstm_uni] [--out runs/apple_table]
                                     [--set KEY=VALUE ...] [--seeds 1]
Each config is configs/apple_<name>.yaml; --set applies to all of them. With several seeds the cells are
mean ± std over seeds. Also prints how the two sentences of the notes are tagged by each model.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqlab import Tagger, load_config  # noqa: E402
from seqlab.experiments.measures import apple_accuracy  # noqa: E402
from seqlab.train.run import train  # noqa: E402

NOTES = ["I like eating apple!", "The Apple is a great company!"]


HEADER = f"{'config':<10} {'apple acc':>13} {'cue before':>13} {'cue after':>13} {'span F1':>13} {'train s':>8}  notes' sentences"


def cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def format_table(rows: list[tuple[str, list[dict], list[list], list[float]]], seeds: int) -> list[str]:
    """The table's lines: one row per config (name, per-seed results, the notes' tags, seconds)."""
    lines = [HEADER]
    for name, results, notes, seconds in rows:
        cols = [cell([r[k] for r in results]) for k in ("all", "before", "after", "f1")]
        lines.append(f"{name:<10} {cols[0]:>13} {cols[1]:>13} {cols[2]:>13} {cols[3]:>13} {statistics.mean(seconds):>8.1f}  {notes[0][0]} / {notes[0][1]}")
    tokens = rows[0][1][0]["apple_tokens"]
    lines.append(f"(accuracy in % on the {tokens} apple tokens of data/apple/test.conll; seeds: {seeds}; notes' sentences: seed 1)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["none", "rnn", "lstm", "gru", "lstm_uni"])
    parser.add_argument("--out", default="runs/apple_table")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()

    rows = []
    for name in args.configs:
        results, notes, seconds = [], [], []
        for seed in range(1, args.seeds + 1):
            config = load_config(ROOT / "configs" / f"apple_{name}.yaml", [*args.overrides, f"seed={seed}"])
            start = time.perf_counter()
            result = train(config, Path(args.out) / f"{name}_seed{seed}", overwrite=True, progress=False)
            seconds.append(time.perf_counter() - start)
            tagger = Tagger.load(result.output_dir)
            results.append(apple_accuracy(tagger, ROOT / "data" / "apple", "test"))
            notes.append([dict(zip(t.tokens, t.tags)).get(w) for t, w in zip(tagger.predict(NOTES), ("apple", "Apple"))])
        rows.append((name, results, notes, seconds))
        print(f"trained {name}: {[round(r['all'], 4) for r in results]}", file=sys.stderr)

    print("\n".join(format_table(rows, args.seeds)))


if __name__ == "__main__":
    main()
