"""One tracker at a time on a machine, for ``allow_multiple_runs=False`` (CodeCarbon's option).

CodeCarbon creates ``<temp dir>/.codecarbon.lock`` and refuses to track while it exists, so a
crashed run leaves a file that blocks every later run until someone deletes it. Here the lock is
an OS lock on ``<temp dir>/.carbonboard-tracker.lock`` (``flock``; ``msvcrt.locking`` on
Windows): a second tracker started while one holds it is refused in the same way, and the lock
goes with its process, however that process ends.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from tracker.output.lock import open_lock_file

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".carbonboard-tracker.lock"


def lock_file(environ: Mapping[str, str]) -> Path:
    """The machine-wide lock file: in ``$TMPDIR`` when set, else the system's temp folder."""
    return Path(environ.get("TMPDIR") or tempfile.gettempdir()) / LOCK_NAME


class RunLock:
    """A non-blocking exclusive lock: :meth:`acquire` says whether this tracker may run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another tracker (any process) holds it. Raises
        ``OSError`` when the lock file cannot be opened."""
        fd = open_lock_file(self.path)
        try:
            _try_lock(fd)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the next tracker run. Never raises."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                _unlock(fd)
            os.close(fd)


if fcntl is not None:

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

else:  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
