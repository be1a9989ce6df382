"""Crash checkpoints: a live run's progress in a small sidecar file, rewritten every interval.

For an output file ``emissions.csv`` a run keeps ``.emissions.csv.runs/<run_id>.json``:

    {"format": 1, "run_id": "...", "pid": 4242, "process_started_at": 1767225600.12,
     "hostname": "node-1", "updated_at": "2026-01-01T00:00:15+00:00",
     "row": {"timestamp": "...", "status": "running", ...every column as its cell text...}}

It is replaced atomically (temporary file + ``os.replace``), so a reader sees the previous or the
new version, never half of one; the CSV itself does not grow while the run is live. The run's
final row and the removal of its checkpoint happen under the CSV's lock. When a tracker starts on
a file, checkpoints left by a dead process on this host become a ``crashed`` row with the energy
measured up to the last interval; a live process's checkpoints are left alone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from tracker.output.csv_file import (
    ForeignFileError,
    Write,
    append_row,
    append_row_locked,
    sibling_path,
    write_all,
)
from tracker.output.fallback import ensure_private_dir
from tracker.output.lock import locked

log = logging.getLogger(__name__)

FORMAT = 1
# psutil derives start times from clock ticks since boot: equal starts agree within this.
_START_TIME_TOLERANCE_S = 1.0


def runs_dir(path: Path) -> Path:
    """The checkpoint folder of an output file."""
    return path.with_name(f".{path.name}.runs")


def in_shared_folder(path: Path) -> bool:
    """Whether ``path``'s folder lets any user create files (a temp folder): there the checkpoint
    folder must be private, or another user could plant files or symlinks in it."""
    try:
        mode = os.stat(path.parent).st_mode
    except OSError:
        return False
    return os.name == "posix" and bool(mode & stat.S_IWOTH)


def prepare_runs_dir(output_path: Path) -> Path:
    """The checkpoint folder, created; private (0700, ours) when the output folder is shared.

    Raises ``OSError`` (an ``UnsafeFolderError`` for a folder that is not safe to use)."""
    folder = runs_dir(output_path)
    if in_shared_folder(output_path):
        ensure_private_dir(folder)
    else:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def process_started_at(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


class Checkpoint:
    """The checkpoint file of one run of this process."""

    def __init__(self, output_path: Path, run_id: str, *, write: Write = os.write) -> None:
        self.path = runs_dir(output_path) / f"{run_id}.json"
        self._output_path = output_path
        self._write = write
        self._run_id = run_id
        self._pid = os.getpid()
        self._started_at = process_started_at(self._pid)
        self._hostname = socket.gethostname()

    def write(self, row: Mapping[str, str]) -> None:
        """Replace the checkpoint with ``row`` (cell texts). Raises ``OSError``; a failed write
        (a full disk) leaves the previous checkpoint and no temporary file."""
        record = {
            "format": FORMAT,
            "run_id": self._run_id,
            "pid": self._pid,
            "process_started_at": self._started_at,
            "hostname": self._hostname,
            "updated_at": row.get("timestamp", ""),
            "row": dict(row),
        }
        data = json.dumps(record).encode("utf-8", "backslashreplace")
        folder = prepare_runs_dir(self._output_path)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            try:
                write_all(fd, data, self._write)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def remove(self) -> None:
        """Delete the checkpoint, and its folder once no run has one there. Never raises."""
        try:
            self.path.unlink()
        except (FileNotFoundError, NotADirectoryError):  # none was written
            return
        except OSError as error:
            log.warning(
                "cannot remove %s (%s): it may later read as a crashed run", self.path, error
            )
            return
        with contextlib.suppress(OSError):  # not empty: other runs are live
            self.path.parent.rmdir()


def _is_alive(record: Mapping[str, object]) -> bool:
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        started_at = process.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # exists, but not ours to inspect
        return True
    recorded = record.get("process_started_at")
    # Another process may have been given the same pid since: compare start times.
    return not isinstance(recorded, (int, float)) or (
        abs(started_at - recorded) <= _START_TIME_TOLERANCE_S
    )


def recover_crashed(output_path: Path, fieldnames: Sequence[str]) -> int:
    """Turn the checkpoints of dead runs into ``crashed`` rows of ``output_path``; how many.

    Checkpoints written on another host (a shared file system) are left alone: whether their
    process lives cannot be known from here.
    """
    folder = runs_dir(output_path)
    if not folder.is_dir():
        return 0
    if in_shared_folder(output_path):
        ensure_private_dir(folder)  # never act on checkpoints another user could have planted
    hostname = socket.gethostname()
    recovered = 0
    for checkpoint in sorted(folder.glob("*.json")):
        try:
            record = json.loads(checkpoint.read_text(encoding="utf-8"))
            row = record["row"]
        except FileNotFoundError:  # finished meanwhile
            continue
        except OSError as error:  # another user's, say: left for a tracker that can read it
            log.debug("cannot read checkpoint %s: %s", checkpoint, error)
            continue
        except (ValueError, KeyError, TypeError) as error:
            log.warning("removing unreadable checkpoint %s: %s", checkpoint, error)
            checkpoint.unlink(missing_ok=True)
            continue
        if record.get("hostname") != hostname or _is_alive(record):
            continue
        try:
            target = _append_crashed(
                output_path, checkpoint, {**row, "status": "crashed"}, fieldnames
            )
        except Exception as error:  # kept for the next tracker: the row is not lost
            log.warning("cannot record the crashed run of %s yet: %s", checkpoint, error)
            continue
        if target is None:  # another tracker recovered it first
            continue
        recovered += 1
        log.warning(
            "run %s (pid %s) ended without writing its row: recorded as crashed in %s",
            record.get("run_id"),
            record.get("pid"),
            target,
        )
    return recovered


def _append_crashed(
    output_path: Path, checkpoint: Path, row: Mapping[str, object], fieldnames: Sequence[str]
) -> Path | None:
    """Append a dead run's row and delete its checkpoint, under the CSV's lock; the file written,
    ``None`` when the checkpoint was already gone. A file that is not an emissions CSV is left
    untouched and the row goes beside it, where the tracker writes its own rows."""
    with locked(output_path):
        if not checkpoint.exists():
            return None
        try:
            append_row_locked(output_path, row, fieldnames)
            target = output_path
        except ForeignFileError:
            target = sibling_path(output_path)
            append_row(target, row, fieldnames)
        checkpoint.unlink()
    return target
