"""The model of ``seqlab serve`` in a process of its own.

The HTTP process parses requests, tokenises, batches and writes answers; this process holds the one
model instance and decodes the batches it is sent, through the one inference path (``Tagger.tag``).
Two processes, because Python runs one thread at a time per process: with the model in the HTTP
process every request's parsing and JSON competes with the decoding for the interpreter, while here
they run side by side on two cores.

    parent ──(sentences, nbest, probs)──▶ child: Tagger.tag ──("ok", analyses) | ("error", message)──▶ parent

The child is started with ``spawn`` (nothing of the parent's threads or locks is inherited), loads the
model, and answers ``("ready", summary)`` or ``("error", message)``. It stops when the parent closes the
pipe or exits (it reads end of file), and ignores Ctrl-C, which the parent handles.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from seqlab.data.readers import Sentence
from seqlab.errors import ModelError
from seqlab.tagger.bundle import read_summary


def model_summary(tagger: Any, directory: Path) -> dict[str, Any]:
    """What ``GET /v1/model`` says about ``tagger`` (a ``seqlab.tagger.inference.Tagger`` loaded from ``directory``)."""
    config = tagger.bundle.config
    vocabs = tagger.bundle.vocabs
    metrics = None
    with contextlib.suppress(ModelError, KeyError, TypeError):  # no or an odd metrics.json: no metrics
        summary = read_summary(directory)
        metrics = {split: {k: summary[split][k] for k in ("precision", "recall", "f1", "accuracy")} for split in ("dev", "test") if summary.get(split)}
    return {
        "name": directory.name,
        "tags": tagger.tags,
        "tag_scheme": tagger.output_scheme,
        "vocabulary": {"words": len(vocabs.words), "chars": len(vocabs.chars), "tags": len(vocabs.tags)},
        "model": {"cell": config.model.encoder.cell, "bidirectional": config.model.encoder.bidirectional, "hidden": config.model.encoder.hidden,
                  "decoder": config.model.decoder.kind, "embedding_dim": config.model.embedding.dim, "char_features": config.model.embedding.char.kind},
        "metrics": metrics,
    }


class DecodeProcess:
    """A model loaded in a child process; ``tag(sentences, nbest=, probs=)`` answers as ``Tagger.tag`` does."""

    def __init__(self, directory: str | Path, device: str = "cpu", threads: int = 1) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve_forever, args=(child, str(directory), device, threads), name="seqlab-decode", daemon=True)
        self.process.start()
        child.close()
        self.lock = threading.Lock()
        kind, value = self._receive()
        if kind != "ready":
            self.close()
            raise ModelError(value)
        self.summary: dict[str, Any] = value
        """``seqlab.serve.app.model_summary`` of the loaded model."""

    def _receive(self) -> tuple[str, Any]:
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            raise self._stopped() from None

    def _stopped(self) -> ModelError:
        self.process.join(timeout=5)
        return ModelError(f"the decoding process stopped (exit code {self.process.exitcode})")

    def tag(self, sentences: list[Sentence], nbest: int = 0, probs: bool = True) -> list:
        """``Tagger.tag(sentences, nbest=nbest, probs=probs)`` in the child."""
        with self.lock:  # one batch at a time on the pipe
            try:
                self.connection.send((sentences, nbest, probs))
            except (OSError, ValueError):
                raise self._stopped() from None
            kind, value = self._receive()
        if kind == "error":
            raise ModelError(value)
        return value

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def close(self) -> None:
        """Stop the child (it reads end of file) and wait for it."""
        self.connection.close()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)


def _serve_forever(connection: Connection, directory: str, device: str, threads: int) -> None:
    """The child: load the model, then decode what arrives until the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    from seqlab.tagger.inference import Tagger

    torch.set_num_threads(threads)
    try:
        tagger = Tagger.load(directory, device=device)
        connection.send(("ready", model_summary(tagger, Path(directory))))
    except Exception as err:  # a model that does not load: the parent reports it
        connection.send(("error", str(err) if isinstance(err, ModelError) else f"{directory}: {type(err).__name__}: {err}"))
        return
    while True:
        try:
            sentences, nbest, probs = connection.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", tagger.tag(sentences, nbest=nbest, probs=probs))
        except Exception as err:  # one failing batch fails its requests, not the process
            answer = ("error", f"{type(err).__name__}: {err}")
        try:
            connection.send(answer)
        except (OSError, ValueError):
            return
