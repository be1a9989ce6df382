"""Pareto front of emissions vs a quality metric, the runs it dominates, ranking and sweep waste.

A run *dominates* another when it emitted no more CO2 and its quality is at least as good, one of
the two strictly. The *front* is the runs nothing dominates: the only ones worth repeating. A
dominated run is named with the run that dominates it most clearly, the one with the lowest
emissions among its dominators (the largest CO2 ratio), so the sentence says how much was spent for
nothing: "run 1a2b3c4d: same accuracy as 5e6f7a8b for 3.2x the CO2".

Found in O(n log n): runs sorted by emissions (ties: best quality first); the running best quality
along that order is non-decreasing, so the first run whose running best reaches a run's quality is
its lowest-emission rival, found by binary search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carbonboard.efficiency.units import GROUP_KEYS, MetricsTable, metrics_table, text_column
from carbonboard.formatting import significant

SAME_QUALITY_REL_TOL = 1e-9  # two qualities this close are the same (floats from JSON)
RUN_LABEL_CHARS = 8  # a UUID's first 8 hex digits name a run in sentences


@dataclass(frozen=True)
class Pareto:
    """``points``: one row per run with the quality, in emissions order: ``run_id``, ``label``,
    ``project_name``, ``experiment_id``, ``emissions_kg``, ``quality``, ``on_front``,
    ``dominated_by`` (run_id, "" on the front), ``co2_ratio`` (its emissions / its dominator's,
    NaN on the front; inf when the dominator emitted nothing) and ``sentence`` ("" on the front).
    ``front``: the front's rows, by emissions (the line to draw)."""

    quality: str
    higher_is_better: bool
    points: pd.DataFrame

    @property
    def front(self) -> pd.DataFrame:
        return self.points[self.points["on_front"]].reset_index(drop=True)

    @property
    def dominated(self) -> pd.DataFrame:
        """The dominated runs, largest CO2 ratio first."""
        dominated = self.points[~self.points["on_front"]]
        return dominated.sort_values(["co2_ratio", "run_id"], ascending=[False, True]).reset_index(
            drop=True
        )

    @property
    def sentences(self) -> list[str]:
        return list(self.dominated["sentence"])


def run_label(run_id: str) -> str:
    """How a run is named in a sentence: a UUID's first 8 hex digits, another id in full (cut
    like every name, plain text: the view escapes it wherever it shows it)."""
    text = str(run_id)
    return text[:RUN_LABEL_CHARS] if len(text) == 36 and text.count("-") == 4 else text


def pareto(
    runs: pd.DataFrame,
    quality: str,
    *,
    higher_is_better: bool,
    table: MetricsTable | None = None,
) -> Pareto:
    """The front of ``runs`` over (emissions, ``quality``) and each dominated run's sentence.

    Only runs with a finite quality and emissions count; ``running`` runs are left out (their
    emissions and metrics are not final). ``table``: :func:`metrics_table` of ``runs``."""
    table = metrics_table(runs) if table is None else table
    if quality not in table.values.columns:
        empty = _points(runs.iloc[:0], np.array([]))
        return Pareto(quality, higher_is_better, _dominance(empty, quality, higher_is_better))
    values = table.values[quality]
    emissions = runs["emissions"].astype("float64")
    usable = values.notna() & emissions.notna() & np.isfinite(emissions)
    if "status" in runs.columns:
        usable &= runs["status"].astype(object).ne("running")
    kept = runs[usable]
    points = _points(kept, values[usable].to_numpy(dtype="float64"))
    return Pareto(quality, higher_is_better, _dominance(points, quality, higher_is_better))


def _points(runs: pd.DataFrame, quality: np.ndarray) -> pd.DataFrame:
    run_ids = runs["run_id"].astype(str).to_numpy(dtype=object) if len(runs) else []
    return pd.DataFrame(
        {
            "run_id": pd.Series(run_ids, dtype=object),
            "label": pd.Series([run_label(r) for r in run_ids], dtype=object),
            "project_name": text_column(runs, "project_name").to_numpy(dtype=object),
            "experiment_id": text_column(runs, "experiment_id").to_numpy(dtype=object),
            "emissions_kg": runs["emissions"].to_numpy(dtype="float64") if len(runs) else [],
            "quality": pd.Series(quality, dtype="float64"),
        }
    )


def _dominance(points: pd.DataFrame, quality: str, higher_is_better: bool) -> pd.DataFrame:
    """``points`` sorted by emissions with the front flagged and each rival named."""
    score = points["quality"].to_numpy() * (1.0 if higher_is_better else -1.0)
    order = np.lexsort((points["run_id"].to_numpy(dtype=str), -score, points["emissions_kg"]))
    points = points.iloc[order].reset_index(drop=True)
    score, emissions = score[order], points["emissions_kg"].to_numpy()
    best_so_far = np.maximum.accumulate(score)
    # The lowest-emission run whose quality reaches each run's: its rival, when strictly better
    # on one axis (else it is the run itself, or an exact twin: neither dominates).
    rival = np.searchsorted(best_so_far, score - _tolerance(score), side="left")
    same = np.isclose(score[rival], score, rtol=SAME_QUALITY_REL_TOL, atol=0.0)
    dominated = ((emissions[rival] < emissions) | ~same) & (rival != np.arange(len(score)))
    points["on_front"] = ~dominated
    points["dominated_by"] = np.where(dominated, points["run_id"].to_numpy()[rival], "")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(emissions[rival] > 0, emissions / emissions[rival], np.inf)
    points["co2_ratio"] = np.where(dominated, ratio, np.nan)
    labels = points["label"].to_numpy()
    points["sentence"] = [
        _sentence(labels[i], labels[rival[i]], quality, bool(same[i]), points["co2_ratio"][i])
        if dominated[i]
        else ""
        for i in range(len(points))
    ]
    return points


def _tolerance(score: np.ndarray) -> np.ndarray:
    """What "reaches" allows for: a quality equal but for float noise counts as equal."""
    return np.abs(score) * SAME_QUALITY_REL_TOL


def _sentence(run: str, rival: str, quality: str, same: bool, ratio: float) -> str:
    """ "run X: same accuracy as Y for 3.2x the CO2", or "worse accuracy than Y", "for the same
    CO2", "while Y emitted none". Plain text: names come from files."""
    compared = f"same {quality} as {rival}" if same else f"worse {quality} than {rival}"
    if math.isinf(ratio):
        cost = f"while {rival} emitted no CO2"
    elif ratio == 1.0:
        cost = "for the same CO2"
    else:
        cost = f"for {significant(ratio, 2)}x the CO2"
    return f"run {run}: {compared} {cost}"


def quality_ranking(
    runs: pd.DataFrame,
    quality: str,
    *,
    higher_is_better: bool,
    table: MetricsTable | None = None,
) -> pd.DataFrame:
    """Experiments ranked by CO2 per unit of quality, lowest first.

    For each (project, experiment), over its runs with the quality (``running`` ones left out):
    ``emissions_kg`` their total, ``best_quality`` the best value reached, and
    ``kg_per_quality = emissions_kg / best_quality`` when higher is better, ``emissions_kg x
    best_quality`` when lower is better (per unit of 1 / loss): what the experiment spent per unit
    of the quality it reached. Experiments whose best quality is not positive are left out (no
    ratio means anything there). Also ``runs`` and ``rank`` (1 = most efficient)."""
    points = pareto(runs, quality, higher_is_better=higher_is_better, table=table).points
    best = "max" if higher_is_better else "min"
    grouped = points.groupby(GROUP_KEYS, sort=True).agg(
        runs=("run_id", "size"),
        emissions_kg=("emissions_kg", "sum"),
        best_quality=("quality", best),
    )
    grouped = grouped[grouped["best_quality"] > 0].reset_index()
    if higher_is_better:
        grouped["kg_per_quality"] = grouped["emissions_kg"] / grouped["best_quality"]
    else:
        grouped["kg_per_quality"] = grouped["emissions_kg"] * grouped["best_quality"]
    grouped = grouped.sort_values(["kg_per_quality", *GROUP_KEYS], kind="stable")
    grouped["rank"] = np.arange(1, len(grouped) + 1)
    return grouped.reset_index(drop=True)


def sweep_waste(
    runs: pd.DataFrame,
    quality: str,
    *,
    higher_is_better: bool,
    table: MetricsTable | None = None,
) -> pd.DataFrame:
    """For each experiment (a sweep of runs), the share of its emissions spent on runs that ended
    dominated *within that experiment* (by another of its runs).

    Columns: ``project_name``, ``experiment_id``, ``runs``, ``dominated_runs``,
    ``emissions_kg`` (its runs with the quality), ``wasted_kg`` (those dominated), ``waste_share
    = wasted_kg / emissions_kg`` (NaN when it emitted nothing); largest share first."""
    table = metrics_table(runs) if table is None else table
    rows = []
    for (project, experiment), group in runs.groupby(
        [text_column(runs, "project_name"), text_column(runs, "experiment_id")], sort=True
    ):
        points = pareto(
            group, quality, higher_is_better=higher_is_better, table=_subset(table, group.index)
        ).points
        if points.empty:
            continue
        dominated = ~points["on_front"]
        total = float(points["emissions_kg"].sum())
        wasted = float(points.loc[dominated, "emissions_kg"].sum())
        rows.append(
            {
                "project_name": project,
                "experiment_id": experiment,
                "runs": len(points),
                "dominated_runs": int(dominated.sum()),
                "emissions_kg": total,
                "wasted_kg": wasted,
                "waste_share": wasted / total if total > 0 else np.nan,
            }
        )
    columns = [*GROUP_KEYS, "runs", "dominated_runs", "emissions_kg", "wasted_kg", "waste_share"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(
        ["waste_share", *GROUP_KEYS], ascending=[False, True, True], kind="stable"
    ).reset_index(drop=True)


def _subset(table: MetricsTable, index: pd.Index) -> MetricsTable:
    return MetricsTable(table.values.loc[index], table.bad_cells, table.bad_values)
