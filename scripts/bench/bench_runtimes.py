#!/usr/bin/env python3
"""Accuracy and decode time of each inference runtime (``seqlab.export.runtime``) against fp32 torch, for one
trained model on one labelled file: span F1, the sentences and tokens whose tags differ from fp32
torch's, the seconds to build the runtime and the median seconds of --rounds decodes of the whole file
(runtimes interleaved round by round, in one process).

Usage: python scripts/bench/bench_runtimes.py --model DIR --data FILE [--batch-size 256] [--rounds 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIMES = (("torch", None), ("torch", "int8"), ("onnxruntime", None), ("onnxruntime", "int8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from seqlab.data.readers import read_corpus
    from seqlab.export.runtime import with_runtime
    from seqlab.tagger.evaluate import Evaluator
    from seqlab.tagger.inference import Tagger

    torch.set_num_threads(args.threads)
    base = Tagger.load(args.model)
    sentences = read_corpus(args.data, base.bundle.config.data)
    encoded = base.encode_tokens([s.tokens for s in sentences])
    taggers, built = {}, {}
    for runtime, quantize in RUNTIMES:
        name = runtime + (f"-{quantize}" if quantize else "")
        start = time.perf_counter()
        taggers[name] = with_runtime(base, runtime, quantize)
        built[name] = time.perf_counter() - start
        taggers[name].infer(encoded[:256], args.batch_size)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in taggers}
    answers = {}
    for _ in range(args.rounds):
        for name, tagger in taggers.items():
            start = time.perf_counter()
            answers[name] = [r.ids for r in tagger.infer(encoded, args.batch_size)]
            seconds[name].append(time.perf_counter() - start)
    reference = answers["torch"]
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch_size}, {len(encoded)} sentences, {args.rounds} rounds")
    print(f"{'runtime':<18} {'span F1':>8} {'Δ F1':>7} {'sents differ':>13} {'tokens differ':>14} {'build s':>8} {'decode s':>9} {'vs torch':>9}")
    f1 = {}
    for name, tagger in taggers.items():
        f1[name] = Evaluator(tagger, [s for s in sentences if s.tokens], confidence=False)().f1
        sents = sum(a != b for a, b in zip(answers[name], reference))
        tokens = sum(x != y for a, b in zip(answers[name], reference) for x, y in zip(a, b))
        decode = statistics.median(seconds[name])
        print(f"{name:<18} {100 * f1[name]:>8.2f} {100 * (f1[name] - f1['torch']):>+7.2f} {sents:>13} {tokens:>14} {built[name]:>8.2f} {decode:>9.2f} "
              f"{statistics.median(seconds['torch']) / decode:>8.2f}×")


if __name__ == "__main__":
    main()
