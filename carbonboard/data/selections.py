"""Where each selection's runs are in a history's runs table, found once per data version.

A history is immutable between versions, so the rows of every project, and of every experiment
within it, are listed once (one stable sort of the categorical codes, a few milliseconds for a
million runs) when the first selection asks; a project switch then finds its rows by a lookup, its
dates by a binary search (the runs are sorted by time), and reads only the columns an answer
needs from them, instead of filtering and copying the whole table for each selection.

``rows`` of a selection are exactly ``aggregate.filter_runs`` of the table (same rows, order and
index) for the columns asked.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pandas as pd

from carbonboard.data.aggregate import selected_span
from carbonboard.selection import Selection

PROJECT, EXPERIMENT = "project_name", "experiment_id"


def _groups(codes: np.ndarray, count: int) -> dict[int, np.ndarray]:
    """The positions (ascending) of the rows of each code (0 to ``count`` - 1) that has rows.
    Codes that fit 16 bits are sorted by NumPy's radix sort, in linear time."""
    if count <= np.iinfo(np.int16).max:
        codes = codes.astype(np.int16)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=count)
    present = np.flatnonzero(counts)
    if not len(present):  # no rows
        return {}
    bounds = np.cumsum(counts[present])
    return dict(zip(present.tolist(), np.split(order, bounds[:-1]), strict=True))


class SelectionRows:
    """The row positions of every project and experiment of ``runs`` (a history's table: sorted
    by time, a RangeIndex, the loader's categorical columns), computed on first use."""

    def __init__(self, runs: pd.DataFrame) -> None:
        self.runs = runs
        self._lock = threading.Lock()
        self._projects: dict[str, np.ndarray] | None = None
        self._experiments: dict[tuple[str, str], np.ndarray] | None = None

    def _index(self) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
        with self._lock:
            if self._projects is None or self._experiments is None:
                projects = self.runs[PROJECT].cat
                experiments = self.runs[EXPERIMENT].cat
                project_codes = projects.codes.to_numpy().astype(np.int64)
                width = len(experiments.categories)
                pairs = project_codes * width + experiments.codes.to_numpy()
                project_names, experiment_names = projects.categories, experiments.categories
                self._projects = {
                    project_names[code]: rows
                    for code, rows in _groups(project_codes, len(project_names)).items()
                }
                self._experiments = {
                    (project_names[pair // width], experiment_names[pair % width]): rows
                    for pair, rows in _groups(pairs, len(project_names) * width).items()
                }
            return self._projects, self._experiments

    def projects(self) -> list[str]:
        """The projects with runs, sorted (``aggregate.projects``)."""
        return sorted(name for name in self._index()[0] if name)

    def experiments(self, project: str | None) -> list[str]:
        """The experiments of ``project`` with runs (of every project when None), sorted."""
        pairs = self._index()[1]
        return sorted({e for p, e in pairs if e and (project is None or p == project)})

    def knows(self, project: str | None, experiment: str | None) -> bool:
        """Some run has this project and experiment (either None: any)."""
        projects, pairs = self._index()
        if experiment is None:
            return project is None or project in projects
        if project is None:
            return any(e == experiment for _, e in pairs)
        return (project, experiment) in pairs

    def positions(self, selection: Selection) -> np.ndarray | None:
        """The positions of the selection's runs (ascending: in time order), None for all."""
        project, experiment = selection.project, selection.experiment
        rows: np.ndarray | None = None
        if project is not None or experiment is not None:
            projects, pairs = self._index()
            if experiment is None:
                rows = projects.get(project, np.empty(0, dtype=np.intp))
            elif project is not None:
                rows = pairs.get((project, experiment), np.empty(0, dtype=np.intp))
            else:
                parts = [r for (_, e), r in pairs.items() if e == experiment]
                rows = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.intp)
        if selection.date_from is None and selection.date_to is None:
            return rows
        stamps = self.runs["timestamp"]
        if rows is not None:
            stamps = stamps.iloc[rows]
        first, stop = selected_span(stamps, selection.date_from, selection.date_to)
        if rows is None:
            return None if (first, stop) == (0, len(stamps)) else np.arange(first, stop)
        return rows[first:stop]

    def count(self, selection: Selection) -> int:
        """How many runs the selection holds."""
        positions = self.positions(selection)
        return len(self.runs) if positions is None else len(positions)

    def rows(self, selection: Selection, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The selection's runs: ``columns`` of them (every column when None), or the table
        itself, not a copy, when the selection is every run."""
        positions = self.positions(selection)
        if positions is None or len(positions) == len(self.runs):  # every run: the table itself
            return self.runs
        if columns is None:
            return self.runs.take(positions)
        return self.runs.iloc[positions, self.runs.columns.get_indexer(list(columns))]
