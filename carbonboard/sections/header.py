"""The page header: what is loaded (files, runs, dates) and which rows were skipped, and why."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, get_app, html

from carbonboard import ids
from carbonboard.data.aggregate import date_range
from carbonboard.data.store import History, HistoryStore
from carbonboard.formatting import format_count

SKIPPED_SHOWN = 200  # rows listed in the page; the count is always exact
LOGO = "carbonboard-logo.svg"  # an asset: no icon font or CDN


def layout() -> html.Header:
    """Title bar with load summary and the skipped-rows badge."""
    return html.Header(
        id=ids.HEADER,
        className="border-bottom bg-body-tertiary mb-3",
        children=[
            dbc.Container(
                fluid=True,
                className="py-2 d-flex flex-wrap align-items-center gap-3",
                children=[
                    html.H1(
                        [
                            html.Img(
                                src=get_app().get_asset_url(LOGO),
                                alt="",
                                height=24,
                                className="me-2 align-text-bottom",
                            ),
                            "carbonboard",
                        ],
                        className="h4 m-0",
                    ),
                    html.Span(id=ids.HEADER_FILES, className="text-body-secondary small"),
                    html.Span(id=ids.HEADER_RUNS, className="badge text-bg-primary"),
                    html.Span(id=ids.HEADER_DATES, className="text-body-secondary small"),
                    dbc.Button(
                        id=ids.SKIPPED_BADGE,
                        color="warning",
                        size="sm",
                        className="d-none",
                        n_clicks=0,
                    ),
                ],
            ),
            dbc.Container(
                fluid=True,
                children=dbc.Collapse(
                    dbc.Card(dbc.CardBody(html.Div(id=ids.SKIPPED_LIST)), className="mb-2"),
                    id=ids.SKIPPED_COLLAPSE,
                    is_open=False,
                ),
            ),
        ],
    )


def files_text(history: History) -> str:
    """e.g. ``2 files: emissions.csv, tasks.csv``."""
    names = [info.path.replace("\\", "/").rsplit("/", 1)[-1] for info in history.files]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{len(names)} file{'s' if len(names) != 1 else ''}: {shown}"


def skipped_list(history: History) -> list:
    """The skipped rows as plain text (CSV content is untrusted: never rendered as HTML)."""
    items = [
        html.Li(f"{s.file.replace(chr(92), '/').rsplit('/', 1)[-1]}, line {s.line}: {s.reason}")
        for s in history.skipped[:SKIPPED_SHOWN]
    ]
    more = len(history.skipped) - SKIPPED_SHOWN
    unreadable = [html.Li(f"{f.path}: {f.error}") for f in history.files if f.error]
    return [
        html.P("These rows were left out; everything else is shown.", className="small mb-1"),
        html.Ul(unreadable + items, className="small mb-0 font-monospace"),
        html.P(f"… and {more} more.", className="small mb-0") if more > 0 else None,
    ]


def register_callbacks(app: Dash, store: HistoryStore) -> None:
    """Refresh the summary whenever the data version changes."""

    @app.callback(
        Output(ids.HEADER_FILES, "children"),
        Output(ids.HEADER_RUNS, "children"),
        Output(ids.HEADER_DATES, "children"),
        Output(ids.SKIPPED_BADGE, "children"),
        Output(ids.SKIPPED_BADGE, "className"),
        Output(ids.SKIPPED_LIST, "children"),
        Input(ids.DATA_VERSION, "data"),
    )
    def update_header(_version: int | None):
        history = store.current()
        span = date_range(history.runs)
        dates = f"{span[0]:%Y-%m-%d} → {span[1]:%Y-%m-%d}" if span else "no runs yet"
        problems = len(history.skipped) + sum(1 for f in history.files if f.error)
        runs = len(history.runs)
        return (
            files_text(history),
            f"{format_count(runs)} run{'s' if runs != 1 else ''}",
            dates,
            f"⚠ {format_count(problems)} skipped row{'s' if problems != 1 else ''}",
            "" if problems else "d-none",
            skipped_list(history) if problems else None,
        )

    @app.callback(
        Output(ids.SKIPPED_COLLAPSE, "is_open"),
        Input(ids.SKIPPED_BADGE, "n_clicks"),
        State(ids.SKIPPED_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
    def toggle_skipped(_clicks: int, is_open: bool) -> bool:
        return not is_open
