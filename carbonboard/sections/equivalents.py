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
from carbonboard.text_views import TextLines, span

NO_EMISSIONS = "No emissions in this selection."
UNIT_FIRST = "km"  # the distance unit when the page opens


def layout() -> html.Section:
    """The km/mi switch and the list."""
    return html.Section(
        id=ids.EQUIVALENTS_SECTION,
        children=section_card(
            "What does that amount to?",
            dbc.RadioItems(
                id=ids.DISTANCE_UNIT,
                options=[{"label": "km", "value": "km"}, {"label": "miles", "value": "mi"}],
                value=UNIT_FIRST,
                inline=True,
                className="mb-2 small",
            ),
            TextLines(id=ids.EQUIVALENTS_LIST, as_list=True, empty=NO_EMISSIONS),
        ),
    )


def equivalent_lines(emissions_kg: float, unit: str) -> tuple[str, list[dict]]:
    """The list's heading and one line per equivalent (what, then its source and year); none
    when nothing was emitted."""
    if emissions_kg <= 0:
        return "", []
    lines = [
        {
            "className": "list-group-item",
            "spans": [
                span(e.text, "fw-semibold"),
                span(
                    f"{e.factor.source}, {e.factor.year}",
                    "d-block small text-body-secondary",
                    e.factor.url,
                ),
            ],
        }
        for e in equivalents(emissions_kg, unit)
    ]
    return f"{format_mass_kg(emissions_kg)} is about as much as:", lines


def first_view(source: RunSource) -> dict[str, dict[str, object]]:
    """The whole history's equivalents, listed with a page opened at the default address (see
    ``app.DEFAULT_ADDRESS_MODULES``)."""
    heading, lines = equivalent_lines(source.totals(Selection()).emissions_kg, UNIT_FIRST)
    return {ids.EQUIVALENTS_LIST: {"heading": heading, "lines": lines}}


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Follow the selection and the distance unit."""

    @app.callback(
        Output(ids.EQUIVALENTS_LIST, "heading"),
        Output(ids.EQUIVALENTS_LIST, "lines"),
        Input(ids.OVERVIEW_TAB_SELECTION, "data"),
        Input(ids.DISTANCE_UNIT, "value"),
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update_equivalents(selection_data: dict | None, unit: str | None):
        emissions_kg = source.totals(Selection.from_dict(selection_data)).emissions_kg
        return equivalent_lines(emissions_kg, unit or UNIT_FIRST)
