"""Totals across every project: energy, emissions, runs, compute time, and per-project bars."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, html

from carbonboard import ids
from carbonboard.components import graph, stat_card
from carbonboard.data.source import RunSource
from carbonboard.figures import TOP_GROUPS, projects_figure
from carbonboard.formatting import (
    format_count,
    format_duration_s,
    format_energy_kwh,
    format_mass_kg,
    format_more,
)
from carbonboard.selection import Selection


def layout() -> html.Section:
    """Four headline numbers for the whole history."""
    return html.Section(
        id=ids.TOTALS_SECTION,
        className="mb-4",
        children=[
            html.H2("Whole history, all projects", className="h5 text-body-secondary"),
            dbc.Row(
                [
                    dbc.Col(stat_card("Emissions", ids.TOTAL_EMISSIONS), md=3, sm=6),
                    dbc.Col(stat_card("Energy", ids.TOTAL_ENERGY), md=3, sm=6),
                    dbc.Col(stat_card("Runs", ids.TOTAL_RUNS), md=3, sm=6),
                    dbc.Col(stat_card("Compute time", ids.TOTAL_DURATION), md=3, sm=6),
                ],
                className="g-3 mb-3",
            ),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.Div(
                            graph(ids.TOTALS_PROJECTS_GRAPH, filename="carbonboard-projects"),
                            className="chart-scroll",
                        ),
                        html.Div(
                            [
                                html.Span(
                                    id=ids.TOTALS_PROJECTS_MORE,
                                    className="small text-body-secondary me-3",
                                ),
                                dbc.Switch(
                                    id=ids.TOTALS_SHOW_ALL,
                                    label="Show every project",
                                    value=False,
                                    className="small d-inline-block mb-0",
                                ),
                            ],
                            className="mt-2",
                        ),
                    ]
                ),
                className="shadow-sm",
            ),
        ],
    )


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Recompute on new data only: the totals do not depend on the selection."""

    @app.callback(
        Output(ids.TOTAL_EMISSIONS, "children"),
        Output(ids.TOTAL_ENERGY, "children"),
        Output(ids.TOTAL_RUNS, "children"),
        Output(ids.TOTAL_DURATION, "children"),
        Output(ids.TOTALS_PROJECTS_GRAPH, "figure"),
        Output(ids.TOTALS_PROJECTS_MORE, "children"),
        Input(ids.DATA_VERSION, "data"),
        Input(ids.TOTALS_SHOW_ALL, "value"),
    )
    def update_totals(_version: int | None, show_all: bool | None):
        everything = Selection()
        total = source.totals(everything)
        per_project = source.breakdown(everything, "project")
        top = None if show_all else TOP_GROUPS
        return (
            format_mass_kg(total.emissions_kg),
            format_energy_kwh(total.energy_kwh),
            format_count(total.runs),
            format_duration_s(total.duration_s),
            projects_figure(per_project, top),
            format_more(per_project, top, "projects"),
        )
