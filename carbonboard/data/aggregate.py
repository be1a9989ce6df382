"""Pure functions from the runs table (and a Selection) to the numbers and series the page shows.

Nothing here touches Dash or the files: every function takes a DataFrame and returns a small one
(or a dataclass), so each is unit-tested directly and the browser only ever receives aggregates.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from carbonboard.selection import Selection

ENERGY_COMPONENTS = (("cpu_energy", "CPU"), ("gpu_energy", "GPU"), ("ram_energy", "RAM"))
# The columns each function below reads: a store hands it only those columns of a selection.
SUMMED = ("energy_consumed", "emissions", "duration")  # totals and every breakdown
PLACE_KEYS = (
    "country_name",
    "region",
    "cloud_provider",
    "cloud_region",
    "carbon_intensity_source",
    "carbon_intensity_year",
)
DAILY_COLUMNS = ("timestamp", "emissions", "energy_consumed")  # emissions_series per day
LABEL_COLUMNS = ("experiment_id", "run_id")  # and the labels of its points per run
DAILY_ABOVE_RUNS = 3000  # time series switch from one point per run to one per day above this
RUN_TABLE_COLUMNS = (
    "timestamp",
    "project_name",
    "experiment_id",
    "run_id",
    "status",
    "duration",
    "energy_consumed",
    "emissions",
    "country_name",
    "region",
    "cloud_provider",
    "gpu_model",
)
FILTER_TERM = re.compile(r"^\s*\{([^}]+)\}\s+(\S+)\s+(.*?)\s*$")
OPERATORS = {
    "=": "eq", "eq": "eq", "!=": "ne", "ne": "ne",
    "<": "lt", "lt": "lt", "<=": "le", "le": "le",
    ">": "gt", "gt": "gt", ">=": "ge", "ge": "ge",
    "contains": "contains", "datestartswith": "datestartswith",
}  # fmt: skip
# DataTable's case variants of each operator: "scontains", "ieq", "s<", ... (s: sensitive)
CASE_PREFIXES = {"s": True, "i": False}


@dataclass(frozen=True)
class Totals:
    """Sums over a set of runs, in the contract's units."""

    energy_kwh: float
    emissions_kg: float
    runs: int
    duration_s: float

    @property
    def intensity_g_per_kwh(self) -> float | None:
        """The effective intensity: emissions over energy."""
        return self.emissions_kg * 1000 / self.energy_kwh if self.energy_kwh > 0 else None


def filter_runs(runs: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The runs in the selection's project, experiment and (inclusive) date range."""
    runs = _date_range_of(runs, selection.date_from, selection.date_to)
    mask = None
    for column, value in (
        ("project_name", selection.project),
        ("experiment_id", selection.experiment),
    ):
        if value is not None:
            matches = runs[column] == value
            mask = matches if mask is None else mask & matches
    return runs if mask is None or mask.all() else runs[mask]


def _date_range_of(runs: pd.DataFrame, date_from: str | None, date_to: str | None) -> pd.DataFrame:
    """The runs from ``date_from`` to ``date_to`` (inclusive days). The store keeps runs sorted by
    time, so this is a slice found by binary search, not a copy of the table."""
    if date_from is None and date_to is None:
        return runs
    stamps = runs["timestamp"]
    if not stamps.is_monotonic_increasing:  # a frame not from the store
        start, end = _day_bounds(date_from, date_to)
        keep = pd.Series(True, index=runs.index)
        if start is not None:
            keep &= stamps >= start
        if end is not None:
            keep &= stamps < end
        return runs[keep]
    first, stop = selected_span(stamps, date_from, date_to)
    return runs.iloc[first:stop]


# The days a selection can start or end on: those whose whole day the board's times can hold.
EARLIEST_DAY = (pd.Timestamp.min + pd.Timedelta(days=1)).date()
LATEST_DAY = (pd.Timestamp.max - pd.Timedelta(days=1)).date()


def selection_day(value: str | None) -> dt.date | None:
    """``value`` as a day a selection starts or ends on: a ``YYYY-MM-DD`` date from
    EARLIEST_DAY to LATEST_DAY (1677-2262); None for anything else. Every view reads its dates
    through here, so a date the server has not checked yet (a URL's, a control's half-typed
    year) is ignored until the checked one arrives, never an error."""
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return day if EARLIEST_DAY <= day <= LATEST_DAY else None


def _day_bounds(
    date_from: str | None, date_to: str | None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The first instant of ``date_from`` and the first after ``date_to`` (UTC), or None."""
    first, last = selection_day(date_from), selection_day(date_to)
    start = pd.Timestamp(first, tz="UTC") if first else None
    end = pd.Timestamp(last, tz="UTC") + pd.Timedelta(days=1) if last else None
    return start, end


def selected_span(stamps: pd.Series, date_from: str | None, date_to: str | None) -> tuple[int, int]:
    """The positions (first, stop) of the times in ``stamps`` (sorted) from ``date_from`` to
    ``date_to`` (inclusive days), found by binary search."""
    start, end = _day_bounds(date_from, date_to)
    first = int(stamps.searchsorted(start, side="left")) if start is not None else 0
    stop = int(stamps.searchsorted(end, side="left")) if end is not None else len(stamps)
    return first, stop


def totals(runs: pd.DataFrame) -> Totals:
    """Energy, emissions, run count and compute time of ``runs``."""
    return Totals(
        energy_kwh=float(runs["energy_consumed"].sum()),
        emissions_kg=float(runs["emissions"].sum()),
        runs=len(runs),
        duration_s=float(runs["duration"].sum()),
    )


def projects(runs: pd.DataFrame) -> list[str]:
    """Project names, sorted."""
    return sorted(str(p) for p in runs["project_name"].unique() if str(p))


def experiments(runs: pd.DataFrame) -> list[str]:
    """Experiment ids present in ``runs``, sorted (CodeCarbon 2.x files have none)."""
    return sorted(str(e) for e in runs["experiment_id"].unique() if str(e))


def date_range(runs: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last run timestamps, or None without runs."""
    if runs.empty:
        return None
    return runs["timestamp"].min(), runs["timestamp"].max()


def _sums(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """runs, energy_kwh, emissions_kg, duration_s per group; grouping on the categorical codes
    (observed groups only) keeps this fast on a million rows, and one ``sum`` of the three
    columns costs less than pandas' named aggregations, one pass each."""
    grouped = runs.groupby(keys, observed=True, sort=False)
    sums = grouped[["energy_consumed", "emissions", "duration"]].sum()
    sums.columns = ["energy_kwh", "emissions_kg", "duration_s"]
    sums.insert(0, "runs", grouped.size())
    return sums.reset_index()


def largest_first(frame: pd.DataFrame, measure: str, labels: list[str]) -> pd.DataFrame:
    """``frame`` by ``measure``, largest first, ties in the order of their ``labels``: the same
    order whichever source summed them, in whatever order."""
    return frame.sort_values(
        [measure, *labels],
        ascending=[False, *[True] * len(labels)],
        ignore_index=True,
        kind="stable",
    )


PLACE_LABELS = ["country", "region", "cloud", "intensity_source", "intensity_year"]


def per_experiment(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment: runs, energy_kwh, emissions_kg, duration_s; most emissions first."""
    grouped = _sums(runs, ["experiment_id"]).rename(columns={"experiment_id": "experiment"})
    grouped["experiment"] = grouped["experiment"].astype("str").replace("", "(none)")
    return largest_first(grouped, "emissions_kg", ["experiment"])


def per_project(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per project: runs, energy_kwh, emissions_kg, duration_s; most emissions first."""
    grouped = _sums(runs, ["project_name"]).rename(columns={"project_name": "project"})
    grouped["project"] = grouped["project"].astype("str")
    return largest_first(grouped, "emissions_kg", ["project"])


def energy_split(runs: pd.DataFrame) -> pd.DataFrame:
    """Energy per component (CPU/GPU/RAM) in kWh; components never measured are left out."""
    rows = [
        (label, float(runs[column].sum()))
        for column, label in ENERGY_COMPONENTS
        if runs[column].notna().any()
    ]
    return pd.DataFrame(rows, columns=["component", "energy_kwh"])


def emissions_series(runs: pd.DataFrame, daily_above: int = DAILY_ABOVE_RUNS) -> pd.DataFrame:
    """Emissions over time: one point per run, or per day for large selections.

    Columns: timestamp, emissions_kg, energy_kwh, runs, cumulative_kg, label, bucket (run|day).
    """
    ordered = (  # the store's runs are in time order already: no sorted copy
        runs
        if runs["timestamp"].is_monotonic_increasing
        else runs.sort_values("timestamp", kind="stable")
    )
    if len(ordered) > daily_above:
        day = ordered["timestamp"].dt.floor("D")
        grouped = ordered.groupby(day)
        series = grouped[["emissions", "energy_consumed"]].sum()  # one pass, as in _sums
        series.columns = ["emissions_kg", "energy_kwh"]
        series["runs"] = grouped.size()
        series.index.name = "timestamp"
        series = series.reset_index()
        series["label"] = series["timestamp"].dt.strftime("%Y-%m-%d")
        series["bucket"] = "day"
    else:
        series = pd.DataFrame(
            {
                "timestamp": ordered["timestamp"].to_numpy(),
                "emissions_kg": ordered["emissions"].to_numpy(),
                "energy_kwh": ordered["energy_consumed"].to_numpy(),
                "runs": 1,
                "label": (
                    ordered["experiment_id"].astype("str") + " · " + ordered["run_id"].str[:8]
                ).to_numpy(),
                "bucket": "run",
            }
        )
    series["cumulative_kg"] = series["emissions_kg"].cumsum()
    return series


def series_columns(rows: int, daily_above: int = DAILY_ABOVE_RUNS) -> tuple[str, ...]:
    """The columns ``emissions_series`` reads from ``rows`` runs: the labels only for points
    per run."""
    return DAILY_COLUMNS if rows > daily_above else DAILY_COLUMNS + LABEL_COLUMNS


def last_run(runs: pd.DataFrame) -> pd.Series | None:
    """The most recent run, or None."""
    return None if runs.empty else runs.loc[runs["timestamp"].idxmax()]


def locations(runs: pd.DataFrame) -> pd.DataFrame:
    """Where the runs ran and the intensity used: one row per place and intensity source.

    Columns: country, region, cloud, intensity_source, intensity_year, runs, energy_kwh,
    emissions_kg, intensity_g_per_kwh; most energy first.
    """
    grouped = _sums(runs, list(PLACE_KEYS))
    cloud = grouped["cloud_provider"].astype("str") + " " + grouped["cloud_region"].astype("str")
    places = pd.DataFrame(
        {
            "country": grouped["country_name"].astype("str").replace("", "unknown"),
            "region": grouped["region"].astype("str"),
            "cloud": cloud.str.strip(),
            "intensity_source": grouped["carbon_intensity_source"].astype("str"),
            "intensity_year": grouped["carbon_intensity_year"].astype("str"),
            "runs": grouped["runs"],
            "energy_kwh": grouped["energy_kwh"],
            "emissions_kg": grouped["emissions_kg"],
        }
    )
    places["intensity_g_per_kwh"] = places["emissions_kg"] * 1000 / places["energy_kwh"]
    return largest_first(places, "energy_kwh", PLACE_LABELS)


def parse_filter_query(query: str | None) -> list[tuple[str, str, str, bool]]:
    """DataTable's ``filter_query`` (``{col} op value && ...``) as (column, operator, value,
    case-sensitive). A bare operator ignores case, as do ``i`` variants; ``s`` variants do not."""
    terms = []
    for part in (query or "").split(" && "):
        match = FILTER_TERM.match(part)
        if not match:
            continue
        column, operator, value = match.groups()
        case_sensitive = False
        if operator not in OPERATORS and operator[:1] in CASE_PREFIXES:
            operator, case_sensitive = operator[1:], CASE_PREFIXES[operator[:1]]
        if operator in OPERATORS:
            terms.append((column, OPERATORS[operator], value.strip().strip("\"'`"), case_sensitive))
    return terms


def _term_mask(column: pd.Series, operator: str, value: str, case_sensitive: bool) -> pd.Series:
    if operator == "contains":
        return column.astype("str").str.contains(value, case=case_sensitive, regex=False)
    if operator == "datestartswith":
        return column.astype("str").str.startswith(value)
    if pd.api.types.is_numeric_dtype(column):
        target = pd.to_numeric(value, errors="coerce")
        if pd.isna(target):
            return pd.Series(False, index=column.index)
    elif isinstance(column.dtype, pd.DatetimeTZDtype):
        try:
            target = pd.Timestamp(value, tz="UTC")
        except ValueError:
            return pd.Series(False, index=column.index)
    elif case_sensitive:
        column, target = column.astype("str"), value
    else:
        column, target = column.astype("str").str.lower(), value.lower()
    return getattr(column, operator)(target)


def page_runs(
    runs: pd.DataFrame,
    *,
    page: int,
    page_size: int,
    sort_by: list[dict] | None = None,
    filter_query: str | None = None,
) -> tuple[pd.DataFrame, int, int]:
    """One page of the runs table, filtered and sorted on the server.

    Returns (rows of RUN_TABLE_COLUMNS, page count, matching row count). Unknown columns in
    ``sort_by``/``filter_query`` are ignored, so a hand-edited request cannot raise.
    """
    view = runs
    for column, operator, value, case_sensitive in parse_filter_query(filter_query):
        if column in RUN_TABLE_COLUMNS:
            view = view[_term_mask(view[column], operator, value, case_sensitive)]
    valid = _valid_sort(sort_by)
    if valid:
        view = view.sort_values(
            [s["column_id"] for s in valid],
            ascending=[s.get("direction") != "desc" for s in valid],
            kind="stable",
        )
    else:
        view = view.iloc[::-1]  # newest first
    matching = len(view)
    page_count, first, stop = page_span(matching, page, page_size)
    rows = view.iloc[first:stop]
    return rows.loc[:, list(RUN_TABLE_COLUMNS)], page_count, matching


def _valid_sort(sort_by: list[dict] | None) -> list[dict]:
    return [s for s in sort_by or [] if s.get("column_id") in RUN_TABLE_COLUMNS]


def sorts_or_filters(sort_by: list[dict] | None, filter_query: str | None) -> bool:
    """Whether ``page_runs`` sorts or filters the runs; if not, a page is the newest runs from
    a position, which a store finds without reading the others."""
    terms = parse_filter_query(filter_query)
    return bool(_valid_sort(sort_by)) or any(term[0] in RUN_TABLE_COLUMNS for term in terms)


def page_span(matching: int, page: int, page_size: int) -> tuple[int, int, int]:
    """The page count of ``matching`` rows, and the positions (first, stop) of ``page`` (the
    last page for one past the end)."""
    page_count = max(-(-matching // page_size), 1)
    page = min(max(page, 0), page_count - 1)
    return page_count, page * page_size, (page + 1) * page_size


def runs_by_id(runs: pd.DataFrame, run_ids: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """The runs with these ids, in the given order (unknown ids are left out)."""
    picked = runs[runs["run_id"].isin(list(run_ids))]
    order = {run_id: i for i, run_id in enumerate(run_ids)}
    return picked.sort_values("run_id", key=lambda s: s.map(order), kind="stable")


def validate_selection(selection: Selection, runs: pd.DataFrame) -> tuple[Selection, list[str]]:
    """``selection`` with every value the data does not know replaced by the default view.

    Returns the usable selection and one notice per value dropped, for the page to show (a stale
    bookmark or a hand-edited URL must never raise).
    """
    notices = []
    project, experiment = selection.project, selection.experiment
    if project is not None and not runs["project_name"].eq(project).any():
        notices.append(f"Unknown project “{project}”: showing all projects.")
        project = None
    if experiment is not None:  # known within the project (one column, not a copy of the runs)
        in_scope = runs["experiment_id"].eq(experiment)
        if project is not None:
            in_scope &= runs["project_name"].eq(project)
        if not in_scope.any():
            notices.append(f"Unknown experiment “{experiment}”: showing all experiments.")
            experiment = None
    dates = []
    for name, value in (("from", selection.date_from), ("to", selection.date_to)):
        day = selection_day(value)
        if value and day is None:
            notices.append(
                f"“{value}” is not a date from {EARLIEST_DAY.year} to {LATEST_DAY.year} "
                f"(YYYY-MM-DD): ignoring “{name}”."
            )
        dates.append(day.isoformat() if day else None)
    if dates[0] and dates[1] and dates[0] > dates[1]:
        notices.append(f"The date range {dates[0]} – {dates[1]} is reversed: ignoring it.")
        dates = [None, None]
    known = (
        set(runs.loc[runs["run_id"].isin(list(selection.run_ids)), "run_id"])
        if selection.run_ids
        else set()
    )
    run_ids = tuple(r for r in selection.run_ids if r in known)
    if len(run_ids) < len(selection.run_ids):
        unknown = len(selection.run_ids) - len(run_ids)
        notices.append(f"{unknown} unknown run id{'s' if unknown > 1 else ''} left out.")
    valid = Selection(project, experiment, dates[0], dates[1], run_ids)
    return valid, notices
