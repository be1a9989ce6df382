"""The efficiency view's charts: one pure function each, the core's frames in, a Figure out.

Built like :mod:`carbonboard.figures` (the app's template, no per-property validation: the tests
validate every builder strictly); every name from a CSV goes through ``plot_text`` /
``plot_labels``, cut and drawn as plain text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carbonboard.efficiency.budget import BudgetStatus
from carbonboard.efficiency.pareto import Pareto
from carbonboard.efficiency.trend import ChangePoint
from carbonboard.efficiency.views import experiment_label
from carbonboard.figures import axis_unit
from carbonboard.formatting import MASS_UNITS_KG, format_mass_kg, plot_labels, plot_text
from carbonboard.theme import placeholder_figure, themed_figure

PER_UNIT_TOP = 20  # experiments drawn in the per-unit chart (the table lists them all)
FRONT_COLOR = "#198754"
DOMINATED_COLOR = "#adb5bd"
LIMIT_COLOR = "#dc3545"


def _figure(title: str, traces: list[dict], height: int = 340, **layout) -> go.Figure:
    return themed_figure(traces, {"title": {"text": title}, "height": height, **layout})


def _wall_times(stamps: pd.Series) -> np.ndarray:
    """UTC times without an offset, the form plotly.js reads dates in."""
    stamps = pd.Series(pd.to_datetime(stamps, utc=True))
    return stamps.dt.tz_localize(None).to_numpy()


def per_unit_figure(per_experiment: pd.DataFrame, unit: str) -> go.Figure:
    """Emissions per 1,000 ``unit`` per experiment (``per_unit_experiments``), most efficient
    on top."""
    if per_experiment.empty:
        return placeholder_figure(f"No run of this selection logged {unit}")
    shown = per_experiment.head(PER_UNIT_TOP).iloc[::-1]
    factor, mass_unit = axis_unit(shown["emissions_kg_per_1k"], MASS_UNITS_KG)
    labels = [
        experiment_label(p, e)
        for p, e in zip(shown["project_name"], shown["experiment_id"], strict=True)
    ]
    bars = {
        "type": "bar",
        "orientation": "h",
        "x": (shown["emissions_kg_per_1k"] / factor).to_numpy(dtype=float),
        "y": plot_labels(labels),
        "hovertext": [
            f"{plot_text(label)}<br>{co2} · {kwh} per 1,000 {plot_text(unit)}<br>{runs} runs"
            for label, co2, kwh, runs in zip(
                labels,
                shown["emissions_per_1k_text"],
                shown["energy_per_1k_text"],
                shown["runs"],
                strict=True,
            )
        ],
        "hoverinfo": "text",
    }
    return _figure(
        f"Emissions per 1,000 {plot_text(unit)}",
        [bars],
        height=max(240, 60 + 28 * len(shown)),
        xaxis={"title": {"text": f"{mass_unit} CO₂eq per 1,000 {plot_text(unit)}"}},
        yaxis={"type": "category"},
    )


def pareto_figure(result: Pareto) -> go.Figure:
    """Emissions vs quality: every run as a point, the front as a line, dominated runs grey."""
    points = result.points
    if points.empty:
        return placeholder_figure(f"No finished run of this selection logged {result.quality}")
    factor, mass_unit = axis_unit(points["emissions_kg"], MASS_UNITS_KG)
    traces = []
    for name, rows, color, mode in (
        ("dominated", points[~points["on_front"]], DOMINATED_COLOR, "markers"),
        ("Pareto front", result.front, FRONT_COLOR, "lines+markers"),
    ):
        traces.append(
            {
                "type": "scatter",
                "mode": mode,
                "name": name,
                "x": (rows["emissions_kg"] / factor).to_numpy(dtype=float),
                "y": rows["quality"].to_numpy(dtype=float),
                "marker": {"color": color, "size": 9},
                "line": {"color": color, "shape": "hv" if result.higher_is_better else "linear"},
                "hovertext": [
                    f"run {plot_text(label)}<br>{format_mass_kg(kg)}<br>"
                    f"{plot_text(result.quality)} {quality:.4g}"
                    + (f"<br>{plot_text(sentence)}" if sentence else "")
                    for label, kg, quality, sentence in zip(
                        rows["label"],
                        rows["emissions_kg"],
                        rows["quality"],
                        rows["sentence"],
                        strict=True,
                    )
                ],
                "hoverinfo": "text",
            }
        )
    better = "higher" if result.higher_is_better else "lower"
    return _figure(
        f"Emissions vs {plot_text(result.quality)}",
        traces,
        height=380,
        xaxis={"title": {"text": f"{mass_unit} CO₂eq"}, "rangemode": "tozero"},
        yaxis={"title": {"text": f"{plot_text(result.quality)} ({better} is better)"}},
        legend={"orientation": "h", "y": -0.2},
    )


def trend_figure(series: pd.DataFrame, markers: list[ChangePoint], period: str) -> go.Figure:
    """Emissions per period, one line per project, a dotted line where a project's rate
    moved (``change_points``)."""
    if series.empty:
        return placeholder_figure("No runs in this selection")
    factor, mass_unit = axis_unit(series["emissions_kg"], MASS_UNITS_KG)
    traces = []
    for project, rows in series.groupby("project_name", sort=True):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": plot_text(project),
                "x": _wall_times(rows["period_start"]),
                "y": (rows["emissions_kg"] / factor).to_numpy(dtype=float),
                "hovertext": [
                    f"{plot_text(project)}<br>{period} of {start:%Y-%m-%d}<br>"
                    f"{format_mass_kg(kg)} · {runs} runs"
                    for start, kg, runs in zip(
                        rows["period_start"], rows["emissions_kg"], rows["runs"], strict=True
                    )
                ],
                "hoverinfo": "text",
            }
        )
    shapes, notes = [], []
    for marker in markers:
        at = _wall_times(pd.Series([marker.at]))[0]
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": at,
                "x1": at,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": LIMIT_COLOR},
            }
        )
        notes.append(
            {
                "x": at,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "showarrow": False,
                "yanchor": "bottom",
                "text": f"{plot_text(marker.project_name)}: "
                f"{format_mass_kg(marker.before_kg)} → {format_mass_kg(marker.after_kg)} "
                f"per {period}",
            }
        )
    return _figure(
        f"Emissions per {period}",
        traces,
        xaxis={"type": "date", "tickformat": "%Y-%m-%d"},  # periods start at midnight
        yaxis={"title": {"text": f"{mass_unit} CO₂eq per {period}"}, "rangemode": "tozero"},
        shapes=shapes,
        annotations=notes,
        legend={"orientation": "h", "y": -0.2},
    )


def burn_down_figure(status: BudgetStatus) -> go.Figure:
    """A budget's period: the cumulative spend, the forecast to the period's end from the
    recent rate, and the limit."""
    budget = status.budget
    curve = status.burn_down
    kg = pd.concat([curve["spent_kg"], status.forecast["kg"], pd.Series([budget.limit_kg])])
    factor, mass_unit = axis_unit(kg, MASS_UNITS_KG)
    spent = {
        "type": "scatter",
        "mode": "lines",
        "name": "spent",
        "x": _wall_times(curve["at"]),
        "y": (curve["spent_kg"] / factor).to_numpy(dtype=float),
        "line": {"shape": "hv", "color": FRONT_COLOR},
        "hovertext": [format_mass_kg(v) for v in curve["spent_kg"]],
        "hoverinfo": "x+text",
    }
    forecast = {
        "type": "scatter",
        "mode": "lines",
        "name": "forecast",
        "x": _wall_times(status.forecast["at"]),
        "y": (status.forecast["kg"] / factor).to_numpy(dtype=float),
        "line": {"dash": "dash", "color": LIMIT_COLOR if status.forecast_over else FRONT_COLOR},
        "hovertext": [format_mass_kg(v) for v in status.forecast["kg"]],
        "hoverinfo": "x+text",
    }
    limit = {
        "type": "scatter",
        "mode": "lines",
        "name": "budget",
        "x": _wall_times(pd.Series([status.start, status.end])),
        "y": [budget.limit_kg / factor] * 2,
        "line": {"dash": "dot", "color": LIMIT_COLOR},
        "hovertext": [format_mass_kg(budget.limit_kg)] * 2,
        "hoverinfo": "text",
    }
    return _figure(
        f"{plot_text(budget.project_name)}: {format_mass_kg(budget.limit_kg)} per {budget.period}",
        [spent, forecast, limit],
        height=300,
        yaxis={"title": {"text": f"{mass_unit} CO₂eq"}, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25},
    )
