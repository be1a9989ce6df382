"""``PostgresSource``: the board's runs from the team's PostgreSQL database (#12).

Every answer is a query, and only ``selected_runs`` returns runs (the selection's, by ``COPY``, for
the download, the report and the efficiency tab, as the protocol allows): totals, per-project and
per-experiment breakdowns, the energy split and the daily series are read from the daily rollup (one
row per project x experiment x UTC day, kept exact by triggers, see :mod:`tracker.db.ddl`), the
per-place sums of the regional views from the place rollups (the same key x place, and over all
days for a selection without dates); a selection is always a project, an experiment and whole
days, so the rollups answer every selection. What they cannot hold is asked of the runs table
through its indexes: one page of the runs table (sorted and filtered in SQL), a run and its tasks,
the few runs of a small selection's series.

The database holds what the file store builds (:mod:`carbonboard.data.history`) with two rules
applied at read time, so its answers equal the files':

- a ``running`` run silent for ``stale_after_s`` shows ``crashed`` (a SQL expression);
- the duplicate rank rows of cluster jobs (:mod:`carbonboard.data.jobs`) are set apart. They are
  found with the file store's own function over the rows of jobs that measured a whole node (read
  through a partial index, once per data version), then left out of every query over the runs and
  subtracted from the rollup's sums. Their cost grows with the job rows, not the table.

Known differences from the file store: a component (CPU, GPU, RAM) whose energy sums to exactly 0
kWh is left out of the energy split (the rollup cannot tell 0 from never measured); text sorts in
the database's collation; ``contains`` on a number matches its SQL text.

``version()`` reads a change marker cheaply (the newest ``updated_at`` of runs and tasks through
their indexes, the rollup's run count, the stale runs still ``running``); it moves when any of them
does. (A writer's transaction that began before the newest ``updated_at`` seen and commits after it,
updating existing runs only, is seen with the next change.) The board only reads: one connection per
server thread, in read-only transactions, so a role with SELECT alone serves it (``docs/team.md``).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import pandas as pd

from carbonboard.data import aggregate
from carbonboard.data.aggregate import (
    DAILY_ABOVE_RUNS,
    ENERGY_COMPONENTS,
    PLACE_LABELS,
    RUN_TABLE_COLUMNS,
    Totals,
    largest_first,
    parse_filter_query,
    selection_day,
    validate_selection,
)
from carbonboard.data.history import FileInfo
from carbonboard.data.jobs import dedupe_job_rows, job_totals
from carbonboard.data.loader import NUMBER_DTYPE, NUMERIC_KINDS, normalise
from carbonboard.data.source import (
    Breakdown,
    Description,
    FilterOptions,
    RunDetail,
    RunsPage,
)
from carbonboard.data.store import STALE_AFTER_S
from carbonboard.regional.baseline import LOCATION_KEYS, it_energy_kwh, merge_locations
from carbonboard.selection import Selection
from tracker import schema
from tracker.db.ddl import (
    DAILY_ROLLUP,
    EXPERIMENT_TOTALS,
    PLACE_COLUMNS,
    PLACE_ROLLUP,
    PLACE_TOTALS,
    RUNS,
    TASKS,
    TOTALS,
    Rollup,
    ident,
)

T = TypeVar("T")
STATEMENT_TIMEOUT_MS = 30_000
DATABASE_KIND = "database"  # FileInfo.kind of the database in the header
# The rollup's sums of the measures the board shows, by the contract column they add up.
ROLLUP_SUMS = {
    "duration": "duration_s",
    "emissions": "emissions_kg",
    "energy_consumed": "energy_kwh",
    "cpu_energy": "cpu_energy_kwh",
    "gpu_energy": "gpu_energy_kwh",
    "ram_energy": "ram_energy_kwh",
}
# Columns a run's tracker wrote that decide whether it is a rank's measurement of a whole node.
JOB_ROW_COLUMNS = (
    "run_id",
    "project_name",
    "experiment_id",
    "timestamp",
    "job_id",
    "hostname",
    "measurement_scope",
    "tracking_mode",
    "rank",
    *ROLLUP_SUMS,
    *PLACE_COLUMNS,
    "pue",
)
# The place rollup's sums, by what they add up of a runs row ("it_energy": energy over PUE).
PLACE_SUMS = {
    "energy_consumed": "energy_kwh",
    "it_energy": "it_energy_kwh",
    "emissions": "emissions_kg",
}
# Rows that may be duplicates (jobs._measures_node, in SQL).
JOB_ROWS = (
    "job_id IS NOT NULL AND hostname IS NOT NULL AND (measurement_scope = 'node' OR "
    "(measurement_scope IS NULL AND tracking_mode IS DISTINCT FROM 'process'))"
)
RUN_COLUMNS = tuple(c.name for c in schema.COLUMNS)
TASK_COLUMNS = schema.TASK_FIELDNAMES


def _name_terms(query: _Query, selection: Selection) -> list[str]:
    """The selection's project and experiment as SQL terms, for the runs table and the rollup
    alike (both have the two columns)."""
    terms = []
    if selection.project is not None:
        terms.append(f"project_name = {query.value(selection.project)}")
    if selection.experiment is not None:
        terms.append(f"experiment_id = {query.value(selection.experiment)}")
    return terms


@functools.cache
def _no_runs() -> pd.DataFrame:
    """No runs, with the contract's columns and dtypes."""
    return normalise(pd.DataFrame({name: [] for name in RUN_COLUMNS}), "runs", DATABASE_KIND)


# A rollup's two forms, per day and over all days (the first page's few rows).
DAILY_FORMS = (DAILY_ROLLUP, EXPERIMENT_TOTALS)
PLACE_FORMS = (PLACE_ROLLUP, PLACE_TOTALS)


def _utc_day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


class _Query:
    """SQL text with its parameters kept apart: values only ever travel as parameters."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def value(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"


class PostgresSource:
    """A :class:`~carbonboard.data.source.RunSource` over a carbonboard PostgreSQL database.

    ``connect`` opens one connection (called once per server thread, and again after a broken
    one); ``label`` names the database in the header (never with its password); ``clock``
    gives the time that decides which ``running`` runs have crashed.
    """

    prepares_ahead = False  # every answer is a query on the rollups (see ``prepare``)

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        label: str,
        stale_after_s: float = STALE_AFTER_S,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        self._connect = connect
        self.label = label
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._marker: tuple | None = None
        self._version = 0
        self._stale_before = clock() - dt.timedelta(seconds=stale_after_s)
        self._answers: dict[Hashable, Any] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresSource:
        """A source over the database at ``url``; connects once now, so a wrong URL, host or
        password is reported at startup."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        def connect() -> Any:
            return psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=10,
                options=(
                    "-c default_transaction_read_only=on "
                    f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c jit=off -c TimeZone=UTC"
                ),
            )

        parts = conninfo_to_dict(url)
        label = f"{parts.get('host', 'localhost')}/{parts.get('dbname', '')}"
        source = cls(connect, label=f"postgresql://{label}", **options)
        source.version()
        return source

    # -- connection and queries ---------------------------------------------------------------

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self._connect()
        return conn

    def _rows(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[list, list[str]]:
        """The rows and column names of one query; a broken connection is opened again once."""
        for attempt in (1, 2):
            conn = self._conn()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, params or {})
                    return cur.fetchall(), [d.name for d in cur.description]
            except Exception:
                if attempt == 2 or not conn.closed:
                    raise
                self._local.conn = None
        raise AssertionError("unreachable")

    def _frame(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        rows, names = self._rows(sql, params)
        return pd.DataFrame.from_records(rows, columns=names)

    def _copied_runs(self, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        """Many runs rows, as ``_runs_frame`` gives them, sent by ``COPY ... TO STDOUT`` as CSV
        and parsed by pandas: several times faster and lighter than a row of Python objects per
        run."""
        buffer = io.BytesIO()
        with (
            self._conn().cursor() as cur,
            cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)", params) as copy,
        ):
            for chunk in copy:
                buffer.write(chunk)
        buffer.seek(0)
        numeric = {c.name for c in schema.COLUMNS if c.kind in NUMERIC_KINDS}
        frame = pd.read_csv(  # text stays text ("2023" too); an empty number is NaN
            buffer,
            dtype={c.name: NUMBER_DTYPE if c.name in numeric else object for c in schema.COLUMNS},
            keep_default_na=False,
            na_values={name: [""] for name in numeric},
        )
        return normalise(frame, "runs", DATABASE_KIND).reset_index(drop=True)

    def _runs_frame(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Runs rows as the file store shows them: the contract's columns and dtypes (no rows:
        a copy of one empty frame typed once, as the runs in progress mostly are)."""
        rows, names = self._rows(sql, params)
        if not rows:
            return _no_runs().copy()
        frame = normalise(pd.DataFrame.from_records(rows, columns=names), "runs", DATABASE_KIND)
        return frame.reset_index(drop=True)

    # -- version and answers ------------------------------------------------------------------

    def version(self) -> int:
        stale_before = self._clock() - dt.timedelta(seconds=self.stale_after_s)
        (marker,), _ = self._rows(
            f"SELECT ROW((SELECT max(updated_at) FROM {RUNS}), "
            f"(SELECT max(updated_at) FROM {TASKS}), "
            f"(SELECT coalesce(sum(runs), 0) FROM {TOTALS}), "
            f"(SELECT count(*) FROM {RUNS} WHERE status = 'running' "
            'AND "timestamp" < %(stale_before)s))::text',
            {"stale_before": stale_before},
        )
        with self._lock:
            if marker != self._marker:
                self._marker = marker
                self._version += 1
                self._answers = {}
                self._stale_before = stale_before
            return self._version

    def _answer(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``key`` and data version: the marker is read first, as the
        file store stats its files, so an answer is never older than the call."""
        self.version()
        return self._kept(key, compute)

    def _kept(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, once per ``key`` and the data version last read."""
        with self._lock:
            answers, version = self._answers, self._version
            if key in answers:
                return answers[key]
        value = compute()
        with self._lock:
            if self._version == version:
                answers[key] = value
        return value

    # -- the duplicate rank rows --------------------------------------------------------------

    def _duplicates(self) -> pd.DataFrame:
        """The duplicate rank rows (JOB_ROW_COLUMNS), found as the file store finds them."""
        return self._kept("duplicates", self._find_duplicates)

    def _find_duplicates(self) -> pd.DataFrame:
        names = ", ".join(ident(c) for c in JOB_ROW_COLUMNS)
        rows = self._runs_frame(
            f'SELECT {names} FROM {RUNS} WHERE {JOB_ROWS} ORDER BY "timestamp", run_id'
        )
        duplicates = dedupe_job_rows(rows).duplicates
        return duplicates.loc[:, list(JOB_ROW_COLUMNS)].reset_index(drop=True)

    def _duplicate_ids(self) -> list[str]:
        return list(self._duplicates()["run_id"])

    def _duplicates_of(self, selection: Selection) -> pd.DataFrame:
        return aggregate.filter_runs(self._duplicates(), selection)

    # -- SQL over a selection -----------------------------------------------------------------

    def _status(self, query: _Query) -> str:
        stale = query.value(self._stale_before)
        return (
            f"(CASE WHEN status = 'running' AND \"timestamp\" < {stale} THEN 'crashed' "
            "ELSE status END)"
        )

    def _select_runs(self, query: _Query, columns: Sequence[str] = RUN_COLUMNS) -> str:
        """The ``SELECT`` list of runs columns, ``status`` as shown."""
        return ", ".join(
            f"{self._status(query)} AS status" if c == "status" else ident(c) for c in columns
        )

    def _where_runs(self, query: _Query, selection: Selection) -> str:
        """The selection over the runs table, duplicate rank rows left out."""
        terms = ["TRUE", *_name_terms(query, selection)]
        first, last = selection_day(selection.date_from), selection_day(selection.date_to)
        if first:
            terms.append(f'"timestamp" >= {query.value(_utc_day_start(first))}')
        if last:
            end = _utc_day_start(last) + dt.timedelta(days=1)
            terms.append(f'"timestamp" < {query.value(end)}')
        duplicates = self._duplicate_ids()
        if duplicates:
            terms.append(f"run_id <> ALL({query.value(duplicates)})")
        return " AND ".join(terms)

    def _where_rollup(self, query: _Query, selection: Selection) -> str:
        terms = ["runs > 0", *_name_terms(query, selection)]
        first, last = selection_day(selection.date_from), selection_day(selection.date_to)
        if first:
            terms.append(f"day >= {query.value(first)}")
        if last:
            terms.append(f"day <= {query.value(last)}")
        return " AND ".join(terms)

    def _rollup(
        self,
        selection: Selection,
        keys: Sequence[str],
        forms: tuple[Rollup, Rollup] = DAILY_FORMS,
        measures: Mapping[str, str] = ROLLUP_SUMS,
    ) -> pd.DataFrame:
        """The sums of a rollup (runs and ``measures``: the rollup's sum by the column of a runs
        row it adds up) per ``keys`` of the rollup, duplicate rank rows subtracted. Of its two
        ``forms`` (per day, over all days), the one over all days when the selection has no
        dates and the keys no day: a few rows."""
        daily, over_all_days = forms
        dated = selection.date_from or selection.date_to or "day" in keys
        kept = daily if dated else over_all_days
        query = _Query()
        sums = ", ".join(
            f"sum({rollup})::float8 AS {ident(column)}" for column, rollup in measures.items()
        )
        group = ", ".join(keys)
        grouped = self._frame(
            f"SELECT {group + ', ' if group else ''}sum(runs)::bigint AS runs, {sums} "
            f"FROM {kept.table} WHERE {self._where_rollup(query, selection)}"
            + (f" GROUP BY {group}" if group else ""),
            query.params,
        )
        if not keys:
            grouped = grouped.fillna(0.0)
        duplicates = self._duplicates_of(selection)
        if duplicates.empty or grouped.empty:
            return grouped
        left_out = duplicates.assign(
            day=duplicates["timestamp"].dt.tz_convert("UTC").dt.date,
            runs=1,
            it_energy=it_energy_kwh(duplicates),
        )
        left_out = left_out.astype({k: object for k in keys if k != "day"})
        measures = ["runs", *measures]
        grouped = grouped.astype({m: float for m in measures})
        if keys:
            merged = grouped.set_index(list(keys))
            less = left_out.groupby(list(keys))[measures].sum().reindex(merged.index)
            merged[measures] = merged[measures] - less.fillna(0.0)
            grouped = merged.reset_index()
        else:
            grouped.loc[0, measures] = grouped.loc[0, measures] - left_out[measures].sum()
        grouped["runs"] = grouped["runs"].round().astype("int64")
        return grouped.loc[grouped["runs"] > 0].reset_index(drop=True)

    # -- RunSource ----------------------------------------------------------------------------

    def describe(self) -> Description:
        return self._answer("describe", self._describe)

    def _describe(self) -> Description:
        (stored,), _ = self._rows(f"SELECT coalesce(sum(runs), 0)::bigint FROM {TOTALS}")
        stored = stored[0]
        duplicates = len(self._duplicates())
        info = FileInfo(self.label, DATABASE_KIND, int(stored), 0, 0)
        return Description((info,), (), 0, int(stored) - duplicates, duplicates)

    def filter_options(self, selection: Selection) -> FilterOptions:
        project = selection.project
        return self._answer(("filter_options", project), lambda: self._filter_options(project))

    def _filter_options(self, project: str | None) -> FilterOptions:
        rows, _ = self._rows(f"SELECT project_name, experiment_id FROM {TOTALS} WHERE runs > 0")
        projects = sorted({p for p, _ in rows if p})
        experiments = sorted({e for p, e in rows if e and (project is None or p == project)})
        (span,), _ = self._rows(f'SELECT min("timestamp"), max("timestamp") FROM {RUNS}')
        first, last = (pd.Timestamp(t).tz_convert("UTC") if t else None for t in span)
        return FilterOptions(tuple(projects), tuple(experiments), first, last)

    def validate(self, selection: Selection) -> tuple[Selection, list[str]]:
        valid, notices = self._answer(("validate", selection), lambda: self._validate(selection))
        return valid, list(notices)

    def _validate(self, selection: Selection) -> tuple[Selection, list[str]]:
        """``validate_selection`` over what the database knows of this selection's values: the
        project/experiment pairs that name either, and the picked runs that exist."""
        query = _Query()
        pairs = self._frame(
            f"SELECT project_name, experiment_id FROM {TOTALS} WHERE runs > 0 AND "
            f"(project_name = {query.value(selection.project or '')} "
            f"OR experiment_id = {query.value(selection.experiment or '')})",
            query.params,
        )
        known = pd.DataFrame({"run_id": pd.Series([], dtype=object)})
        if selection.run_ids:
            query = _Query()
            wanted = query.value(list(selection.run_ids))
            duplicates = query.value(self._duplicate_ids())
            known = self._frame(
                f"SELECT run_id FROM {RUNS} WHERE run_id = ANY({wanted}) "
                f"AND run_id <> ALL({duplicates})",
                query.params,
            )
        facts = pd.concat(
            [
                pairs.assign(run_id=None),
                known.assign(project_name=None, experiment_id=None),
            ],
            ignore_index=True,
        ).reindex(columns=["project_name", "experiment_id", "run_id"])
        return validate_selection(selection, facts)

    def totals(self, selection: Selection) -> Totals:
        picked = replace(selection, run_ids=())
        return self._answer(("totals", picked), lambda: self._totals(picked))

    def _totals(self, selection: Selection) -> Totals:
        sums = self._rollup(selection, ())
        if sums.empty:
            return Totals(0.0, 0.0, 0, 0.0)
        row = sums.iloc[0]
        return Totals(
            energy_kwh=float(row["energy_consumed"]),
            emissions_kg=float(row["emissions"]),
            runs=int(row["runs"]),
            duration_s=float(row["duration"]),
        )

    def breakdown(self, selection: Selection, by: Breakdown) -> pd.DataFrame:
        picked = replace(selection, run_ids=())
        compute = {
            "project": self._per_project,
            "experiment": self._per_experiment,
            "place": self._per_place,
            "component": self._energy_split,
        }[by]
        return self._answer(("breakdown", by, picked), lambda: compute(picked))

    def _per_group(self, selection: Selection, key: str, name: str) -> pd.DataFrame:
        grouped = self._rollup(selection, (key,))
        frame = pd.DataFrame(
            {
                name: grouped[key].astype(str) if len(grouped) else pd.Series([], dtype=object),
                "runs": grouped["runs"].astype("int64"),
                "energy_kwh": grouped["energy_consumed"].astype(float),
                "emissions_kg": grouped["emissions"].astype(float),
                "duration_s": grouped["duration"].astype(float),
            }
        )
        return largest_first(frame, "emissions_kg", [name])

    def _per_project(self, selection: Selection) -> pd.DataFrame:
        return self._per_group(selection, "project_name", "project")

    def _per_experiment(self, selection: Selection) -> pd.DataFrame:
        frame = self._per_group(selection, "experiment_id", "experiment")
        frame["experiment"] = frame["experiment"].replace("", "(none)")
        return frame

    def _energy_split(self, selection: Selection) -> pd.DataFrame:
        sums = self._rollup(selection, ())
        rows = [
            (label, float(sums.iloc[0][column]))
            for column, label in ENERGY_COMPONENTS
            if not sums.empty and sums.iloc[0][column] != 0
        ]
        return pd.DataFrame(rows, columns=["component", "energy_kwh"])

    def _per_place(self, selection: Selection) -> pd.DataFrame:
        """``aggregate.locations`` from the place rollup."""
        grouped = self._rollup(
            selection,
            aggregate.PLACE_KEYS,
            PLACE_FORMS,
            PLACE_SUMS,
        ).rename(columns={"energy_consumed": "energy_kwh", "emissions": "emissions_kg"})
        cloud = grouped["cloud_provider"] + " " + grouped["cloud_region"]
        places = pd.DataFrame(
            {
                "country": grouped["country_name"].replace("", "unknown"),
                "region": grouped["region"],
                "cloud": cloud.str.strip(),
                "intensity_source": grouped["carbon_intensity_source"],
                "intensity_year": grouped["carbon_intensity_year"],
                "runs": grouped["runs"].astype("int64"),
                "energy_kwh": grouped["energy_kwh"].astype(float),
                "emissions_kg": grouped["emissions_kg"].astype(float),
            }
        )
        places["intensity_g_per_kwh"] = places["emissions_kg"] * 1000 / places["energy_kwh"]
        return largest_first(places, "energy_kwh", PLACE_LABELS)

    def location_mix(self, selection: Selection) -> pd.DataFrame:
        picked = replace(selection, run_ids=())
        return self._answer(("location_mix", picked), lambda: self._location_mix(picked))

    def _location_mix(self, selection: Selection) -> pd.DataFrame:
        """``regional.baseline.location_mix`` from the place rollup, finished by the same
        function (IT energy: the energy over a positive PUE, as ``baseline.it_energy_kwh``)."""
        grouped = self._rollup(selection, LOCATION_KEYS, PLACE_FORMS, PLACE_SUMS)
        raw = pd.DataFrame(
            {
                **{k: grouped[k].astype(object) for k in LOCATION_KEYS},
                "energy_kwh": grouped["energy_consumed"].astype(float),
                "it_energy_kwh": grouped["it_energy"].astype(float),
                "recorded_emissions_kg": grouped["emissions"].astype(float),
                "runs": grouped["runs"].astype("int64"),
            }
        )
        return merge_locations(raw)

    def emissions_series(self, selection: Selection) -> pd.DataFrame:
        picked = replace(selection, run_ids=())
        return self._answer(("emissions_series", picked), lambda: self._series(picked))

    def _series(self, selection: Selection) -> pd.DataFrame:
        """A point per run (``aggregate.emissions_series`` of the few runs), or per day from
        the rollup above DAILY_ABOVE_RUNS runs."""
        if self._totals(selection).runs <= DAILY_ABOVE_RUNS:
            query = _Query()
            columns = ("timestamp", "emissions", "energy_consumed", "experiment_id", "run_id")
            runs = self._runs_frame(
                f"SELECT {self._select_runs(query, columns)} FROM {RUNS} "
                f'WHERE {self._where_runs(query, selection)} ORDER BY "timestamp", run_id',
                query.params,
            )
            return aggregate.emissions_series(runs)
        days = self._rollup(selection, ("day",)).sort_values("day", ignore_index=True)
        stamps = pd.to_datetime(days["day"]).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
        series = pd.DataFrame(
            {
                "timestamp": stamps,
                "emissions_kg": days["emissions"].astype(float),
                "energy_kwh": days["energy_consumed"].astype(float),
                "runs": days["runs"].astype("int64"),
                "label": stamps.dt.strftime("%Y-%m-%d"),
                "bucket": "day",
            }
        )
        series["cumulative_kg"] = series["emissions_kg"].cumsum()
        return series

    def last_run(self, selection: Selection) -> pd.Series | None:
        picked = replace(selection, run_ids=())
        return self._answer(("last_run", picked), lambda: self._last_run(picked))

    def _last_run(self, selection: Selection) -> pd.Series | None:
        query = _Query()
        rows = self._runs_frame(
            f"SELECT {self._select_runs(query)} FROM {RUNS} "
            f"WHERE {self._where_runs(query, selection)} "
            'ORDER BY "timestamp" DESC, run_id DESC LIMIT 1',  # the time index, read backwards
            query.params,
        )
        return None if rows.empty else rows.iloc[0]

    def runs_page(
        self,
        selection: Selection,
        *,
        offset: int,
        limit: int,
        sort_by: Sequence[Mapping[str, str]] = (),
        filter_query: str | None = None,
    ) -> RunsPage:
        picked = replace(selection, run_ids=())
        limit = max(limit, 1)
        self.version()
        query = _Query()
        where = self._where_runs(query, picked)
        filters = [self._filter_term(query, *term) for term in parse_filter_query(filter_query)]
        filters = [f for f in filters if f is not None]
        matching_where = " AND ".join([where, *filters])
        selected = self._kept(("totals", picked), lambda: self._totals(picked)).runs
        if filters:
            (count,), _ = self._rows(
                f"SELECT count(*) FROM {RUNS} WHERE {matching_where}", query.params
            )
            matching = int(count[0])
        else:
            matching = selected
        shown = min(max(offset, 0) // limit, max(matching - 1, 0) // limit) * limit
        order = [
            f"{self._column(query, s['column_id'])} "
            f"{'DESC' if s.get('direction') == 'desc' else 'ASC'} NULLS LAST"
            for s in sort_by
            if s.get("column_id") in RUN_TABLE_COLUMNS
        ]
        if order:
            order += ['"timestamp" ASC', "run_id ASC"]
        else:
            order = ['"timestamp" DESC', "run_id DESC"]  # every row has a time: the index order
        rows = self._runs_frame(
            f"SELECT {self._select_runs(query, RUN_TABLE_COLUMNS)} FROM {RUNS} "
            f"WHERE {matching_where} ORDER BY {', '.join(order)} "
            f"LIMIT {query.value(limit)} OFFSET {query.value(shown)}",
            query.params,
        )
        return RunsPage(rows.loc[:, list(RUN_TABLE_COLUMNS)], shown, matching, selected)

    def _column(self, query: _Query, name: str) -> str:
        """A runs table column (from the allow-list) as an SQL expression, as shown."""
        return self._status(query) if name == "status" else ident(name)

    def _filter_term(
        self, query: _Query, column: str, operator: str, value: str, case_sensitive: bool
    ) -> str | None:
        """One ``filter_query`` term as SQL (``aggregate._term_mask``'s meaning); None for a
        column outside the runs table's."""
        if column not in RUN_TABLE_COLUMNS:
            return None
        expr = self._column(query, column)
        kind = schema.column_kind(column)
        if operator == "contains":
            pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = "LIKE" if case_sensitive else "ILIKE"
            return f"coalesce({expr}::text, '') {like} {query.value(pattern + '%')}"
        if operator == "datestartswith":
            text = f"to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
            if kind != "datetime":
                text = f"coalesce({expr}::text, '')"
            return f"starts_with({text}, {query.value(value)})"
        sql_operator = {"eq": "=", "ne": "IS DISTINCT FROM", "lt": "<", "le": "<=", "gt": ">"}
        sql_operator["ge"] = ">="
        if kind in ("float", "int"):
            target = pd.to_numeric(value, errors="coerce")
            if pd.isna(target):
                return "FALSE"
            return f"{expr} {sql_operator[operator]} {query.value(float(target))}"
        if kind == "datetime":
            try:
                stamp = pd.Timestamp(value, tz="UTC")
            except ValueError:
                return "FALSE"
            if pd.isna(stamp):
                return "FALSE"
            return f"{expr} {sql_operator[operator]} {query.value(stamp.to_pydatetime())}"
        text = f"coalesce({expr}, '')"
        if case_sensitive:
            return f"{text} {sql_operator[operator]} {query.value(value)}"
        return f"lower({text}) {sql_operator[operator]} {query.value(value.lower())}"

    def run_detail(self, run_id: str) -> RunDetail | None:
        return self._answer(("run_detail", run_id), lambda: self._run_detail(run_id))

    def _run_detail(self, run_id: str) -> RunDetail | None:
        if run_id in set(self._duplicate_ids()):
            return None
        query = _Query()
        rows = self._runs_frame(
            f"SELECT {self._select_runs(query)} FROM {RUNS} WHERE run_id = {query.value(run_id)}",
            query.params,
        )
        if rows.empty:
            return None
        run = rows.iloc[0]
        if not run["job_id"]:
            return RunDetail(run, None)
        query = _Query()
        job = self._runs_frame(
            f"SELECT {self._select_runs(query)} FROM {RUNS} "
            f"WHERE job_id = {query.value(run['job_id'])}",
            query.params,
        )
        set_apart = job["run_id"].isin(self._duplicate_ids())
        return RunDetail(run, job_totals(job[~set_apart], job[set_apart], str(run["job_id"])))

    def tasks(self, run_id: str) -> pd.DataFrame:
        return self._answer(("tasks", run_id), lambda: self._tasks(run_id))

    def _tasks(self, run_id: str) -> pd.DataFrame:
        query = _Query()
        names = ", ".join(ident(c) for c in TASK_COLUMNS)
        frame = self._frame(
            f"SELECT {names} FROM {TASKS} WHERE run_id = {query.value(run_id)} "
            'ORDER BY "timestamp", task_name',
            query.params,
        )
        return normalise(frame, "tasks", DATABASE_KIND).reset_index(drop=True)

    def runs_by_id(self, run_ids: Sequence[str]) -> pd.DataFrame:
        self.version()
        query = _Query()
        duplicates = self._duplicate_ids()
        rows = self._runs_frame(
            f"SELECT {self._select_runs(query)} FROM {RUNS} "
            f"WHERE run_id = ANY({query.value(list(run_ids))})"
            + (f" AND run_id <> ALL({query.value(duplicates)})" if duplicates else ""),
            query.params,
        )
        return aggregate.runs_by_id(rows, list(run_ids)).reset_index(drop=True)

    def selected_runs(self, selection: Selection) -> pd.DataFrame:
        """Not kept between calls: a selection's runs may be large, and the sections that need
        them keep what they derive (the regional baseline, an export is sent once)."""
        self.version()
        query = _Query()
        selection = replace(selection, run_ids=())
        return self._copied_runs(
            f"SELECT {self._select_runs(query)} FROM {RUNS} "
            f'WHERE {self._where_runs(query, selection)} ORDER BY "timestamp", run_id',
            query.params,
        )

    def prepare(self, selection: Selection) -> None:
        """Nothing to work out ahead: every view's answer is a query on the rollups, a few
        milliseconds (see ``RunSource.prepare``)."""

    def running_runs(self) -> pd.DataFrame:
        return self._answer("running", self._running_runs)

    def _running_runs(self) -> pd.DataFrame:
        """Through the partial index on running rows where it exists (see the migrations)."""
        query = _Query()
        recent = query.value(self._stale_before)
        return self._runs_frame(
            f"SELECT {self._select_runs(query)} FROM {RUNS} WHERE status = 'running' "
            f'AND "timestamp" >= {recent} AND {self._where_runs(query, Selection())} '
            'ORDER BY "timestamp", run_id',
            query.params,
        )
