"""Dynamic batching: the sentences of concurrent requests decoded together on one model.

A request's sentences wait in a queue; one worker takes what is queued, up to ``max_batch`` sentences or
until ``max_wait`` has passed since the first, and runs ``Tagger.tag`` on them in one call, which sorts
them by length into batches of the model's ``train.eval_batch_size`` (less padding than one batch of
sentences of any lengths), in a thread of its own so that the server keeps answering meanwhile.
Requests that ask for different options (``probs``, ``nbest``) are decoded in separate calls. A
sentence's result does not depend on what else is in its batch (the encoders give each sentence its
own encoding, and decoding is per sentence) beyond floating-point rounding: the tags are the same, the
probabilities agree within 1e-5 (what the tests check).
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from seqlab.readers import Sentence
from seqlab.tagger import Analysis, Tagger


@dataclass
class _Job:
    sentences: list[Sentence]
    probs: bool
    nbest: int
    done: asyncio.Future = field(repr=False)


class Batcher:
    """Collects sentences from concurrent requests and decodes them together."""

    def __init__(self, tagger: Tagger, max_batch: int = 64, max_wait: float = 0.005) -> None:
        self.tagger = tagger
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqlab-decode")
        self.batches = 0
        """Decode calls made (for tests and logs)."""

    async def tag(self, sentences: list[Sentence], probs: bool, nbest: int) -> list[Analysis]:
        """The analyses of ``sentences``, decoded with whatever else is queued."""
        done = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(sentences, probs, nbest, done))
        return await done

    async def run(self) -> None:
        """The worker: forever take a batch of jobs and decode it."""
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            size = len(jobs[0].sentences)
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch:
                try:
                    job = await asyncio.wait_for(self.queue.get(), max(deadline - time.monotonic(), 0.0))
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                size += len(job.sentences)
            groups: dict[tuple[bool, int], list[_Job]] = {}
            for job in jobs:
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
        return self.tagger.tag(sentences, nbest=nbest, probs=probs)  # sorted by length into the model's eval_batch_size batches
