"""Totals across every project: energy, emissions, runs, compute time, and per-project bars."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, html

from carbonboard import ids
from carbonboard.components import graph, props_by_component, totals_cards
from carbonboard.data.aggregate import Totals
from carbonboard.data.source import RunSource
from carbonboard.figures import TOP_GROUPS, projects_figure
from carbonboard.formatting import (
    format_more,
)
from carbonboard.selection import Selection
from carbonboard.text_views import StatCards


def layout() -> html.Section:
    """Four headline numbers for the whole history."""
    return html.Section(
        id=ids.TOTALS_SECTION,
        className="mb-4",
        children=[
            html.H2("Whole history, all projects", className="h5 text-body-secondary"),
            StatCards(id=ids.TOTALS_CARDS, cards=cards(), className="g-3 mb-3"),
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


def cards(total: Totals | None = None) -> list[dict[str, str]]:
    """The four headline numbers of ``total`` ("–" before there is one)."""
    return totals_cards(
        total, (ids.TOTAL_EMISSIONS, ids.TOTAL_ENERGY, ids.TOTAL_RUNS, ids.TOTAL_DURATION)
    )


# What the totals set, by name.
OUTPUTS = {
    "cards": (ids.TOTALS_CARDS, "cards"),
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
        "cards": cards(total),
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
