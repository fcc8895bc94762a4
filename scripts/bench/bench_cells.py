#!/usr/bin/env python3
"""The scratch cells (seqlab/nn/cells.py) against torch's fused nn.RNN / nn.LSTM / nn.GRU, side by side in one run.

Times forward + backward of one bidirectional layer (default batch 32, length 40, input 100, hidden 200)
with the same weights. Two inputs per cell:
  full   every sentence has the full length; fused runs on the padded tensor (its fastest path);
  mixed  lengths drawn from [L/2, L]; fused runs packed (torch's own way; seqlab's fused encoder runs
         such batches unpacked on CPU since 2026-11-28, seqlab.nn.encoder.unpacked).
Runs are interleaved (fused, scratch, fused, ...) so machine drift hits both alike; each figure is the
median of the repeats. Usage: python scripts/bench/bench_cells.py [--threads 2] [--repeats 30] [--device cpu]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from seqlab.nn.cells import ScratchRecurrent  # noqa: E402

FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=40)
    parser.add_argument("--input", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(
        f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; batch {args.batch}, length {args.length}, "
        f"input {args.input}, hidden {args.hidden}, bidirectional, forward+backward, median of {args.repeats}"
    )
    print(f"{'cell':<5} {'input':<6} {'fused ms':>9} {'scratch ms':>11} {'scratch/fused':>14}")
    for cell, module in FUSED.items():
        fused = module(args.input, args.hidden, bidirectional=True, batch_first=True).to(device)
        scratch = ScratchRecurrent(cell, args.input, args.hidden, bidirectional=True).to(device)
        scratch.load_state_dict(fused.state_dict())
        x = torch.randn(args.batch, args.length, args.input, device=device)
        for name in ("full", "mixed"):
            lengths = torch.full((args.batch,), args.length)
            if name == "mixed":
                lengths = torch.randint(args.length // 2, args.length + 1, (args.batch,))
                lengths[0] = args.length

            def run_fused() -> None:
                if name == "full":
                    out, _ = fused(x)
                else:
                    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                    out, _ = pad_packed_sequence(fused(packed)[0], batch_first=True, total_length=args.length)
                out.sum().backward()
                sync()

            def run_scratch() -> None:
                out, _ = scratch(x, lengths)
                out.sum().backward()
                sync()

            for fn in (run_fused, run_scratch, run_fused, run_scratch):  # warm-up
                fn()
            times: dict[str, list[float]] = {"fused": [], "scratch": []}
            for _ in range(args.repeats):
                for label, fn in (("fused", run_fused), ("scratch", run_scratch)):
                    start = time.perf_counter()
                    fn()
                    times[label].append(time.perf_counter() - start)
            f_ms = statistics.median(times["fused"]) * 1e3
            s_ms = statistics.median(times["scratch"]) * 1e3
            print(f"{cell:<5} {name:<6} {f_ms:>9.2f} {s_ms:>11.2f} {s_ms / f_ms:>14.2f}")


if __name__ == "__main__":
    main()
