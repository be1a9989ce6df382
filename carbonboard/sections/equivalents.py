"""Real-world equivalents of the selection's emissions, each with its cited source and year."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, html

from carbonboard import ids
from carbonboard.components import section_card
from carbonboard.data.source import RunSource
from carbonboard.equivalents import equivalents
from carbonboard.formatting import format_mass_kg
from carbonboard.selection import Selection


def layout() -> html.Section:
    """The km/mi switch and the list."""
    return html.Section(
        id=ids.EQUIVALENTS_SECTION,
        children=section_card(
            "What does that amount to?",
            dbc.RadioItems(
                id=ids.DISTANCE_UNIT,
                options=[{"label": "km", "value": "km"}, {"label": "miles", "value": "mi"}],
                value="km",
                inline=True,
                className="mb-2 small",
            ),
            html.Div(id=ids.EQUIVALENTS_LIST),
        ),
    )


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Follow the selection and the distance unit."""

    @app.callback(
        Output(ids.EQUIVALENTS_LIST, "children"),
        Input(ids.OVERVIEW_TAB_SELECTION, "data"),
        Input(ids.DISTANCE_UNIT, "value"),
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update_equivalents(selection_data: dict | None, unit: str | None):
        emissions_kg = source.totals(Selection.from_dict(selection_data)).emissions_kg
        if emissions_kg <= 0:
            return html.Div("No emissions in this selection.", className="text-body-secondary")
        items = [
            html.Li(
                [
                    html.Span(e.text, className="fw-semibold"),
                    html.Div(
                        f"{e.factor.source}, {e.factor.year}",
                        className="small text-body-secondary",
                        title=e.factor.url,
                    ),
                ],
                className="list-group-item",
            )
            for e in equivalents(emissions_kg, unit or "km")
        ]
        return [
            html.P(f"{format_mass_kg(emissions_kg)} is about as much as:", className="mb-2"),
            html.Ul(items, className="list-group list-group-flush"),
        ]
