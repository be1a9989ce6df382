"""SQL text generated from the column contract (:mod:`tracker.schema`): no connection, no psycopg.

Every contract column becomes a typed column (:data:`SQL_TYPES` maps a column kind to its type)
of ``carbonboard.runs`` (keyed by ``run_id``) and ``carbonboard.tasks`` (keyed by ``run_id`` and
``task_name``). Empty text is stored as NULL. The rollups (:data:`ROLLUPS`: one row per project
x experiment x UTC day with runs, duration, energy, emissions...; and the same per place the energy
came from) are kept exact on every write by statement-level triggers over the transition tables:
an insert adds the new rows' sums, an update subtracts the old rows' and adds the new ones', a
delete subtracts. Each row's value is counted as a whole number of 1e-12 of its unit
(:func:`exact_sum`) and the sums are ``numeric``, whose addition and subtraction are exact, so a
rollup always equals the sum over the current rows of their values so counted.

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
    """A rollup sum: its column (unit in the name) and the contract column it adds up, or
    ``value``, a ``double precision`` expression over a runs row when it is not one column."""

    name: str
    column: str
    value: str = ""

    @property
    def expression(self) -> str:
        return self.value or ident(self.column)


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
# The places a run's energy came from, as the regional views group them.
PLACE_COLUMNS = (
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "carbon_intensity_source",
    "carbon_intensity_year",
)
PLACE_MEASURES: tuple[Measure, ...] = (
    Measure("energy_kwh", "energy_consumed"),
    # The IT equipment's share: the energy over a positive PUE (regional.baseline.it_energy_kwh).
    Measure(
        "it_energy_kwh",
        "energy_consumed",
        "energy_consumed / CASE WHEN pue > 0 THEN pue ELSE 1 END",
    ),
    Measure("emissions_kg", "emissions"),
)


@dataclass(frozen=True)
class Rollup:
    """A table of sums per key (``runs`` and each measure, ``numeric``) kept exact by
    statement-level triggers on the runs table; ``name`` names the table, its functions and its
    triggers. Each ``coarser`` rollup (fewer keys, the same measures) is kept by the same
    triggers from the same sums, without reading the rows again."""

    name: str
    keys: tuple[tuple[str, str], ...]  # (column, expression over a runs row)
    key_types: dict[str, str]
    measures: tuple[Measure, ...]
    coarser: tuple[Rollup, ...] = ()

    @property
    def table(self) -> str:
        return f"{SCHEMA}.{self.name}"

    @property
    def key_names(self) -> str:
        return ", ".join(name for name, _ in self.keys)

    @property
    def insert_trigger(self) -> str:
        return f"runs_{self.name}_insert"

    @property
    def summed(self) -> tuple[Measure, ...]:
        """The measures summed from the rows: this rollup's and its coarser ones'."""
        found: dict[str, Measure] = {}
        for kept in (self, *self.coarser):
            found.update({m.name: m for m in kept.measures if m.name not in found})
        return tuple(found.values())


# Version 2's daily rollup had triggers of its own; since version 4 it is kept from the place
# rollup's sums (one pass over the written rows for all three).
DAILY_ROLLUP = Rollup("daily_rollup", DAILY_KEYS, DAILY_KEY_TYPES, DAILY_MEASURES)
# Per project x experiment over all days: what a selection without dates (the board's first
# page) adds up, in a few rows.
EXPERIMENT_TOTALS = Rollup(
    "experiment_totals",
    DAILY_KEYS[:2],
    {k: DAILY_KEY_TYPES[k] for k, _ in DAILY_KEYS[:2]},
    DAILY_MEASURES,
)
TOTALS = EXPERIMENT_TOTALS.table
_PLACE_KEYS = tuple((c, f"coalesce({c}, '')") for c in PLACE_COLUMNS)
_PLACE_KEY_TYPES = dict.fromkeys(PLACE_COLUMNS, "text")
# Per place over all days: a selection without dates (the board's first page) reads a few rows.
PLACE_TOTALS = Rollup(
    "place_totals",
    DAILY_KEYS[:2] + _PLACE_KEYS,
    {k: DAILY_KEY_TYPES[k] for k, _ in DAILY_KEYS[:2]} | _PLACE_KEY_TYPES,
    PLACE_MEASURES,
)
PLACE_ROLLUP = Rollup(
    "place_rollup",
    DAILY_KEYS + _PLACE_KEYS,
    DAILY_KEY_TYPES | _PLACE_KEY_TYPES,
    PLACE_MEASURES,
    (DAILY_ROLLUP, EXPERIMENT_TOTALS, PLACE_TOTALS),
)
PLACE = PLACE_ROLLUP.table
ROLLUPS = (PLACE_ROLLUP,)  # those with triggers
KEPT = tuple(kept for rollup in ROLLUPS for kept in (rollup, *rollup.coarser))  # every one


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


# A rollup counts each value as a whole number of these units of its unit (a picokilowatt-hour,
# a nanogram of CO2...), up to 9e6 units' worth, so the integers fit a bigint; a larger value
# (a run of nine gigawatt-hours, or of 104 days) is counted as its numeric.
FIXED_POINT_DIGITS = 12
FIXED_POINT_LIMIT = 9e6


def exact_sum(expression: str) -> str:
    """The exact sum over a group of a ``double precision`` expression, as ``numeric``: each
    value below :data:`FIXED_POINT_LIMIT` as a whole number of 1e-12 (``bigint``, rounded half
    to even, whose sum PostgreSQL keeps in a 128-bit integer), each larger one as its
    ``numeric`` (15 significant digits). Summing every value as ``numeric`` is exact too but
    three times slower: PostgreSQL converts a float8 to numeric through text."""
    value = f"({expression})"
    return (
        f"coalesce(sum(CASE WHEN abs{value} < {FIXED_POINT_LIMIT:g} "
        f"THEN ({value} * 1e{FIXED_POINT_DIGITS}::float8)::bigint END), 0) "
        f"* 1e-{FIXED_POINT_DIGITS} + coalesce(sum(CASE WHEN abs{value} >= "
        f"{FIXED_POINT_LIMIT:g} THEN {value}::numeric END), 0)"
    )


def contributions(rollup: Rollup, table: str, sign: int) -> str:
    """``SELECT`` of the rows of ``table`` summed per key of ``rollup`` (:func:`exact_sum`),
    times ``sign`` (applied to each group's sums, not to each row)."""
    keys = ", ".join(f"{expr} AS {name}" for name, expr in rollup.keys)
    minus = "-" if sign < 0 else ""
    sums = ", ".join(f"{minus}({exact_sum(m.expression)}) AS {m.name}" for m in rollup.summed)
    positions = ", ".join(str(i + 1) for i in range(len(rollup.keys)))
    return f"SELECT {keys}, {minus}count(*) AS runs, {sums} FROM {table} GROUP BY {positions}"


def _add(rollup: Rollup, source: str) -> str:
    """``INSERT`` adding ``source``'s sums per key of ``rollup``, keys in order (so concurrent
    writers lock rollup rows in one order)."""
    keys = rollup.key_names
    names = ["runs", *(m.name for m in rollup.measures)]
    sums = ", ".join(f"sum({n})" for n in names)
    updates = ", ".join(f"{n} = r.{n} + excluded.{n}" for n in names)
    return (
        f"INSERT INTO {rollup.table} AS r ({keys}, {', '.join(names)}) "
        f"SELECT {keys}, {sums} FROM {source} AS c GROUP BY {keys} ORDER BY {keys} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


def add_to(rollup: Rollup, source: str) -> str:
    """Add ``source``'s rows (key, runs, measures) to ``rollup`` and its coarser rollups (from
    the same sums, computed once), then drop emptied rows."""
    emptied = "".join(
        f"\n    DELETE FROM {kept.table} WHERE runs = 0;" for kept in (rollup, *rollup.coarser)
    )
    if not rollup.coarser:
        return f"\n    {_add(rollup, f'({source})')};{emptied}"
    names = ", ".join(["runs", *(m.name for m in rollup.summed)])
    steps = [f"sums AS MATERIALIZED (SELECT {rollup.key_names}, {names} FROM ({source}) AS s)"]
    steps += [f"to_{kept.name} AS ({_add(kept, 'sums')})" for kept in rollup.coarser]
    return f"\n    WITH {', '.join(steps)}\n    {_add(rollup, 'sums')};{emptied}"


def fill(rollup: Rollup) -> str:
    """``rollup`` made from the runs table (an empty rollup then equals it exactly)."""
    return add_to(rollup, contributions(rollup, RUNS, 1))


def fill_empty(rollup: Rollup) -> str:
    """:func:`fill` for an empty ``rollup`` and coarser ones (an import into an empty table):
    the runs summed once into a temporary table, each rollup written from it with a plain
    ``INSERT``, no conflict to look for. The sums are made by one process: a parallel plan
    makes each worker keep every group and then merges their exact sums, half as slow again."""
    sums = "bulk_sums"
    steps = [
        "SET LOCAL max_parallel_workers_per_gather = 0;",
        f"CREATE TEMPORARY TABLE {sums} ON COMMIT DROP AS {contributions(rollup, RUNS, 1)};",
        "RESET max_parallel_workers_per_gather;",
    ]
    for kept in (rollup, *rollup.coarser):
        names = ", ".join(["runs", *(m.name for m in kept.measures)])
        if kept is rollup:  # the sums are per its key already
            source = f"SELECT {kept.key_names}, {names} FROM {sums}"
        else:
            totals = ", ".join(f"sum({n})" for n in names.split(", "))
            source = f"SELECT {kept.key_names}, {totals} FROM {sums} GROUP BY {kept.key_names}"
        steps.append(f"INSERT INTO {kept.table} ({kept.key_names}, {names}) {source};")
    steps.append(f"DROP TABLE {sums};")
    return "\n".join(steps)


def rollup_functions(rollup: Rollup) -> str:
    """The trigger functions that keep ``rollup``: an insert adds the new rows' sums, an update
    subtracts the old rows' and adds the new rows', a delete subtracts, a truncate empties.
    ``CREATE OR REPLACE``: a later version rewrites them in place."""
    functions = []
    for event, source in (
        ("insert", contributions(rollup, "new_rows", 1)),
        (
            "update",
            f"{contributions(rollup, 'new_rows', 1)} UNION ALL "
            f"{contributions(rollup, 'old_rows', -1)}",
        ),
        ("delete", contributions(rollup, "old_rows", -1)),
    ):
        functions.append(f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.{rollup.name}_{event}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
BEGIN{add_to(rollup, source)}
    RETURN NULL;
END $body$;""")
    functions.append(f"""
CREATE OR REPLACE FUNCTION {SCHEMA}.{rollup.name}_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
BEGIN
    TRUNCATE {", ".join(kept.table for kept in (rollup, *rollup.coarser))};
    RETURN NULL;
END $body$;""")
    return "".join(functions) + "\n"


def rollup_table(rollup: Rollup) -> str:
    """``rollup``'s table and its indexes (by day where it has days; its emptied rows)."""
    keys = ", ".join(f"{name} {rollup.key_types[name]} NOT NULL" for name, _ in rollup.keys)
    measures = ", ".join(f"{m.name} numeric NOT NULL DEFAULT 0" for m in rollup.measures)
    by_day = "day" in rollup.key_types
    return f"""
CREATE TABLE {rollup.table} (
    {keys},
    runs bigint NOT NULL DEFAULT 0,
    {measures},
    PRIMARY KEY ({rollup.key_names})
);
{f"CREATE INDEX {rollup.name}_day ON {rollup.table} (day);" if by_day else ""}
CREATE INDEX {rollup.name}_emptied ON {rollup.table} ({"day" if by_day else "runs"})
WHERE runs = 0;"""


def create_rollup(rollup: Rollup, existing: Sequence[Rollup] = ()) -> str:
    """``rollup``'s table and its coarser ones' (but the ``existing``, which must be empty),
    filled from the runs already there, its functions and triggers."""
    triggers = []
    for event, tables in (
        ("insert", "REFERENCING NEW TABLE AS new_rows "),
        ("update", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "),
        ("delete", "REFERENCING OLD TABLE AS old_rows "),
        ("truncate", ""),
    ):
        triggers.append(
            f"CREATE TRIGGER runs_{rollup.name}_{event} AFTER {event.upper()} ON {RUNS}\n"
            f"{tables}FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.{rollup.name}_{event}();\n"
        )
    tables = "".join(
        rollup_table(kept) for kept in (rollup, *rollup.coarser) if kept not in existing
    )
    return f"""{tables}
{rollup_functions(rollup)}{"".join(triggers)}
DO $body$ BEGIN{fill(rollup)}
END $body$;
"""


def create_daily_rollup() -> str:
    """Version 2: the daily rollup (project x experiment x UTC day)."""
    return create_rollup(DAILY_ROLLUP)


def create_place_rollup() -> str:
    """Version 4: the per-place rollups (the daily key x where the energy came from, and the
    same over all days) for the regional views, and the daily rollup's sums over all days; their
    triggers keep the daily rollup too, from the same sums, in place of its own (dropped; the
    daily rollup made again from the runs)."""
    events = ("insert", "update", "delete", "truncate")
    dropped = "".join(
        f"DROP TRIGGER runs_daily_rollup_{event} ON {RUNS};\n"
        f"DROP FUNCTION {SCHEMA}.daily_rollup_{event}();\n"
        for event in events
    )
    return f"{dropped}TRUNCATE {DAILY};\n" + create_rollup(PLACE_ROLLUP, (DAILY_ROLLUP,))


def count_in_fixed_point() -> str:
    """Version 5: the rollups count each value in whole 1e-12 units (:func:`exact_sum`): their
    functions rewritten, the rollups emptied and made again from the runs."""
    tables = ", ".join(kept.table for kept in (PLACE_ROLLUP, *PLACE_ROLLUP.coarser))
    return f"{rollup_functions(PLACE_ROLLUP)}TRUNCATE {tables};\n{fill_empty(PLACE_ROLLUP)}\n"


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


def insert_rows(table: str, names: Sequence[str], newest: str) -> str:
    """Plain ``INSERT`` of every row of relation ``newest`` (``names``, then ``updated_at``)."""
    columns = ", ".join(ident(n) for n in names)
    return f"INSERT INTO {table} ({columns}, updated_at) SELECT * FROM {newest} AS newest"


def insert_absent(table: str, names: Sequence[str], key: Sequence[str], newest: str) -> str:
    """:func:`insert_rows` of the rows whose key ``table`` lacks: no per-row conflict check. A
    key another writer inserts meanwhile fails the statement with a unique violation (the
    caller then writes every row with :func:`upsert`)."""
    return (
        f"{insert_rows(table, names, newest)} "
        f"WHERE NOT EXISTS (SELECT FROM {table} AS stored WHERE {_same_key(key)})"
    )


# COPY for imports. Each row goes in PostgreSQL's binary format: its numbers and times (missing
# numbers as NaN, made NULL when read back), the text nearly unique per row (``per_row``), and the
# number of its combination of the other text columns, which are few per file (a project, a
# country, a CPU model...) and sent once per combination, as CSV.
BINARY_KINDS = ("float", "int", "datetime")


def is_binary(column: Column) -> bool:
    return column.kind in BINARY_KINDS


def staging_tables(prefix: str, columns: Sequence[Column], per_row: Sequence[str]) -> str:
    """Two temporary tables for one import, dropped at commit: ``<prefix>_rows`` (``ord``, the
    order read; ``combo``; numbers as float8, times; the ``per_row`` text) and
    ``<prefix>_combos`` (``combo`` and the other text columns)."""
    numbers = "".join(
        f", {ident(c.name)} {'timestamp with time zone' if c.kind == 'datetime' else 'float8'}"
        for c in columns
        if is_binary(c)
    )
    texts = [c for c in columns if not is_binary(c)]
    row_text = "".join(f", {ident(c.name)} {sql_type(c)}" for c in texts if c.name in per_row)
    combo_text = "".join(f", {ident(c.name)} {sql_type(c)}" for c in texts if c.name not in per_row)
    return (
        f"CREATE TEMPORARY TABLE {prefix}_rows (ord bigint NOT NULL, combo bigint NOT NULL"
        f"{numbers}{row_text}) ON COMMIT DROP;\n"
        f"CREATE TEMPORARY TABLE {prefix}_combos (combo bigint NOT NULL{combo_text}) "
        "ON COMMIT DROP;"
    )


def staged_rows(prefix: str, columns: Sequence[Column], per_row: Sequence[str]) -> str:
    """The staged rows as one relation with the contract's types (NaN is NULL)."""
    picked = ["n.ord"]
    for c in columns:
        name = ident(c.name)
        if c.kind in ("float", "int"):
            cast = "::bigint" if c.kind == "int" else ""
            picked.append(f"NULLIF(n.{name}, 'NaN'){cast} AS {name}")
        else:
            picked.append(f"{'n' if is_binary(c) or c.name in per_row else 't'}.{name}")
    return (
        f"(SELECT {', '.join(picked)} FROM {prefix}_rows AS n "
        f"JOIN {prefix}_combos AS t USING (combo)) AS staged"
    )


def rows_of(staged: str, names: Sequence[str]) -> str:
    """``SELECT`` of the ``staged`` relation's rows as written (``names``, then the
    ``updated_at`` to store), when each key is staged once."""
    columns = ", ".join(ident(n) for n in names)
    return f"(SELECT {columns}, now() AS updated_at FROM {staged})"
