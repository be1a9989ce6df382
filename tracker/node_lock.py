"""The election of the one tracker that measures a node for a job, when no local rank says it.

Every tracker of the job on the node tries, once at start and without waiting, to take an
exclusive lock on ``.carbonboard-node-<job>-<host>.lock`` beside its output: the first one keeps
it until its run ends and measures the node; the others record their rows without energy. The
host is part of the name because the output folder is often on a file system shared by every node
of the job, where a lock is seen by all of them. A lock goes with its process however it ends,
so a crashed winner never blocks a later run.

Like the CSV's sidecar lock (:mod:`tracker.output.lock`), the file does not stay: the winner
deletes it before letting go, and a tracker granted a lock checks that the file it locked is still
the one at the path (a previous winner may have deleted it in between), else it tries the new one.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from tracker.output.lock import _is_current
from tracker.run_lock import _try_lock, _unlock

# Characters kept from a job id or host name in the file name; others become "_".
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def node_lock_file(folder: Path, job_id: str, hostname: str) -> Path:
    """The election's lock file for ``job_id`` on ``hostname``, in ``folder``."""
    return (
        folder / f".carbonboard-node-{_UNSAFE.sub('_', job_id)}-{_UNSAFE.sub('_', hostname)}.lock"
    )


class NodeLock:
    """A non-blocking exclusive lock held for a run: :meth:`acquire` says whether this tracker
    won the election."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another tracker holds it. Raises ``OSError`` when the
        lock file cannot be created (the caller decides what measuring then means)."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                _try_lock(fd)
            except OSError:
                os.close(fd)
                return False
            if _is_current(fd, self.path):
                self._fd = fd
                return True
            _unlock(fd)  # its winner deleted it before letting go: try the file there now
            os.close(fd)

    def release(self) -> None:
        """Delete the lock file and let go. Never raises."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):  # already gone, or open elsewhere on Windows
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            _unlock(fd)
        os.close(fd)
