"""The annotation store: one SQLite file (the standard library's ``sqlite3``) that holds the pool, every
answer with its history, the models trained on the answers and their suggestions.

    meta         key → value: the schema version, the labels, the source file and its sha256
    sentences    the pool: id, text, tokens and each token's character offsets in the text
    answers      append-only: one row per accept, skip or undo, with the annotator, the time, the model
                 version whose suggestion was shown, and a client-chosen key (a retried request stores
                 nothing twice); a sentence's current answer by an annotator is their latest row
    models       each model trained on the answers: version, directory, how many answers, dev F1
    suggestions  the latest model's spans and uncertainty score for each pool sentence
    holds        which annotator is working on which sentence, until when (a restarted server shows
                 each annotator the sentence they were on)

The file is in WAL mode with ``synchronous=FULL``, every answer is one transaction (``BEGIN IMMEDIATE``),
so a committed answer survives ``kill -9`` of any process at any moment. Each call opens its own
connection, so threads and processes (the page's requests, the trainer) share the file safely.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from seqlab.errors import DataError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sentences (id INTEGER PRIMARY KEY, text TEXT NOT NULL, tokens TEXT NOT NULL, offsets TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    sentence INTEGER NOT NULL REFERENCES sentences(id),
    annotator TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('accept', 'skip', 'undo')),
    spans TEXT NOT NULL,
    model INTEGER,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_sentence ON answers(sentence, annotator, id);
CREATE TABLE IF NOT EXISTS models (
    version INTEGER PRIMARY KEY, path TEXT NOT NULL, answers INTEGER NOT NULL, dev_f1 REAL, seconds REAL NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS suggestions (sentence INTEGER PRIMARY KEY REFERENCES sentences(id), model INTEGER NOT NULL, score REAL NOT NULL, spans TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS holds (sentence INTEGER PRIMARY KEY REFERENCES sentences(id), annotator TEXT NOT NULL, until REAL NOT NULL);
"""
CURRENT = """
SELECT a.* FROM answers a
WHERE a.id = (SELECT MAX(b.id) FROM answers b WHERE b.sentence = a.sentence AND b.annotator = a.annotator) AND a.action != 'undo'
"""
"""Each annotator's current answer to each sentence they answered (their latest row, unless an undo)."""

Span = tuple[int, int, str]
"""Tokens ``start`` to ``end`` (one past the last) labelled ``label``."""
Suggested = tuple[int, int, str, float]
"""A span a model predicts, with its confidence."""


@dataclass(frozen=True)
class PoolSentence:
    id: int
    text: str
    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]
    """Each token's ``(start, end)`` in ``text``."""


@dataclass(frozen=True)
class Answer:
    sentence: int
    annotator: str
    action: str
    """``accept`` or ``skip``."""
    spans: tuple[Span, ...]
    model: int | None
    created: float


class StoreError(DataError):
    """The store file cannot be used (another schema, another source, not SQLite)."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(path, None, message)


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, ``synchronous=FULL``."""
    connection = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA busy_timeout = 30000")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


class Store:
    """The annotation store at ``path`` (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _open(self, write: bool = False, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A connection; ``write``: inside one ``BEGIN IMMEDIATE`` transaction; ``durable=False``: its
        commit is not flushed to disk (WAL's ``synchronous=NORMAL``: a power loss may lose it, a killed
        process does not) — for holds, which a restart may lose without harm."""
        try:
            connection = connect(self.path)
        except sqlite3.DatabaseError as err:
            raise StoreError(self.path, f"not an annotation store ({err})") from None
        except sqlite3.Error as err:
            raise StoreError(self.path, f"cannot open ({err})") from None
        try:
            if not durable:
                connection.execute("PRAGMA synchronous = NORMAL")
            if write:
                connection.execute("BEGIN IMMEDIATE")
            yield connection
            if write:
                connection.execute("COMMIT")
        except BaseException:
            if write and connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    # -- creation ---------------------------------------------------------------------------------------

    def create(self, sentences: Sequence[PoolSentence], labels: Sequence[str], source: str, fingerprint: str) -> None:
        """Create the schema and fill the pool, or check that an existing store holds this same source
        and these labels (then nothing is written)."""
        try:
            with self._open(write=True) as db:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                if meta:
                    self._check(meta, labels, fingerprint)
                    return
                db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema", str(SCHEMA_VERSION)), ("labels", json.dumps(list(labels))), ("source", source), ("source_sha256", fingerprint),
                ])
                db.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?)", [
                    (s.id, s.text, json.dumps(s.tokens, ensure_ascii=False), json.dumps(s.offsets)) for s in sentences
                ])
        except sqlite3.DatabaseError as err:
            raise StoreError(self.path, f"not an annotation store ({err})") from None

    def _check(self, meta: dict[str, str], labels: Sequence[str], fingerprint: str) -> None:
        if meta.get("schema") != str(SCHEMA_VERSION):
            raise StoreError(self.path, f"schema version {meta.get('schema')}, this seqlab reads {SCHEMA_VERSION}")
        if meta.get("source_sha256") != fingerprint:
            raise StoreError(self.path, f"holds the pool of another source ({meta.get('source')}); use another --db")
        if labels and json.loads(meta["labels"]) != list(labels):
            raise StoreError(self.path, f"was created with labels {','.join(json.loads(meta['labels']))}, not {','.join(labels)}")

    def meta(self) -> dict[str, str]:
        try:
            with self._open() as db:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            raise StoreError(self.path, f"not an annotation store ({err})") from None
        if meta.get("schema") != str(SCHEMA_VERSION):
            raise StoreError(self.path, f"not an annotation store of schema {SCHEMA_VERSION}")
        return meta

    def labels(self) -> list[str]:
        return list(json.loads(self.meta()["labels"]))

    # -- the pool ---------------------------------------------------------------------------------------

    def sentence(self, sentence: int) -> PoolSentence | None:
        with self._open() as db:
            row = db.execute("SELECT * FROM sentences WHERE id = ?", (sentence,)).fetchone()
        return None if row is None else _sentence(row)

    def sentences(self, ids: Sequence[int] | None = None) -> list[PoolSentence]:
        """The pool in id order (or the given ids, in id order)."""
        with self._open() as db:
            rows = db.execute("SELECT * FROM sentences ORDER BY id").fetchall()
        chosen = None if ids is None else set(ids)
        return [_sentence(row) for row in rows if chosen is None or row["id"] in chosen]

    def pool_size(self) -> int:
        with self._open() as db:
            return int(db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0])

    # -- answers ----------------------------------------------------------------------------------------

    def answer(self, key: str, sentence: int, annotator: str, action: str, spans: Sequence[Span], model: int | None) -> bool:
        """Store one answer in its own transaction; False when ``key`` was stored before (nothing is
        written twice)."""
        with self._open(write=True) as db:
            if db.execute("SELECT 1 FROM answers WHERE key = ?", (key,)).fetchone():
                return False
            db.execute(
                "INSERT INTO answers (key, sentence, annotator, action, spans, model, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, sentence, annotator, action, json.dumps([list(s) for s in spans], ensure_ascii=False), model, time.time()),
            )
        return True

    def undo(self, key: str, annotator: str) -> int | None:
        """Take back ``annotator``'s latest current answer (an ``undo`` row; the history keeps both) and
        return its sentence; None when they have nothing left to undo or ``key`` was used before."""
        with self._open(write=True) as db:
            if db.execute("SELECT 1 FROM answers WHERE key = ?", (key,)).fetchone():
                return None
            row = db.execute(CURRENT + " AND a.annotator = ? ORDER BY a.id DESC LIMIT 1", (annotator,)).fetchone()
            if row is None:
                return None
            db.execute(
                "INSERT INTO answers (key, sentence, annotator, action, spans, model, created) VALUES (?, ?, ?, 'undo', '[]', NULL, ?)",
                (key, row["sentence"], annotator, time.time()),
            )
            return int(row["sentence"])

    def current(self, annotator: str | None = None) -> list[Answer]:
        """Current answers (accept or skip), oldest first; only ``annotator``'s when given."""
        query, args = CURRENT, ()
        if annotator is not None:
            query, args = CURRENT + " AND a.annotator = ?", (annotator,)
        with self._open() as db:
            rows = db.execute(query + " ORDER BY a.id", args).fetchall()
        return [_answer(row) for row in rows]

    def history(self, sentence: int) -> list[dict]:
        """Every row ever stored for ``sentence``, oldest first."""
        with self._open() as db:
            rows = db.execute("SELECT * FROM answers WHERE sentence = ? ORDER BY id", (sentence,)).fetchall()
        return [dict(row) for row in rows]

    def labelled(self) -> dict[int, tuple[Span, ...]]:
        """Each accepted sentence's spans (``accepted`` of the current answers)."""
        return accepted(self.current())

    def rows_since(self, last: int) -> list[tuple[int, int, str, str]]:
        """``(id, sentence, annotator, action)`` of every row stored after row ``last``, oldest first (undos
        included): what a reader that saw the rows up to ``last`` needs to know the current answers."""
        with self._open() as db:
            rows = db.execute("SELECT id, sentence, annotator, action FROM answers WHERE id > ? ORDER BY id", (last,)).fetchall()
        return [(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows]

    def answered(self) -> dict[int, set[str]]:
        """Sentence → the annotators whose current answer (accept or skip) it has."""
        out: dict[int, set[str]] = {}
        for answer in self.current():
            out.setdefault(answer.sentence, set()).add(answer.annotator)
        return out

    # -- models and suggestions -------------------------------------------------------------------------

    def add_model(self, path: str, answers: int, dev_f1: float | None, seconds: float) -> int:
        with self._open(write=True) as db:
            version = int(db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM models").fetchone()[0])
            db.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)", (version, path, answers, dev_f1, seconds, time.time()))
        return version

    def models(self) -> list[dict]:
        with self._open() as db:
            return [dict(row) for row in db.execute("SELECT * FROM models ORDER BY version").fetchall()]

    def set_suggestions(self, model: int, rows: Sequence[tuple[int, float, Sequence[Suggested]]]) -> None:
        """Replace every suggestion by ``model``'s: ``(sentence, score, spans)``, in one transaction."""
        values = [(sentence, model, float(score), json.dumps([list(s) for s in spans], ensure_ascii=False)) for sentence, score, spans in rows]
        with self._open(write=True) as db:  # encoded before: the write lock is held for the writes only
            db.execute("DELETE FROM suggestions")
            db.executemany("INSERT INTO suggestions VALUES (?, ?, ?, ?)", values)

    def suggestion_version(self) -> int | None:
        """The model version the current suggestions come from (None before the first)."""
        with self._open() as db:
            row = db.execute("SELECT model FROM suggestions LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def suggestions(self, sentence: int | None = None) -> dict[int, tuple[int, float, tuple[Suggested, ...]]]:
        """Sentence → ``(model, score, spans with their confidences)``; only ``sentence``'s when given (the
        page reads them one sentence at a time)."""
        with self._open() as db:
            if sentence is None:
                rows = db.execute("SELECT * FROM suggestions").fetchall()
            else:
                rows = db.execute("SELECT * FROM suggestions WHERE sentence = ?", (sentence,)).fetchall()
        return {int(r["sentence"]): (int(r["model"]), float(r["score"]), tuple((int(a), int(b), str(c), float(d)) for a, b, c, d in json.loads(r["spans"])))
                for r in rows}

    def suggestion_order(self) -> list[int]:
        """The scored sentences, highest score first (ties: lower id first), as ``strategies.ranked`` orders
        them; sorted by SQLite, so that a new model's order is taken without building every suggestion."""
        with self._open() as db:
            return [int(r[0]) for r in db.execute("SELECT sentence FROM suggestions ORDER BY score DESC, sentence").fetchall()]

    def holds(self) -> dict[int, tuple[str, float]]:
        """Sentence → ``(annotator, until)`` (wall-clock seconds)."""
        with self._open() as db:
            return {int(r["sentence"]): (r["annotator"], float(r["until"])) for r in db.execute("SELECT * FROM holds").fetchall()}

    def set_hold(self, sentence: int, annotator: str | None, until: float = 0.0) -> None:
        """``annotator`` holds ``sentence`` until ``until``; None: nobody does."""
        with self._open(write=True, durable=False) as db:
            if annotator is None:
                db.execute("DELETE FROM holds WHERE sentence = ?", (sentence,))
            else:
                db.execute("INSERT OR REPLACE INTO holds VALUES (?, ?, ?)", (sentence, annotator, until))

    def integrity(self) -> str:
        with self._open() as db:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def accepted(current: Sequence[Answer]) -> dict[int, tuple[Span, ...]]:
    """Each accepted sentence's spans: the most recent accept among its annotators' current answers
    (``current`` oldest first, as ``Store.current`` gives them)."""
    out: dict[int, tuple[Span, ...]] = {}
    for answer in current:
        if answer.action == "accept":
            out[answer.sentence] = answer.spans  # oldest first: a later accept wins
    return out


def _spans(raw: str) -> tuple[Span, ...]:
    return tuple((int(s), int(e), str(label)) for s, e, label in json.loads(raw))


def _sentence(row: sqlite3.Row) -> PoolSentence:
    return PoolSentence(int(row["id"]), row["text"], tuple(json.loads(row["tokens"])), tuple(tuple(o) for o in json.loads(row["offsets"])))


def _answer(row: sqlite3.Row) -> Answer:
    model = row["model"]
    return Answer(int(row["sentence"]), row["annotator"], row["action"], _spans(row["spans"]), None if model is None else int(model), float(row["created"]))
