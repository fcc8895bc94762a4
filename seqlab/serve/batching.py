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


@dataclass
class _Job:
    sentences: list[Sentence]
    probs: bool
    nbest: int
    done: asyncio.Future = field(repr=False)


class Batcher:
    """Collects sentences from concurrent requests and decodes them together."""

    def __init__(self, decoder: Decoder, max_batch: int = 64, max_wait: float = 0.0) -> None:
        self.decoder = decoder
        self.max_batch = max_batch
        self.max_wait = max_wait
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
        self.queue.append(_Job(sentences, probs, nbest, done))
        self.queued += len(sentences)
        self.arrived.set()
        return await done

    async def _arrival(self, timeout: float | None) -> None:
        """Wait until a request is queued (at most ``timeout`` seconds)."""
        self.arrived.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), timeout)

    def _take(self) -> list[_Job]:
        """Queued jobs up to ``max_batch`` sentences (at least one job), in arrival order."""
        jobs, size = [], 0
        while self.queue and (not jobs or size + len(self.queue[0].sentences) <= self.max_batch):
            job = self.queue.popleft()
            jobs.append(job)
            size += len(job.sentences)
        self.queued -= size
        return jobs

    async def run(self) -> None:
        """The worker: forever take what is queued and decode it."""
        loop = asyncio.get_running_loop()
        while True:
            while not self.queue:
                await self._arrival(None)
            deadline = time.monotonic() + self.max_wait
            while self.queued < self.max_batch and (left := deadline - time.monotonic()) > 0:
                await self._arrival(left)
            groups: dict[tuple[bool, int], list[_Job]] = {}
            for job in self._take():
                groups.setdefault((job.probs, job.nbest), []).append(job)
            for (probs, nbest), group in groups.items():
                await self._decode(loop, group, probs, nbest)

    async def _decode(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job], probs: bool, nbest: int) -> None:
        sentences = [s for job in jobs for s in job.sentences]
        try:
            results = await loop.run_in_executor(self.executor, self._call, sentences, probs, nbest)
        except Exception as err:  # the model failed on the batch: each request alone, so only a failing one fails
            if len(jobs) > 1:
                for job in jobs:
                    await self._decode(loop, [job], probs, nbest)
            elif not jobs[0].done.done():
                jobs[0].done.set_exception(err)
            return
        at = 0
        for job in jobs:
            if not job.done.done():  # a client that went away cancelled its future
                job.done.set_result(results[at : at + len(job.sentences)])
            at += len(job.sentences)

    def _call(self, sentences: list[Sentence], probs: bool, nbest: int) -> list[Analysis]:
        self.batches += 1
        return self.decoder.tag(sentences, nbest=nbest, probs=probs)  # sorted by length into the model's eval_batch_size batches
