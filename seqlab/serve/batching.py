"""Dynamic batching: the sentences of concurrent requests decoded together on one model.

A request's sentences wait in a queue. One worker decodes (through a ``Decoder``: in ``seqlab serve`` the
model in a process of its own), from a thread of its own so that the server keeps answering meanwhile; whenever it is free it takes what is queued, up to ``max_batch`` sentences,
and runs ``Tagger.tag`` on them in one call (which sorts them by length into batches of the model's
``train.eval_batch_size``). While it decodes, the next requests queue up, so under load each batch is
what arrived during the previous one: the batch size follows the load without a fixed wait. When the
worker is idle and a first request arrives, it waits at most ``max_wait`` for others (a burst of
requests sent together is then decoded together) and starts as soon as ``max_batch`` sentences are in.
Requests that ask for different options (``probs``, ``nbest``) are decoded in separate calls. A
sentence's result does not depend on what else is in its batch (the encoders give each sentence its
own encoding, and decoding is per sentence) beyond floating-point rounding: the tags are the same, the
probabilities agree within 1e-5 (what the tests check).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from seqlab.data.readers import Sentence
from seqlab.tagger.inference import Analysis


class Decoder(Protocol):
    """What decodes a batch: a ``seqlab.tagger.inference.Tagger``, or ``seqlab.serve.decoder.DecodeProcess`` (the
    model in a process of its own)."""

    def tag(self, sentences: list[Sentence], nbest: int = 0, probs: bool = True) -> list[Analysis]: ...


@dataclass(eq=False)
class _Job:
    sentences: list[Sentence]
    probs: bool
    nbest: int
    done: asyncio.Future = field(repr=False)
    results: list = field(default_factory=list)
    taken: int = 0
    """Sentences handed to the decoder so far."""
    finished: int = 0
    """Sentences decoded so far."""

    def work(self, k: int) -> int:
        """What decoding sentence ``k`` costs, in token-paths: its tokens times the paths asked for."""
        return len(self.sentences[k].tokens) * (1 + self.nbest)


@dataclass
class _Part:
    job: _Job
    start: int
    end: int


class Batcher:
    """Collects sentences from concurrent requests and decodes them together.

    A decode call holds at most ``max_batch`` sentences and about ``max_work`` token-paths (tokens times
    ``1 + nbest``; a sentence above it goes alone), taken from the waiting requests in turn: a large
    request is decoded over several calls, and a small one that arrives meanwhile goes into the next
    call instead of waiting for the whole of it."""

    def __init__(self, decoder: Decoder, max_batch: int = 64, max_wait: float = 0.0, max_work: int = 64 * 40) -> None:
        self.decoder = decoder
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_work = max_work
        self.queue: collections.deque[_Job] = collections.deque()
        self.queued = 0
        """Sentences in the queue."""
        self.arrived = asyncio.Event()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqlab-decode")
        self.batches = 0
        """Decode calls made (for tests and logs)."""

    async def tag(self, sentences: list[Sentence], probs: bool, nbest: int) -> list[Analysis]:
        """The analyses of ``sentences``, decoded with whatever else is queued."""
        done = asyncio.get_running_loop().create_future()
        self.queue.append(_Job(list(sentences), probs, nbest, done, [None] * len(sentences)))
        self.queued += len(sentences)
        self.arrived.set()
        return await done

    async def _arrival(self, timeout: float | None) -> None:
        """Wait until a request is queued (at most ``timeout`` seconds)."""
        self.arrived.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), timeout)

    def _take(self) -> list[_Part]:
        """The next call's sentences: from each waiting request in turn, one sentence at a time, while the
        call holds fewer than ``max_batch`` sentences and ``max_work`` token-paths (at least one sentence)."""
        parts: dict[int, _Part] = {}
        size = work = 0
        while self.queue and size < self.max_batch:
            job = self.queue[0]
            cost = job.work(job.taken)
            if size and work + cost > self.max_work:
                break
            part = parts.setdefault(id(job), _Part(job, job.taken, job.taken))
            part.end += 1
            job.taken += 1
            size, work = size + 1, work + cost
            self.queue.rotate(-1)
            if job.taken == len(job.sentences):
                self.queue.remove(job)
        self.queued -= size
        return list(parts.values())

    async def run(self) -> None:
        """The worker: forever take what is queued and decode it."""
        loop = asyncio.get_running_loop()
        while True:
            while not self.queue:
                await self._arrival(None)
            deadline = time.monotonic() + self.max_wait
            while self.queued < self.max_batch and (left := deadline - time.monotonic()) > 0:
                await self._arrival(left)
            groups: dict[tuple[bool, int], list[_Part]] = {}
            for part in self._take():
                groups.setdefault((part.job.probs, part.job.nbest), []).append(part)
            for (probs, nbest), group in groups.items():
                await self._decode(loop, group, probs, nbest)

    async def _decode(self, loop: asyncio.AbstractEventLoop, parts: list[_Part], probs: bool, nbest: int) -> None:
        sentences = [s for part in parts for s in part.job.sentences[part.start : part.end]]
        try:
            results = await loop.run_in_executor(self.executor, self._call, sentences, probs, nbest)
        except Exception as err:  # the model failed on the batch: each request alone, so only a failing one fails
            if len(parts) > 1:
                for part in parts:
                    await self._decode(loop, [part], probs, nbest)
            elif not parts[0].job.done.done():
                parts[0].job.done.set_exception(err)
                self._drop(parts[0].job)
            return
        at = 0
        for part in parts:
            job, count = part.job, part.end - part.start
            job.results[part.start : part.end] = results[at : at + count]
            job.finished += count
            at += count
            if job.finished == len(job.sentences) and not job.done.done():  # a client that went away cancelled its future
                job.done.set_result(job.results)

    def _drop(self, job: _Job) -> None:
        """Take a failed request's remaining sentences out of the queue."""
        if job in self.queue:
            self.queue.remove(job)
            self.queued -= len(job.sentences) - job.taken

    def _call(self, sentences: list[Sentence], probs: bool, nbest: int) -> list[Analysis]:
        self.batches += 1
        return self.decoder.tag(sentences, nbest=nbest, probs=probs)  # sorted by length into the model's eval_batch_size batches
