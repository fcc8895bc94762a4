#!/usr/bin/env python3
"""Load on ``seqlab serve`` over loopback: 1, 8 and 64 concurrent clients, each sending one sentence per
request (pre-tokenised CoNLL sentences, ``{"tokens": [[...]]}``, keep-alive connections), against the
offline throughput of ``seqlab predict`` on the same sentences.

The server runs in its own process; clients are threads of this one. Each level sends at most
``--requests`` requests and stops after ``--seconds``; the server is stopped at the end. Prints, per
level: sentences/s, p50/p99 latency, and the ratio to the offline sentences/s.

Usage: python scripts/bench_serve.py --model runs/conll2003_fast [--data ../shared/data/conll2003/test.txt]
                                     [--clients 1 8 64] [--requests 2000] [--seconds 60] [--max-batch 64] [--max-wait-ms 5]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqlab.bundle import load_bundle  # noqa: E402
from seqlab.readers import iter_sentences  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, limit: float = 120.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if process.poll() is not None:
            sys.exit(f"the server stopped: {process.stderr.read().decode()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("the server did not become ready")


def load(port: int, bodies: list[bytes], clients: int, requests: int, seconds: float) -> dict[str, float]:
    """``clients`` threads send bodies in turn until ``requests`` are answered or ``seconds`` pass."""
    lock = threading.Lock()
    taken = [0]
    latencies: list[float] = []
    failures = [0]
    stop_at = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                if taken[0] >= requests:
                    return
                body = bodies[taken[0] % len(bodies)]
                taken[0] += 1
            began = time.perf_counter()
            connection.request("POST", "/v1/tag", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - began
            with lock:
                if response.status == 200:
                    latencies.append(elapsed)
                else:
                    failures[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "sentences_per_s": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "answered": len(latencies),
        "failed": failures[0],
        "seconds": wall,
    }


def offline(model: str, data: str, fmt: str, count: int) -> float:
    """``seqlab predict``'s own sentences/s (its log line; model loading excluded) on the first ``count``
    sentences."""
    tmp = ROOT / "runs" / "bench_serve_input.jsonl"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    sentences = [s for _, s in zip(range(count), iter_sentences(data, load_bundle(model).config.data, require_tags=False, fmt=fmt))]
    tmp.write_text("".join(json.dumps({"tokens": list(s.tokens)}) + "\n" for s in sentences), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "seqlab", "predict", "--model", model, "--input", str(tmp), "--input-format", "jsonl", "--format", "jsonl"],
                          capture_output=True, text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    rate = re.search(r"([\d.e+]+) sentences/s", done.stderr)
    return float(rate.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "conll2003" / "test.txt"))
    parser.add_argument("--format", default="conll", help="the data file's format")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    args = parser.parse_args()
    data = load_bundle(args.model).config.data
    sentences = [s.tokens for s in iter_sentences(args.data, data, require_tags=False, fmt=args.format) if s.tokens]
    bodies = [json.dumps({"tokens": [list(tokens)]}).encode() for tokens in sentences]
    rate = offline(args.model, args.data, args.format, len(sentences))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "seqlab", "-q", "serve", "--model", args.model, "--port", str(port), "--max-batch", str(args.max_batch),
         "--max-wait-ms", str(args.max_wait_ms)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_ready(port, server)
        load(port, bodies[:50], 4, 200, 10.0)  # warm-up: first-call costs out of the figures
        print(f"{len(sentences)} sentences of {args.data}; offline seqlab predict: {rate:.1f} sentences/s; "
              f"server --max-batch {args.max_batch} --max-wait-ms {args.max_wait_ms}; {os.cpu_count()} CPUs")
        print(f"{'clients':>7} {'sentences/s':>12} {'x offline':>10} {'p50 ms':>8} {'p99 ms':>8} {'answered':>9} {'failed':>7} {'seconds':>8}")
        for clients in args.clients:
            figures = load(port, bodies, clients, args.requests, args.seconds)
            print(f"{clients:>7} {figures['sentences_per_s']:>12.1f} {figures['sentences_per_s'] / rate:>10.2f} {figures['p50_ms']:>8.1f} "
                  f"{figures['p99_ms']:>8.1f} {figures['answered']:>9} {figures['failed']:>7} {figures['seconds']:>8.1f}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
