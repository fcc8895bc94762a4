#!/usr/bin/env python3
"""Load on ``seqlab serve`` over loopback: 1, 8 and 64 concurrent clients, each sending one sentence per
request (pre-tokenised CoNLL sentences, ``{"tokens": [[...]]}``, keep-alive connections), against the
offline throughput of ``seqlab predict`` on the same sentences.

The server runs in its own processes; the clients are asyncio connections of this one. Each level sends
at most ``--requests`` requests and stops after ``--seconds``; the server is stopped at the end. Offline
``seqlab predict`` runs before and after each level (the machine's speed drifts; each level is compared
with the mean of the two runs around it). Prints, per level: sentences/s, p50/p99 latency, the offline
sentences/s and the ratio.

``--mixed N``: instead, the largest request the default limits allow (256 sentences of 1,000 tokens,
``nbest`` 100, ``probs``) is sent again and again by one client while another sends 1-token requests for
N seconds; prints the small requests' p50/p99/largest latency (and the large ones').

Usage: python scripts/bench/bench_serve.py --model runs/conll2003_fast [--data ../shared/data/conll2003/test.txt]
                                     [--clients 1 8 64] [--requests 2000] [--seconds 60] [--max-batch 64] [--max-wait-ms 5] [--mixed 60]
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqlab.data.readers import iter_sentences  # noqa: E402
from seqlab.tagger.bundle import load_bundle  # noqa: E402


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
    """``clients`` keep-alive connections send bodies in turn until ``requests`` are answered or
    ``seconds`` pass: asyncio streams with the request bytes built in advance, so the load generator
    takes little of the CPU it shares with the server."""
    return asyncio.run(_load(port, bodies, clients, requests, seconds))


async def _load(port: int, bodies: list[bytes], clients: int, requests: int, seconds: float) -> dict[str, float]:
    head = b"POST /v1/tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    messages = [head % len(body) + body for body in bodies]
    taken = failures = 0
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    async def client() -> None:
        nonlocal taken, failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop_at and taken < requests:
                message = messages[taken % len(messages)]
                taken += 1
                began = time.perf_counter()
                writer.write(message)
                header = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line[15:]) for line in header.split(b"\r\n") if line[:15].lower() == b"content-length:")
                await reader.readexactly(length)
                if header.split(b" ", 2)[1] == b"200":
                    latencies.append(time.perf_counter() - began)
                else:
                    failures += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "sentences_per_s": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "answered": len(latencies),
        "failed": failures,
        "seconds": wall,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def decoding_process(pid: int) -> int | None:
    """The server's decoding process (its child started by multiprocessing's spawn), if found."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return next(int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes())
    except (OSError, StopIteration):
        return None


def write_input(sentences: list[tuple[str, ...]]) -> Path:
    """The sentences as the JSONL file ``seqlab predict`` reads."""
    path = ROOT / "runs" / "bench_serve_input.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"tokens": list(tokens)}) + "\n" for tokens in sentences), encoding="utf-8")
    return path


def offline(model: str, path: Path) -> float:
    """``seqlab predict``'s own sentences/s on ``path`` (from its log line: model loading excluded)."""
    done = subprocess.run([sys.executable, "-m", "seqlab", "predict", "--model", model, "--input", str(path), "--input-format", "jsonl", "--format", "jsonl"],
                          capture_output=True, text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    found = re.search(r"tagged (\d+) sentences? in ([\d.]+)s", done.stderr)
    return int(found.group(1)) / float(found.group(2))


def mixed(port: int, seconds: float) -> None:
    """Small requests beside the largest one, from two threads; their latencies."""
    import threading

    big = json.dumps({"tokens": [["a"] * 1000] * 256, "nbest": 100, "probs": True}, separators=(",", ":")).encode()  # just under 1 MiB
    small = json.dumps({"tokens": [["apple"]]}).encode()
    stop, timings = threading.Event(), {"small": [], "large": []}

    def send(name: str, body: bytes) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while not stop.is_set():
            began = time.perf_counter()
            connection.request("POST", "/v1/tag", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
            timings[name].append(time.perf_counter() - began)

    threads = [threading.Thread(target=send, args=("large", big)), threading.Thread(target=send, args=("small", small))]
    threads[0].start()
    time.sleep(1.0)
    threads[1].start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    for name, values in timings.items():
        values.sort()
        if values:
            print(f"{name:5} requests: {len(values):5}  p50 {1000 * statistics.median(values):9.1f} ms  "
                  f"p99 {1000 * values[min(len(values) - 1, int(0.99 * len(values)))]:9.1f} ms  largest {1000 * values[-1]:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "conll2003" / "test.txt"))
    parser.add_argument("--format", default="conll", help="the data file's format")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=1, help="the server's decoding threads")
    parser.add_argument("--mixed", type=float, metavar="SECONDS", help="small requests beside the largest one for this long, instead of the levels")
    args = parser.parse_args()
    data = load_bundle(args.model).config.data
    sentences = [s.tokens for s in iter_sentences(args.data, data, require_tags=False, fmt=args.format) if s.tokens]
    bodies = [json.dumps({"tokens": [list(tokens)]}).encode() for tokens in sentences]
    path = write_input(sentences)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "seqlab", "-q", "serve", "--model", args.model, "--port", str(port), "--max-batch", str(args.max_batch),
         "--max-wait-ms", str(args.max_wait_ms), "--threads", str(args.threads)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_ready(port, server)
        load(port, bodies[:50], 4, 200, 10.0)  # warm-up: first-call costs out of the figures
        if args.mixed is not None:
            mixed(port, args.mixed)
            return
        print(f"{len(sentences)} sentences of {args.data}; server --max-batch {args.max_batch} --max-wait-ms {args.max_wait_ms} "
              f"--threads {args.threads}; {os.cpu_count()} CPUs; offline = seqlab predict on the same sentences (default threads), "
              "run before and after each level (the server idle)")
        print("CPU: cores busy during the level (HTTP process, decoding process, this script's clients)")
        print(f"{'clients':>7} {'sentences/s':>12} {'offline':>8} {'x offline':>10} {'p50 ms':>8} {'p99 ms':>8} {'answered':>9} {'failed':>7} "
              f"{'seconds':>8} {'CPU http/decode/clients':>24}")
        decoder = decoding_process(server.pid)
        before = offline(args.model, path)
        for clients in args.clients:
            pids = (server.pid, decoder or -1, os.getpid())
            start = [cpu_seconds(pid) for pid in pids]
            figures = load(port, bodies, clients, args.requests, args.seconds)
            busy = "/".join(f"{(cpu_seconds(pid) - was) / figures['seconds']:.2f}" for pid, was in zip(pids, start))
            after = offline(args.model, path)
            rate = (before + after) / 2
            print(f"{clients:>7} {figures['sentences_per_s']:>12.1f} {rate:>8.1f} {figures['sentences_per_s'] / rate:>10.2f} {figures['p50_ms']:>8.1f} "
                  f"{figures['p99_ms']:>8.1f} {figures['answered']:>9} {figures['failed']:>7} {figures['seconds']:>8.1f} {busy:>24}", flush=True)
            before = after
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
