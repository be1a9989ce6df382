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
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from tracker.output.csv_file import append_row_locked
from tracker.output.lock import locked

log = logging.getLogger(__name__)

FORMAT = 1
# psutil derives start times from clock ticks since boot: equal starts agree within this.
_START_TIME_TOLERANCE_S = 1.0


def runs_dir(path: Path) -> Path:
    """The checkpoint folder of an output file."""
    return path.with_name(f".{path.name}.runs")


def process_started_at(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


class Checkpoint:
    """The checkpoint file of one run of this process."""

    def __init__(self, output_path: Path, run_id: str) -> None:
        self.path = runs_dir(output_path) / f"{run_id}.json"
        self._run_id = run_id
        self._pid = os.getpid()
        self._started_at = process_started_at(self._pid)
        self._hostname = socket.gethostname()

    def write(self, row: Mapping[str, str]) -> None:
        """Replace the checkpoint with ``row`` (cell texts). Raises ``OSError``."""
        record = {
            "format": FORMAT,
            "run_id": self._run_id,
            "pid": self._pid,
            "process_started_at": self._started_at,
            "hostname": self._hostname,
            "updated_at": row.get("timestamp", ""),
            "row": dict(row),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.tmp")
        with temp.open("w", encoding="utf-8") as handle:
            json.dump(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)

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
    hostname = socket.gethostname()
    recovered = 0
    for checkpoint in sorted(folder.glob("*.json")):
        try:
            record = json.loads(checkpoint.read_text(encoding="utf-8"))
            row = record["row"]
        except FileNotFoundError:  # finished meanwhile
            continue
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("removing unreadable checkpoint %s: %s", checkpoint, error)
            checkpoint.unlink(missing_ok=True)
            continue
        if record.get("hostname") != hostname or _is_alive(record):
            continue
        with locked(output_path):
            if not checkpoint.exists():  # another tracker recovered it first
                continue
            append_row_locked(output_path, {**row, "status": "crashed"}, fieldnames)
            checkpoint.unlink()
        recovered += 1
        log.warning(
            "run %s (pid %s) ended without writing its row: recorded as crashed in %s",
            record.get("run_id"),
            record.get("pid"),
            output_path,
        )
    return recovered
