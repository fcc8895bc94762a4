#!/usr/bin/env python3
"""Training throughput of one process against torchrun with N processes (gloo, CPU), side by side.

    python scripts/bench/bench_distributed.py --train ../shared/data/conll2003/train.txt --sentences 3000 --rounds 2

Each round trains one epoch of ``--config`` on the first ``--sentences`` sentences of ``--train`` (no
dev/test) as: one process with 1 thread, one process with N threads, and torchrun with N processes of 1
thread each; the rounds interleave the three so that machine drift hits all alike. The figure is the
training sentences/s that ``metrics.jsonl`` records (global sentences over rank 0's epoch time).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def first_sentences(source: Path, count: int, target: Path) -> None:
    """Copy the first ``count`` blank-line-separated sentences (a subset outside the repository)."""
    kept, lines, current = 0, [], []
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                current.append(line)
                continue
            if current and not current[0].startswith("-DOCSTART-"):
                lines += current + ["\n"]
                kept += 1
                if kept == count:
                    break
            current = []
    target.write_text("".join(lines), encoding="utf-8")


def one_run(config: str, train: Path, out: Path, procs: int, threads: int, batch: int) -> float:
    sets = [f"data.train={train}", "data.dev=null", "data.test=null", "train.epochs=1", f"train.threads={threads}", f"train.batch_size={batch}", f"output_dir={out}"]
    args = ["train", "--config", config, "--overwrite"] + [x for s in sets for x in ("--set", s)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] if procs > 1 else [sys.executable]
    done = subprocess.run(launcher + ["-m", "seqlab", "-q"] + args, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"run failed ({procs} processes):\n{done.stderr[-2000:]}")
    return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["train_sents_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/conll2003_bilstm_crf.yaml")
    parser.add_argument("--train", required=True, help="CoNLL training file")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--batch", type=int, action="append", help="global batch sizes (default 10 and 32)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "train.txt"
        first_sentences(Path(args.train), args.sentences, subset)
        kinds = [("1 process, 1 thread", 1, 1), (f"1 process, {args.procs} threads", 1, args.procs), (f"torchrun {args.procs} x 1 thread", args.procs, 1)]
        print(f"{'batch':>5}  {'setting':<24}{'sent/s (each round)':<28}{'median':>8}{'vs 1x1':>8}")
        for batch in args.batch or [10, 32]:
            speeds: dict[str, list[float]] = {name: [] for name, _, _ in kinds}
            for _ in range(args.rounds):
                for name, procs, threads in kinds:
                    speeds[name].append(one_run(args.config, subset, Path(tmp) / "out", procs, threads, batch))
            base = statistics.median(speeds[kinds[0][0]])
            for name, _, _ in kinds:
                med = statistics.median(speeds[name])
                rounds = ", ".join(f"{v:.0f}" for v in speeds[name])
                print(f"{batch:>5}  {name:<24}{rounds:<28}{med:>8.0f}{med / base:>7.2f}x")


if __name__ == "__main__":
    main()
