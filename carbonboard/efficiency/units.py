"""Per unit of work: the logged metrics as numbers, and energy and CO2 per 1,000 units.

A run's ``metrics`` cell is a JSON object of numbers written by the tracker (``log_metrics``);
files are untrusted, so a cell that is not such an object is skipped and counted, never fatal, and
a value that is not a finite number is left out (counted too). Everything here is pure: frames in,
frames out, so the view only wires ids to these functions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carbonboard.formatting import format_energy_kwh, format_mass_kg

METRICS_COLUMN = "metrics"
PER_UNITS = 1000.0  # figures are per 1,000 units of work: per token reads as "0.0000001 g"
GROUP_KEYS = ["project_name", "experiment_id"]


@dataclass(frozen=True)
class MetricsTable:
    """The metrics of a set of runs as numbers.

    ``values``: one float64 column per metric name (sorted), indexed like the runs, NaN where a
    run did not log that metric. ``bad_cells``: cells that are not a JSON object (skipped);
    ``bad_values``: values inside valid cells that are not finite numbers (left out)."""

    values: pd.DataFrame
    bad_cells: int
    bad_values: int

    @property
    def names(self) -> list[str]:
        """The metrics at least one run logged, sorted."""
        return [str(name) for name in self.values.columns]


def metrics_table(runs: pd.DataFrame) -> MetricsTable:
    """The ``metrics`` JSON column expanded into numeric columns (see :class:`MetricsTable`).

    Empty cells mean "no metrics" and are not counted as bad; a frame without the column (an
    older file read by an older loader) has no metrics."""
    if METRICS_COLUMN not in runs.columns or runs.empty:
        return MetricsTable(pd.DataFrame(index=runs.index), 0, 0)
    records: dict[object, dict[str, float]] = {}
    bad_cells = bad_values = 0
    for index, cell in runs[METRICS_COLUMN].items():
        if not isinstance(cell, str) or not cell.strip():
            continue
        parsed = _parse_cell(cell)
        if parsed is None:
            bad_cells += 1
            continue
        numbers, bad = parsed
        bad_values += bad
        if numbers:
            records[index] = numbers
    names = sorted({name for numbers in records.values() for name in numbers})
    values = pd.DataFrame(
        {name: np.full(len(runs), np.nan) for name in names}, index=runs.index, dtype="float64"
    )
    if records:
        filled = pd.DataFrame.from_dict(records, orient="index", dtype="float64")
        values.loc[filled.index, filled.columns] = filled
    return MetricsTable(values[names] if names else values, bad_cells, bad_values)


def _parse_cell(cell: str) -> tuple[dict[str, float], int] | None:
    """(finite numbers by name, how many values were not), or None when the cell is not a JSON
    object. ``true``/``false`` are not numbers here, as the tracker refuses them."""
    try:
        parsed = json.loads(cell)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict):
        return None
    numbers: dict[str, float] = {}
    bad = 0
    for name, value in parsed.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name:
            number = float(value)
            if math.isfinite(number):
                numbers[name] = number
                continue
        bad += 1
    return numbers, bad


def metric_names(runs: pd.DataFrame) -> list[str]:
    """The metrics any of ``runs`` logged, sorted: the choices for a unit or a quality."""
    return metrics_table(runs).names


def per_unit_runs(runs: pd.DataFrame, unit: str, table: MetricsTable | None = None) -> pd.DataFrame:
    """Energy and CO2 per 1,000 ``unit`` for each run that logged a positive amount of it.

    Columns: ``run_id``, ``project_name``, ``experiment_id``, ``timestamp``, ``units``,
    ``energy_kwh``, ``emissions_kg``, ``energy_kwh_per_1k``, ``emissions_kg_per_1k`` (= figure
    x 1000 / units) and, scaled for reading, ``energy_per_1k_text`` and ``emissions_per_1k_text``;
    lowest emissions per 1,000 units first. ``table``: :func:`metrics_table` of ``runs``, when
    already computed."""
    table = metrics_table(runs) if table is None else table
    if unit not in table.values.columns:
        return _per_unit_frame(runs.iloc[:0], pd.Series(dtype="float64"))
    units = table.values[unit]
    logged = units.gt(0)
    frame = _per_unit_frame(runs[logged], units[logged])
    return frame.sort_values(["emissions_kg_per_1k", "run_id"], kind="stable").reset_index(
        drop=True
    )


def _per_unit_frame(runs: pd.DataFrame, units: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "run_id": runs["run_id"].astype(str) if len(runs) else pd.Series(dtype=object),
            "project_name": text_column(runs, "project_name"),
            "experiment_id": text_column(runs, "experiment_id"),
            "timestamp": runs["timestamp"] if len(runs) else pd.Series(dtype="datetime64[ns, UTC]"),
            "units": units.astype("float64"),
            "energy_kwh": runs["energy_consumed"].astype("float64"),
            "emissions_kg": runs["emissions"].astype("float64"),
        }
    )
    return _with_per_unit(frame)


def per_unit_experiments(
    runs: pd.DataFrame, unit: str, table: MetricsTable | None = None
) -> pd.DataFrame:
    """Energy and CO2 per 1,000 ``unit`` for each (project, experiment): the sums over its runs
    that logged the unit, divided by the units they logged (a weighted mean, so a long run counts
    for its size, not as one run). Columns: ``project_name``, ``experiment_id``, ``runs``,
    ``units``, ``energy_kwh``, ``emissions_kg`` and the per-1,000 columns of
    :func:`per_unit_runs`; lowest emissions per 1,000 units first."""
    per_run = per_unit_runs(runs, unit, table)
    grouped = per_run.groupby(GROUP_KEYS, sort=True).agg(
        runs=("run_id", "size"),
        units=("units", "sum"),
        energy_kwh=("energy_kwh", "sum"),
        emissions_kg=("emissions_kg", "sum"),
    )
    frame = _with_per_unit(grouped.reset_index())
    return frame.sort_values(["emissions_kg_per_1k", *GROUP_KEYS], kind="stable").reset_index(
        drop=True
    )


def _with_per_unit(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["energy_kwh_per_1k"] = frame["energy_kwh"] * PER_UNITS / frame["units"]
    frame["emissions_kg_per_1k"] = frame["emissions_kg"] * PER_UNITS / frame["units"]
    frame["energy_per_1k_text"] = [format_energy_kwh(v) for v in frame["energy_kwh_per_1k"]]
    frame["emissions_per_1k_text"] = [format_mass_kg(v) for v in frame["emissions_kg_per_1k"]]
    return frame


def text_column(runs: pd.DataFrame, column: str) -> pd.Series:
    """A text column as Python str ("" when missing), whatever its dtype in the frame."""
    if column not in runs.columns or not len(runs):
        return pd.Series([""] * len(runs), index=runs.index, dtype=object)
    return runs[column].astype(object).where(runs[column].notna(), "").astype(str)
