"""Prediction across processes and machines: ``torchrun ... -m seqlab predict --input F --output O``.

Every process reads the whole input as a stream and tags its stripe: rank ``r`` of ``N`` takes
sentences ``r, r + N, r + 2N, …``. It writes each tagged sentence, formatted, as one JSON string per
line to ``O.part-r`` (a sentence's text may span lines, as CoNLL output does). Once every rank is done
(a barrier), rank 0 joins the parts in input order, reading one record from each part in turn, into
``O`` and removes the parts. Memory stays constant in the input's size; the output is the one a single
process writes, whatever ``N`` and whether or not it divides the number of sentences.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TypeVar

from seqlab.distributed import Context
from seqlab.errors import DataError

T = TypeVar("T")


def stripe(items: Iterable[T], context: Context) -> Iterator[T]:
    """Items ``rank, rank + world, …`` of ``items``."""
    return islice(items, context.rank, None, context.world)


def part_path(output: Path, rank: int) -> Path:
    return output.with_name(f"{output.name}.part-{rank}")


def write_part(texts: Iterable[str], path: Path) -> int:
    """Each text as one JSON string per line; returns how many."""
    count = 0
    try:
        with open(path, "w", encoding="utf-8") as part:
            for text in texts:
                part.write(json.dumps(text, ensure_ascii=False) + "\n")
                count += 1
    except OSError as err:
        raise DataError(path, None, f"cannot write ({err.strerror or err})") from None
    return count


def merge_parts(output: Path, world: int) -> int:
    """Join ``output.part-0 … part-(world−1)`` into ``output`` in input order (record ``i`` is in part
    ``i mod world``), remove the parts, and return the number of records."""
    paths = [part_path(output, rank) for rank in range(world)]
    count = 0
    try:
        handles = [open(path, encoding="utf-8") for path in paths]
        try:
            with open(output, "w", encoding="utf-8") as out:
                while True:
                    line = handles[count % world].readline()
                    if not line:
                        break
                    out.write(json.loads(line))
                    count += 1
        finally:
            for handle in handles:
                handle.close()
    except OSError as err:
        raise DataError(output, None, f"cannot join the parts ({err.strerror or err})") from None
    for path in paths:
        path.unlink(missing_ok=True)
    return count


def write_sharded(texts: Iterable[str], output: Path, context: Context) -> int:
    """This rank's ``texts`` to its part; once every rank has written its own (a barrier of the process
    group, which must be joined), rank 0 joins them into ``output``. Returns this rank's count."""
    import torch.distributed as dist

    count = write_part(texts, part_path(output, context.rank))
    dist.barrier()
    if context.main:
        merge_parts(output, context.world)
    dist.barrier()
    return count
