"""Totals across every project: energy, emissions, runs, compute time, and per-project bars."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, html

from carbonboard import ids
from carbonboard.components import graph, props_by_component, stat_card
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


# What the totals set, by name.
OUTPUTS = {
    "emissions": (ids.TOTAL_EMISSIONS, "children"),
    "energy": (ids.TOTAL_ENERGY, "children"),
    "runs": (ids.TOTAL_RUNS, "children"),
    "duration": (ids.TOTAL_DURATION, "children"),
    "figure": (ids.TOTALS_PROJECTS_GRAPH, "figure"),
    "more": (ids.TOTALS_PROJECTS_MORE, "children"),
}


def whole_history(source: RunSource, show_all: bool = False) -> dict[str, object]:
    """The totals of every run and the per-project chart (its top projects, or all of them), by
    :data:`OUTPUTS` name."""
    everything = Selection()
    total = source.totals(everything)
    per_project = source.breakdown(everything, "project")
    top = None if show_all else TOP_GROUPS
    return {
        "emissions": format_mass_kg(total.emissions_kg),
        "energy": format_energy_kwh(total.energy_kwh),
        "runs": format_count(total.runs),
        "duration": format_duration_s(total.duration_s),
        "figure": projects_figure(per_project, top),
        "more": format_more(per_project, top, "projects"),
    }


def first_view(source: RunSource) -> dict[str, dict[str, object]]:
    """The totals, drawn with the page (see ``components.set_first_props``)."""
    return props_by_component(OUTPUTS, whole_history(source))


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Recompute on new data only: the totals do not depend on the selection (the page comes
    with them)."""

    @app.callback(
        output={name: Output(*target) for name, target in OUTPUTS.items()},
        inputs={
            "_version": Input(ids.DATA_VERSION, "data"),
            "show_all": Input(ids.TOTALS_SHOW_ALL, "value"),
        },
        prevent_initial_call=True,
    )
    def update_totals(_version: int | None, show_all: bool | None) -> dict[str, object]:
        return whole_history(source, bool(show_all))
