"""The project view: where it ran and the intensity used, totals, last run, experiments, energy
split by component, and emissions over time (per run or cumulative)."""

from __future__ import annotations

from dataclasses import replace

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, ctx, html, no_update

from carbonboard import ids
from carbonboard.components import graph, props_by_component, section_card, totals_cards
from carbonboard.data.aggregate import Totals
from carbonboard.data.source import RunSource
from carbonboard.data.versioned import ViewCache
from carbonboard.figures import (
    TOP_GROUPS,
    emissions_over_time_figure,
    energy_split_figure,
    experiments_figure,
)
from carbonboard.formatting import (
    format_count,
    format_duration_s,
    format_energy_kwh,
    format_intensity,
    format_mass_kg,
    format_more,
    short_label,
)
from carbonboard.selection import Selection
from carbonboard.text_views import StatCards, TextLines, TextTable, span
from carbonboard.theme import STATUS_BADGE

LOCATIONS_SHOWN = 6
LOCATION_COLUMNS = ("Location", "Intensity", "Source", "Runs", "Energy")
NO_RUNS = "No runs in this selection."
TOTALS_ROW_CLASS = "g-3 mb-3"
CUMULATIVE_FIRST = False  # the timeline's switch when the page opens


def repeats_the_totals(selection: Selection) -> bool:
    """Whether the selection is the whole history, so the view's cards would only repeat the
    "all projects" cards above it (they are hidden then, not shown twice)."""
    return not (
        selection.project or selection.experiment or selection.date_from or selection.date_to
    )


def cards(total: Totals | None = None) -> list[dict[str, str]]:
    """The selection's four headline numbers ("–" before there is a selection)."""
    return totals_cards(
        total, (ids.PROJECT_EMISSIONS, ids.PROJECT_ENERGY, ids.PROJECT_RUNS, ids.PROJECT_DURATION)
    )


def layout() -> html.Section:
    """Cards, location table and the three charts of the selection."""
    return html.Section(
        id=ids.PROJECT_SECTION,
        children=[
            html.H2(id=ids.PROJECT_TITLE, className="h4 mb-3"),
            StatCards(id=ids.PROJECT_TOTALS, cards=cards(), className=TOTALS_ROW_CLASS),
            dbc.Row(
                [
                    dbc.Col(
                        section_card(
                            "Where it ran, and the carbon intensity used",
                            TextTable(
                                id=ids.PROJECT_LOCATION,
                                columns=list(LOCATION_COLUMNS),
                                empty=NO_RUNS,
                            ),
                        ),
                        lg=7,
                    ),
                    dbc.Col(
                        section_card("Last run", TextLines(id=ids.PROJECT_LAST_RUN, empty=NO_RUNS)),
                        lg=5,
                    ),
                ]
            ),
            section_card(
                "Emissions over time",
                dbc.Switch(
                    id=ids.TIMELINE_CUMULATIVE,
                    label="Cumulative",
                    value=CUMULATIVE_FIRST,
                    className="mb-2",
                ),
                graph(ids.TIMELINE_GRAPH, filename="carbonboard_emissions-over-time"),
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section_card(
                            "Experiments",
                            graph(ids.EXPERIMENTS_GRAPH, filename="carbonboard_experiments"),
                            html.Div(
                                id=ids.EXPERIMENTS_MORE, className="small text-body-secondary"
                            ),
                        ),
                        lg=7,
                    ),
                    dbc.Col(
                        section_card(
                            "Energy by component",
                            graph(ids.ENERGY_SPLIT_GRAPH, filename="carbonboard_energy-split"),
                        ),
                        lg=5,
                    ),
                ]
            ),
        ],
    )


def location_rows(places: pd.DataFrame) -> tuple[list[list], str]:
    """The location table's rows (places and intensity sources, ``aggregate.locations``'s frame,
    most energy first) and the note on the places left out."""
    rows = []
    for row in places.head(LOCATIONS_SHOWN).itertuples(index=False):
        where = ", ".join(short_label(p) for p in (row.country, row.region, row.cloud) if p)
        source = short_label(row.intensity_source or "not recorded")
        source += f" ({row.intensity_year})" if row.intensity_year else ""
        rows.append(
            [
                where,
                format_intensity(row.intensity_g_per_kwh),
                span(source, "small"),
                format_count(row.runs),
                format_energy_kwh(row.energy_kwh),
            ]
        )
    more = len(places) - LOCATIONS_SHOWN
    return rows, f"… and {more} more places" if more > 0 else ""


def last_run_lines(run: pd.Series | None) -> list[dict]:
    """The newest run's lines: when and its status, project and experiment, id, and emissions,
    energy and duration (none when there is no run)."""
    if run is None:
        return []
    status = str(run["status"]) or "finished"
    badge = f"badge text-bg-{STATUS_BADGE.get(status, 'secondary')}"
    return [
        {
            "className": "mb-2",
            "spans": [
                span(f"{run['timestamp']:%Y-%m-%d %H:%M} UTC", "me-2"),
                span(short_label(status), badge),
            ],
        },
        {
            "spans": [
                span(
                    f"{short_label(run['project_name'])} · "
                    f"{short_label(run['experiment_id']) or 'no experiment'}",
                    title=f"{run['project_name']} · {run['experiment_id'] or 'no experiment'}",
                )
            ]
        },
        {
            "className": "small font-monospace text-body-secondary",
            "spans": [span(short_label(run["run_id"]))],
        },
        {
            "className": "fw-semibold mt-2",
            "spans": [
                span(
                    f"{format_mass_kg(run['emissions'])} · "
                    f"{format_energy_kwh(run['energy_consumed'])} · "
                    f"{format_duration_s(run['duration'])}"
                )
            ],
        },
    ]


# What the view sets, by name.
OUTPUTS = {
    "title": (ids.PROJECT_TITLE, "children"),
    "title_whole": (ids.PROJECT_TITLE, "title"),
    "cards": (ids.PROJECT_TOTALS, "cards"),
    "totals_class": (ids.PROJECT_TOTALS, "className"),
    "places": (ids.PROJECT_LOCATION, "rows"),
    "more_places": (ids.PROJECT_LOCATION, "note"),
    "last_run": (ids.PROJECT_LAST_RUN, "lines"),
    "timeline": (ids.TIMELINE_GRAPH, "figure"),
    "experiments": (ids.EXPERIMENTS_GRAPH, "figure"),
    "more_experiments": (ids.EXPERIMENTS_MORE, "children"),
    "split": (ids.ENERGY_SPLIT_GRAPH, "figure"),
}


def timeline(source: RunSource, selection: Selection, cumulative: bool) -> go.Figure:
    """Emissions over time, per run (or day) or cumulative."""
    return emissions_over_time_figure(source.emissions_series(selection), cumulative=cumulative)


def project_view(source: RunSource, selection: Selection, cumulative: bool) -> dict[str, object]:
    """Everything the view shows for ``selection``, by :data:`OUTPUTS` name: worked out once
    per data version (a project shown again, or worked out ahead while the board was idle, is a
    lookup). The runs picked for comparison play no part in it."""
    return dict(_VIEWS(source, replace(selection, run_ids=()), cumulative))


def _project_view(source: RunSource, selection: Selection, cumulative: bool) -> dict[str, object]:
    total = source.totals(selection)
    per_experiment = source.breakdown(selection, "experiment")
    parts = [selection.project or "All projects", selection.experiment]
    places, more_places = location_rows(source.breakdown(selection, "place"))
    return {
        "title": " · ".join(short_label(part) for part in parts if part),
        "title_whole": " · ".join(part for part in parts if part),
        "cards": cards(total),
        "totals_class": "d-none" if repeats_the_totals(selection) else TOTALS_ROW_CLASS,
        "places": places,
        "more_places": more_places,
        "last_run": last_run_lines(source.last_run(selection)),
        "timeline": timeline(source, selection, cumulative),
        "experiments": experiments_figure(per_experiment),
        "more_experiments": format_more(per_experiment, TOP_GROUPS, "experiments"),
        "split": energy_split_figure(source.breakdown(selection, "component")),
    }


_VIEWS = ViewCache(_project_view)


def first_view(source: RunSource) -> dict[str, dict[str, object]]:
    """The view of the whole history, drawn with a page opened at the default address (see
    ``app.DEFAULT_ADDRESS_MODULES``)."""
    return props_by_component(OUTPUTS, project_view(source, Selection(), CUMULATIVE_FIRST))


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Everything in the view follows the selection, in one answer (each callback costs the
    page its own round of work); the cumulative switch redraws the timeline alone."""

    @app.callback(
        output={name: Output(*target) for name, target in OUTPUTS.items()},
        inputs={
            "selection_data": Input(ids.OVERVIEW_TAB_SELECTION, "data"),
            "cumulative": Input(ids.TIMELINE_CUMULATIVE, "value"),
        },
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update_project(selection_data: dict | None, cumulative: bool | None) -> dict[str, object]:
        selection = Selection.from_dict(selection_data)
        if ctx.triggered_id == ids.TIMELINE_CUMULATIVE:
            answer = dict.fromkeys(OUTPUTS, no_update)
            answer["timeline"] = timeline(source, selection, bool(cumulative))
            return answer
        return project_view(source, selection, bool(cumulative))
