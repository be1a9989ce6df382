"""Small layout builders shared by the sections: graphs, stat cards, empty states."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, get_app, html

from carbonboard.export import slugify
from carbonboard.theme import placeholder_figure


def graph(
    component_id: str,
    figure: go.Figure | None = None,
    filename: str = "carbonboard-chart",
    **graph_props,
) -> dcc.Graph:
    """A dcc.Graph with the app's config: no plotly logo, and the map data (topojson) served from
    the app's own assets, never from a CDN. ``filename`` (free text: it may hold a project name
    from a CSV) names the chart's image, normalised like every download name."""
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"filename": slugify(filename), "scale": 2},
        "topojsonURL": get_app().get_asset_url("topojson/"),
    }
    return dcc.Graph(
        id=component_id,
        figure=figure if figure is not None else placeholder_figure(),
        config=config,
        **graph_props,
    )


def stat_card(label: str, value_id: str, value: str = "–", hint: str = "") -> dbc.Card:
    """A big number with its label, e.g. total emissions."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(label, className="text-body-secondary small text-uppercase stat-label"),
                html.Div(value, id=value_id, className="fs-3 fw-semibold stat-value"),
                html.Div(hint, className="text-body-secondary small") if hint else None,
            ]
        ),
        className="h-100 shadow-sm",
    )


def section_card(title: str, *children, section_id: str | None = None, **props) -> dbc.Card:
    """A titled card wrapping one part of a section."""
    card_props = {"id": section_id} if section_id else {}
    return dbc.Card(
        [dbc.CardHeader(html.H2(title, className="h6 mb-0")), dbc.CardBody(list(children))],
        className="mb-4 shadow-sm",
        **card_props,
        **props,
    )
