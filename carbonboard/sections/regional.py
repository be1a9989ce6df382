"""Where should this have run? The selection's energy on other grids and in cloud regions.

The section reduces the selection to its energy per location once (cached per data snapshot and
selection), and every view is drawn from those few numbers and from static tables built once from
the tracker's bundled intensity data. See docs/comparisons.md for the assumptions.
"""

from __future__ import annotations

import hashlib
import json
from typing import NamedTuple

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from plotly.io.json import to_json_plotly

from carbonboard import ids
from carbonboard.components import graph, section_card
from carbonboard.data.source import RunSource
from carbonboard.data.versioned import ViewCache
from carbonboard.regional.baseline import Baseline, baseline, with_intensity
from carbonboard.regional.tables import PROVIDER_NAMES
from carbonboard.regional.views import PARTS, regional_views, subnational_countries
from carbonboard.selection import Selection

MAP_MODE_FIRST = "intensity"  # the map's colouring when the tab opens
PROVIDER_FIRST = "all"  # the cloud providers compared when the tab opens
MAP_MODE_OPTIONS = [
    {"label": "Grid intensity", "value": "intensity"},
    {"label": "Your emissions there", "value": "emissions"},
    {"label": "Low-carbon share", "value": "low_carbon"},
]
PROVIDER_OPTIONS = [
    {"label": "All providers", "value": "all"},
    *({"label": name, "value": code} for code, name in PROVIDER_NAMES.items()),
]


def _note(component_id: str) -> html.P:
    """The assumptions line under a chart."""
    return html.P(id=component_id, className="text-muted small mb-0")


def _half(title: str, *children) -> dbc.Col:
    """A titled card taking half the row on large screens."""
    return dbc.Col(section_card(title, *children), lg=6)


def layout() -> html.Section:
    """The section: world map, ranking and mix, sub-national grids, cloud regions."""
    return html.Section(
        id=ids.REGIONAL_SECTION,
        children=[
            html.H2("Where should this have run?", className="h4"),
            html.P(id=ids.REGIONAL_SUMMARY, className="text-body-secondary"),
            dcc.Store(id=ids.REGIONAL_DRAWN),
            section_card(
                "Grid carbon intensity around the world",
                dbc.RadioItems(
                    id=ids.REGIONAL_MAP_MODE,
                    options=MAP_MODE_OPTIONS,
                    value=MAP_MODE_FIRST,
                    inline=True,
                    className="mb-2",
                ),
                graph(ids.REGIONAL_MAP, filename="carbonboard-world-map"),
                _note(ids.REGIONAL_MAP_NOTE),
            ),
            dbc.Row(
                [
                    _half(
                        "Cleanest and dirtiest grids",
                        graph(ids.REGIONAL_RANKING, filename="carbonboard-country-ranking"),
                        _note(ids.REGIONAL_RANKING_NOTE),
                    ),
                    _half(
                        "Their energy mix",
                        graph(ids.REGIONAL_MIX, filename="carbonboard-energy-mix"),
                        _note(ids.REGIONAL_MIX_NOTE),
                    ),
                ]
            ),
            dbc.Row(
                [
                    _half(
                        "Within the country",
                        dbc.RadioItems(
                            id=ids.REGIONAL_SUBNATIONAL_COUNTRY,
                            inline=True,
                            className="mb-2",
                            persistence=True,  # the country picked survives a reload
                            persistence_type="session",
                        ),
                        graph(ids.REGIONAL_SUBNATIONAL, filename="carbonboard-subnational"),
                        _note(ids.REGIONAL_SUBNATIONAL_NOTE),
                    ),
                    _half(
                        "Cloud regions",
                        dbc.RadioItems(
                            id=ids.REGIONAL_CLOUD_PROVIDER,
                            options=PROVIDER_OPTIONS,
                            value=PROVIDER_FIRST,
                            inline=True,
                            className="mb-2",
                        ),
                        html.P(id=ids.REGIONAL_CLOUD_RECOMMENDATION, className="fw-semibold"),
                        html.Div(
                            graph(ids.REGIONAL_CLOUD, filename="carbonboard-cloud-regions"),
                            style={"maxHeight": "640px", "overflowY": "auto"},
                        ),
                        _note(ids.REGIONAL_CLOUD_NOTE),
                    ),
                ]
            ),
        ],
    )


def _baseline(source: RunSource, picked: Selection) -> Baseline:
    """The selection reduced to its energy per location: the runs picked for comparison, when
    there are some, else the selection's sums (never its runs)."""
    if picked.run_ids:
        return baseline(source.runs_by_id(picked.run_ids))
    return Baseline(with_intensity(source.location_mix(picked)))


# Per data version: a toggle (map colour, provider, country) redraws its view without grouping
# the runs again; only the small baselines are kept.
_BASELINES = ViewCache(_baseline, size=16)


# Each view (``regional.views.PARTS``) and where the page shows it, in the order Dash lists them.
VIEW_OUTPUTS = {
    "map_figure": (ids.REGIONAL_MAP, "figure"),
    "map_note": (ids.REGIONAL_MAP_NOTE, "children"),
    "summary": (ids.REGIONAL_SUMMARY, "children"),
    "ranking_figure": (ids.REGIONAL_RANKING, "figure"),
    "ranking_note": (ids.REGIONAL_RANKING_NOTE, "children"),
    "mix_figure": (ids.REGIONAL_MIX, "figure"),
    "mix_note": (ids.REGIONAL_MIX_NOTE, "children"),
    "subnational_options": (ids.REGIONAL_SUBNATIONAL_COUNTRY, "options"),
    "subnational_country": (ids.REGIONAL_SUBNATIONAL_COUNTRY, "value"),
    "subnational_figure": (ids.REGIONAL_SUBNATIONAL, "figure"),
    "subnational_note": (ids.REGIONAL_SUBNATIONAL_NOTE, "children"),
    "cloud_figure": (ids.REGIONAL_CLOUD, "figure"),
    "cloud_finding": (ids.REGIONAL_CLOUD_RECOMMENDATION, "children"),
    "cloud_note": (ids.REGIONAL_CLOUD_NOTE, "children"),
}
# A toggle redraws its own part; anything else (a new selection) redraws every part.
TOGGLED_PARTS = {
    ids.REGIONAL_MAP_MODE: "map",
    ids.REGIONAL_SUBNATIONAL_COUNTRY: "subnational",
    ids.REGIONAL_CLOUD_PROVIDER: "cloud",
}


class SentFigure(NamedTuple):
    """A figure as the browser receives it (its JSON, parsed: Dash writes it again cheaply) and
    the digest of that JSON."""

    data: dict
    digest: str


def payload_digest(payload: str) -> str:
    """A short fingerprint of a figure as the browser receives it (its JSON)."""
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def skip_drawn_figures(views: dict[str, object], drawn: dict | None) -> tuple[dict, dict]:
    """Leave out each figure (a :class:`SentFigure`) identical to the one the browser already
    shows.

    Selections often share a view (the same countries give the same intensity map and mix):
    redrawing an identical map costs the browser far more than comparing digests costs here.
    Returns the views to send (each figure as the JSON the browser receives) and the digests of
    what the browser shows afterwards, by component id."""
    shown = dict(drawn or {})
    sent = dict(views)
    for name, value in views.items():
        if not isinstance(value, SentFigure):
            continue
        component = VIEW_OUTPUTS[name][0]
        if shown.get(component) == value.digest:
            del sent[name]
        else:
            sent[name] = value.data
        shown[component] = value.digest
    return sent, shown


def sent_views(
    base: Baseline, parts: tuple[str, ...], mode: str, country: str | None, provider: str
) -> dict[str, object]:
    """``regional_views`` with each figure as a :class:`SentFigure`: written once, for its
    digest, and not again by Dash."""
    views = regional_views(base, parts, mode=mode, country=country, provider=provider)
    for name, value in views.items():
        if VIEW_OUTPUTS[name][1] == "figure":
            payload = to_json_plotly(value)
            views[name] = SentFigure(json.loads(payload), payload_digest(payload))
    return views


def parts_for(trigger: str | None) -> tuple[str, ...]:
    """A toggle redraws its own part; anything else (a new selection) every part."""
    return (TOGGLED_PARTS[trigger],) if trigger in TOGGLED_PARTS else tuple(PARTS)


def answer(views: dict[str, object], drawn: dict | None) -> dict[str, object]:
    """What the tab's callback answers for ``sent_views``, by output name: the figures the
    browser does not show yet (the others left as they are), and the digests of what it shows
    afterwards (``drawn``)."""
    sent, shown = skip_drawn_figures(views, drawn)
    return {**dict.fromkeys(VIEW_OUTPUTS, no_update), **sent, "drawn": shown}


# The page control each part of the tab depends on (the ranking and its mix, on none).
PART_CONTROL = {"map": "mode", "ranking": None, "subnational": "country", "cloud": "provider"}


def _part_views(
    source: RunSource, picked: Selection, part: str, control: str | None
) -> dict[str, object]:
    """One part's views for ``picked``, its own control set to ``control``."""
    given = {PART_CONTROL[part]: control} if PART_CONTROL[part] else {}
    controls = {"mode": MAP_MODE_FIRST, "country": None, "provider": PROVIDER_FIRST, **given}
    return sent_views(_BASELINES(source, picked), (part,), **controls)


# Per data version and part: a selection shown again, or worked out ahead while the board was
# idle (``app.PREPARED_VIEWS``), is a lookup. A part is kept with its own control alone, so a
# country picked on one project's tab costs the next project only its sub-national view.
_VIEWS = ViewCache(_part_views, size=256)


def source_views(
    source: RunSource,
    selection: Selection,
    trigger: str | None = None,
    mode: str | None = None,
    country: str | None = None,
    provider: str | None = None,
) -> dict[str, object]:
    """``sent_views`` for ``selection``'s baseline, each part worked out once per data version.
    A country that is the selection's first with sub-national data (or none of its countries)
    is the default: the views are the same."""
    if country is not None:
        available = subnational_countries(_BASELINES(source, selection))
        country = country if country in available[1:] else None
    controls = {
        "map": mode or MAP_MODE_FIRST,
        "ranking": None,
        "subnational": country,
        "cloud": provider or PROVIDER_FIRST,
    }
    views: dict[str, object] = {}
    for part in parts_for(trigger):
        views.update(_VIEWS(source, selection, part, controls[part]))
    return views


def register_callbacks(app: Dash, source: RunSource) -> None:
    """One callback for the tab: a new selection redraws every view from one baseline in one
    response (the browser draws them in one pass); a toggle redraws only its own view."""

    @app.callback(
        output={
            **{name: Output(*target) for name, target in VIEW_OUTPUTS.items()},
            "drawn": Output(ids.REGIONAL_DRAWN, "data"),
        },
        inputs={
            "selection": Input(ids.REGIONAL_TAB_SELECTION, "data"),
            "mode": Input(ids.REGIONAL_MAP_MODE, "value"),
            "country": Input(ids.REGIONAL_SUBNATIONAL_COUNTRY, "value"),
            "provider": Input(ids.REGIONAL_CLOUD_PROVIDER, "value"),
        },
        state={"drawn": State(ids.REGIONAL_DRAWN, "data")},
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update(selection, mode, country, provider, drawn):
        picked = Selection.from_dict(selection)
        views = source_views(source, picked, ctx.triggered_id, mode, country, provider)
        return answer(views, drawn)
