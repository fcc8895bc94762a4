"""Reading files that may be hostile: only regular files, their size checked before a byte is read.

A path that names a device (``/dev/zero``), a FIFO or a directory is refused instead of read (one would
never end, one would block forever), and so is a file larger than its reader's limit.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from seqlab.errors import ModelError


def read_limited(path: str | Path, limit: int, error: Callable[[str], Exception] = ModelError) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; otherwise ``error`` (built from
    one message naming the path) is raised. A missing file raises ``FileNotFoundError`` for the caller to
    word. The file is opened without blocking, so a FIFO is refused, not waited on."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise error(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: not a regular file")
        if info.st_size > limit:
            raise error(f"{path}: {info.st_size:,} bytes, more than the {limit:,} this file may hold")
        chunks, total = [], 0
        while True:  # a file that grows while read is cut at the limit, not followed
            chunk = os.read(handle, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise error(f"{path}: more than the {limit:,} bytes this file may hold")
        return b"".join(chunks)
    except OSError as err:
        raise error(f"{path}: cannot be read ({err.strerror or err})") from None
    finally:
        os.close(handle)
