"""``carbonboard import``: load existing CSV histories (ours and CodeCarbon's) into the team's
PostgreSQL, idempotently.

Files, folders and globs are expanded as the dashboard expands them (a runs file brings its tasks
files) and parsed by the dashboard's loader, so a row the board would skip is skipped here, with
the same reason, and the values stored are the ones the board shows. Rows are streamed with
``COPY`` into temporary tables, then each run's newest row (later ``timestamp``, longer
``duration``, a final status over ``running``, then the last read: flush rows collapse to the
run's last row) is upserted in one transaction. A row already in the database is replaced only by
a newer one, so importing twice is importing once; an interrupted import writes nothing.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np
import pandas as pd

from carbonboard.data.paths import expand_paths, os_reason
from carbonboard.data.store import read_bounded
from tracker import schema
from tracker.config import shown_url
from tracker.db import ddl, migrations, writes

USAGE_ERROR, FAILED = 2, 1
COPY_ROWS = 50_000  # rows of text formatted and sent per COPY chunk
STAGING = {"runs": "import_runs", "tasks": "import_tasks"}
# PostgreSQL's binary COPY: signature, flags, header extension; a -1 field count ends the data.
PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
PGCOPY_TRAILER = b"\xff\xff"
# One big transaction: memory for its temporary tables and sorts, and no JIT compilation (it
# costs seconds for statements that run once).
SESSION_SETTINGS = {"jit": "off", "work_mem": "256MB", "temp_buffers": "512MB"}
NEEDS_QUOTES = re.compile('[,"\n\r]')  # a CSV field holding one of these is quoted
PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 UTC, PostgreSQL's zero time, in Unix us
TARGETS = {"runs": writes.runs_target(), "tasks": writes.tasks_target()}


def _fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    click.echo(f"carbonboard import: {message}", err=True)
    raise SystemExit(code)


def reason_kind(reason: str) -> str:
    """A skipped row's reason without the offending value, to count reasons together."""
    return reason.split(": ", 1)[0]


@dataclass
class Staged:
    """One frame ready for COPY: numbers and times in PostgreSQL's binary format, text as CSV
    chunks, and the rows left out by reason."""

    numbers: bytes
    text: list[bytes]
    rows: int
    skipped: Counter[str]


def stage(frame: pd.DataFrame, columns: Sequence[schema.Column], first_ord: int) -> Staged:
    """``frame``'s rows as COPY payloads for :func:`tracker.db.ddl.staging_tables`, numbered
    from ``first_ord``. A count that is not a whole number, or a row without a time, is left
    out (the loader already leaves out what the board would not show)."""
    skipped: Counter[str] = Counter()
    keep = np.ones(len(frame), dtype=bool)
    fields: list[tuple[str, str]] = [("count", ">i2"), ("ord_size", ">i4"), ("ord", ">i8")]
    values: dict[str, np.ndarray] = {"ord": np.arange(first_ord, first_ord + len(frame))}
    fixed = [c for c in columns if ddl.is_binary(c)]
    for index, column in enumerate(fixed):
        fields += [(f"size{index}", ">i4"), (f"value{index}", ">f8")]
        if column.kind == "datetime":
            moments = frame[column.name].dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
            _leave_out(np.isnat(moments), keep, skipped, f"{column.name} missing")
            values[f"value{index}"] = moments.view(np.int64) - PG_EPOCH_US
            fields[-1] = (f"value{index}", ">i8")
            continue
        numbers = frame[column.name].to_numpy(dtype=float)
        if column.kind == "int":
            fractional = ~np.isnan(numbers) & (numbers != np.floor(numbers))
            _leave_out(fractional, keep, skipped, f"{column.name} is not a whole number")
        values[f"value{index}"] = numbers
    binary = np.zeros(len(frame), dtype=fields)
    binary["count"] = 1 + len(fixed)
    binary["ord_size"] = 8
    for index in range(len(fixed)):
        binary[f"size{index}"] = 8
    for name, column_values in values.items():
        binary[name] = column_values
    text = [values["ord"].astype(str).astype(object)]
    text += [csv_fields(frame[c.name]) for c in columns if not ddl.is_binary(c)]
    if not keep.all():
        binary, text = binary[keep], [fields[keep] for fields in text]
    rows = len(binary)
    chunks = [_csv_lines(text, i, i + COPY_ROWS) for i in range(0, rows, COPY_ROWS)]
    return Staged(PGCOPY_HEADER + binary.tobytes() + PGCOPY_TRAILER, chunks, rows, skipped)


def _csv_lines(columns: list[np.ndarray], start: int, stop: int) -> bytes:
    rows = zip(*(fields[start:stop] for fields in columns), strict=True)
    return "".join(f"{line}\n" for line in map(",".join, rows)).encode("utf-8")


def csv_field(text: str) -> str:
    """One CSV field as PostgreSQL's ``COPY ... (FORMAT csv)`` reads it: quoted when it holds a
    comma, a quote or a line break; empty stays unquoted, which COPY reads as NULL."""
    if NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_fields(values: pd.Series) -> np.ndarray:
    """A text column as CSV fields (missing: empty). A categorical is quoted once per category,
    not once per row: several times faster than ``DataFrame.to_csv`` on a history's columns."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        quoted = [csv_field(str(category)) for category in values.cat.categories]
        return np.asarray([*quoted, ""], dtype=object)[values.cat.codes.to_numpy()]  # -1: ""
    return np.asarray(
        [csv_field(value) if isinstance(value, str) else "" for value in values.to_numpy()],
        dtype=object,
    )


def _leave_out(bad: np.ndarray, keep: np.ndarray, skipped: Counter[str], why: str) -> None:
    newly = bad & keep
    if newly.any():
        skipped[why] += int(newly.sum())
        keep &= ~bad


@dataclass
class ImportSummary:
    """What an import read, wrote and left out."""

    files: int = 0
    rows_read: int = 0
    staged: Counter[str] = field(default_factory=Counter)  # rows kept, per table
    keys: Counter[str] = field(default_factory=Counter)  # distinct runs / tasks among them
    inserted: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # rows, by reason
    file_problems: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0  # from the first file read to the commit

    def lines(self, database: str) -> list[str]:
        written = self.inserted["runs"] + self.updated["runs"]
        folded = sum(self.staged[t] - self.keys[t] for t in ("runs", "tasks"))
        rate = self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0
        lines = [
            f"{self.rows_read:,} rows read from {self.files} file(s) into {database} in "
            f"{self.elapsed_s:.1f} s ({rate:,.0f} rows/s)",
            f"runs written: {written:,} ({self.inserted['runs']:,} new, "
            f"{self.updated['runs']:,} updated; {self.keys['runs'] - written:,} unchanged)",
            f"task rows written: {self.inserted['tasks'] + self.updated['tasks']:,} "
            f"({self.keys['tasks']:,} tasks in the files)",
            f"flush rows folded into their run's last row: {folded:,}",
            f"rows skipped: {sum(self.skipped.values()):,}",
        ]
        lines += [f"  {count:,}  {why}" for why, count in self.skipped.most_common()]
        lines += [f"file left out: {problem}" for problem in self.file_problems]
        return lines


class Importer:
    """One import: files staged with COPY, then written by :meth:`finish` in one transaction."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.summary = ImportSummary()
        self._ord = 0
        self._started = time.monotonic()
        with conn.cursor() as cur:
            for table, target in TARGETS.items():
                cur.execute(ddl.staging_tables(STAGING[table], target.columns))

    def add_file(self, path: Path) -> None:
        """Parse ``path`` as the board does and COPY its rows into the staging table."""
        try:
            read = read_bounded(path)
        except Exception as error:
            self.summary.file_problems.append(f"{path}: {os_reason(error)}")
            return
        if read.error:
            self.summary.file_problems.append(f"{path}: {read.error}")
        self.summary.files += 1
        parsed = read.parsed
        for skipped in parsed.skipped:
            self.summary.skipped[reason_kind(skipped.reason)] += 1
        if read.unlisted:
            self.summary.skipped["malformed row (beyond those listed)"] += read.unlisted
        table = "tasks" if parsed.kind == "tasks" else "runs"
        target = TARGETS[table]
        staged = stage(parsed.frame, target.columns, self._ord)
        self.summary.skipped.update(staged.skipped)
        self.summary.rows_read += len(parsed.frame) + len(parsed.skipped) + read.unlisted
        self.summary.staged[table] += staged.rows
        self._ord += len(parsed.frame)
        prefix = STAGING[table]
        text_names = ", ".join(
            ["ord", *(ddl.ident(c.name) for c in target.columns if not ddl.is_binary(c))]
        )
        number_names = ", ".join(
            ["ord", *(ddl.ident(c.name) for c in target.columns if ddl.is_binary(c))]
        )
        with self.conn.cursor() as cur:
            statement = f"COPY {prefix}_numbers ({number_names}) FROM STDIN WITH (FORMAT binary)"
            with cur.copy(statement) as copy:
                copy.write(staged.numbers)
            with cur.copy(
                f"COPY {prefix}_text ({text_names}) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                for chunk in staged.text:
                    copy.write(chunk)

    def finish(self) -> ImportSummary:
        """Write each key's newest staged row; commit. Keys the database lacks (all of them,
        into an empty one) go in with a plain ``INSERT``; the rest, or every row when another
        writer inserted one of those keys meanwhile, with the upsert that keeps the newer."""
        from psycopg.errors import UniqueViolation

        with self.conn.cursor() as cur:
            for table, target in TARGETS.items():
                prefix = STAGING[table]
                staging = ddl.staged_rows(prefix, target.columns)
                keys = ", ".join(ddl.ident(k) for k in target.key)
                cur.execute(  # every key column is text: the text table alone has them
                    f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {prefix}_text) k"
                )
                self.summary.keys[table] = cur.fetchone()[0]
                newest = f"{prefix}_newest"
                cur.execute(
                    f"CREATE TEMPORARY TABLE {newest} ON COMMIT DROP AS "
                    + ddl.newest_per_key(staging, target.names, target.key)
                )
                try:
                    with self.conn.transaction():  # a savepoint: a conflict undoes this alone
                        cur.execute(
                            ddl.insert_absent(target.table, target.names, target.key, newest)
                        )
                        self.summary.inserted[table] += cur.rowcount
                except UniqueViolation:
                    self.summary.inserted[table] = 0
                source = ddl.newer_than_stored(newest, target.table, target.key)
                cur.execute(ddl.upsert(target.table, target.names, target.key, source))
                for (inserted,) in cur.fetchall():
                    (self.summary.inserted if inserted else self.summary.updated)[table] += 1
        self.conn.commit()
        self.summary.elapsed_s = time.monotonic() - self._started
        return self.summary


@click.command("import")
@click.option(
    "--database",
    "database_url",
    envvar="CARBONBOARD_DATABASE_URL",
    required=True,
    metavar="URL",
    help="postgresql://user@host/dbname (default: $CARBONBOARD_DATABASE_URL). Keep the password "
    "in ~/.pgpass or $PGPASSWORD rather than on the command line.",
)
@click.option(
    "--filepath",
    "filepaths",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Emissions or tasks CSV, a directory or a glob; repeat to import several.",
)
def import_command(database_url: str, filepaths: tuple[str, ...]) -> None:
    """Import CSV histories into the team's PostgreSQL database (idempotent).

    \b
    carbonboard import --database postgresql://carbonboard_owner@db/carbonboard \\
        --filepath runs/ --filepath 'archive/*.csv'
    """
    shown = shown_url(database_url)
    expanded = expand_paths(filepaths)
    for problem in expanded.problems:
        click.echo(f"carbonboard import: skipped: {problem}", err=True)
    if not expanded.files:
        _fail("nothing to import")
    try:
        conn = writes.connect(
            database_url,
            connect_timeout_s=10,
            statement_timeout_ms=0,
            application_name="carbonboard-import",
            settings=SESSION_SETTINGS,
        )
    except ValueError as error:
        _fail(str(error))
    except Exception as error:
        _fail(f"cannot connect to {shown}: {_first_line(error)}", FAILED)
    try:
        migrations.migrate(conn)
        importer = Importer(conn)
        total_bytes = sum(_size(path) for path in expanded.files)
        with click.progressbar(
            length=total_bytes, label="reading", file=sys.stderr, show_pos=False
        ) as bar:
            for path in expanded.files:
                importer.add_file(path)
                bar.update(_size(path))
        click.echo("writing...", err=True)
        summary = importer.finish()
    except Exception as error:
        _fail(f"nothing imported into {shown}: {_first_line(error)}", FAILED)
    finally:
        conn.close()
    for line in summary.lines(shown):
        click.echo(line)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
