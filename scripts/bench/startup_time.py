#!/usr/bin/env python3
"""How long the command line takes to answer without doing any work: ``seqlab --help``, ``--version``
and an argument error, against a bare ``python -c pass`` and ``import torch`` (medians of --runs).

Usage: python scripts/bench/startup_time.py [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "seqlab --help": [sys.executable, "-m", "seqlab", "--help"],
    "seqlab --version": [sys.executable, "-m", "seqlab", "--version"],
    "seqlab train (an argument error)": [sys.executable, "-m", "seqlab", "train"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, cwd=ROOT)
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name:<34} {statistics.median(values):6.3f} s   (runs: {', '.join(f'{v:.3f}' for v in values)})")


if __name__ == "__main__":
    main()
