"""An exclusive, cross-process lock on a file, held on a sidecar so the file itself can be replaced.

The lock is taken on ``.<name>.lock`` next to the file, never on the file: a header migration
swaps the file for a new one (``os.replace``), and a lock on the old inode would not exclude a
writer that opens the new one. The sidecar is never deleted: deleting a lock file races with
processes about to lock it.

POSIX: ``fcntl.flock`` (advisory; every carbonboard writer takes it). Windows: ``msvcrt.locking``
on the sidecar's first byte, retried until granted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def lock_path(path: Path) -> Path:
    """The sidecar lock file of ``path``."""
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` for the block; blocks until other writers release it."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(fd)
        try:
            yield
        finally:
            _release(fd)
    finally:
        os.close(fd)


if fcntl is not None:

    def _acquire(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

else:  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _acquire(fd: int) -> None:
        # LK_LOCK retries for about 10 s and then raises: keep waiting, as flock does.
        while True:
            try:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
