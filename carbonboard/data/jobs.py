"""A cluster job's rows counted once per node: the runs that measured the same node for the same job
over the same time are one measurement, however many ranks wrote it.

Each rank of a distributed job may run a tracker, and before trackers elected one per node
(``measurement_scope``), every rank on a node recorded the whole node: a job of 4 ranks on one node
showed 4 times the node's energy. Rows that say they measured nothing (``measurement_scope`` =
``none``) or only their own process (``process``) add up correctly already. The others (``node``,
or no scope recorded, outside process mode) that share a ``job_id`` and ``hostname`` and whose time
windows overlap measured the same watts: one of them is counted, the others are set apart and
reported as duplicates, never silently dropped.

A row without a job id or host name is never a duplicate: nothing says that two such runs were
ranks of one job rather than two jobs that happened to run at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carbonboard.formatting import format_count, format_energy_kwh, format_mass_kg

NODE_SCOPE = "node"
PROCESS_MODE = "process"


@dataclass(frozen=True)
class JobRows:
    """``counted``: the runs, each node of each job measured once (in the order given).
    ``duplicates``: the rows set apart, each another rank's measurement of a node already counted
    over the same time."""

    counted: pd.DataFrame
    duplicates: pd.DataFrame


def dedupe_job_rows(runs: pd.DataFrame) -> JobRows:
    """Split ``runs`` (the loader's columns and dtypes, a unique index) into the rows counted and
    the duplicate rank rows.

    Within one job and host, rows measuring the node are grouped by overlapping time windows
    (``timestamp - duration`` to ``timestamp``; a chain of overlaps is one group); each group keeps
    one row: one that recorded the ``node`` scope over one that recorded none, then the longest,
    then the lowest rank, then the first written.
    """
    rows = runs.loc[_measures_node(runs)]
    if len(rows) < 2:
        return JobRows(runs, runs.iloc[0:0])
    duration_s = rows["duration"].fillna(0.0).clip(lower=0.0)
    node = rows["job_id"].astype(str) + "\x1f" + rows["hostname"].astype(str)
    windows = pd.DataFrame(
        {
            "node": pd.factorize(node)[0],
            "start": rows["timestamp"] - pd.to_timedelta(duration_s, unit="s"),
            "end": rows["timestamp"],
        },
        index=rows.index,
    ).sort_values(["node", "start"], kind="stable")
    # A row starts a new group when it begins after every earlier row of its node has ended.
    ended = windows["end"].groupby(windows["node"]).cummax().groupby(windows["node"]).shift()
    new_group = ended.isna() | (windows["start"] >= ended)
    preference = pd.DataFrame(
        {
            "group": new_group.cumsum(),
            "unscoped": rows["measurement_scope"].ne(NODE_SCOPE),
            "longest": -duration_s,
            "rank": rows["rank"].fillna(np.inf),
            "position": np.arange(len(rows)),
        },
        index=rows.index,
    ).loc[windows.index]
    preference = preference.sort_values(
        ["group", "unscoped", "longest", "rank", "position"], kind="stable"
    )
    duplicate = preference.index[preference["group"].duplicated().to_numpy()]
    if not len(duplicate):
        return JobRows(runs, runs.iloc[0:0])
    set_apart = runs.index.isin(duplicate)
    return JobRows(runs.loc[~set_apart], runs.loc[set_apart])


def _measures_node(runs: pd.DataFrame) -> np.ndarray:
    """Rows of a job on a known host whose energy is the whole node's: scope ``node``, or no
    scope recorded by a tracker that was not in process mode."""
    scope = runs["measurement_scope"]
    whole_node = scope.eq(NODE_SCOPE) | (scope.eq("") & runs["tracking_mode"].ne(PROCESS_MODE))
    in_job = runs["job_id"].ne("") & runs["hostname"].ne("")
    return (whole_node & in_job).to_numpy(dtype=bool)


@dataclass(frozen=True)
class JobTotals:
    """One cluster job's rows taken together, as counted (duplicates apart)."""

    job_id: str
    nodes: int
    runs: int
    energy_kwh: float
    emissions_kg: float
    duplicates: int


def job_totals(counted: pd.DataFrame, duplicates: pd.DataFrame, job_id: str) -> JobTotals:
    """The totals of job ``job_id`` over ``counted`` rows (each node once), and how many of its
    rows ``duplicates`` holds."""
    rows = counted.loc[counted["job_id"].eq(job_id).to_numpy(dtype=bool)]
    hosts = rows["hostname"].astype(str)
    left_out = int(duplicates["job_id"].eq(job_id).sum()) if len(duplicates) else 0
    return JobTotals(
        job_id=job_id,
        nodes=hosts[hosts.ne("")].nunique(),
        runs=len(rows),
        energy_kwh=float(rows["energy_consumed"].sum()),
        emissions_kg=float(rows["emissions"].sum()),
        duplicates=left_out,
    )


_SCOPE_TEXT = {
    NODE_SCOPE: "the whole node",
    "process": "this process's share",
    "none": "nothing: another rank of the job measured this node",
}


def job_facts(run: pd.Series, job: JobTotals | None) -> list[tuple[str, str]]:
    """A run's place in its cluster job as (label, text) lines for its detail: the node, the
    job and rank, what its energy covers and the job's totals; none for a run outside a job
    that recorded no host."""
    facts = [("Node", str(run["hostname"]))] if run["hostname"] else []
    if job is None:
        return facts
    rank = "" if pd.isna(run["rank"]) else f" · rank {int(run['rank'])}"
    if rank and pd.notna(run["world_size"]):
        rank += f" of {int(run['world_size'])}"
    scope = str(run["measurement_scope"])
    total = (
        f"{format_count(job.runs)} run{'s' if job.runs != 1 else ''} on "
        f"{format_count(job.nodes)} node{'s' if job.nodes != 1 else ''}: "
        f"{format_energy_kwh(job.energy_kwh)}, {format_mass_kg(job.emissions_kg)}"
    )
    if job.duplicates:
        plural = "s" if job.duplicates != 1 else ""
        total += f" ({format_count(job.duplicates)} duplicate rank row{plural} not counted)"
    return [
        *facts,
        ("Job", job.job_id + rank),
        ("Energy covers", _SCOPE_TEXT.get(scope, scope or "not recorded (older tracker)")),
        ("Job total", total),
    ]
