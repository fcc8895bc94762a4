"""How fast the annotation loop is on this machine: one retraining on the answers so far plus re-scoring
the whole pool, and how long the page's actions take while a retraining runs.

    python scripts/bench/bench_annotate.py [--pool ../shared/data/conll2003/train.txt] [--answers 200] [--seconds 240]

1. A store over the pool (tags ignored) gets ``--answers`` gold answers; the trainer's own step
   (``seqlab.annotate.trainer.Worker.step``: retrain warm on the answers, then score every pool sentence)
   is timed, cold (the first model) and warm (one more round after 20 more answers).
2. ``seqlab annotate`` is started on the same store with ``--retrain-every`` set so that the next answer
   starts a retraining; while the trainer process trains, a client does page actions in a loop (next,
   answer, state, sentence) and the latency of each is recorded: p50, p99 and the largest, in ms.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from seqlab.annotate.learner import tags_to_spans  # noqa: E402
from seqlab.annotate.pool import read_pool  # noqa: E402
from seqlab.annotate.store import Store  # noqa: E402
from seqlab.annotate.trainer import Session, Worker  # noqa: E402
from seqlab.cli.annotate import ANNOTATE_DEFAULTS  # noqa: E402
from seqlab.config.settings import load_config  # noqa: E402
from seqlab.data.readers import read_corpus  # noqa: E402
from seqlab.train.checkpoint import file_fingerprint  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def answer_gold(store: Store, gold: dict, ids: list[int], who: str = "bench") -> None:
    for k in ids:
        store.answer(uuid.uuid4().hex, k, who, "accept", gold[k], None)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(base: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", default=str(ROOT.parent / "shared" / "data" / "conll2003" / "train.txt"))
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=240, help="time page actions for at most this long (or until two retrainings ended)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the trainer")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    config = load_config(None, list(ANNOTATE_DEFAULTS))
    work = Path(tempfile.mkdtemp(prefix="bench_annotate."))
    pool = read_pool(args.pool, config.data)
    labelled = read_corpus(args.pool, config.data)
    assert [s.tokens for s in labelled if s.tokens] == [p.tokens for p in pool]
    from seqlab.data.schemes import convert

    gold = {p.id: tags_to_spans(convert(s.tags or (), "bio")) for p, s in zip(pool, labelled)}
    labels = sorted({label for spans in gold.values() for _, _, label in spans})
    store = Store(work / "a.sqlite")
    store.create(pool, labels, args.pool, file_fingerprint(args.pool))
    rng = random.Random(1)
    order = list(gold)
    rng.shuffle(order)
    answer_gold(store, gold, order[: args.answers])
    worker = Worker(Session(str(store.path), str(work / "models"), config, "mnlp", args.answers))
    began = time.perf_counter()
    worker.step()
    cold = time.perf_counter() - began
    answer_gold(store, gold, order[args.answers : args.answers + 20])
    worker.session = Session(str(store.path), str(work / "models"), config, "mnlp", 20)
    began = time.perf_counter()
    worker.step()
    warm = time.perf_counter() - began
    model = store.models()[-1]
    print(f"pool {len(pool):,} sentences, {args.answers} answers: first retraining + re-scoring {cold:.1f} s; "
          f"with 20 more answers, warm from it: {warm:.1f} s (of which training {model['seconds']:.1f} s)")

    port = free_port()
    answered = len(store.current())
    server = subprocess.Popen([sys.executable, "-m", "seqlab", "-q", "annotate", "--source", args.pool, "--db", str(store.path), "--labels", ",".join(labels),
                               "--retrain-every", "1", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                call(base, "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        versions = len(store.models())
        timings: dict[str, list[float]] = {"next": [], "answer": [], "state": [], "sentence": []}
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            began = time.perf_counter()
            shown = call(base, "/api/next?annotator=bench")["sentence"]
            timings["next"].append(time.perf_counter() - began)
            began = time.perf_counter()
            call(base, "/api/answer", {"key": uuid.uuid4().hex, "annotator": "bench", "sentence": shown["id"], "action": "accept",
                                       "spans": [list(s) for s in gold[shown["id"]]]})
            timings["answer"].append(time.perf_counter() - began)
            for name, path in (("state", "/api/state?annotator=bench"), ("sentence", f"/api/sentence/{shown['id']}")):
                began = time.perf_counter()
                call(base, path)
                timings[name].append(time.perf_counter() - began)
            if len(store.models()) > versions + 1:
                break  # a whole retraining ran under these actions
        every = sorted(t for values in timings.values() for t in values)
        p99 = every[min(len(every) - 1, int(0.99 * len(every)))]
        print(f"page actions while retraining ({len(every)} requests, {answered}+ answers, "
              f"{len(store.models()) - versions} retraining(s) finished meanwhile): p50 {1000 * statistics.median(every):.1f} ms, "
              f"p99 {1000 * p99:.1f} ms, max {1000 * every[-1]:.1f} ms")
        for name, values in timings.items():
            values.sort()
            print(f"  {name:9} p50 {1000 * statistics.median(values):6.1f} ms  p99 {1000 * values[min(len(values) - 1, int(0.99 * len(values)))]:6.1f} ms")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
