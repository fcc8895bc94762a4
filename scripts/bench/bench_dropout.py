"""Dropout on the CPU: torch's ``F.dropout`` (a ``bernoulli_`` mask) against ``seqlab.nn.dropout`` (a mask
cut from 32-bit random integers), forward and backward, at the shapes of a CoNLL-2003 training step.

    python scripts/bench/bench_dropout.py [--rounds 5] [--calls 300] [--threads 2]

Prints the median and the range over interleaved rounds of microseconds per call.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from seqlab.nn.dropout import dropout  # noqa: E402

SHAPES = {
    "embedding output, batch 10": (10, 15, 150),
    "encoder output, batch 10": (10, 15, 200),
    "embedding output, batch 32": (32, 20, 150),
}


def per_call(function, x: torch.Tensor, calls: int) -> float:
    """Microseconds per forward + backward call."""
    start = time.perf_counter()
    for _ in range(calls):
        function(x).sum().backward()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    kinds = {"torch F.dropout": lambda x: F.dropout(x, 0.5, True), "seqlab.nn.dropout": lambda x: dropout(x, 0.5, True)}
    print(f"torch {torch.__version__}, {args.threads} threads, p = 0.5, {args.rounds} interleaved rounds of {args.calls} calls")
    print(f"{'shape':42s} {'kind':16s} {'median us':>10s} {'range us':>14s}")
    for name, shape in SHAPES.items():
        x = torch.randn(*shape, requires_grad=True)
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(args.rounds):
            for kind, function in kinds.items():
                times[kind].append(per_call(function, x, args.calls))
        for kind, values in times.items():
            print(f"{name + ' ' + str(shape):42s} {kind:16s} {statistics.median(values):10.0f} {min(values):6.0f}-{max(values):<6.0f}")


if __name__ == "__main__":
    main()
