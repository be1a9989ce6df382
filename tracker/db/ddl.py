"""SQL text generated from the column contract (:mod:`tracker.schema`): no connection, no psycopg.

Every contract column becomes a typed column (:data:`SQL_TYPES` maps a column kind to its type)
of ``carbonboard.runs`` (keyed by ``run_id``) and ``carbonboard.tasks`` (keyed by ``run_id`` and
``task_name``). Empty text is stored as NULL. The daily rollup (one row per project x experiment
x UTC day: runs, duration, energy, emissions...) is kept exact on every write by statement-level
triggers over the transition tables: an insert adds the new rows' contributions, an update
subtracts the old rows' and adds the new ones', a delete subtracts. Sums are ``numeric``, whose
addition and subtraction are exact, so the rollup always equals the sum over the current rows.

An upsert replaces a stored row only with a newer one: later ``timestamp``, then longer
``duration``, then a final status over ``running`` (:data:`NEWER_RUN`), so a checkpoint delivered
late, or a file imported twice, never overwrites what is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.schema import Column

SCHEMA = "carbonboard"
RUNS = f"{SCHEMA}.runs"
TASKS = f"{SCHEMA}.tasks"
DAILY = f"{SCHEMA}.daily_rollup"
VERSIONS = f"{SCHEMA}.schema_version"

SQL_TYPES = {
    "str": "text",
    "float": "double precision",
    "int": "bigint",
    "bool": "boolean",
    "datetime": "timestamp with time zone",
}
RUN_KEY = ("run_id",)
TASK_KEY = ("run_id", "task_name")


@dataclass(frozen=True)
class Measure:
    """A rollup sum: its column (unit in the name) and the contract column it adds up."""

    name: str
    column: str


DAILY_MEASURES: tuple[Measure, ...] = (
    Measure("duration_s", "duration"),
    Measure("emissions_kg", "emissions"),
    Measure("energy_kwh", "energy_consumed"),
    Measure("cpu_energy_kwh", "cpu_energy"),
    Measure("gpu_energy_kwh", "gpu_energy"),
    Measure("ram_energy_kwh", "ram_energy"),
    Measure("water_l", "water_consumed"),
)
# The rollup key, as expressions over a runs row (NULL text is "" so it can be a key).
DAILY_KEYS: tuple[tuple[str, str], ...] = (
    ("project_name", "coalesce(project_name, '')"),
    ("experiment_id", "coalesce(experiment_id, '')"),
    ("day", "(\"timestamp\" AT TIME ZONE 'UTC')::date"),
)
DAILY_KEY_TYPES = {"project_name": "text", "experiment_id": "text", "day": "date"}


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (contract names are trusted; quoting keeps words
    such as ``timestamp`` from meaning anything else)."""
    return '"' + name.replace('"', '""') + '"'


def sql_type(column: Column) -> str:
    return SQL_TYPES[column.kind]


def add_columns(table: str, columns: Sequence[Column]) -> str:
    """Idempotent: every contract column the table lacks is added (nullable, so no rewrite)."""
    return "".join(
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {ident(c.name)} {sql_type(c)};\n"
        for c in columns
        if c.name not in ("run_id", "task_name")
    )


def create_tables(columns: Sequence[Column]) -> str:
    """Version 1: the runs and tasks tables with the contract's columns, and their indexes."""
    return f"""
CREATE TABLE {RUNS} (
    run_id text PRIMARY KEY,
    updated_at timestamp with time zone NOT NULL DEFAULT now()
);
CREATE TABLE {TASKS} (
    run_id text NOT NULL,
    task_name text NOT NULL,
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, task_name)
);
{add_columns(RUNS, columns)}{add_columns(TASKS, columns)}
CREATE INDEX runs_project_experiment_time ON {RUNS} (project_name, experiment_id, "timestamp");
CREATE INDEX runs_time ON {RUNS} ("timestamp");
CREATE INDEX runs_updated_at ON {RUNS} (updated_at);
CREATE INDEX tasks_updated_at ON {TASKS} (updated_at);
"""


def _contributions(table: str, sign: int) -> str:
    keys = ", ".join(f"{expr} AS {name}" for name, expr in DAILY_KEYS)
    sums = ", ".join(
        f"{sign} * coalesce({ident(m.column)}, 0)::numeric AS {m.name}" for m in DAILY_MEASURES
    )
    return f"SELECT {keys}, {sign} AS runs, {sums} FROM {table}"


def add_to_daily(source: str) -> str:
    """Add ``source``'s rows (key, runs, measures) to the daily rollup, keys in order (so
    concurrent writers lock rollup rows in one order), then drop emptied rows."""
    keys = ", ".join(name for name, _ in DAILY_KEYS)
    names = ", ".join(["runs", *(m.name for m in DAILY_MEASURES)])
    sums = ", ".join(f"sum({n})" for n in names.split(", "))
    updates = ", ".join(f"{n} = r.{n} + excluded.{n}" for n in names.split(", "))
    return f"""
    INSERT INTO {DAILY} AS r ({keys}, {names})
    SELECT {keys}, {sums} FROM ({source}) AS c GROUP BY {keys} ORDER BY {keys}
    ON CONFLICT ({keys}) DO UPDATE SET {updates};
    DELETE FROM {DAILY} WHERE runs = 0;"""


def create_daily_rollup() -> str:
    """Version 2: the daily rollup table, filled from the runs already there, and its triggers."""
    keys = ", ".join(f"{name} {DAILY_KEY_TYPES[name]} NOT NULL" for name, _ in DAILY_KEYS)
    measures = ", ".join(f"{m.name} numeric NOT NULL DEFAULT 0" for m in DAILY_MEASURES)
    key_names = ", ".join(name for name, _ in DAILY_KEYS)
    functions = []
    for event, source in (
        ("insert", _contributions("new_rows", 1)),
        ("update", f"{_contributions('new_rows', 1)} UNION ALL {_contributions('old_rows', -1)}"),
        ("delete", _contributions("old_rows", -1)),
    ):
        tables = {
            "insert": "NEW TABLE AS new_rows",
            "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "delete": "OLD TABLE AS old_rows",
        }[event]
        functions.append(f"""
CREATE FUNCTION {SCHEMA}.daily_rollup_{event}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
BEGIN{add_to_daily(source)}
    RETURN NULL;
END $body$;
CREATE TRIGGER runs_daily_rollup_{event} AFTER {event.upper()} ON {RUNS}
REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.daily_rollup_{event}();
""")
    return f"""
CREATE TABLE {DAILY} (
    {keys},
    runs bigint NOT NULL DEFAULT 0,
    {measures},
    PRIMARY KEY ({key_names})
);
CREATE INDEX daily_rollup_day ON {DAILY} (day);
CREATE INDEX daily_rollup_emptied ON {DAILY} (day) WHERE runs = 0;
{"".join(functions)}
CREATE FUNCTION {SCHEMA}.daily_rollup_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
BEGIN
    TRUNCATE {DAILY};
    RETURN NULL;
END $body$;
CREATE TRIGGER runs_daily_rollup_truncate AFTER TRUNCATE ON {RUNS}
FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.daily_rollup_truncate();
DO $body$ BEGIN{add_to_daily(_contributions(RUNS, 1))}
END $body$;
"""


def create_board_indexes() -> str:
    """Version 3: what the board reads often, found without a scan: the rows of cluster jobs
    (where duplicate rank rows hide) and the runs still ``running`` (the change marker counts
    those gone silent)."""
    return f"""
CREATE INDEX IF NOT EXISTS runs_job_rows ON {RUNS} (job_id, hostname) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_running ON {RUNS} ("timestamp") WHERE status = 'running';
"""


def _rank(alias: str) -> str:
    return (
        f"coalesce({alias}.\"timestamp\", '-infinity'), coalesce({alias}.duration, -1), "
        f"{alias}.status IS DISTINCT FROM 'running'"
    )


def newer(incoming: str, stored: str) -> str:
    """Row ``incoming`` is newer than row ``stored`` (aliases): later ``timestamp``, then longer
    ``duration``, then a final status over ``running``."""
    return f"({_rank(incoming)}) > ({_rank(stored)})"


NEWER_RUN = newer("excluded", "stored")


def upsert(table: str, names: Sequence[str], key: Sequence[str], source: str) -> str:
    """``INSERT ... ON CONFLICT`` of ``names`` from ``source`` (``VALUES (...)`` or a
    ``SELECT``), replacing a stored row only with a newer one; returns one row per row written,
    ``inserted`` true for a new key."""
    columns = ", ".join(ident(n) for n in names)
    updates = ", ".join(f"{ident(n)} = excluded.{ident(n)}" for n in names if n not in key)
    return (
        f"INSERT INTO {table} AS stored ({columns}, updated_at) {source} "
        f"ON CONFLICT ({', '.join(ident(k) for k in key)}) DO UPDATE SET {updates}, "
        f"updated_at = now() WHERE {NEWER_RUN} RETURNING (xmax = 0) AS inserted"
    )


def values_source(count: int) -> str:
    """``VALUES (%s, ..., now())`` for ``count`` columns (psycopg placeholders)."""
    return f"VALUES ({', '.join(['%s'] * count)}, now())"


def newest_per_key(staging: str, names: Sequence[str], key: Sequence[str]) -> str:
    """``SELECT`` of each key's newest row in ``staging`` (ties: the last one read, ``ord``),
    in key order (the primary key's, so rows written from it land in index order), with the
    ``updated_at`` to store."""
    columns = ", ".join(ident(n) for n in names)
    keys = ", ".join(ident(k) for k in key)
    return (
        f"SELECT DISTINCT ON ({keys}) {columns}, now() AS updated_at FROM {staging} "
        f'ORDER BY {keys}, "timestamp" DESC NULLS LAST, duration DESC NULLS LAST, '
        "status IS DISTINCT FROM 'running' DESC, ord DESC"
    )


def _same_key(key: Sequence[str]) -> str:
    return " AND ".join(f"stored.{ident(k)} = newest.{ident(k)}" for k in key)


def newer_than_stored(newest: str, table: str, key: Sequence[str]) -> str:
    """``SELECT`` of the rows of relation ``newest`` newer than the row ``table`` holds (or
    whose key it lacks): an unchanged row is not even locked, so importing again only reads."""
    return (
        f"SELECT * FROM {newest} AS newest WHERE NOT EXISTS (SELECT FROM {table} AS stored "
        f"WHERE {_same_key(key)} AND NOT {newer('newest', 'stored')})"
    )


def insert_absent(table: str, names: Sequence[str], key: Sequence[str], newest: str) -> str:
    """Plain ``INSERT`` of the rows of relation ``newest`` whose key ``table`` lacks: no
    per-row conflict check. A key another writer inserts meanwhile fails the statement with a
    unique violation (the caller then writes every row with :func:`upsert`)."""
    columns = ", ".join(ident(n) for n in names)
    return (
        f"INSERT INTO {table} ({columns}, updated_at) SELECT * FROM {newest} AS newest "
        f"WHERE NOT EXISTS (SELECT FROM {table} AS stored WHERE {_same_key(key)})"
    )


# COPY for imports: the fixed-width columns (numbers, times) go in PostgreSQL's binary format,
# built with numpy (missing numbers as NaN, made NULL when read back); text goes as CSV.
BINARY_KINDS = ("float", "int", "datetime")


def is_binary(column: Column) -> bool:
    return column.kind in BINARY_KINDS


def staging_tables(prefix: str, columns: Sequence[Column]) -> str:
    """Two temporary tables for one import's rows, joined on ``ord`` (the order read),
    dropped at commit: ``<prefix>_numbers`` (float8 numbers, timestamps) and ``<prefix>_text``."""
    numbers = ", ".join(
        f"{ident(c.name)} {'timestamp with time zone' if c.kind == 'datetime' else 'float8'}"
        for c in columns
        if is_binary(c)
    )
    text = ", ".join(f"{ident(c.name)} {sql_type(c)}" for c in columns if not is_binary(c))
    return (
        f"CREATE TEMPORARY TABLE {prefix}_numbers (ord bigint NOT NULL, {numbers}) "
        "ON COMMIT DROP;\n"
        f"CREATE TEMPORARY TABLE {prefix}_text (ord bigint NOT NULL, {text}) ON COMMIT DROP;"
    )


def staged_rows(prefix: str, columns: Sequence[Column]) -> str:
    """The staged rows as one relation with the contract's types (NaN is NULL)."""
    picked = ["n.ord"]
    for c in columns:
        name = ident(c.name)
        if c.kind in ("float", "int"):
            cast = "::bigint" if c.kind == "int" else ""
            picked.append(f"NULLIF(n.{name}, 'NaN'){cast} AS {name}")
        else:
            picked.append(f"{'n' if is_binary(c) else 't'}.{name}")
    return (
        f"(SELECT {', '.join(picked)} FROM {prefix}_numbers AS n "
        f"JOIN {prefix}_text AS t USING (ord)) AS staged"
    )
