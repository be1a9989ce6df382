"""``RunSource``: what the board asks of wherever the runs live (CSV files, a database).

Every section, the report and the CLI reach data only through these methods, so a new source is
one class, not a change to the page. A source answers for the *current snapshot* of its data;
``version()`` says which one, and moves whenever an answer may have changed, so pages poll it
cheaply and recompute only then.

Most methods must be answered **without loading the whole runs table** into the server: a
database source answers them with a query (the totals, breakdowns and time series from rollups,
the runs table one page at a time, a run from its key). They are marked *bounded* below: their
answer is small (a number, a few rows per project, experiment, place or day, one page). Two
methods return runs themselves and may load what they return, never more:

- ``selected_runs(selection)``: the selection's runs, for what needs every one of them (the
  runs CSV/JSON download, the regional baseline, the report). Its cost grows with the
  selection, not with the table.
- ``runs_by_id(run_ids)``: the few runs picked for comparison.

The frames returned have the contract's columns (:mod:`tracker.schema`) and are shared between
callers: never modify one in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import pandas as pd

from carbonboard.data.aggregate import Totals, date_range, experiments, projects
from carbonboard.data.history import FileInfo, History
from carbonboard.data.jobs import JobTotals
from carbonboard.data.loader import Skipped
from carbonboard.selection import Selection

# What ``breakdown`` groups by, and the frame each gives (see carbonboard.data.aggregate):
# project: per_project; experiment: per_experiment; place: locations; component: energy_split.
Breakdown = Literal["project", "experiment", "place", "component"]
BREAKDOWNS: tuple[Breakdown, ...] = ("project", "experiment", "place", "component")


@dataclass(frozen=True)
class Description:
    """What the page header lists about the data: where it comes from and what was left out.

    ``files``: each file (or, for a database, the database) with its rows and problems;
    ``skipped``: the bad rows listed, ``skipped_rows`` all of them counted; ``runs``: the runs
    counted; ``duplicates``: rows of cluster jobs not counted because another rank's row
    measured the same node at the same time.
    """

    files: tuple[FileInfo, ...]
    skipped: tuple[Skipped, ...]
    skipped_rows: int
    runs: int
    duplicates: int

    @property
    def unreadable(self) -> list[FileInfo]:
        """The files (or their tails) that could not be read, each with its reason."""
        return [info for info in self.files if info.error]

    @classmethod
    def of(cls, history: History) -> Description:
        """What a history in memory tells the header."""
        return cls(
            tuple(history.files),
            tuple(history.skipped),
            history.skipped_rows,
            len(history.runs),
            len(history.duplicates),
        )


@dataclass(frozen=True)
class FilterOptions:
    """What the filters offer: every project, the experiments of the selection's project (of
    all projects when none is chosen), and the first and last run's time (None without runs)."""

    projects: tuple[str, ...]
    experiments: tuple[str, ...]
    first_run: pd.Timestamp | None
    last_run: pd.Timestamp | None

    @classmethod
    def of(cls, runs: pd.DataFrame, project: str | None) -> FilterOptions:
        """The options of a runs table in memory."""
        in_project = (  # the one column the experiment list needs, not a copy of the runs
            runs[["experiment_id"]]
            if project is None
            else runs.loc[runs["project_name"] == project, ["experiment_id"]]
        )
        span = date_range(runs)
        return cls(
            tuple(projects(runs)),
            tuple(experiments(in_project)),
            *(span or (None, None)),
        )


@dataclass(frozen=True)
class RunsPage:
    """One page of the runs table: ``rows`` (the table's columns,
    ``carbonboard.data.aggregate.RUN_TABLE_COLUMNS``) from row ``offset`` of the ``matching``
    runs (the selection's runs that pass the table's filter); ``selected``: the selection's
    runs before that filter."""

    rows: pd.DataFrame
    offset: int
    matching: int
    selected: int


@dataclass(frozen=True)
class RunDetail:
    """One run's last row, and the totals of its cluster job when it ran in one."""

    run: pd.Series
    job: JobTotals | None


@runtime_checkable
class RunSource(Protocol):
    """Where the board's runs come from. See the module docstring for the cost rules."""

    def version(self) -> int:
        """The current snapshot's version, refreshed: cheap (a stat of the files, a change
        marker in the database), since every open page polls it. It increases whenever any
        other answer may have changed."""
        ...

    def describe(self) -> Description:
        """What the header lists. Bounded."""
        ...

    def filter_options(self, selection: Selection) -> FilterOptions:
        """Projects, the experiments of ``selection.project``, the date span. Bounded."""
        ...

    def validate(self, selection: Selection) -> tuple[Selection, list[str]]:
        """``selection`` with every value the data does not know (project, experiment within
        its project, run id) or cannot mean (a bad or reversed date) replaced by the default,
        and one notice per value dropped. Bounded."""
        ...

    def totals(self, selection: Selection) -> Totals:
        """Energy, emissions, run count and compute time of the selection. Bounded."""
        ...

    def breakdown(self, selection: Selection, by: Breakdown) -> pd.DataFrame:
        """The selection's sums per project, experiment, place or energy component (the
        frames of ``aggregate.per_project``, ``per_experiment``, ``locations`` and
        ``energy_split``, most first). Bounded."""
        ...

    def emissions_series(self, selection: Selection) -> pd.DataFrame:
        """Emissions over time (``aggregate.emissions_series``): a point per run, or per day
        for large selections. Bounded (by days)."""
        ...

    def last_run(self, selection: Selection) -> pd.Series | None:
        """The selection's most recent run, None without one. Bounded."""
        ...

    def runs_page(
        self,
        selection: Selection,
        *,
        offset: int,
        limit: int,
        sort_by: Sequence[Mapping[str, str]] = (),
        filter_query: str | None = None,
    ) -> RunsPage:
        """``limit`` rows of the selection's runs from ``offset``, newest first unless
        ``sort_by`` says otherwise (``[{"column_id": ..., "direction": "asc"|"desc"}]``),
        filtered by ``filter_query`` (``{column} op value && ...``, see
        ``aggregate.parse_filter_query``). An offset past the end gives the last page.
        Unknown columns are ignored. Bounded: the server never holds more than the page."""
        ...

    def run_detail(self, run_id: str) -> RunDetail | None:
        """The run's last row and its job's totals; None for an unknown id. Bounded."""
        ...

    def tasks(self, run_id: str) -> pd.DataFrame:
        """The run's tasks (the tasks columns of the contract), empty if none. Bounded."""
        ...

    def runs_by_id(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """The runs with these ids, in the order given; unknown ids are left out."""
        ...

    def location_mix(self, selection: Selection) -> pd.DataFrame:
        """The selection's energy, IT energy, recorded emissions and runs per location
        (``carbonboard.regional.baseline.location_mix``), for the regional views. Bounded (by
        places): a database groups in SQL, never sending the runs."""
        ...

    def selected_runs(self, selection: Selection) -> pd.DataFrame:
        """Every run of the selection (its project, experiment and dates; ``run_ids`` play no
        part), sorted by time. Loads the selection, never more."""
        ...

    def running_runs(self) -> pd.DataFrame:
        """The runs in progress, every project: those whose latest row says ``running`` (a run
        silent for too long has turned ``crashed`` and is not one), with the contract's columns.
        Bounded: only the runs in progress (a database answers from the runs' latest rows
        filtered on status, never loading the others)."""
        ...

    # Whether ``prepare`` works anything out: the board asks only a source that does.
    prepares_ahead: bool

    def prepare(self, selection: Selection) -> None:
        """Work out ahead what the views will ask about ``selection``, so that showing it is a
        lookup (the board calls it for each project while it is idle). A source whose answers
        are cheap anyway (a database reading its rollups) does nothing, and says so with
        ``prepares_ahead`` false."""
        ...
