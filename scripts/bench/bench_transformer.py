#!/usr/bin/env python3
"""What a transformer embedding costs, and what its cache saves: the apple BiLSTM-CRF trained with its
word embedding, with a fixed tiny BERT (2 layers, 32 dims, built here like the tests' one) cached, and
with the same BERT not cached. For each: training sentences/s in epoch 1 and epoch 2 (from
``metrics.jsonl``; with the cache, epoch 2 no longer runs the transformer), and decoding sentences/s
over the test split (``seqlab evaluate``'s path, a fresh model load, no cache).

All runs happen one after the other in this process's children, in one run of this script; compare
ratios, not absolute figures, across machines.

Usage: python scripts/bench/bench_transformer.py [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqlab.config.settings import load_config  # noqa: E402
from seqlab.data.readers import read_corpus  # noqa: E402
from seqlab.tagger.inference import Tagger  # noqa: E402
from seqlab.train.run import quiet_training, train  # noqa: E402
from tests.tiny_transformer import build_tiny_transformer  # noqa: E402


def variants(bert: Path) -> dict[str, list[str]]:
    tiny = ["model.embedding.dim=0", f"model.embedding.transformer.model={bert}"]
    return {
        "word embedding (no transformer)": [],
        "tiny BERT, fixed, cached": tiny,
        "tiny BERT, fixed, not cached": [*tiny, "model.embedding.transformer.cache=false"],
    }


def measure(overrides: list[str], out: Path) -> tuple[float, float, float]:
    """(epoch-1 sent/s, epoch-2 sent/s, test decoding sent/s)."""
    config = load_config(ROOT / "configs" / "apple_lstm.yaml", [*overrides, "train.epochs=2", "data.dev=null", "data.test=null", "train.patience=null"])
    with quiet_training():
        train(config, out, progress=False)
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    tagger = Tagger.load(out)
    sentences = read_corpus(str(ROOT / "data" / "apple" / "test.conll"), config.data)
    start = time.perf_counter()
    tagger.tag(sentences, probs=False)
    decode = len(sentences) / (time.perf_counter() - start)
    return epochs[0]["train_sents_per_s"], epochs[1]["train_sents_per_s"], decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the table gives medians")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bert = build_tiny_transformer(Path(scratch) / "bert")
        table: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants(bert)}
        for round_ in range(args.rounds):
            for k, (name, overrides) in enumerate(variants(bert).items()):
                table[name].append(measure(overrides, Path(scratch) / f"run{round_}_{k}"))
    print(f"apple BiLSTM-CRF, 4000 training sentences, 1200 test sentences; medians of {args.rounds} rounds; train.threads 1")
    print(f"{'representation':34} {'epoch 1 sent/s':>15} {'epoch 2 sent/s':>15} {'epoch 2 / 1':>12} {'decode sent/s':>14}")
    for name, rows in table.items():
        first, second, decode = (statistics.median(column) for column in zip(*rows))
        print(f"{name:34} {first:15.0f} {second:15.0f} {second / first:12.2f} {decode:14.0f}")


if __name__ == "__main__":
    main()
