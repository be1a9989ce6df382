"""The PostgreSQL output: a run's checkpoints, flushes, tasks and final row, upserted on
``run_id`` by a background thread, never on the program's path.

Each row is first written to the spool (:mod:`tracker.db.spool`, one fsynced file); a newer row of
the run makes the previous one's file redundant, so it is removed at once (a long run offline
keeps one file, not one per interval). The thread delivers what the spool holds (rows left by
earlier runs too) with short timeouts, and after a failure retries with a growing delay, up to
:data:`RETRY_MAX_S`. ``close()`` (from ``stop()``) waits at most ``drain_timeout_s``. The first
failure, or rows still waiting at the end, give one warning naming the spool folder; the rows
are delivered by the next tracker start or ``python -m tracker sync``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path

from tracker.config import shown_url
from tracker.db import writes
from tracker.db.spool import Spool
from tracker.db.sync import SYNC_HINT, Courier, reason
from tracker.emissions_data import EmissionsData
from tracker.output.base import BaseOutput
from tracker.row import RunInfo

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 2.0
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


class PostgresOutput(BaseOutput):
    """Rows to ``url`` through the spool. ``environ`` locates the spool (the state folder)."""

    def __init__(
        self,
        url: str,
        *,
        environ: Mapping[str, str],
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        self.url = writes.check_url(url)
        self.shown_url = shown_url(url)
        self._environ = environ
        self._drain_timeout_s = drain_timeout_s
        self._retry_max_s = retry_max_s
        self.spool: Spool | None = None
        self._courier: Courier | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._closing = False
        self._last_run_file: Path | None = None
        self._warned = False
        self._warn_lock = threading.Lock()  # the thread and close() may both want to warn
        self._last_error: BaseException | None = None
        self.delivered_runs = 0
        self.delivered_tasks = 0

    def started(self, run: RunInfo) -> None:
        try:
            self.spool = Spool.for_database(self.url, self._environ)
        except OSError as error:
            log.warning(
                "database %s: no spool folder (%s); this run's rows are not sent to it "
                "(the CSV keeps them)",
                self.shown_url,
                error,
            )
            return
        self._courier = Courier(self.url, self.spool)
        self._thread = threading.Thread(
            target=self._deliver_loop, name="carbonboard-postgres-output", daemon=True
        )
        self._thread.start()
        self._wake.set()  # rows left by earlier runs go first

    def progress(self, data: EmissionsData) -> None:
        self._put_run(data)

    def flushed(self, data: EmissionsData) -> None:
        self._put_run(data)

    def finished(self, data: EmissionsData) -> None:
        self._put_run(data)

    def task(self, data: EmissionsData) -> None:
        if self.spool is None:
            return
        self.spool.put("tasks", {**data.row(), "task_name": data.task_name})
        self._wake.set()

    def close(self) -> None:
        thread = self._thread
        if thread is None or self.spool is None:
            return
        self._closing = True
        self._wake.set()
        thread.join(self._drain_timeout_s)
        left = len(self.spool.pending())
        if not left:
            return
        if thread.is_alive():
            why = f"still delivering after {self._drain_timeout_s:.0f} s"
        else:
            why = reason(self._last_error) if self._last_error else "not delivered"
        self._warn(why, left)

    def _put_run(self, data: EmissionsData) -> None:
        if self.spool is None:
            return
        path = self.spool.put("runs", data.row())
        previous, self._last_run_file = self._last_run_file, path
        if previous is not None:
            self.spool.remove(previous)  # the new row is on disk and newer
        self._wake.set()

    def _deliver_loop(self) -> None:
        assert self._courier is not None
        delay_s: float | None = None  # None: wait until woken
        while True:
            self._wake.wait(delay_s)
            self._wake.clear()
            closing = self._closing
            try:
                delivered = self._courier.deliver()
            except Exception as error:
                self._last_error = error
                self._warn(reason(error), None)
                delay_s = min(max(2 * (delay_s or 0), RETRY_FIRST_S), self._retry_max_s)
            else:
                self.delivered_runs += delivered.runs
                self.delivered_tasks += delivered.tasks
                self._last_error = None
                delay_s = None
            if closing:
                break
        self._courier.close()

    def _warn(self, why: str, left: int | None) -> None:
        """Once per run: where the rows wait and how they will get there."""
        assert self.spool is not None
        count = f"{left} row(s)" if left is not None else "this run's rows"
        message = (
            f"database {self.shown_url}: {why}; {count} wait in {self.spool.folder} and are "
            f"delivered by the next tracker start or {SYNC_HINT}"
        )
        with self._warn_lock:
            first, self._warned = not self._warned, True
        if first:
            log.warning(message)
        else:
            log.debug(message)
