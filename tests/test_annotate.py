"""seqlab annotate end to end, over HTTP against the real server: answers retrain the model in the
background and the queue follows its scores, the export trains as is, agreement between annotators,
the token, 1,000 fuzzed requests, 8 concurrent annotators, and kill -9 of the server and the trainer."""
from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.annotate.learner import tags_to_spans
from seqlab.annotate.store import Store
from tests.test_serve import Client, free_port

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--set", "model.embedding.dim=16", "--set", "model.encoder.hidden=16", "--set", "model.embedding.char.kind=none", "--set", "train.epochs=2"]
def apple_sentences(count: int) -> dict[tuple[str, ...], list[str]]:
    """The first ``count`` distinct sentences of the apple training set with their tags."""
    found: dict[tuple[str, ...], list[str]] = {}
    for block in (ROOT / "data" / "apple" / "train.conll").read_text(encoding="utf-8").split("\n\n"):
        rows = [line.split("\t") for line in block.splitlines() if line.strip()]
        if rows and len(found) < count:
            found.setdefault(tuple(r[0] for r in rows), [r[-1] for r in rows])
    return found


GOLD = apple_sentences(300)


def source(path: Path) -> Path:
    path.write_text("".join(" ".join(words) + "\n" for words in GOLD), encoding="utf-8")
    return path


def seqlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "seqlab", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


class Annotator(Client):
    def get(self, path: str) -> dict:
        status, data = self.request("GET", path)
        assert status == 200, data
        return data

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        return self.request("POST", path, json.dumps(body).encode())

    def answer_next(self, who: str, key: str | None = None) -> dict | None:
        sentence = self.get(f"/api/next?annotator={who}")["sentence"]
        if sentence is None:
            return None
        spans = [list(s) for s in tags_to_spans(GOLD[tuple(sentence["tokens"])])]
        status, data = self.post("/api/answer", {"key": key or uuid.uuid4().hex, "annotator": who, "sentence": sentence["id"], "action": "accept", "spans": spans})
        assert status == 200, data
        return sentence


@contextlib.contextmanager
def running(db: Path, src: Path, *options: str, host: str = "127.0.0.1"):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "seqlab", "annotate", "--source", str(src), "--db", str(db), "--labels", "FRUIT,ORG", "--host", host, "--port", str(port), *SMALL, *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    client = Annotator(port)
    client.process = process
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                if client.request("GET", "/healthz")[0] in (200, 401):
                    break
            if process.poll() is not None:
                raise AssertionError(process.stderr.read()[-2000:])
            time.sleep(0.1)
        yield client
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        if process.poll() is None:
            process.kill()


def wait_for(check, seconds: float = 180.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_answers_retrain_in_the_background_and_the_queue_follows_the_new_scores(tmp_path: Path):
    db = tmp_path / "a.sqlite"
    with running(db, source(tmp_path / "src.txt"), "--retrain-every", "6") as client:
        assert client.get("/api/state?annotator=ann")["model"] is None
        for _ in range(6):
            client.answer_next("ann")
        state = wait_for(lambda: (s := client.get("/api/state?annotator=ann"))["model"] and s)
        assert state["model"]["version"] == 1 and state["model"]["answers"] == 6 and state["training"]
        wait_for(lambda: Store(db).suggestion_version() == 1)
        shown = client.get("/api/next?annotator=ann")["sentence"]
        scores = Store(db).suggestions()
        answered = Store(db).answered()
        best = max((score, -k) for k, (_, score, _) in scores.items() if k not in answered)
        assert shown["id"] == -best[1] and shown["suggestion"]["model"] == 1  # the least sure unanswered sentence, pre-annotated
        assert all(len(span) == 4 and 0 <= span[3] <= 1 for span in shown["suggestion"]["spans"])
        assert (Path(f"{db}.models") / "v1" / "weights.safetensors").is_file()


def test_the_export_is_a_training_file_with_the_answers_tokens_and_spans(tmp_path: Path):
    db = tmp_path / "a.sqlite"
    with running(db, source(tmp_path / "src.txt"), "--retrain-every", "1000") as client:
        answered = [client.answer_next("ann") for _ in range(8)]
    for fmt in ("conll", "jsonl"):
        out = tmp_path / f"export.{fmt}"
        done = seqlab("annotate", "export", "--db", str(db), "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        from seqlab.config.settings import load_config
        from seqlab.data.readers import read_corpus

        config = load_config(None, [f"data.format={fmt}", "data.separator=tab"] if fmt == "conll" else ["data.format=jsonl"])
        read = read_corpus(out, config.data)
        assert sorted((s.tokens, s.tags) for s in read) == sorted((tuple(a["tokens"]), tuple(GOLD[tuple(a["tokens"])])) for a in answered)
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  train: {tmp_path / 'export.conll'}\n  separator: tab\n", encoding="utf-8")
    done = seqlab("train", "--config", str(config), *SMALL, "--set", "train.epochs=1", "--output", str(tmp_path / "model"))
    assert done.returncode == 0, done.stderr


def test_stats_count_answers_and_measure_agreement_between_two_annotators(tmp_path: Path):
    db = tmp_path / "a.sqlite"
    with running(db, source(tmp_path / "src.txt"), "--retrain-every", "1000", "--per-sentence", "2") as client:
        first = client.answer_next("ann")
        second = client.get("/api/next?annotator=bob")["sentence"]
        assert second["id"] == first["id"]  # asked of a second annotator
        status, _ = client.post("/api/answer", {"key": uuid.uuid4().hex, "annotator": "bob", "sentence": second["id"], "action": "accept", "spans": []})
        assert status == 200
    done = seqlab("annotate", "stats", "--db", str(db))
    assert done.returncode == 0, done.stderr
    gold_spans = len(tags_to_spans(GOLD[tuple(first["tokens"])]))
    assert "ann: 1 accepted" in done.stdout and "bob: 1 accepted" in done.stdout
    expected = 1.0 if gold_spans == 0 else 0.0
    assert f"agreement ann / bob: span F1 {expected:.4f} on 1 sentences" in done.stdout


def test_off_loopback_every_request_needs_the_token(tmp_path: Path):
    with running(tmp_path / "a.sqlite", source(tmp_path / "src.txt"), "--retrain-every", "1000", host="0.0.0.0") as client:
        assert client.request("GET", "/api/state")[0] == 401 and client.request("GET", "/")[0] == 401
        assert client.post("/api/answer", {})[0] == 401
        line = wait_for(lambda: next((l for l in iter(client.process.stdout.readline, "") if "token=" in l), None), 30)
        token = line.split("token=")[1].split()[0]
        assert client.request("GET", f"/api/state?token={token}")[0] == 200
        assert client.request("GET", f"/?token={token}")[0] == 200
    with running(tmp_path / "b.sqlite", source(tmp_path / "src.txt"), "--retrain-every", "1000", "--token", "s3cret-token") as client:
        assert client.request("GET", "/api/state")[0] == 401 and client.request("GET", "/api/state?token=s3cret-token")[0] == 200


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**13) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["key", "annotator", "sentence", "action", "spans", "model", "x"]), children, max_size=6),
    max_leaves=12,
)


def test_a_thousand_fuzzed_requests_get_4xx_and_write_nothing(tmp_path: Path):
    db = tmp_path / "a.sqlite"
    with running(db, source(tmp_path / "src.txt"), "--retrain-every", "1000") as client:
        seen = []

        @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(st.sampled_from(["/api/answer", "/api/undo"]), st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=100)))
        def fuzz(path: str, body: bytes):
            status, answer = client.request("POST", path, body)
            assert 400 <= status < 500 or (path == "/api/undo" and status == 200 and answer == {"sentence": None}), (body, answer)
            seen.append(status)

        fuzz()
        for path in ("/api/sentence/0", "/api/sentence/abc", "/api/next?annotator=%00", "/nowhere"):
            assert 400 <= client.request("GET", path)[0] < 500
    assert len(seen) >= 1000
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT COUNT(*) FROM answers WHERE action != 'undo'").fetchone()[0] == 0


def test_eight_concurrent_annotators_each_answer_stored_exactly_once(tmp_path: Path):
    db = tmp_path / "a.sqlite"
    with running(db, source(tmp_path / "src.txt"), "--retrain-every", "1000") as client:
        done: dict[str, list[int]] = {}

        def work(who: str) -> None:
            mine = []
            for _ in range(6):
                key = uuid.uuid4().hex
                sentence = client.answer_next(who, key)
                status, data = client.post("/api/answer", {"key": key, "annotator": who, "sentence": sentence["id"], "action": "accept", "spans": []})
                assert status == 200 and data["stored"] is False  # the retry of the same answer stored nothing
                mine.append(sentence["id"])
            done[who] = mine

        threads = [threading.Thread(target=work, args=(f"ann{k}",)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    every = [s for ids in done.values() for s in ids]
    assert len(done) == 8 and len(every) == 48 and len(set(every)) == 48  # no sentence given to two annotators
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 48


def stream(client: Annotator, who: str, acknowledged: list[str], stop: threading.Event) -> None:
    """Answer sentence after sentence until ``stop`` or the server goes away; keep each acknowledged key."""
    while not stop.is_set():
        key = uuid.uuid4().hex
        try:
            if client.answer_next(who, key) is None:
                return
        except (OSError, AssertionError):
            return
        acknowledged.append(key)
        time.sleep(0.03)


def children_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def test_kill_9_of_the_server_or_the_trainer_loses_no_committed_answer(tmp_path: Path):
    """A few of the trials scripts/bench/annotate_durability.py runs at scale: answers stream in while
    the trainer or the server is killed at a random moment."""
    db = tmp_path / "a.sqlite"
    src = source(tmp_path / "src.txt")
    acknowledged: list[str] = []
    rng = random.Random(5)
    for trial, target in enumerate(["server", "trainer", "server"]):
        with running(db, src, "--retrain-every", "4") as client:
            stop = threading.Event()
            streamer = threading.Thread(target=stream, args=(client, f"ann{trial}", acknowledged, stop))
            streamer.start()
            time.sleep(rng.uniform(0.5, 2.0))
            if target == "trainer":
                killed = children_of(client.process.pid)
                for pid in killed:
                    os.kill(int(pid), signal.SIGKILL)
                wait_for(lambda: children_of(client.process.pid) not in ([], killed), 30)  # restarted
                time.sleep(rng.uniform(0.2, 1.0))
                assert streamer.is_alive()  # the page went on answering throughout
            trainers = children_of(client.process.pid)
            client.process.send_signal(signal.SIGKILL)
            client.process.wait()
            stop.set()
            streamer.join()
            wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in trainers), 30)  # no trainer outlives its server
        with sqlite3.connect(db) as raw:
            keys = {row[0] for row in raw.execute("SELECT key FROM answers")}
        assert acknowledged and set(acknowledged) <= keys and Store(db).integrity() == "ok"
    with running(db, src, "--retrain-every", "1000") as client:  # a new server resumes the store
        answered = client.get("/api/state?annotator=ann0")["answered"]
        assert answered == len(keys) >= len(acknowledged)  # every stored answer counts (one killed mid-reply may be stored unacknowledged)


def test_starting_from_a_model_its_suggestions_come_first_and_retraining_grows_its_vocabulary(tmp_path: Path):
    from seqlab.config.settings import load_config
    from seqlab.tagger.bundle import load_bundle
    from seqlab.train.run import train
    from tests.conftest import tiny_overrides, tiny_sentences, write_conll

    data = {name: write_conll(tmp_path / f"{name}.conll", tiny_sentences(40, seed)) for name, seed in (("train", 1), ("dev", 2), ("test", 3))}
    start = train(load_config(None, [*tiny_overrides(data, tmp_path / "start"), "train.epochs=2"]), progress=False).output_dir
    db = tmp_path / "a.sqlite"
    with running(db, source(tmp_path / "src.txt"), "--model", str(start), "--retrain-every", "3", "--labels", "FRUIT,ORG") as client:
        wait_for(lambda: Store(db).suggestion_version() == 1)
        first = client.get("/api/next?annotator=ann")["sentence"]
        assert first["suggestion"]["model"] == 1
        for _ in range(3):
            client.answer_next("ann")
        wait_for(lambda: Store(db).suggestion_version() == 2)
    models = Path(f"{db}.models")
    before, grown = load_bundle(start).vocabs.words, load_bundle(models / "v1").vocabs.words
    assert grown.items[: len(before)] == before.items and len(grown) > len(before)  # every known word keeps its id
    assert load_bundle(models / "v2").vocabs.words.items == grown.items
