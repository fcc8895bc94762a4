"""Starting ``seqlab annotate``: the store, the queue, the trainer process and uvicorn."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seqlab.annotate.app import Service, create_app
from seqlab.annotate.queue import Queue
from seqlab.annotate.store import Store
from seqlab.annotate.trainer import Session, Trainer
from seqlab.config.settings import Config


def build_service(
    store: Store, labels: list[str], config: Config, strategy: str, retrain_every: int, per_sentence: int = 1, first: Sequence[int] = (),
    start: str | None = None, token: str | None = None, train: bool = True,
) -> Service:
    """The page's service over ``store`` (``train``: with its trainer process, started with the app)."""
    session = Session(str(store.path), str(Path(f"{store.path}.models")), config, strategy, retrain_every, start)
    queue = Queue(store, first, per_sentence, seed=config.seed, by_score=strategy != "random")
    return Service(store, queue, labels, strategy, token, Trainer(session) if train else None)


def run(
    store: Store, labels: list[str], config: Config, strategy: str, retrain_every: int, per_sentence: int, first: Sequence[int], start: str | None,
    host: str, port: int, token: str | None, quiet: bool = False,
) -> None:
    import uvicorn

    service = build_service(store, labels, config, strategy, retrain_every, per_sentence, first, start, token)
    print(f"annotating {store.pool_size():,} sentences of {store.meta()['source']} into {store.path}: http://{host}:{port}/")
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning" if quiet else "info", access_log=False, timeout_keep_alive=5,
                timeout_graceful_shutdown=5)
