"""Where should this have run? The selection's energy on other grids and in cloud regions.

The section reduces the selection to its energy per location once (cached per data snapshot and
selection), and every view is drawn from those few numbers and from static tables built once from
the tracker's bundled intensity data. See docs/comparisons.md for the assumptions.
"""

from __future__ import annotations

import hashlib
import json
import threading

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from plotly.io.json import to_json_plotly

from carbonboard import comparisons as cmp
from carbonboard import ids
from carbonboard.components import graph, section_card
from carbonboard.data.source import RunSource
from carbonboard.formatting import format_count, format_energy_kwh, format_intensity, format_mass_kg
from carbonboard.selection import Selection
from carbonboard.theme import placeholder_figure

MAP_MODE_OPTIONS = [
    {"label": "Grid intensity", "value": "intensity"},
    {"label": "Your emissions there", "value": "emissions"},
    {"label": "Low-carbon share", "value": "low_carbon"},
]
PROVIDER_OPTIONS = [
    {"label": "All providers", "value": "all"},
    *({"label": name, "value": code} for code, name in cmp.PROVIDER_NAMES.items()),
]
SUBNATIONAL_NAMES = {"USA": "US states", "CAN": "Canadian provinces"}


def _note(component_id: str) -> html.P:
    """The assumptions line under a chart."""
    return html.P(id=component_id, className="text-muted small mb-0")


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
                    value="intensity",
                    inline=True,
                    className="mb-2",
                ),
                graph(ids.REGIONAL_MAP, filename="carbonboard-world-map"),
                _note(ids.REGIONAL_MAP_NOTE),
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section_card(
                            "Cleanest and dirtiest grids",
                            graph(ids.REGIONAL_RANKING, filename="carbonboard-country-ranking"),
                            _note(ids.REGIONAL_RANKING_NOTE),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section_card(
                            "Their energy mix",
                            graph(ids.REGIONAL_MIX, filename="carbonboard-energy-mix"),
                            _note(ids.REGIONAL_MIX_NOTE),
                        ),
                        lg=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section_card(
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
                        lg=6,
                    ),
                    dbc.Col(
                        section_card(
                            "Cloud regions",
                            dbc.RadioItems(
                                id=ids.REGIONAL_CLOUD_PROVIDER,
                                options=PROVIDER_OPTIONS,
                                value="all",
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
                        lg=6,
                    ),
                ]
            ),
        ],
    )


class _BaselineCache:
    """The last few selections' baselines per data version: a toggle (map colour, provider,
    country) redraws its view without grouping the runs again, and only the small baselines are
    kept. Runs picked for comparison, when there are some, are what is replayed."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, str], cmp.Baseline] = {}

    def get(self, source: RunSource, selection: dict | None) -> cmp.Baseline:
        picked = Selection.from_dict(selection)
        key = (source.version(), json.dumps(picked.to_dict(), sort_keys=True))
        with self._lock:  # held while computing: two pages asking at once group the runs once
            cached = self._entries.get(key)
            if cached is not None:
                return cached
            runs = (
                source.runs_by_id(picked.run_ids)
                if picked.run_ids
                else source.selected_runs(picked)  # shared with the other sections
            )
            base = self._entries[key] = cmp.baseline(runs)
            while len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]
        return base


def _subnational_countries(base: cmp.Baseline) -> list[str]:
    """The selection's countries that have sub-national grid data, most energy first."""
    with_regions = set(cmp.subnational_table()["country"])
    return [iso3 for iso3 in base.country_shares().index if iso3 in with_regions]


def map_views(base: cmp.Baseline, mode: str | None) -> tuple:
    """World map, its assumptions, and the summary line above the views."""
    countries = cmp.country_table()
    figure = cmp.world_map_figure(base, countries, mode or "intensity")
    return figure, cmp.grid_assumptions(base, countries, countries), _summary(base, countries)


def ranking_views(base: cmp.Baseline) -> tuple:
    """Cleanest and dirtiest grids next to the selection's own, and their generation mix."""
    countries = cmp.country_table()
    ranking = cmp.country_ranking(base, countries, cmp.RANKING_SIZE)
    shown = [*base.country_shares().index, *ranking["iso3"]]
    mix_iso3s = [i for i in dict.fromkeys(shown) if i]
    ranked = countries.set_index("iso3").reindex(mix_iso3s)["g_co2e_per_kwh"]
    mix_iso3s = list(ranked.sort_values(kind="stable").index)
    return (
        cmp.ranking_figure(ranking),
        cmp.grid_assumptions(base, countries, countries),
        cmp.energy_mix_figure(countries, mix_iso3s),
        "Share of each source in the country's electricity generation, cleanest grid first; "
        "bioenergy counts as other renewables.",
    )


def subnational_views(base: cmp.Baseline, country: str | None) -> tuple:
    """The country picker (the selection's countries with sub-national data) and the chart."""
    countries = cmp.country_table()
    available = _subnational_countries(base)
    names = countries.set_index("iso3")["name"]
    options = [
        {
            "label": SUBNATIONAL_NAMES.get(iso3, f"{names.get(iso3, iso3)}: bidding zones"),
            "value": iso3,
        }
        for iso3 in available
    ]
    if not available:
        message = "No run of this selection is in a country with sub-national grid data."
        return options, None, placeholder_figure(message), message
    country = country if country in available else available[0]
    table = cmp.subnational_table()
    compared = cmp.subnational_comparison(base, table, country)
    note = cmp.grid_assumptions(base, countries, table[table["country"] == country])
    return options, country, cmp.subnational_figure(compared, base), note


def cloud_views(base: cmp.Baseline, provider: str | None) -> tuple:
    """Every cloud region (or one provider's), the recommendation and the assumptions."""
    countries, cloud = cmp.country_table(), cmp.cloud_table()
    compared = cmp.cloud_comparison(base, cloud)
    recommendation = cmp.cloud_finding(base, cloud, compared)
    shown = compared if provider in (None, "all") else compared[compared["provider"] == provider]
    figure = cmp.cloud_figure(shown, base)
    return figure, recommendation, cmp.cloud_assumptions(base, countries, cloud)


OUTPUTS = (  # every view's outputs, in the order the view functions return them
    (ids.REGIONAL_MAP, "figure"),
    (ids.REGIONAL_MAP_NOTE, "children"),
    (ids.REGIONAL_SUMMARY, "children"),
    (ids.REGIONAL_RANKING, "figure"),
    (ids.REGIONAL_RANKING_NOTE, "children"),
    (ids.REGIONAL_MIX, "figure"),
    (ids.REGIONAL_MIX_NOTE, "children"),
    (ids.REGIONAL_SUBNATIONAL_COUNTRY, "options"),
    (ids.REGIONAL_SUBNATIONAL_COUNTRY, "value"),
    (ids.REGIONAL_SUBNATIONAL, "figure"),
    (ids.REGIONAL_SUBNATIONAL_NOTE, "children"),
    (ids.REGIONAL_CLOUD, "figure"),
    (ids.REGIONAL_CLOUD_RECOMMENDATION, "children"),
    (ids.REGIONAL_CLOUD_NOTE, "children"),
)


def figure_digest(figure) -> str:
    """A short fingerprint of a figure as the browser receives it."""
    payload = to_json_plotly(figure).encode()
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def skip_drawn_figures(values: list, drawn: dict | None) -> tuple[list, dict]:
    """Replace each figure identical to the one the browser already shows by ``no_update``.

    Selections often share a view (the same countries give the same intensity map and mix):
    redrawing an identical map costs the browser far more than hashing it costs here. Returns
    the values to send and the digests of what the browser shows afterwards."""
    shown = dict(drawn or {})
    sent = list(values)
    for position, (component, prop) in enumerate(OUTPUTS):
        if prop != "figure" or sent[position] is no_update:
            continue
        digest = figure_digest(sent[position])
        if shown.get(component) == digest:
            sent[position] = no_update
        shown[component] = digest
    return sent, shown


def register_callbacks(app: Dash, source: RunSource) -> None:
    """One callback for the tab: a new selection redraws every view from one baseline in one
    response (the browser draws them in one pass); a toggle redraws only its own view."""
    cache = _BaselineCache()

    @app.callback(
        *(Output(component, prop) for component, prop in OUTPUTS),
        Output(ids.REGIONAL_DRAWN, "data"),
        Input(ids.REGIONAL_TAB_SELECTION, "data"),
        Input(ids.REGIONAL_MAP_MODE, "value"),
        Input(ids.REGIONAL_SUBNATIONAL_COUNTRY, "value"),
        Input(ids.REGIONAL_CLOUD_PROVIDER, "value"),
        State(ids.REGIONAL_DRAWN, "data"),
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update(
        selection: dict | None,
        mode: str | None,
        country: str | None,
        provider: str | None,
        drawn: dict | None,
    ):
        base = cache.get(source, selection)
        trigger = ctx.triggered_id
        every = trigger not in (
            ids.REGIONAL_MAP_MODE,
            ids.REGIONAL_SUBNATIONAL_COUNTRY,
            ids.REGIONAL_CLOUD_PROVIDER,
        )

        def when(changed: bool, views, *args, outputs: int) -> tuple:
            return views(base, *args) if changed else (no_update,) * outputs

        values, shown = skip_drawn_figures(
            [
                *when(every or trigger == ids.REGIONAL_MAP_MODE, map_views, mode, outputs=3),
                *when(every, ranking_views, outputs=4),
                *when(
                    every or trigger == ids.REGIONAL_SUBNATIONAL_COUNTRY,
                    subnational_views,
                    country,
                    outputs=4,
                ),
                *when(
                    every or trigger == ids.REGIONAL_CLOUD_PROVIDER,
                    cloud_views,
                    provider,
                    outputs=3,
                ),
            ],
            drawn,
        )
        return (*values, shown)


def _summary(base: cmp.Baseline, countries: pd.DataFrame) -> str:
    """One line above the views: what is being replayed."""
    if not base.has_energy:
        return cmp.nothing_to_compare(base)
    runs = f"{format_count(base.runs)} run{'s' if base.runs > 1 else ''}"
    return (
        f"{runs} drew {format_energy_kwh(base.energy_kwh)} in "
        f"{cmp.describe_countries(base, countries)}: {format_mass_kg(base.emissions_kg)} at "
        f"{format_intensity(base.g_co2e_per_kwh)}. The same energy elsewhere:"
    )
