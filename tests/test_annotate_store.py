"""The annotation store, what a request may hold, and the queue: history kept, retries stored once,
undo, every refused request with its own message, the queue's order and who holds which sentence."""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from seqlab.annotate.learner import spans_to_tags, tags_to_spans
from seqlab.annotate.pool import joined, read_pool
from seqlab.annotate.queue import Queue
from seqlab.annotate.requests import parse_answer, parse_name, parse_undo
from seqlab.annotate.store import PoolSentence, Store, StoreError
from seqlab.config.settings import DataConfig
from seqlab.serve.requests import RequestError

LABELS = ["FRUIT", "ORG"]


def pool(count: int = 6) -> list[PoolSentence]:
    out = []
    for k in range(1, count + 1):
        tokens = ("I", "eat", f"apple{k}", ".")
        text, offsets = joined(tokens)
        out.append(PoolSentence(k, text, tokens, offsets))
    return out


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "a.sqlite")
    store.create(pool(), LABELS, "source.txt", "f" * 64)
    return store


def test_answers_keep_their_history_a_retry_is_stored_once_and_undo_takes_back_the_latest(store: Store):
    assert store.answer("key-00001", 1, "ann", "accept", [(2, 3, "FRUIT")], None)
    assert not store.answer("key-00001", 1, "ann", "accept", [(2, 3, "FRUIT")], None)  # the same request again
    assert store.answer("key-00002", 1, "ann", "accept", [(2, 3, "ORG")], 1)  # re-answered: the latest counts
    assert store.answer("key-00003", 2, "ann", "skip", [], 1)
    assert store.labelled() == {1: ((2, 3, "ORG"),)}
    assert [h["action"] for h in store.history(1)] == ["accept", "accept"]
    assert store.undo("key-00004", "ann") == 2 and store.undo("key-00004", "ann") is None  # undo is a request like the others
    assert store.answered() == {1: {"ann"}}
    assert store.undo("key-00005", "ann") == 1 and store.answered() == {} and store.labelled() == {}
    assert store.undo("key-00006", "ann") is None
    assert [h["action"] for h in store.history(1)] == ["accept", "accept", "undo"]
    assert store.integrity() == "ok"


def test_a_store_refuses_another_source_other_labels_and_a_file_that_is_not_sqlite(store: Store, tmp_path: Path):
    store.create(pool(), LABELS, "source.txt", "f" * 64)  # the same: continues
    with pytest.raises(StoreError, match="holds the pool of another source"):
        store.create(pool(), LABELS, "other.txt", "0" * 64)
    with pytest.raises(StoreError, match="was created with labels FRUIT,ORG, not PER"):
        store.create(pool(), ["PER"], "source.txt", "f" * 64)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="not an annotation store"):
        Store(junk).create(pool(), LABELS, "s", "f")


def test_the_store_is_wal_with_full_synchronous_writes(store: Store):
    from seqlab.annotate.store import connect

    with sqlite3.connect(store.path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection = connect(store.path)
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    connection.close()


def test_spans_and_bio_tags_convert_both_ways():
    spans = ((0, 2, "ORG"), (3, 4, "FRUIT"))
    tags = spans_to_tags(5, spans)
    assert tags == ("B-ORG", "I-ORG", "O", "B-FRUIT", "O") and tags_to_spans(tags) == spans


def test_a_raw_text_pool_keeps_each_sentence_and_its_offsets(tmp_path: Path):
    source = tmp_path / "raw.txt"
    source.write_text("I eat an apple. Apple shares rose!\n\n  Pears too.\n", encoding="utf-8")
    found = read_pool(source, DataConfig())
    assert [s.tokens for s in found] == [("I", "eat", "an", "apple", "."), ("Apple", "shares", "rose", "!"), ("Pears", "too", ".")]
    assert all(s.text[a:b] == t for s in found for t, (a, b) in zip(s.tokens, s.offsets))
    assert [s.id for s in found] == [1, 2, 3]


GOOD = {"key": "k-0000001", "annotator": "ann", "sentence": 1, "action": "accept", "spans": [[0, 1, "ORG"], [2, 4, "FRUIT"]], "model": None}


def body(**change) -> bytes:
    data = {**GOOD, **change}
    return json.dumps({k: v for k, v in data.items() if v != "DROP"}).encode()


@pytest.mark.parametrize(("raw", "status", "message"), [
    (b"{", 400, "expected a JSON object in UTF-8"),
    (b"\xff\xfe", 400, "expected a JSON object in UTF-8"),
    (b"[1]", 400, "expected a JSON object"),
    (body(extra=1), 422, "unknown field 'extra'"),
    (body(key="DROP"), 422, "key: required"),
    (body(key="short"), 422, "key: expected 8 to 64 letters"),
    (body(annotator=""), 422, "annotator: expected a name"),
    (body(annotator="a\u0000b"), 422, "annotator: control, format"),
    (body(annotator="\ud800x"), 422, "annotator: control, format"),
    (body(annotator=" ann"), 422, "spaces at either end"),
    (body(sentence=True), 422, "sentence: expected a whole number"),
    (body(sentence=0), 422, "sentence: expected a whole number"),
    (body(action="maybe"), 422, "action: expected 'accept' or 'skip'"),
    (body(spans={}), 422, "spans: expected a list"),
    (body(spans=[[0, 1]]), 422, "each span is [start, end, label]"),
    (body(spans=[[0, 1, "PER"]]), 422, "label must be one of FRUIT, ORG"),
    (body(spans=[[1, 1, "ORG"]]), 422, "start < end"),
    (body(spans=[[2, 4, "ORG"], [0, 1, "ORG"]]), 422, "sorted and not overlap"),
    (body(spans=[[0, 3, "ORG"], [2, 4, "ORG"]]), 422, "sorted and not overlap"),
    (body(spans=[[0, 1.5, "ORG"]]), 422, "spans: end: expected a whole number"),
    (body(action="skip"), 422, "a skip holds no span"),
    (body(model=-1), 422, "model: expected a whole number"),
])
def test_every_bad_answer_has_its_own_message(raw: bytes, status: int, message: str):
    with pytest.raises(RequestError, match=re.escape(message)) as caught:
        parse_answer(raw, LABELS)
    assert caught.value.status == status


def test_good_requests_parse():
    parsed = parse_answer(body(), LABELS)
    assert parsed.spans == ((0, 1, "ORG"), (2, 4, "FRUIT")) and parsed.model is None
    assert parse_undo(b'{"key": "k-0000002", "annotator": "ann"}').annotator == "ann"
    assert parse_name("Ann Lee") == "Ann Lee"


def test_the_queue_asks_seed_sentences_first_then_by_score_and_no_two_annotators_hold_one(store: Store):
    queue = Queue(store, first=[4, 2], per_sentence=1, seed=3)
    assert queue.next_for("a") == 4 and queue.next_for("a") == 4  # held: asked again until answered (a reload resumes)
    assert queue.next_for("b") == 2  # a holds 4
    store.answer("key-a-0001", 4, "a", "accept", [], None)
    queue.release(4, "a")
    held = queue.next_for("a")
    assert held not in (2, 4)
    store.set_suggestions(1, [(k, float(k), ()) for k in range(1, 7)])  # a model: highest score first
    fresh = Queue(store, per_sentence=1)  # as after a restart: the holds come from the store
    free = [k for k in (6, 5, 3, 1) if k != held]
    assert fresh.next_for("a") == held and fresh.next_for("b") == 2
    assert fresh.next_for("c") == free[0] and fresh.next_for("d") == free[1]
    assert fresh.suggestion(6) == (1, 6.0, ())


def test_the_stored_order_is_the_strategies_ranking_and_a_suggestion_is_read_alone(store: Store):
    import random

    from seqlab.annotate.strategies import ranked

    rng = random.Random(4)
    scores = {k: rng.choice([0.25, 0.5, rng.random(), -rng.random()]) for k in range(1, 7)}  # ties included
    store.set_suggestions(3, [(k, score, ((0, 1, "PER", 0.75),) if k == 2 else ()) for k, score in scores.items()])
    assert store.suggestion_order() == ranked(scores)
    assert store.suggestions(2) == {2: (3, scores[2], ((0, 1, "PER", 0.75),))}
    assert store.suggestions(2)[2] == store.suggestions()[2]


def test_the_queue_keeps_the_current_answers_as_the_store_computes_them(store: Store):
    import random

    rng = random.Random(7)
    queue = Queue(store, per_sentence=2)
    for k in range(120):
        annotator = rng.choice("abc")
        if rng.random() < 0.3:
            store.undo(f"undo-{k:04d}", annotator)
        else:
            store.answer(f"key-{k:04d}", rng.randint(1, 6), annotator, rng.choice(["accept", "skip"]), [], None)
        if rng.random() < 0.4:  # read now and then, so that rows arrive one or several at a time
            assert queue.answered() == store.answered()
    assert queue.answered() == store.answered()
    assert Queue(store).answered() == store.answered()  # a fresh queue reads every row once


def test_with_two_per_sentence_a_sentence_is_asked_of_two_annotators_then_no_more(store: Store):
    queue = Queue(store, first=[1, 2, 3, 4, 5, 6], per_sentence=2)
    assert queue.next_for("a") == 1
    store.answer("key-a-0001", 1, "a", "accept", [], None)
    queue.release(1, "a")
    assert queue.next_for("b") == 1
    store.answer("key-b-0001", 1, "b", "accept", [], None)
    queue.release(1, "b")
    assert queue.next_for("c") == 2
