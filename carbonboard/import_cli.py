"""``carbonboard import``: load existing CSV histories (ours and CodeCarbon's) into the team's
PostgreSQL, idempotently.

Files, folders and globs are expanded as the dashboard expands them (a runs file brings its tasks
files) and parsed by the dashboard's loader, so a row the board would skip is skipped here, with
the same reason, and the values stored are the ones the board shows. A file is read part by part
(worker processes parse the next parts meanwhile, a few ahead), and each part written as it
comes, so the import holds a few parts in memory, never the whole file. Each run's newest row
(later ``timestamp``, longer ``duration``, a final status over ``running``, then the last read:
flush rows collapse to the run's last row) is picked as a part is staged (across parts and files,
in SQL), sent with binary ``COPY`` into temporary tables, and upserted in one transaction; into
an empty runs table, in bulk (:class:`Importer`). A row already in the database is replaced only
by a newer one, so importing twice is importing once; an interrupted import writes nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
import numpy as np
import pandas as pd

from carbonboard.data.history import newest_rows
from carbonboard.data.loader import TEXT_DTYPE, Parsed, column_dtype
from carbonboard.data.parallel import default_workers
from carbonboard.data.paths import expand_paths, os_reason
from carbonboard.data.store import read_bounded
from tracker import schema
from tracker.config import shown_url
from tracker.db import ddl, migrations, writes
from tracker.db.sync import reason

USAGE_ERROR, FAILED = 2, 1
STAGING = {"runs": "import_runs", "tasks": "import_tasks"}
PART = "import_part"  # one part of a runs file on its way straight into an empty table
# PostgreSQL's binary COPY: signature, flags, header extension; a -1 field count ends the data.
PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
PGCOPY_TRAILER = b"\xff\xff"
# One big transaction: memory for its temporary tables, sorts and index builds, and no JIT
# compilation (it costs seconds for statements that run once).
SESSION_SETTINGS = {
    "jit": "off",
    "work_mem": "256MB",
    "temp_buffers": "512MB",
    "maintenance_work_mem": "256MB",
}
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
    """One frame ready for COPY (:func:`tracker.db.ddl.staging_tables`): its rows in
    PostgreSQL's binary format (each key's newest), its combinations of text values as CSV, how
    many rows were kept, the staged keys' hashes, the rows left out."""

    rows: bytes
    combos: bytes
    kept: int
    key_hashes: np.ndarray
    skipped: Counter[str]


def per_row_text(columns: Sequence[schema.Column]) -> tuple[str, ...]:
    """The text columns staged with each row: those the loader keeps as one string per row
    (nearly unique: ``run_id``, ``metrics``); the others are few values per file."""
    return tuple(
        c.name for c in columns if not ddl.is_binary(c) and column_dtype(c.name) == TEXT_DTYPE
    )


def stage(
    frame: pd.DataFrame,
    columns: Sequence[schema.Column],
    key: Sequence[str],
    first_ord: int,
    first_combo: int,
) -> Staged:
    """``frame``'s rows (numbered from ``first_ord``), each ``key``'s newest only, as COPY
    payloads; combinations numbered from ``first_combo``. A row without a time is left out
    first (the loader already leaves out what the board would not show, a count that is not a
    whole number or beyond 64 bits included)."""
    skipped: Counter[str] = Counter()
    keep = np.ones(len(frame), dtype=bool)
    fields: list[tuple[str, str]] = [("count", ">i2")]
    fields += [("ord_size", ">i4"), ("ord", ">i8"), ("combo_size", ">i4"), ("combo", ">i8")]
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
        values[f"value{index}"] = frame[column.name].to_numpy(dtype=float)
    kept = int(keep.sum())
    picked = newest_rows(frame, key, keep)
    per_row = per_row_text(columns)
    texts = [c.name for c in columns if not ddl.is_binary(c) and c.name not in per_row]
    combo_of_row, combos = combinations(frame, texts, picked)
    rows_of_frame = slice(None) if len(picked) == len(frame) else picked  # no copy when all
    # Per-row text: each field its length (-1: NULL, for missing or empty text) and UTF-8. The
    # leading columns whose values all have one length (a run_id's UUID, no metrics) go in the
    # records themselves; from the first that does not, the fields are joined row by row.
    texts = []
    for name in per_row:
        encoded = [v.encode("utf-8") if isinstance(v, str) else b"" for v in frame[name].to_numpy()]
        encoded = [encoded[i] for i in picked] if len(picked) < len(frame) else encoded
        texts.append((encoded, np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))))
    inline = 0
    for index, (_, sizes) in enumerate(texts):
        if len(sizes) and sizes.min() != sizes.max():
            break
        fields.append((f"text_size{index}", ">i4"))
        if len(sizes) and sizes[0]:
            fields.append((f"text{index}", f"S{sizes[0]}"))
        inline += 1
    binary = np.zeros(len(picked), dtype=fields)
    binary["count"] = 2 + len(fixed) + len(per_row)
    binary["ord_size"] = binary["combo_size"] = 8
    binary["combo"] = combo_of_row + first_combo
    for index in range(len(fixed)):
        binary[f"size{index}"] = 8
    for name, column_values in values.items():
        binary[name] = column_values[rows_of_frame]
    for index, (encoded, sizes) in enumerate(texts[:inline]):
        width = int(sizes[0]) if len(sizes) else 0
        binary[f"text_size{index}"] = width or -1
        if width:
            binary[f"text{index}"] = encoded
    if inline == len(texts):
        rows = binary.tobytes()
    else:
        parts = [_row_slices(binary)]
        for encoded, sizes in texts[inline:]:
            parts += [_row_slices(np.where(sizes == 0, -1, sizes).astype(">i4")), encoded]
        rows = b"".join(itertools.chain.from_iterable(zip(*parts, strict=True)))
    combo_lines = [
        ",".join([str(number + first_combo), *(csv_field(text) for text in texts_of_combo)])
        for number, texts_of_combo in enumerate(combos)
    ]
    key_values = zip(*(frame[name].to_numpy()[picked] for name in key), strict=True)
    hashes = np.fromiter(map(hash, key_values), dtype=np.int64, count=len(picked))
    return Staged(
        PGCOPY_HEADER + rows + PGCOPY_TRAILER,
        "".join(f"{line}\n" for line in combo_lines).encode("utf-8"),
        kept,
        hashes,
        skipped,
    )


def combinations(
    frame: pd.DataFrame, names: Sequence[str], picked: np.ndarray
) -> tuple[np.ndarray, list[list[str]]]:
    """The rows ``picked``'s combinations of the text columns ``names``: each row's number and
    the combinations' values ("" when missing), so a file's few values are sent once."""
    if len(picked) == 0:
        return np.zeros(0, dtype=np.int64), []
    if not names:
        return np.zeros(len(picked), dtype=np.int64), [[]]
    codes, labels = [], []
    for name in names:
        values = frame[name].iloc[picked]
        if not isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype("category")
        codes.append(values.cat.codes.to_numpy().astype(np.int64))
        labels.append([str(category) for category in values.cat.categories])
    combo_of_row = np.zeros(len(picked), dtype=np.int64)
    for column_codes in codes:  # numbered column by column: a number stays below the rows'
        combined = combo_of_row * (int(column_codes.max()) + 2) + column_codes + 1
        combo_of_row = pd.factorize(combined)[0].astype(np.int64)
    first_row = np.zeros(int(combo_of_row.max()) + 1, dtype=np.int64)
    first_row[combo_of_row[::-1]] = np.arange(len(picked) - 1, -1, -1)
    combos = [
        [labels[j][column[row]] if column[row] >= 0 else "" for j, column in enumerate(codes)]
        for row in first_row
    ]
    return combo_of_row, combos


def _row_slices(records: np.ndarray) -> list[bytes]:
    """Each record of a one-dimensional array as its bytes."""
    data, width = records.tobytes(), records.itemsize
    return [data[i : i + width] for i in range(0, len(data), width)]


def csv_field(text: str) -> str:
    """One CSV field as PostgreSQL's ``COPY ... (FORMAT csv)`` reads it: quoted when it holds a
    comma, a quote or a line break; empty stays unquoted, which COPY reads as NULL."""
    if NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


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
    """One import: files staged with COPY, then written by :meth:`finish` in one transaction.

    Into an empty runs table, as its owner, runs are written in bulk
    (:func:`tracker.db.writes.bulk_into_empty`, entered at the first part of a runs file): a
    part whose runs this import has not met before goes straight into the table as soon as it
    is parsed, while the next parts are parsed, and the rest (a run met again: a later file, or
    flush rows across two parts) is staged and written by :meth:`finish` with the upsert that
    keeps the newer row, once the rollups are filled and the keys built."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.summary = ImportSummary()
        self._ord = 0
        self._combos = 0
        self._met: list[np.ndarray] = []  # the key hashes of the runs parts, while in bulk
        self._staged: dict[str, list[np.ndarray]] = {table: [] for table in TARGETS}
        self._bulk: contextlib.ExitStack | None = None  # open while runs go straight in
        self._bulk_decided = False
        self._started = time.monotonic()
        with conn.cursor() as cur:
            for table, target in TARGETS.items():
                per_row = per_row_text(target.columns)
                cur.execute(ddl.staging_tables(STAGING[table], target.columns, per_row))
            runs = TARGETS["runs"].columns
            cur.execute(ddl.staging_tables(PART, runs, per_row_text(runs)))

    def add_file(self, path: Path, progress: Callable[[int], None] = lambda read: None) -> None:
        """Parse ``path`` as the board does, each part staged as it is read and written by a
        thread of its own while the next is staged; ``progress`` is told the bytes of each
        part read."""
        writer = _PartWriter(self._write_part)
        reported = 0

        def take_part(part: Parsed) -> None:
            nonlocal reported
            if len(part.frame):
                writer.put(*self._stage_part(part.frame, part.kind))
            progress(part.end_offset - reported)
            reported = part.end_offset

        try:
            read = read_bounded(path, workers=default_workers(), take_part=take_part)
        except BaseException as error:
            writer.abandon()  # Ctrl+C does not wait for the part being written
            if writer.started or not isinstance(error, Exception):
                raise  # parts of the file are on their way: the whole import fails
            self.summary.file_problems.append(f"{path}: {os_reason(error)}")
            return
        writer.close()
        if read.error:
            self.summary.file_problems.append(f"{path}: {read.error}")
        self.summary.files += 1
        for skipped in read.parsed.skipped:
            self.summary.skipped[reason_kind(skipped.reason)] += 1
        if read.unlisted:
            self.summary.skipped["malformed row (beyond those listed)"] += read.unlisted
        self.summary.rows_read += len(read.parsed.skipped) + read.unlisted

    def _stage_part(self, frame: pd.DataFrame, kind: str) -> tuple[str, Staged]:
        """One part's rows, each run's newest, ready for COPY, and its table."""
        table = "tasks" if kind == "tasks" else "runs"
        target = TARGETS[table]
        staged = stage(frame, target.columns, target.key, self._ord, self._combos)
        self.summary.skipped.update(staged.skipped)
        self.summary.rows_read += len(frame)
        self.summary.staged[table] += staged.kept
        self._ord += len(frame)
        self._combos += staged.combos.count(b"\n")
        return table, staged

    def _write_part(self, table: str, staged: Staged) -> None:
        """Inserted now when bulk writing is on and none of its keys was met before, else
        staged for :meth:`finish`."""
        target = TARGETS[table]
        if table == "runs" and self._bulk_writing() and self._all_new(staged.key_hashes):
            self._copy(PART, target, staged)
            with self.conn.cursor() as cur:
                staging = ddl.staged_rows(PART, target.columns, per_row_text(target.columns))
                cur.execute(
                    ddl.insert_rows(target.table, target.names, ddl.rows_of(staging, target.names))
                )
                cur.execute(f"TRUNCATE {PART}_rows, {PART}_combos")
            return
        self._copy(STAGING[table], target, staged)
        self._staged[table].append(staged.key_hashes)

    def _bulk_writing(self) -> bool:
        """Whether runs go straight into the table: decided once, at the first runs part."""
        if not self._bulk_decided:
            self._bulk_decided = True
            stack = contextlib.ExitStack()
            cur = stack.enter_context(self.conn.cursor())
            if stack.enter_context(writes.bulk_into_empty(cur, ddl.RUNS)):
                self._bulk = stack
            else:
                stack.close()
        return self._bulk is not None

    def _all_new(self, hashes: np.ndarray) -> bool:
        """Whether none of a runs part's keys (``hashes``) was met before in this import (two
        keys' hashes that collide count as met: the run is then staged, which is right either
        way); they are met from now on."""
        new = not self._met or not np.isin(hashes, np.concatenate(self._met)).any()
        self._met.append(hashes)
        return new

    def _copy(self, prefix: str, target: writes.Target, staged: Staged) -> None:
        """COPY ``staged`` into the staging tables ``prefix``_rows and ``prefix``_combos."""
        per_row = per_row_text(target.columns)
        texts = [c for c in target.columns if not ddl.is_binary(c)]
        row_names = ", ".join(
            ["ord", "combo"]
            + [ddl.ident(c.name) for c in target.columns if ddl.is_binary(c)]
            + [ddl.ident(c.name) for c in texts if c.name in per_row]
        )
        combo_names = ", ".join(
            ["combo", *(ddl.ident(c.name) for c in texts if c.name not in per_row)]
        )
        with self.conn.cursor() as cur:
            with cur.copy(
                f"COPY {prefix}_rows ({row_names}) FROM STDIN WITH (FORMAT binary)"
            ) as copy:
                copy.write(staged.rows)
            with cur.copy(
                f"COPY {prefix}_combos ({combo_names}) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(staged.combos)

    def _keys_repeat(self, table: str) -> bool:
        """Whether a key was staged more than once (or two keys' hashes collide: the SQL then
        picks each key's newest row, which is right either way)."""
        hashes = np.concatenate(self._staged[table] or [np.zeros(0, dtype=np.int64)])
        return len(np.unique(hashes)) < len(hashes)

    def finish(self) -> ImportSummary:
        """Finish bulk writing (rollups filled, keys and indexes built), write each key's newest
        staged row, and commit."""
        with self.conn.cursor() as cur:
            if self._bulk is not None:
                self._bulk.close()
            for table, target in TARGETS.items():
                if self._staged[table]:
                    self._write_staged(cur, table, target)
            if self._bulk is not None:  # into an empty table, every run written is new
                cur.execute(f"SELECT count(*) FROM {ddl.RUNS}")
                written = cur.fetchone()[0]
                self.summary.keys["runs"] = self.summary.inserted["runs"] = written
                self.summary.updated["runs"] = 0
        self.conn.commit()
        self.summary.elapsed_s = time.monotonic() - self._started
        return self.summary

    def _write_staged(self, cur: Any, table: str, target: writes.Target) -> None:
        """Each staged key's newest row: keys the database lacks with a plain ``INSERT``; the
        rest, or every row when another writer inserted one of those keys meanwhile, with the
        upsert that keeps the newer."""
        from psycopg.errors import UniqueViolation

        prefix = STAGING[table]
        staging = ddl.staged_rows(prefix, target.columns, per_row_text(target.columns))
        if self._keys_repeat(table):
            keys = ", ".join(ddl.ident(k) for k in target.key)
            cur.execute(f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {staging}) k")
            self.summary.keys[table] = cur.fetchone()[0]
            newest = f"{prefix}_newest"
            cur.execute(
                f"CREATE TEMPORARY TABLE {newest} ON COMMIT DROP AS "
                + ddl.newest_per_key(staging, target.names, target.key)
            )
        else:
            self.summary.keys[table] = sum(len(h) for h in self._staged[table])
            newest = ddl.rows_of(staging, target.names)
        try:
            with self.conn.transaction():  # a savepoint: a conflict undoes this alone
                cur.execute(ddl.insert_absent(target.table, target.names, target.key, newest))
                self.summary.inserted[table] += cur.rowcount
        except UniqueViolation:
            self.summary.inserted[table] = 0
        source = ddl.newer_than_stored(newest, target.table, target.key)
        cur.execute(ddl.upsert(target.table, target.names, target.key, source))
        for (inserted,) in cur.fetchall():
            (self.summary.inserted if inserted else self.summary.updated)[table] += 1


class _PartWriter:
    """Writes parts with ``write``, in order, in a thread of its own, while the caller stages
    the next: the database and Python each work on a core. The thread starts with the first
    part (after the parsing workers are forked: a process forks only while one thread runs).
    At most two parts wait. After a failed write the parts left are dropped, and ``put`` and
    ``close`` raise what the write raised."""

    def __init__(self, write: Callable[..., None]) -> None:
        self._write = write
        self._parts: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._abandoned = False
        self._thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        """Whether a part was handed over."""
        return self._thread is not None

    def put(self, *part: object) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
            self._thread.start()
        if self._error is not None:
            raise self._error
        self._parts.put(part)

    def _run(self) -> None:
        while (part := self._parts.get()) is not None:
            if self._error is None and not self._abandoned:
                try:
                    self._write(*part)
                except BaseException as error:
                    self._error = error

    def close(self) -> None:
        """Wait for the last part to be written."""
        if self._thread is None:
            return
        self._parts.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Stop without waiting: the parts left are dropped, the one being written ends when
        the import's connection closes."""
        if self._thread is None:
            return
        self._abandoned = True
        with contextlib.suppress(queue.Empty):
            while True:
                self._parts.get_nowait()
        self._parts.put_nowait(None)  # room for it: only the caller puts


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
    except ImportError:
        _fail("needs psycopg: pip install 'carbonboard[postgres]'")
    except Exception as error:
        _fail(f"cannot connect to {shown}: {reason(error)}", FAILED)
    try:
        migrations.migrate(conn)
        importer = Importer(conn)
        total_bytes = sum(_size(path) for path in expanded.files)
        with click.progressbar(
            length=total_bytes, label="reading", file=sys.stderr, show_pos=False
        ) as bar:
            for path in expanded.files:  # the bar moves part by part, then to the file's end
                done = bar.pos + _size(path)
                importer.add_file(path, bar.update)
                bar.update(max(done - bar.pos, 0))
        click.echo("writing...", err=True)
        summary = importer.finish()
    except Exception as error:
        _fail(f"nothing imported into {shown}: {reason(error)}", FAILED)
    finally:
        conn.close()
    for line in summary.lines(shown):
        click.echo(line)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
