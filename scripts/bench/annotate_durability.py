"""kill -9 trials against ``seqlab annotate``: answers stream in while the server or its trainer process
is killed at a random moment; after each trial every acknowledged answer must be in the store, SQLite's
integrity check must pass, and a restarted server must show the annotator the sentence they were on
(or the next one, when that answer was stored just before the kill).

    python scripts/bench/annotate_durability.py [--trials 24] [--seed 1]

Half the trials kill the server, half the trainer (then the server, which must have restarted it and
kept answering in between). Prints one line per trial and a summary; exits 1 on any loss.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def call(base: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(db: Path, source: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "seqlab", "-q", "annotate", "--source", str(source), "--db", str(db), "--labels", "FRUIT,ORG", "--port", str(port),
         "--retrain-every", "5", "--set", "model.embedding.dim=16", "--set", "model.encoder.hidden=16", "--set", "model.embedding.char.kind=none",
         "--set", "train.epochs=2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(2400):  # up to 2 minutes: a busy machine starts it slowly
        try:
            call(base, "/healthz")
            return process, base
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the server stopped: {process.stderr.read()[-1000:]}")
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="annotate_durability."))
    source = work / "source.txt"
    blocks = (ROOT / "data" / "apple" / "train.conll").read_text(encoding="utf-8").split("\n\n")
    lines = list(dict.fromkeys(" ".join(row.split("\t")[0] for row in block.splitlines() if row.strip()) for block in blocks))
    source.write_text("\n".join(line for line in lines if line) + "\n", encoding="utf-8")
    db = work / "a.sqlite"
    acknowledged: list[str] = []
    failures = 0
    for trial in range(args.trials):
        target = "trainer" if trial % 2 else "server"
        process, base = start(db, source)
        state = {"shown": None, "stored": set()}
        stop = threading.Event()

        def stream() -> None:
            while not stop.is_set():
                try:
                    shown = call(base, "/api/next?annotator=ann")["sentence"]
                    state["shown"] = shown["id"]
                    key = uuid.uuid4().hex
                    call(base, "/api/answer", {"key": key, "annotator": "ann", "sentence": shown["id"], "action": "accept", "spans": []})
                except OSError:
                    return
                acknowledged.append(key)
                state["stored"].add(shown["id"])
                time.sleep(rng.uniform(0.0, 0.05))

        thread = threading.Thread(target=stream)
        thread.start()
        time.sleep(rng.uniform(0.3, 2.5))
        restarted = None
        if target == "trainer":
            killed = children(process.pid)
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and children(process.pid) in ([], killed):
                time.sleep(0.1)
            restarted = children(process.pid) not in ([], killed)
            time.sleep(rng.uniform(0.2, 1.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        stop.set()
        thread.join()
        with sqlite3.connect(db) as raw:
            keys = {row[0] for row in raw.execute("SELECT key FROM answers")}
            integrity = raw.execute("PRAGMA integrity_check").fetchone()[0]
        lost = [k for k in acknowledged if k not in keys]
        process, base = start(db, source)
        resumed = call(base, "/api/next?annotator=ann")["sentence"]["id"]
        process.send_signal(signal.SIGKILL)
        process.wait()
        with sqlite3.connect(db) as raw:
            done = {row[0] for row in raw.execute("SELECT sentence FROM answers")}
        where = state["shown"] not in done and resumed == state["shown"] or state["shown"] in done and resumed not in done
        ok = not lost and integrity == "ok" and where and restarted is not False
        failures += not ok
        print(f"trial {trial + 1:2d} kill {target:7}: {len(acknowledged):4d} answers acknowledged so far, lost {len(lost)}, integrity {integrity}, "
              f"resumed on {'the sentence it was on' if resumed == state['shown'] else 'the next sentence'}{'' if restarted is None else ', trainer restarted' if restarted else ', trainer NOT restarted'}"
              f"{'' if ok else '  <-- FAILED'}")
    print(f"{args.trials} trials, {len(acknowledged)} acknowledged answers, {failures} failed")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
