"""Reading files that may be hostile, and writing files that must survive a crash.

Reading: only regular files, their size checked before a byte is read. A path that names a device
(``/dev/zero``), a FIFO or a directory is refused instead of read (one would never end, one would
block forever), and so is a file larger than its reader's limit.

Writing: every file is written atomically (temporary file in the same directory, fsync, rename), so a
crash leaves the previous version or the new one, never a torn file; a directory being written is
locked against a second writer.
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one step: a crash leaves the old or the new content.

    The data goes to a temporary file in the same directory, is flushed to disk, renamed over ``path``,
    and the directory entry is flushed too (so the new file survives a power loss). The file gets the
    permissions any new file gets (``0666`` less the umask), not the temporary file's private ``0600``.
    A failure to write (full disk, no permission) is a ``ModelError`` naming the file; the previous
    version stays as it was and no temporary file is left behind.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise ModelError(f"{path}: cannot write ({err.strerror or err})") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), 0o666 & ~_umask())
            os.fsync(out.fileno())
        os.replace(tmp, path)
        _sync_directory(path.parent)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        kept = "; the previous version is kept" if path.exists() else ""
        raise ModelError(f"{path}: cannot write ({err.strerror or err}){kept}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sync_directory(directory: Path) -> None:
    """Flush a directory's entries to disk (where the platform allows opening a directory)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


LOCK = ".lock"


class Busy(ModelError):
    """Another process holds the lock of the directory ``writer_lock`` was asked for."""


@contextlib.contextmanager
def writer_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (created if missing) while a run writes it; a second
    writer gets a ``ModelError`` at once instead of interleaving its files with the first's. The lock
    is the operating system's (``flock``): it ends with the process, even one killed by ``kill -9``."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform: no protection, as before
        yield
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / LOCK, "a+")
    except OSError as err:
        raise ModelError(f"{directory}: cannot write ({err.strerror or err})") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            raise Busy(f"{directory}: another seqlab train (pid {owner}) is writing this directory; wait for it or choose another --output") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
