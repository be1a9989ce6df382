"""Small layout builders shared by the sections: graphs, stat cards, empty states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import plotly.graph_objects as go
from dash import dcc, get_app
from dash.development.base_component import Component

from carbonboard.data.aggregate import Totals
from carbonboard.export import slugify
from carbonboard.formatting import (
    format_count,
    format_duration_s,
    format_energy_kwh,
    format_mass_kg,
)
from carbonboard.text_views import SectionCard, stat
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
        figure=figure if figure is not None else _empty_figure(),
        config=config,
        **graph_props,
    )


@lru_cache(maxsize=1)
def _empty_figure() -> dict:
    """The placeholder a graph holds until its first figure: built once, shared by every graph of
    every page (a plain dict, which no one changes: a new figure replaces it)."""
    return placeholder_figure().to_plotly_json()


STAT_LABELS = ("Emissions", "Energy", "Runs", "Compute time")  # the cards of totals_cards


def totals_cards(total: Totals | None, value_ids: Sequence[str]) -> list[dict[str, str]]:
    """The four headline numbers of ``total`` (emissions, energy, runs, compute time) as the
    cards of a :class:`~carbonboard.text_views.StatCards` row, their values' elements with these
    ids; "–" before there is a total."""
    values = (
        (
            format_mass_kg(total.emissions_kg),
            format_energy_kwh(total.energy_kwh),
            format_count(total.runs),
            format_duration_s(total.duration_s),
        )
        if total is not None
        else ("–",) * len(STAT_LABELS)
    )
    return [
        stat(label, value_id, value)
        for label, value_id, value in zip(STAT_LABELS, value_ids, values, strict=True)
    ]


def section_card(title: str, *children: Component) -> SectionCard:
    """A titled card wrapping one part of a section."""
    return SectionCard(title=title, children=list(children))


Target = tuple[str, str]  # (component id, prop)


def props_by_component(
    targets: Mapping[str, Target], values: Mapping[str, object]
) -> dict[str, dict[str, object]]:
    """``values`` (by output name) as ``{component id: {prop: value}}``, for
    :func:`set_first_props`."""
    props: dict[str, dict[str, object]] = {}
    for name, (component_id, prop) in targets.items():
        props.setdefault(component_id, {})[prop] = values[name]
    return props


def set_first_props(layout: Component, props: Mapping[str, Mapping[str, object]]) -> None:
    """Give the components of ``layout`` with these ids their props for the first view: the page
    draws them with the layout instead of asking a callback for them (one round trip less).
    One walk through the layout for all of them (a lookup by id walks it each time); an id the
    layout lacks is a ``KeyError``, as a lookup would raise."""
    missing = set(props)
    for component in (layout, *layout._traverse()):
        component_id = getattr(component, "id", None)
        if isinstance(component_id, str) and component_id in missing:
            missing.discard(component_id)
            for prop, value in props[component_id].items():
                setattr(component, prop, value)
    if missing:
        raise KeyError(f"not in the layout: {sorted(missing)}")
