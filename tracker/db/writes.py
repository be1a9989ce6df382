"""Connecting, and writing rows of the contract as idempotent upserts.

A row is a mapping of contract columns to values as the tracker builds them (or as JSON gives them
back from the spool). :func:`db_values` types each value for its column: timestamps parsed (a
time without a zone is UTC, as the board reads files), whole numbers as integers, empty text as
NULL. Writing the same row twice changes nothing; an older row never replaces a newer one
(:data:`tracker.db.ddl.NEWER_RUN`).
"""

from __future__ import annotations

import contextlib
import math
import sys
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tracker import schema
from tracker.db import ddl

CONNECT_TIMEOUT_S = 2  # libpq's smallest
BIGINT_RANGE = (-(2**63), 2**63 - 1)  # an "int" column's SQL type
STATEMENT_TIMEOUT_MS = 10_000
URL_SCHEMES = ("postgresql://", "postgres://")


class RowError(ValueError):
    """A row that can never be written (no run_id, no timestamp...): set aside, not retried."""


def check_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL, else ``ValueError`` (without the URL: it may hold a
    password)."""
    if not url.startswith(URL_SCHEMES):
        raise ValueError("database_url must be a postgresql:// URL")
    try:
        urllib.parse.urlsplit(url).port  # noqa: B018 - parsed for its errors
    except ValueError as error:  # "Port out of range", "Invalid IPv6 URL": never the URL
        raise ValueError(f"database_url is malformed: {error}") from None
    return url


def connect(
    url: str,
    *,
    connect_timeout_s: int = CONNECT_TIMEOUT_S,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    application_name: str = "carbonboard",
    settings: Mapping[str, str] | None = None,
) -> Any:
    """A psycopg connection in UTC with short timeouts (imported here, only when used), and
    any other session ``settings``. Raises ``ImportError`` without psycopg,
    ``psycopg.OperationalError`` when unreachable."""
    import psycopg

    options = {
        "TimeZone": "UTC",
        "statement_timeout": str(statement_timeout_ms),
        **(settings or {}),
    }
    return psycopg.connect(
        check_url(url),
        connect_timeout=connect_timeout_s,
        application_name=application_name,
        options=" ".join(f"-c {name}={value}" for name, value in options.items()),
    )


def _timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def db_value(column: schema.Column, value: object) -> object:
    """``value`` typed for ``column``'s SQL type; NULL for missing, empty text or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if column.kind == "str":
        text = str(value)
        if "\0" in text:
            raise RowError(f"{column.name} holds a NUL character, which PostgreSQL text cannot")
        return _utf8(text) or None
    if value == "":
        return None
    if column.kind == "datetime":
        return _timestamp(value)
    if column.kind == "int":
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, OverflowError):
            raise RowError(f"{column.name} is not a number: {value!r}") from None
        if not number.is_integer():
            raise RowError(f"{column.name} is not a whole number: {value!r}")
        whole = int(value) if isinstance(value, int) else int(number)
        if not BIGINT_RANGE[0] <= whole <= BIGINT_RANGE[1]:
            raise RowError(f"{column.name} is out of range: {value!r}")
        return whole
    if column.kind == "float":
        return float(value)  # type: ignore[arg-type]
    if column.kind == "bool":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true")
    raise RowError(f"{column.name}: unknown kind {column.kind}")


def _utf8(text: str) -> str:
    """``text`` with the bytes Python kept as lone surrogates (an environment variable's or a
    file name's that are not UTF-8, written as they are to the CSV) shown as U+FFFD, as the
    board shows them when it reads that CSV: PostgreSQL text is UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that stands for no byte
            raw = text.encode("utf-8", "replace")
        return raw.decode("utf-8", "replace")
    return text


def db_values(row: Mapping[str, object], columns: Sequence[schema.Column]) -> list[object]:
    """The row's values in ``columns`` order, typed; :class:`RowError` when it lacks a key or
    a timestamp, or holds a value its column cannot take."""
    try:
        values = [db_value(c, row.get(c.name)) for c in columns]
    except (TypeError, ValueError) as error:
        raise RowError(str(error)) from None
    named = dict(zip((c.name for c in columns), values, strict=True))
    for name in ("run_id", "timestamp"):
        if named.get(name) is None:
            raise RowError(f"{name} missing")
    if "task_name" in named and named["task_name"] is None:
        raise RowError("task_name missing")
    return values


@dataclass(frozen=True)
class Target:
    """A table and its key, with the columns a writer fills."""

    table: str
    key: tuple[str, ...]
    columns: tuple[schema.Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def runs_target(columns: Sequence[schema.Column] = schema.COLUMNS) -> Target:
    return Target(ddl.RUNS, ddl.RUN_KEY, tuple(columns))


def tasks_target(columns: Sequence[schema.Column] = schema.COLUMNS) -> Target:
    return Target(ddl.TASKS, ddl.TASK_KEY, (schema.TASK_NAME_COLUMN, *columns))


def rank(values: Mapping[str, object]) -> tuple:
    """A typed row's place in time, as :data:`ddl.NEWER_RUN` orders rows."""
    moment = values.get("timestamp") or datetime.min.replace(tzinfo=timezone.utc)
    duration = values.get("duration")
    return (moment, -1.0 if duration is None else duration, values.get("status") != "running")


def newest(rows: Iterable[list[object]], target: Target) -> list[list[object]]:
    """Each key's newest row (ties: the later one), as the database would keep it."""
    names = target.names
    kept: dict[tuple, tuple[tuple, list[object]]] = {}
    for values in rows:
        named = dict(zip(names, values, strict=True))
        key = tuple(named[k] for k in target.key)
        order = rank(named)
        if key not in kept or order >= kept[key][0]:
            kept[key] = (order, values)
    return [values for _, values in kept.values()]


def upsert(cur: Any, target: Target, rows: Iterable[list[object]]) -> int:
    """Write typed rows (one per key); the number written (inserted or replaced)."""
    sql = ddl.upsert(target.table, target.names, target.key, ddl.values_source(len(target.names)))
    written = 0
    for values in rows:
        cur.execute(sql, values)
        written += len(cur.fetchall())
    return written


def refused_row(error: BaseException) -> bool:
    """``error`` is the database refusing a row's values (out of range, a character text
    cannot hold, a constraint), not a failure of the connection or the statement."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, (psycopg.DataError, psycopg.IntegrityError))


@contextlib.contextmanager
def bulk_into_empty(cur: Any, table: str = ddl.RUNS) -> Iterator[bool]:
    """Whether rows written inside may go into ``table`` in bulk: true when it is empty and this
    role owns it. Then, until the transaction ends, the table is locked, its indexes and key are
    dropped and its rollup triggers off, and so are the empty rollup tables' keys and indexes; on
    leaving, the rollups are filled from the rows (exact: they were empty) and every key and index
    built again, sorted, several times faster than row by row (rows written inside must have
    distinct keys, or the key fails to build and the transaction with it). False, with nothing
    done, when the table holds rows or another role owns it."""
    cur.execute(
        "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = %s::regclass", (table,)
    )
    if not cur.fetchone()[0] or _has_rows(cur, table):
        yield False
        return
    cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    if _has_rows(cur, table):  # another writer's rows arrived before the lock
        yield False
        return
    filled = [kept.table for kept in ddl.KEPT]
    cur.execute(f"LOCK TABLE {', '.join(filled)} IN ACCESS EXCLUSIVE MODE")
    # A rollup of no rows is empty; one that is not (left by hand) keeps its key, which then
    # fails the fill as it should.
    dropped = [_drop_indexes(cur, name) for name in (table, *filled) if not _has_rows(cur, name)]
    for rollup in ddl.ROLLUPS:
        cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER {rollup.insert_trigger}")
    yield True
    for rollup in ddl.ROLLUPS:
        cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER {rollup.insert_trigger}")
        cur.execute(ddl.fill_empty(rollup))
    for restore in dropped:
        for statement in restore:
            cur.execute(statement)


def _drop_indexes(cur: Any, table: str) -> list[str]:
    """Drop ``table``'s key constraints and other indexes; the statements that build them again."""
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u') ORDER BY 1",
        (table,),
    )
    keys = cur.fetchall()
    for name, _ in keys:
        cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {ddl.ident(name)}")
    cur.execute(  # those left: the indexes no constraint owns
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass ORDER BY 1",
        (table,),
    )
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    return [
        *(
            f"ALTER TABLE {table} ADD CONSTRAINT {ddl.ident(n)} {definition}"
            for n, definition in keys
        ),
        *(definition for _, definition in indexes),
    ]


def _has_rows(cur: Any, table: str) -> bool:
    cur.execute(f"SELECT EXISTS (SELECT FROM {table})")
    return bool(cur.fetchone()[0])
