"""An exclusive, cross-process lock on a file, held on a sidecar so the file itself can be replaced.

The lock is taken on ``.<name>.lock`` next to the file, never on the file: a header migration
swaps the file for a new one (``os.replace``), and a lock on the old inode would not exclude a
writer that opens the new one. The sidecar sits next to the file, rather than in a private folder
of the user, because every writer of the file must find the same one: other users' writers, and
writers on other hosts when the folder is on a shared file system.

The sidecar exists only while a row is being written, so it does not stay in the user's folder:
each writer deletes it before releasing the lock. That is safe because a writer re-checks, once
granted the lock, that the sidecar it locked is still the one at the path (same device and inode,
read by opening the path again, which a network file system revalidates); if a previous holder
deleted it in the meantime, the writer drops that stale lock and locks the new sidecar. So two
writers never hold locks on different sidecars at once. (On Windows an open file cannot be
deleted, so the sidecar stays there.)

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
    sidecar = lock_path(path)
    fd = _lock(sidecar)
    try:
        yield
    finally:
        try:
            with contextlib.suppress(OSError):  # already gone, or open elsewhere on Windows
                os.unlink(sidecar)  # still locked: a waiting writer will see it is stale
            _release(fd)
        finally:
            os.close(fd)


def _lock(sidecar: Path) -> int:
    """An open descriptor of ``sidecar``, exclusively locked, that is still the file there."""
    while True:
        fd = os.open(sidecar, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _acquire(fd)
            if _is_current(fd, sidecar):
                return fd
            _release(fd)  # its holder deleted it before letting go: lock the new one
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _is_current(fd: int, sidecar: Path) -> bool:
    try:
        check = os.open(sidecar, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        here, there = os.fstat(fd), os.fstat(check)
    finally:
        os.close(check)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


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
