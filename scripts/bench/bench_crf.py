#!/usr/bin/env python3
"""seqlab's CRF against pytorch-crf, side by side in one run: loss forward+backward and Viterbi decode.

Both get the same emissions, tags, mask (mixed lengths) and the same parameters; runs are interleaved
(A, B, A, B, ...) so that machine drift hits both alike, and each figure is the median of the repeats.
Usage: python scripts/bench/bench_crf.py [--batch 32] [--length 40] [--tags 9 17] [--repeats 30] [--threads 2]
Needs the benchmark extra: pip install -e ".[bench]" (pytorch-crf).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from seqlab.nn.crf import CRF  # noqa: E402

try:
    from torchcrf import CRF as TorchCRF
except ImportError:  # pragma: no cover - a benchmark-only dependency
    sys.exit("pytorch-crf is not installed: pip install -e '.[bench]'")


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--tags", type=int, nargs="+", default=[9, 17])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, length {args.length} (mixed lengths), median of {args.repeats}")
    print(f"{'tags':>4} {'op':<16} {'seqlab ms':>10} {'pytorch-crf ms':>15} {'speed-up':>9}")
    for num_tags in args.tags:
        ours, theirs = CRF(num_tags), TorchCRF(num_tags, batch_first=True)
        with torch.no_grad():
            theirs.transitions.copy_(ours.transitions)
            theirs.start_transitions.copy_(ours.start)
            theirs.end_transitions.copy_(ours.end)
        lengths = torch.randint(args.length // 2, args.length + 1, (args.batch,))
        lengths[0] = args.length
        mask = torch.arange(args.length).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        emissions = torch.randn(args.batch, args.length, num_tags, requires_grad=True)  # (B, L, T)
        tags = torch.randint(0, num_tags, (args.batch, args.length)) * mask  # (B, L)
        # same numbers first
        assert torch.allclose(ours.nll(emissions, tags, mask).sum(), -theirs(emissions, tags, mask, reduction="sum"), atol=1e-3)
        assert [p[:n] for p, n in zip(ours.decode(emissions, mask).tolist(), lengths.tolist())] == theirs.decode(emissions, mask)

        def our_loss():
            emissions.grad = None
            ours.nll(emissions, tags, mask).sum().backward()

        def their_loss():
            emissions.grad = None
            (-theirs(emissions, tags, mask, reduction="sum")).backward()

        def our_decode():
            with torch.no_grad():
                paths = ours.decode(emissions, mask).tolist()
                [p[:n] for p, n in zip(paths, lengths.tolist())]

        def their_decode():
            with torch.no_grad():
                theirs.decode(emissions, mask)

        for name, a, b in (("loss fwd+bwd", our_loss, their_loss), ("decode", our_decode, their_decode)):
            for fn in (a, b):
                timed(fn, 3)  # warm-up
            ta, tb = [], []
            for _ in range(args.repeats):
                ta += timed(a, 1)
                tb += timed(b, 1)
            ma, mb = statistics.median(ta) * 1e3, statistics.median(tb) * 1e3
            print(f"{num_tags:>4} {name:<16} {ma:>10.2f} {mb:>15.2f} {mb / ma:>8.2f}x")


if __name__ == "__main__":
    main()
