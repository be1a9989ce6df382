"""One pure function per chart: aggregated DataFrame in, plotly Figure out.

Axis values are in the contract's units rescaled to a readable unit for the data shown (so a
project of grams is not drawn as 0.000 kg); hover texts use carbonboard.formatting. Every name
from a CSV goes through ``plot_text``/``plot_labels``: cut, and drawn as plain text (plotly.js
would render markup in it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carbonboard.formatting import (
    ENERGY_UNITS_KWH,
    MASS_UNITS_KG,
    format_duration_s,
    format_energy_kwh,
    format_mass_kg,
    plot_labels,
    plot_text,
)
from carbonboard.theme import COMPONENT_COLORS, category_margin, placeholder_figure, themed_figure

NO_DATA = "No runs in this selection"
TOP_GROUPS = 15  # bars in a per-project or per-experiment chart unless all are asked for
COMPARED_METRICS = (
    ("emissions", "Emissions", MASS_UNITS_KG, " CO₂eq"),
    ("energy_consumed", "Energy", ENERGY_UNITS_KWH, ""),
)


def axis_unit(values: pd.Series, units: tuple[tuple[float, float, str], ...]) -> tuple[float, str]:
    """The (factor, label) that keeps the largest value readable on an axis."""
    largest = float(values.abs().max()) if values.notna().any() else 0.0
    return next((f, label) for threshold, f, label in units if largest >= threshold)


def _figure(title: str, traces: list[dict], height: int = 320, **layout) -> go.Figure:
    """A titled chart in the app's template (built without per-property validation: the tests
    validate every builder's output strictly)."""
    return themed_figure(traces, {"title": {"text": title}, "height": height, **layout})


def _utc_wall_times(stamps: pd.Series) -> np.ndarray:
    """Times as UTC wall-clock values without an offset, the form plotly.js reads dates in."""
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.to_numpy()


DAY_BARS_MAX = 90  # more days than this are drawn as a filled step line


def emissions_over_time_figure(series: pd.DataFrame, *, cumulative: bool) -> go.Figure:
    """Emissions per run (or per day) as bars, or cumulative emissions as a line."""
    if series.empty:
        return placeholder_figure(NO_DATA)
    column = "cumulative_kg" if cumulative else "emissions_kg"
    factor, unit = axis_unit(series[column], MASS_UNITS_KG)
    per = series["bucket"].iat[0]
    hover = [
        f"{plot_text(label)}<br>{format_mass_kg(kg)}<br>{format_energy_kwh(kwh)}"
        + (f"<br>{runs} runs" if runs > 1 else "")
        for label, kg, kwh, runs in zip(
            series["label"], series[column], series["energy_kwh"], series["runs"], strict=True
        )
    ]
    trace = {
        "x": _utc_wall_times(series["timestamp"]),
        "y": (series[column] / factor).to_numpy(dtype=float),
        "hovertext": hover,
        "hoverinfo": "text",
        "name": "emissions",
    }
    if cumulative:
        trace.update(type="scatter", mode="lines", fill="tozeroy", line={"shape": "hv"})
    elif per == "day" and len(series) > DAY_BARS_MAX:
        # one filled step per day reads like bars and is one SVG path, not hundreds of bars
        trace.update(type="scatter", mode="lines", fill="tozeroy", line={"shape": "hv"})
    elif len(series) > 400:
        # SVG markers, not WebGL: remote desktops and headless browsers often lack a GPU
        trace.update(type="scatter", mode="markers", marker={"size": 5})
    else:
        trace.update(type="bar")
    return _figure(
        "Cumulative emissions" if cumulative else f"Emissions per {per}",
        [trace],
        yaxis={"title": {"text": f"{unit} CO₂eq"}, "rangemode": "tozero"},
        showlegend=False,
        bargap=0.1,
    )


def energy_split_figure(split: pd.DataFrame) -> go.Figure:
    """Energy by component (CPU, GPU, RAM) as a donut; a component that used nothing (no GPU)
    gets no "0%" slice."""
    split = split[split["energy_kwh"] > 0]
    if split.empty:
        return placeholder_figure(NO_DATA)
    donut = {
        "type": "pie",
        "labels": list(split["component"]),
        "values": split["energy_kwh"].to_numpy(dtype=float),
        "hole": 0.55,
        "sort": False,
        "marker": {"colors": [COMPONENT_COLORS.get(c) for c in split["component"]]},
        "hovertext": [format_energy_kwh(v) for v in split["energy_kwh"]],
        "hoverinfo": "label+text+percent",
        "textinfo": "label+percent",
    }
    return _figure("Energy by component", [donut], showlegend=False)


def _group_bars(
    shown: pd.DataFrame, label: str, title: str, min_height: int, hover: Callable[[tuple], str]
) -> go.Figure:
    """Emissions per group as horizontal bars; ``shown`` is largest first, drawn on top.
    ``hover(row)`` is the hover text of one group."""
    shown = shown.iloc[::-1]
    factor, unit = axis_unit(shown["emissions_kg"], MASS_UNITS_KG)
    labels = plot_labels(shown[label])
    bars = {
        "type": "bar",
        "x": (shown["emissions_kg"] / factor).to_numpy(dtype=float),
        "y": labels,
        "orientation": "h",
        "hovertext": [hover(row) for row in shown.itertuples(index=False)],
        "hoverinfo": "text",
    }
    return _figure(
        title,
        [bars],
        height=max(min_height, 60 + 28 * len(shown)),
        xaxis={"title": {"text": f"{unit} CO₂eq"}},
        yaxis={"type": "category"},
        margin={"l": category_margin(labels)},
    )


def experiments_figure(per_experiment: pd.DataFrame, top: int = TOP_GROUPS) -> go.Figure:
    """Emissions per experiment, largest first (the ``top`` largest)."""
    if per_experiment.empty:
        return placeholder_figure(NO_DATA)
    return _group_bars(
        per_experiment.head(top),
        "experiment",
        "Emissions per experiment",
        240,
        lambda e: (
            f"{plot_text(e.experiment)}<br>{format_mass_kg(e.emissions_kg)} · "
            f"{format_energy_kwh(e.energy_kwh)}<br>{e.runs} runs · "
            f"{format_duration_s(e.duration_s)}"
        ),
    )


def comparison_figure(runs: pd.DataFrame, labels: list[str]) -> go.Figure:
    """Runs side by side: energy split per component (stacked) for each run, named by
    ``labels``."""
    if runs.empty:
        return placeholder_figure("Pick two or more runs to compare")
    columns = [("cpu_energy", "CPU"), ("gpu_energy", "GPU"), ("ram_energy", "RAM")]
    totals = runs[[c for c, _ in columns]].fillna(0).sum(axis=1)
    factor, unit = axis_unit(totals, ENERGY_UNITS_KWH)
    stacks = []
    for column, label in columns:
        values = runs[column].fillna(0.0)
        stacks.append(
            {
                "type": "bar",
                "name": label,
                "x": plot_labels(labels),
                "y": (values / factor).to_numpy(dtype=float),
                "marker": {"color": COMPONENT_COLORS[label]},
                "hovertext": [f"{label}: {format_energy_kwh(v)}" for v in values],
                "hoverinfo": "x+text",
            }
        )
    return _figure(
        "Energy by component, per run",
        stacks,
        barmode="stack",
        yaxis={"title": {"text": unit}},
        xaxis={"type": "category"},
    )


def tasks_figure(tasks: pd.DataFrame) -> go.Figure:
    """A run's tasks: emissions per task, in the order they were written."""
    if tasks.empty:
        return placeholder_figure("No tasks recorded for this run")
    factor, unit = axis_unit(tasks["emissions"], MASS_UNITS_KG)
    labels = plot_labels(tasks["task_name"])
    bars = {
        "type": "bar",
        "x": (tasks["emissions"] / factor).to_numpy(dtype=float),
        "y": labels,
        "orientation": "h",
        "hovertext": [
            f"{format_mass_kg(kg)} · {format_energy_kwh(kwh)} · {format_duration_s(s)}"
            for kg, kwh, s in zip(
                tasks["emissions"], tasks["energy_consumed"], tasks["duration"], strict=True
            )
        ],
        "hoverinfo": "y+text",
    }
    return _figure(
        "Emissions per task",
        [bars],
        height=max(220, 60 + 28 * len(tasks)),
        xaxis={"title": {"text": f"{unit} CO₂eq"}},
        yaxis={"type": "category", "autorange": "reversed"},
        margin={"l": category_margin(labels)},
    )


def projects_figure(per_project: pd.DataFrame, top: int | None = TOP_GROUPS) -> go.Figure:
    """Emissions per project across the whole history, the ``top`` largest (all when None;
    the page says how many more there are, see ``formatting.format_more``)."""
    if per_project.empty:
        return placeholder_figure(NO_DATA)
    return _group_bars(
        per_project if top is None else per_project.head(top),
        "project",
        "Emissions per project",
        200,
        lambda p: (
            f"{plot_text(p.project)}<br>{format_mass_kg(p.emissions_kg)} · "
            f"{format_energy_kwh(p.energy_kwh)} · {p.runs} runs"
        ),
    )
