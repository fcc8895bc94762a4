#!/usr/bin/env python3
"""Training speed by torch thread count and OpenMP wait policy, on an idle machine and on one where
another process keeps a core busy: the measurement behind ``train.threads``' default.

Each cell trains one epoch of a config (default the apple BiLSTM, no dev/test) in its own process and
reads its training sentences/s from ``metrics.jsonl``. Cells are interleaved over ``--rounds`` rounds
(the machines drift); the table gives medians.

Usage: python scripts/bench/bench_threads.py [--config configs/apple_lstm.yaml] [--threads 1 2] [--rounds 2]
                                       [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUSY = "while True:\n    pass\n"
"""The neighbour: one core kept busy by a plain Python loop."""


def one_epoch(config: str, threads: int, policy: str, overrides: list[str], out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OMP_WAIT_POLICY", None)
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    sets = [f"train.threads={threads}", "train.epochs=1", "data.dev=null", "data.test=null", *overrides]
    command = [sys.executable, "-m", "seqlab", "-q", "train", "--config", config, "--output", str(out), "--overwrite"]
    for override in sets:
        command += ["--set", override]
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
    return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["train_sents_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "apple_lstm.yaml"))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--policies", nargs="+", default=["default", "PASSIVE"], help="OMP_WAIT_POLICY values (default: unset)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    cells = list(itertools.product(("idle", "loaded"), args.threads, args.policies))
    results: dict[tuple, list[float]] = {cell: [] for cell in cells}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for load, threads, policy in cells:
                neighbour = subprocess.Popen([sys.executable, "-c", BUSY]) if load == "loaded" else None
                try:
                    results[(load, threads, policy)].append(one_epoch(args.config, threads, policy, args.overrides, Path(tmp) / "m"))
                finally:
                    if neighbour is not None:
                        neighbour.kill()
                        neighbour.wait()
    print(f"{os.cpu_count()} CPUs, config {Path(args.config).name}, one epoch per cell, medians of {args.rounds} rounds (sentences/s)")
    print(f"{'machine':<8} {'threads':>7} {'OMP_WAIT_POLICY':>16} {'sentences/s':>12}   per round")
    for (load, threads, policy), values in results.items():
        print(f"{load:<8} {threads:>7} {policy:>16} {statistics.median(values):>12.1f}   {values}")


if __name__ == "__main__":
    main()
