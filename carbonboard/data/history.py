"""From parsed rows to one consistent ``History``: pure functions, no files, no clock read.

The file store (:mod:`carbonboard.data.store`) lists, reads and caches files; what it read is
turned into the history the board shows here: the newest row of each run (CodeCarbon's flush()
appends cumulative rows), sorted by time, a silent ``running`` run marked ``crashed``, and each
node of a cluster job counted once (:mod:`carbonboard.data.jobs`). Being pure, every rule is
unit-tested on frames built in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carbonboard.data.jobs import dedupe_job_rows
from carbonboard.data.loader import Skipped, concat, set_text_where

RUN_KEY = ["run_id"]
TASK_KEY = ["run_id", "task_name"]


@dataclass(frozen=True)
class FileInfo:
    """A loaded file, for the header: what it is and how much of it was usable.

    ``skipped``: every bad row, listed or not. ``error``: why the file (or its part from some
    line on) could not be read; its rows before that line are still shown.
    """

    path: str
    kind: str  # "runs" | "tasks" | "empty" | "unreadable"
    rows: int
    skipped: int
    size_bytes: int
    error: str = ""


@dataclass(frozen=True)
class History:
    """One consistent snapshot of everything loaded.

    ``runs``: one row per run (its newest row, :func:`newest_rows`: CodeCarbon's flush()
    appends cumulative rows, and a run may be in two files), sorted by timestamp, with the
    contract's columns plus ``source_file`` and ``line_number``; a ``running`` run silent for
    too long shows ``crashed``.
    ``tasks``: the same per task for tasks CSVs. ``skipped``: rows left out, with the reason
    (a file lists at most a bounded number: ``skipped_rows`` counts them all).
    ``duplicates``: rows not in ``runs`` because another rank's row of the same cluster job
    measured the same node over the same time (:mod:`carbonboard.data.jobs`), so no total counts
    a node twice.
    """

    runs: pd.DataFrame
    tasks: pd.DataFrame
    skipped: list[Skipped]
    files: list[FileInfo]
    version: int = 0
    rows_read: int = 0
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def is_empty(self) -> bool:
        return self.runs.empty

    @property
    def skipped_rows(self) -> int:
        """Every row left out, including those not listed in ``skipped``."""
        return sum(info.skipped for info in self.files)

    @property
    def unreadable(self) -> list[FileInfo]:
        """The files (or their tails) that could not be read, each with its reason."""
        return [info for info in self.files if info.error]


def newest_rows(
    frame: pd.DataFrame, key: Sequence[str], keep: np.ndarray | None = None
) -> np.ndarray:
    """Positions of each key's newest row among those ``keep`` marks (all when None), in the
    order read. Newest as the team database keeps a run (``tracker.db.ddl.NEWER_RUN``): the
    later ``timestamp``, then the longer ``duration``, then a final status over ``running``,
    then the row read last. So a run's cumulative flush rows, and a run in two files (a copy,
    a fallback file), count once, as the same run in the database."""
    kept = np.arange(len(frame)) if keep is None else np.flatnonzero(keep)
    if len(kept) == 0:
        return kept
    groups = np.zeros(len(kept), dtype=np.int64)
    for name in key:
        codes, uniques = pd.factorize(frame[name].to_numpy()[kept])
        groups = groups * max(len(uniques), 1) + codes
    distinct = len(uniques) if len(key) == 1 else len(pd.unique(groups))
    if distinct == len(kept):  # each key once: nothing to pick
        return kept
    moments = frame["timestamp"].dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    moments = moments[kept].view(np.int64)
    duration = np.nan_to_num(frame["duration"].to_numpy(dtype=float)[kept], nan=-np.inf)
    final = (frame["status"].to_numpy()[kept] != "running").astype(np.int8)
    order = np.lexsort((kept, final, duration, moments, groups))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = groups[order][1:] != groups[order][:-1]
    return np.sort(kept[order[last]])


def latest_per_key(frame: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """Each key's newest row (:func:`newest_rows`); ``frame`` itself when no key repeats."""
    picked = newest_rows(frame, key)
    return frame if len(picked) == len(frame) else frame.iloc[picked]


def mark_crashed(runs: pd.DataFrame, now: dt.datetime, stale_after_s: float) -> pd.DataFrame:
    """Runs still ``running`` whose last row is older than ``stale_after_s`` are ``crashed``."""
    running = runs["status"].eq("running")
    if not running.any():
        return runs
    stale = running & (runs["timestamp"] < pd.Timestamp(now) - pd.Timedelta(seconds=stale_after_s))
    if not stale.any():
        return runs
    runs = runs.copy()
    runs["status"] = set_text_where(runs["status"], stale, "crashed")
    return runs


def next_crash_check(history: History, stale_after_s: float) -> pd.Timestamp | None:
    """When the oldest run still ``running`` (counted or a duplicate rank row) turns ``crashed``
    if it writes nothing more, None without one: the history must be rebuilt then even if no
    file changed."""
    stamps = [
        frame.loc[frame["status"].eq("running"), "timestamp"]
        for frame in (history.runs, history.duplicates)
        if "status" in frame.columns
    ]
    running = pd.concat(stamps) if stamps else pd.Series([], dtype=object)
    return running.min() + pd.Timedelta(seconds=stale_after_s) if len(running) else None


def build_history(
    runs_parts: Sequence[pd.DataFrame],
    task_parts: Sequence[pd.DataFrame],
    *,
    skipped: list[Skipped],
    files: list[FileInfo],
    now: dt.datetime,
    stale_after_s: float,
    version: int = 0,
) -> History:
    """The history of parsed runs and tasks frames (in file order, each in line order): the
    newest row per run and task, runs sorted by time (stable, so equal times keep file order),
    stale ``running`` runs ``crashed`` as of ``now``, duplicate rank rows set apart."""
    runs = latest_per_key(concat(list(runs_parts), "runs"), RUN_KEY)
    if not runs["timestamp"].is_monotonic_increasing:  # a file written in time order is not
        runs = runs.sort_values("timestamp", kind="stable")
    runs = runs.reset_index(drop=True)
    runs = mark_crashed(runs, now, stale_after_s)
    tasks = latest_per_key(concat(list(task_parts), "tasks"), TASK_KEY).reset_index(drop=True)
    job_rows = dedupe_job_rows(runs)
    return History(
        job_rows.counted.reset_index(drop=True),
        tasks,
        skipped,
        files,
        version,
        sum(len(part) for part in (*runs_parts, *task_parts)),
        job_rows.duplicates.reset_index(drop=True),
    )
