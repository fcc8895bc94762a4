"""Retraining in the background while people annotate: a process of its own (as ``seqlab serve`` keeps
its decoder), so the page never waits for it.

Every ``retrain_every`` new answers the trainer retrains on all accepted sentences, warm from the latest
model (``seqlab.annotate.learner``), writes the model to ``MODELS/vN``, registers it in the store and
then replaces the pool's suggestions with the new model's spans and uncertainty scores. A model is
registered only once its directory is complete, and suggestions only after their model: a trainer
killed at any moment leaves the store consistent, and the next one starts by scoring with the latest
model if its suggestions are missing.

Starting from ``--model``: its vocabularies are extended by the pool's new words and characters
(appended, so every known id keeps its row; a new row starts as the ``<unk>`` row), it becomes version 1
as it is, and the first retraining starts from its weights.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from seqlab.annotate.learner import Retraining, label_tags, pool_vocabularies, score_pool, tagged
from seqlab.annotate.store import Store, accepted
from seqlab.config.settings import Config
from seqlab.data.batches import Vocabularies
from seqlab.data.vocab import Vocab
from seqlab.files import Busy, writer_lock
from seqlab.tagger.bundle import WEIGHTS, Bundle, load_bundle, save_bundle, save_tensors
from seqlab.tagger.inference import Tagger

log = logging.getLogger("seqlab.annotate")
GROWN = {"embedding.words.weight": "words", "embedding.char.embed.weight": "chars"}
"""Tables whose rows are vocabulary entries, by the vocabulary they follow."""


@dataclass(frozen=True)
class Session:
    """What the trainer needs; it crosses into the spawned process, so it holds only plain data."""

    db: str
    models: str
    """The directory of the model versions (``v1``, ``v2``, …)."""
    config: Config
    """The config every retraining uses (``data.dev`` scores each model)."""
    strategy: str
    retrain_every: int
    start: str | None = None
    """A model directory to start from (``--model``)."""


def session_vocabularies(config: Config, pool: list[tuple[str, ...]], labels: list[str], start: Bundle | None) -> Vocabularies:
    """The session's fixed vocabularies: over the pool and the labels, or the ``start`` model's extended
    by the pool."""
    built = pool_vocabularies(pool, label_tags(labels, config.model.decoder.scheme), config.data)
    if start is None:
        return built
    old = start.vocabs
    words = Vocab(old.words.items + [w for w in built.words.items if w not in old.words], specials=True)
    chars = Vocab(old.chars.items + [c for c in built.chars.items if c not in old.chars], specials=True)
    return Vocabularies(words, chars, old.tags)


def grow(start: Path, saved: Bundle, vocabs: Vocabularies, out: Path) -> None:
    """Copy the start model to ``out`` with its word and character tables grown to ``vocabs`` (new rows:
    the ``<unk>`` row) and the vocabularies written with them."""
    shutil.copytree(start, out, dirs_exist_ok=True)
    tensors = load_file(str(start / WEIGHTS))
    for name, which in GROWN.items():
        if name in tensors:
            table, size = tensors[name], len(getattr(vocabs, which))
            extra = table[1:2].expand(size - table.shape[0], -1)  # (new, D): the <unk> row
            tensors[name] = torch.cat([table, extra]).contiguous()
    save_bundle(out, Bundle(saved.config, vocabs, saved.ambiguous))
    save_tensors(out, tensors)  # after the vocabularies: the weights record their sha256


class Worker:
    """The trainer's state in its process: the store, the pool and the session's retraining."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.store = Store(session.db)
        self.pool = self.store.sentences()
        self.tokens = [s.tokens for s in self.pool]
        config = session.config
        self.start = load_bundle(session.start) if session.start is not None else None
        if self.start is not None:  # the start model's own config, so that its weights fit
            own = self.start.config
            config = dataclasses.replace(own, data=dataclasses.replace(own.data, dev=config.data.dev), train=config.train)
        self.vocabs = session_vocabularies(config, self.tokens, self.store.labels(), self.start)
        self.retraining = Retraining(config, self.vocabs, "bio")
        Path(session.models).mkdir(parents=True, exist_ok=True)

    def latest(self) -> dict | None:
        models = self.store.models()
        return models[-1] if models else None

    def score(self, version: int, directory: Path) -> None:
        found = score_pool(Tagger.load(directory), self.tokens, self.session.strategy)
        self.store.set_suggestions(version, [(s.id, value, spans) for s, (value, spans) in zip(self.pool, found)])

    def step(self) -> bool:
        """Do what is due: score with the latest model if its suggestions are missing, register the start
        model, or retrain when ``retrain_every`` answers came since the latest model. True if it did."""
        latest = self.latest()
        if latest is None and self.session.start is not None:
            directory = Path(self.session.models) / "v1"
            grow(Path(self.session.start), self.start, self.vocabs, directory)
            version = self.store.add_model(str(directory), 0, None, 0.0)
            self.score(version, directory)
            return True
        if latest is not None and self.store.suggestion_version() != latest["version"]:
            self.score(int(latest["version"]), Path(latest["path"]))
            return True
        current = self.store.current()
        answers = len(current)
        labelled = accepted(current)
        if not labelled or answers - (latest["answers"] if latest else 0) < self.session.retrain_every:
            return False
        began = time.perf_counter()
        version = int(latest["version"]) + 1 if latest else 1
        directory = Path(self.session.models) / f"v{version}"
        result = self.retraining.run(tagged(self.pool, labelled), directory, Path(latest["path"]) if latest else None)
        version = self.store.add_model(str(directory), answers, None if result.dev is None else result.dev.f1, time.perf_counter() - began)
        self.score(version, directory)
        return True


def run_forever(session: Session, threads: int = 1, parent: int | None = None) -> None:
    """The trainer process's body: check every second whether a retraining is due. It stops when the
    server that started it is gone (a server killed with ``kill -9`` cannot stop it), and only one
    trainer works on a store at a time (another waits for the lock on the models' directory). ``parent``:
    the server's pid, given by the server (a server killed while this process was still starting would
    otherwise leave it an orphan that takes its new parent for the server)."""
    torch.set_num_threads(threads)
    parent = os.getppid() if parent is None else parent
    while True:
        try:
            with writer_lock(Path(session.models)):
                worker = Worker(session)
                while os.getppid() == parent:
                    if not worker.step():
                        time.sleep(1.0)
                return
        except Busy:
            pass
        if os.getppid() != parent:
            return
        time.sleep(1.0)


class Trainer:
    """The trainer process, started, watched and restarted by the page's server."""

    def __init__(self, session: Session, threads: int = 1) -> None:
        self.session, self.threads = session, threads
        self.process: multiprocessing.process.BaseProcess | None = None
        self.restarts = 0

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=run_forever, args=(self.session, self.threads, os.getpid()), name="seqlab-annotate-trainer", daemon=True)
        self.process.start()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def watch(self) -> None:
        """Restart the process if it died (killed, or an error it logged)."""
        if self.process is not None and not self.process.is_alive():
            log.warning("the trainer stopped (exit code %s); restarting it", self.process.exitcode)
            self.restarts += 1
            self.start()

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
