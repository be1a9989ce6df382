"""Delivering spooled rows: used by the tracker's background thread and ``python -m tracker sync``.

A :class:`Courier` holds one connection (made on first use, its schema migrated once), reads a
batch of spooled rows, keeps each run's and task's newest, upserts them in one transaction and
removes the files only once it has committed. A crash between the commit and the removal only
means the rows are sent again, and an upsert of a row already there changes nothing: never a
duplicate. A row that can never be written is set aside (:meth:`Spool.set_aside`), not retried.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tracker import config
from tracker.db import migrations, writes
from tracker.db.spool import Spool, folder_name

log = logging.getLogger(__name__)

BATCH_ROWS = 1000
SYNC_HINT = "`python -m tracker sync`"
SYNC_CONNECT_TIMEOUT_S = 5
EXIT_FAILED, EXIT_USAGE = 1, 2


def reason(error: BaseException) -> str:
    """One line for a log: psycopg's messages span lines; the URL's password is never in them."""
    if isinstance(error, ImportError):
        return "psycopg is not installed (pip install 'carbonboard[postgres]')"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


@dataclass
class Delivered:
    """What one delivery did."""

    runs: int = 0  # spooled run rows delivered (or superseded by a newer one delivered)
    tasks: int = 0
    set_aside: list[Path] = field(default_factory=list)

    def __iadd__(self, other: Delivered) -> Delivered:
        self.runs += other.runs
        self.tasks += other.tasks
        self.set_aside += other.set_aside
        return self


class Courier:
    """Delivers one spool's rows to ``url`` over one connection."""

    def __init__(
        self, url: str, spool: Spool, *, connect: Callable[[str], Any] = writes.connect
    ) -> None:
        self.url = url
        self.spool = spool
        self._connect = connect
        self._conn: Any = None

    def deliver(self) -> Delivered:
        """Everything waiting now, in batches; raises (``ImportError``, psycopg errors,
        :class:`~tracker.db.migrations.SchemaError`) when the database cannot take them: the
        rows stay in the spool."""
        total = Delivered()
        self.spool.remove_stale_temporaries()
        while paths := self.spool.pending()[:BATCH_ROWS]:
            total += self._deliver_batch(paths)
            if len(paths) < BATCH_ROWS:
                break
        return total

    def prepare(self) -> int:
        """Connect and bring the schema up to date now; the schema version."""
        conn = self._connection()
        version = migrations.state(conn).version
        conn.commit()  # end the read: the deliveries' transactions must be top-level
        return version

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as error:  # a connection already broken
                log.debug("closing the database connection: %s", error)

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            conn = self._connect(self.url)
            try:
                migrations.migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _deliver_batch(self, paths: list[Path]) -> Delivered:
        done = Delivered()
        targets = {"runs": writes.runs_target(), "tasks": writes.tasks_target()}
        entries: list[tuple[Path, str, list[object]]] = []
        for path in paths:
            try:
                entry = self.spool.read(path)
                values = writes.db_values(entry.row, targets[entry.table].columns)
            except FileNotFoundError:
                continue  # delivered by another process, or superseded meanwhile
            except (ValueError, OSError) as error:  # RowError, bad JSON: never deliverable
                self._set_aside(done, path, str(error))
                continue
            entries.append((path, entry.table, values))
        if not entries:
            return done
        conn = self._connection()
        try:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    for table, target in targets.items():
                        rows = [values for _, kind, values in entries if kind == table]
                        writes.upsert(cur, target, writes.newest(rows, target))
            except Exception as error:
                if not writes.refused_row(error):
                    raise
                # One row the database refuses must not hold back the others: one at a time.
                entries = self._deliver_one_by_one(conn, entries, targets, done)
        except BaseException:
            self.close()
            raise
        for path, table, _ in entries:
            self.spool.remove(path)
            if table == "runs":
                done.runs += 1
            else:
                done.tasks += 1
        return done

    def _deliver_one_by_one(
        self,
        conn: Any,
        entries: list[tuple[Path, str, list[object]]],
        targets: Mapping[str, writes.Target],
        done: Delivered,
    ) -> list[tuple[Path, str, list[object]]]:
        """Each row in a transaction of its own (an older row never replaces a newer one, in
        any order); those the database refuses are set aside. The rows delivered."""
        delivered = []
        for path, table, values in entries:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    writes.upsert(cur, targets[table], [values])
            except Exception as error:
                if not writes.refused_row(error):
                    raise
                self._set_aside(done, path, f"the database refused it: {reason(error)}")
                continue
            delivered.append((path, table, values))
        return delivered

    def _set_aside(self, done: Delivered, path: Path, why: str) -> None:
        done.set_aside.append(self.spool.set_aside(path, why))
        log.warning("spooled row %s cannot be written (%s): moved aside", path, why)


def waiting(environ: Mapping[str, str]) -> list[tuple[Spool, int]]:
    """Every spool with rows still waiting, and how many."""
    return [(s, n) for s in Spool.existing(environ) if (n := len(s.pending()))]


def sync_command(
    database_url: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """``python -m tracker sync``: create or upgrade the schema, deliver every row waiting for
    the database (``--database``, else the ``database_url`` setting) and say what was done and
    what waits for other databases. Exit 0 when everything for it was delivered."""
    environ = os.environ if environ is None else environ
    try:
        url = config.resolve({"database_url": database_url}, environ=environ).database_url
    except ValueError as error:
        print(f"carbonboard: {error}", file=err)
        return EXIT_USAGE
    if not url:
        print(
            "carbonboard: no database: pass --database postgresql://... or set "
            "CARBONBOARD_DATABASE_URL",
            file=err,
        )
        return EXIT_USAGE
    try:
        writes.check_url(url)
    except ValueError as error:
        print(f"carbonboard: {error}", file=err)
        return EXIT_USAGE
    shown = config.shown_url(url)
    try:
        ours = [s for s in Spool.existing(environ) if s.folder.name == folder_name(url)]
        ours = ours or [Spool.for_database(url, environ)]
    except OSError as error:
        print(f"carbonboard: no spool folder: {error}", file=err)
        return EXIT_FAILED
    connect = functools.partial(
        writes.connect,
        connect_timeout_s=SYNC_CONNECT_TIMEOUT_S,
        application_name="carbonboard-sync",
    )
    total = Delivered()
    version = 0
    for spool in ours:
        courier = Courier(url, spool, connect=connect)
        try:
            version = courier.prepare()
            total += courier.deliver()
        except Exception as error:
            print(
                f"carbonboard: cannot deliver to {shown}: {reason(error)}; the rows stay in "
                f"{spool.folder}",
                file=err,
            )
            return EXIT_FAILED
        finally:
            courier.close()
    print(
        f"{shown} (schema version {version}): delivered {total.runs} run row(s) and "
        f"{total.tasks} task row(s)",
        file=out,
    )
    for path in total.set_aside:
        print(f"set aside, cannot be written (reason beside it): {path}", file=err)
    for spool, count in waiting(environ):
        if spool.folder.name != folder_name(url):
            print(
                f"{count} row(s) in {spool.folder} wait for another database, {spool.database}: "
                "python -m tracker sync --database <its URL>",
                file=out,
            )
    return EXIT_FAILED if total.set_aside else 0
