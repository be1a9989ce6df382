"""Schema migrations: an ordered list of SQL steps, applied once however many writers start.

``carbonboard.schema_version`` records each step applied (version, description, when). A
database is current when it has every step of :data:`MIGRATIONS` and its runs and tasks tables
have every column of the contract (:mod:`tracker.schema`). When it is not, :func:`migrate` takes
a transaction-scoped advisory lock (:data:`LOCK_KEY`), looks again (another writer may have just
done it), applies what is missing and commits: DDL is transactional in PostgreSQL, so a failed
step leaves nothing half done, and a hundred trackers starting together migrate once.

A column added to ``tracker/schema.py`` needs no hand-written step: the contract is compared with
the tables on every start and each missing column is added (``ALTER TABLE ... ADD COLUMN IF NOT
EXISTS``, nullable, instant). A step in :data:`MIGRATIONS` is for everything else: new tables,
indexes, rollups, or a column whose kind changed (never done implicitly).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tracker import schema
from tracker.db import ddl
from tracker.schema import Column

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: "cbschema" as a number, shared by every carbonboard writer.
LOCK_KEY = int.from_bytes(b"cbschema", "big") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class Migration:
    """One step: ``sql`` builds its SQL from the contract's columns in force."""

    version: int
    description: str
    sql: Callable[[Sequence[Column]], str]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs and tasks tables, typed from the column contract", ddl.create_tables),
    Migration(
        2,
        "daily rollup by project x experiment, kept by triggers",
        lambda _: ddl.create_daily_rollup(),
    ),
    Migration(
        3,
        "indexes for the board: cluster job rows, runs still running",
        lambda _: ddl.create_board_indexes(),
    ),
    Migration(
        4,
        "rollup per place (the daily key x country, region, cloud), triggers summing per group",
        lambda _: ddl.create_place_rollup(),
    ),
    Migration(
        5,
        "rollups count each value as a whole number of 1e-12 units, summed as integers",
        lambda _: ddl.count_in_fixed_point(),
    ),
)
LATEST = MIGRATIONS[-1].version


class SchemaError(RuntimeError):
    """The database cannot be brought to this writer's schema (privileges, a newer schema)."""


@dataclass(frozen=True)
class SchemaState:
    version: int  # 0: no schema yet
    missing: tuple[str, ...]  # "table.column" of the contract the tables lack


def state(conn: Any, columns: Sequence[Column] = schema.COLUMNS) -> SchemaState:
    """Where the database stands (catalog reads only: any role can ask)."""
    with conn.cursor() as cur:
        # A catalog query, not to_regclass(): its cache may not show a table another writer
        # created while this one waited for the lock.
        cur.execute(
            "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'schema_version')",
            (ddl.SCHEMA,),
        )
        if not cur.fetchone()[0]:
            return SchemaState(0, ())
        cur.execute(f"SELECT coalesce(max(version), 0) FROM {ddl.VERSIONS}")
        version = cur.fetchone()[0]
        cur.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname IN ('runs', 'tasks') AND a.attnum > 0 "
            "AND NOT a.attisdropped",
            (ddl.SCHEMA,),
        )
        present = {f"{table}.{name}" for table, name in cur.fetchall()}
    wanted = [f"{table}.{c.name}" for table in ("runs", "tasks") for c in columns]
    missing = tuple(name for name in wanted if name not in present) if version else ()
    return SchemaState(version, missing)


def is_current(found: SchemaState, target: int = LATEST) -> bool:
    return found.version >= target and not found.missing


def migrate(
    conn: Any, *, columns: Sequence[Column] = schema.COLUMNS, target: int = LATEST
) -> list[int]:
    """Bring the database to ``target`` with ``columns``; the versions this call applied
    (empty when it was current, or another writer migrated first). Raises
    :class:`SchemaError` when the role may not change the schema or the database is newer."""
    found = state(conn, columns)
    if found.version > LATEST:
        log.debug("database schema version %d is newer than %d", found.version, LATEST)
    conn.commit()  # the migration below is a transaction of its own
    if is_current(found, target):
        return []
    import psycopg

    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL statement_timeout = 0")
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            applied = _apply(cur, conn, columns, target)
    except psycopg.errors.InsufficientPrivilege as error:
        conn.rollback()
        raise SchemaError(
            f"the database needs a schema upgrade (to version {target}, columns "
            f"{', '.join(found.missing) or 'none'}) that this role may not make "
            f"({str(error).splitlines()[0]}): run `python -m tracker sync` once as the "
            "schema's owner"
        ) from None
    conn.commit()
    return applied


def _apply(cur: Any, conn: Any, columns: Sequence[Column], target: int) -> list[int]:
    """Under the lock: what is still missing, applied in order."""
    found = state(conn, columns)
    if is_current(found, target):
        return []
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {ddl.SCHEMA}")
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {ddl.VERSIONS} (version integer PRIMARY KEY, "
        "description text NOT NULL, applied_at timestamp with time zone NOT NULL DEFAULT now())"
    )
    applied = []
    for step in MIGRATIONS:
        if found.version < step.version <= target:
            log.info("database schema: applying version %d (%s)", step.version, step.description)
            cur.execute(step.sql(columns))
            cur.execute(
                f"INSERT INTO {ddl.VERSIONS} (version, description) VALUES (%s, %s)",
                (step.version, step.description),
            )
            applied.append(step.version)
    cur.execute(ddl.add_columns(ddl.RUNS, columns) + ddl.add_columns(ddl.TASKS, columns))
    return applied
