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
writers never hold locks on different sidecars at once.

POSIX: ``fcntl.flock`` (advisory; every carbonboard writer takes it), as above. Windows: the
``filelock`` library's ``FileLock`` on the same sidecar (a byte-range lock on its first byte,
waited for without limit like ``flock``; an error other than "held by another" is raised, not
retried). The lifecycle is the same: filelock deletes the sidecar when it releases the lock (when
a waiting writer has it open at that moment, the last one to release removes it), and Windows
never gives a name a file another process holds open to a new file, so the stale-sidecar race
guarded against above cannot happen there. A system with neither ``fcntl`` nor Windows gets
filelock's fallback, a lock by exclusive creation of the sidecar, also deleted on release.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def lock_path(path: Path) -> Path:
    """The sidecar lock file of ``path``."""
    return path.with_name(f".{path.name}.lock")


def locked(path: Path) -> AbstractContextManager[object]:
    """Hold the exclusive lock of ``path`` for the block; blocks until other writers release it."""
    if fcntl is None:
        import filelock  # only where flock is missing: importing the tracker stays light

        return filelock.FileLock(lock_path(path))
    return _flock_locked(lock_path(path))


@contextlib.contextmanager
def _flock_locked(sidecar: Path) -> Iterator[None]:
    fd = _lock(sidecar)
    try:
        yield
    finally:
        try:
            with contextlib.suppress(OSError):  # already gone
                os.unlink(sidecar)  # still locked: a waiting writer will see it is stale
            _release(fd)
        finally:
            os.close(fd)


def open_lock_file(path: Path) -> int:
    """A descriptor of ``path`` to lock, created when missing. A lock file another user created
    (0644 under the usual umask) opens read-only: ``flock`` needs no write access, and that user
    must not lock everyone else out."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        return os.open(path, os.O_RDONLY)


def _lock(sidecar: Path) -> int:
    """An open descriptor of ``sidecar``, exclusively locked, that is still the file there."""
    while True:
        fd = open_lock_file(sidecar)
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


def _acquire(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_EX)


def _release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
