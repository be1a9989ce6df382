"""Runs side by side: pick two or more runs (kept in the URL as ``runs=``); without a pick, the
selection's experiments are compared instead."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, dcc, html

from carbonboard import ids
from carbonboard.components import graph, section_card
from carbonboard.data.source import RunSource
from carbonboard.figures import comparison_figure
from carbonboard.formatting import (
    LABEL_PART_CHARS,
    format_count,
    format_duration_s,
    format_energy_kwh,
    format_intensity,
    format_mass_kg,
    run_labels,
    short_label,
)
from carbonboard.selection import Selection

EXPERIMENTS_SHOWN = 12
LEFT_OUT_NAMED = 5  # experiments left out of the table, named before "and N more"


def layout() -> html.Section:
    """The run picker, a side-by-side table and a stacked energy chart."""
    return html.Section(
        id=ids.COMPARISON_SECTION,
        children=section_card(
            "Compare runs",
            dbc.Label("Runs to compare", html_for=ids.COMPARE_SELECT, className="small mb-1"),
            dcc.Dropdown(
                id=ids.COMPARE_SELECT,
                multi=True,
                placeholder="Pick two or more runs (newest first)…",
                className="mb-3",
            ),
            html.Div(id=ids.COMPARISON_TABLE),
            graph(ids.COMPARISON_GRAPH, filename="carbonboard_run-comparison"),
        ),
    )


def _table(header: list[str], rows: list[list[str]]) -> dbc.Table:
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in header])),
            html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
        ],
        size="sm",
        hover=True,
        responsive=True,
        className="mb-3",
    )


def runs_table(runs: pd.DataFrame, labels: list[str]) -> dbc.Table:
    """One column per run (plain text: values come from CSVs)."""
    metrics = [
        ("When (UTC)", [f"{t:%Y-%m-%d %H:%M}" for t in runs["timestamp"]]),
        ("Project", [short_label(v) for v in runs["project_name"].astype("str")]),
        ("Status", [short_label(v) for v in runs["status"].astype("str")]),
        ("Emissions", [format_mass_kg(v) for v in runs["emissions"]]),
        ("Energy", [format_energy_kwh(v) for v in runs["energy_consumed"]]),
        ("Duration", [format_duration_s(v) for v in runs["duration"]]),
        ("Intensity", [format_intensity(v) for v in runs["carbon_intensity_g_co2e_kwh"]]),
        ("Country", [short_label(v) for v in runs["country_name"].astype("str")]),
        ("GPU", [short_label(v) for v in runs["gpu_model"].astype("str")]),
    ]
    return _table(["", *labels], [[name, *values] for name, values in metrics])


def left_out_note(per_experiment: pd.DataFrame, shown: int) -> str:
    """What the experiments table leaves out (``per_experiment`` is most emissions first): how
    many, their names (the first few) and their emissions together; "" when nothing is."""
    rest = per_experiment.iloc[shown:]
    if rest.empty:
        return ""
    names = [short_label(n, LABEL_PART_CHARS) for n in rest["experiment"].head(LEFT_OUT_NAMED)]
    more = len(rest) - len(names)
    listed = ", ".join(names) + (f" and {format_count(more)} more" if more > 0 else "")
    return (
        f"The {format_count(shown)} experiments with the most emissions of "
        f"{format_count(len(per_experiment))}; left out: {listed} "
        f"({format_mass_kg(rest['emissions_kg'].sum())} together). "
        "Pick one in the filters to see it."
    )


def experiments_table(per_experiment: pd.DataFrame) -> html.Div:
    """The selection's experiments side by side (``aggregate.per_experiment``'s frame), for when
    no runs are picked; those past ``EXPERIMENTS_SHOWN`` are named below the table."""
    per = per_experiment.head(EXPERIMENTS_SHOWN)
    if per.empty:
        return html.Div("No runs in this selection.", className="text-body-secondary")
    rows = [
        [
            short_label(row.experiment),
            format_count(row.runs),
            format_mass_kg(row.emissions_kg),
            format_energy_kwh(row.energy_kwh),
            format_duration_s(row.duration_s),
            format_mass_kg(row.emissions_kg / row.runs),
        ]
        for row in per.itertuples(index=False)
    ]
    header = ["Experiment", "Runs", "Emissions", "Energy", "Compute time", "Emissions per run"]
    return html.Div(
        [
            html.P(
                "No runs picked: the selection's experiments side by side.",
                className="small text-body-secondary",
            ),
            _table(header, rows),
            html.P(left_out_note(per_experiment, len(per)), className="small text-body-secondary"),
        ]
    )


def register_callbacks(app: Dash, source: RunSource) -> None:
    """The picked runs come from the selection (``run_ids``), set by the dropdown or the URL."""

    @app.callback(
        Output(ids.COMPARISON_TABLE, "children"),
        Output(ids.COMPARISON_GRAPH, "figure"),
        Output(ids.COMPARISON_GRAPH, "style"),
        Input(ids.RUNS_TAB_SELECTION, "data"),
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update_comparison(selection_data: dict | None):
        selection = Selection.from_dict(selection_data)
        if len(selection.run_ids) < 2:
            per = source.breakdown(selection, "experiment")
            none = source.runs_by_id(())
            return experiments_table(per), comparison_figure(none, []), {"display": "none"}
        picked = source.runs_by_id(selection.run_ids)
        labels = run_labels(picked)
        return runs_table(picked, labels), comparison_figure(picked, labels), {}
