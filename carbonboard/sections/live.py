"""The runs in progress, at the top of the overview: elapsed time, power and emissions so far.

Redrawn on the page's refresh polling (``ids.REFRESH``), so elapsed times move and a run that
finishes or goes silent (``crashed``) leaves the list without a reload. Every project's runs,
whatever the filters: what runs now is the question. Names are plain text, cut short.
"""

from __future__ import annotations

from collections.abc import Callable

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, html

from carbonboard import ids
from carbonboard.data.source import RunSource
from carbonboard.efficiency import live_runs, run_label
from carbonboard.formatting import LABEL_PART_CHARS, short_label

LIVE_SHOWN = 10


def layout() -> html.Section:
    """Hidden until a run is in progress."""
    return html.Section(id=ids.LIVE_SECTION, children=html.Div(id=ids.LIVE_LIST))


def live_list(live: pd.DataFrame) -> list:
    """One line per run in progress, longest running first; nothing when none."""
    if live.empty:
        return []
    items = [
        html.Li(
            [
                dbc.Badge("running", color="primary", className="me-2"),
                html.Span(
                    f"{short_label(r.project_name, LABEL_PART_CHARS)} · "
                    f"{short_label(r.experiment_id, LABEL_PART_CHARS) or '–'} · "
                    f"run {short_label(run_label(r.run_id), LABEL_PART_CHARS)}",
                    className="fw-semibold me-2",
                ),
                html.Span(
                    f"{r.elapsed_text} elapsed · {r.power_text} · {r.emissions_text} so far",
                    className="text-body-secondary",
                ),
            ],
            className="live-run",
        )
        for r in live.head(LIVE_SHOWN).itertuples(index=False)
    ]
    more = len(live) - LIVE_SHOWN
    if more > 0:
        items.append(html.Li(f"and {more} more", className="text-body-secondary"))
    title = f"Running now: {len(live)} run{'s' if len(live) > 1 else ''}"
    return [
        dbc.Alert(
            [html.H2(title, className="h6"), html.Ul(items, className="list-unstyled mb-0")],
            color="light",
            className="border mb-3",
        )
    ]


def now_utc() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def running_now(source: RunSource, clock: Callable[[], pd.Timestamp] = now_utc) -> list:
    """The list of the runs in progress at ``clock()``."""
    return live_list(live_runs(source.running_runs(), clock()))


def first_view(source: RunSource) -> dict[str, dict[str, object]]:
    """The runs in progress, drawn with the page (see ``components.set_first_props``)."""
    return {ids.LIVE_LIST: {"children": running_now(source)}}


def register_callbacks(
    app: Dash, source: RunSource, clock: Callable[[], pd.Timestamp] = now_utc
) -> None:
    """The list follows the polling and the data version (the page comes with it)."""

    @app.callback(
        Output(ids.LIVE_LIST, "children"),
        Input(ids.REFRESH, "n_intervals"),
        Input(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def update(_ticks, _version) -> list:
        return running_now(source, clock)
