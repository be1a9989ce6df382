"""The page header: what is loaded (files, tasks files, runs, dates), which files could not be
read and which rows were skipped, and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, get_app, html

from carbonboard import ids
from carbonboard.components import props_by_component
from carbonboard.data.source import Description, RunSource
from carbonboard.formatting import format_count
from carbonboard.selection import Selection

SKIPPED_SHOWN = 200  # rows listed in the page; the count is always exact
FILES_SHOWN = 3  # file names in the header line, per kind; the count is always exact
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


def display_names(paths: Sequence[str]) -> list[str]:
    """Each path by its file name, with as many of its folders as it takes to tell apart files
    of the same name (``a/emissions.csv``, ``b/emissions.csv``)."""
    parts = [PurePosixPath(path.replace("\\", "/")).parts for path in paths]
    depth = [1] * len(parts)
    while True:
        shown = ["/".join(p[-d:]) for p, d in zip(parts, depth, strict=True)]
        counts = Counter(shown)
        clashes = [
            i for i, name in enumerate(shown) if counts[name] > 1 and depth[i] < len(parts[i])
        ]
        if not clashes:
            return shown
        for i in clashes:
            depth[i] += 1


def _listed(names: list[str]) -> str:
    return ", ".join(names[:FILES_SHOWN]) + (
        f" and {len(names) - FILES_SHOWN} more" if len(names) > FILES_SHOWN else ""
    )


def files_text(history: Description) -> str:
    """e.g. ``2 files: emissions.csv; tasks: emissions_tasks.csv``: the runs files, then the
    tasks files found (given, in a folder, or beside a runs file), then those unreadable; for a
    database (kind ``database``), ``database: postgresql://host/name``, never a password."""
    databases = [info.path for info in history.files if info.kind == "database"]
    if databases:
        return "database: " + ", ".join(databases)
    names = display_names([info.path for info in history.files])
    groups: dict[str, list[str]] = {"": [], "tasks": [], "unreadable": []}
    for info, name in zip(history.files, names, strict=True):
        group = "unreadable" if info.error and not info.rows else info.kind
        groups.get(group, groups[""]).append(name)
    count = len(names)
    text = f"{count} file{'s' if count != 1 else ''}: " + "; ".join(
        f"{label}: {_listed(group)}" if label else _listed(group)
        for label, group in groups.items()
        if group
    )
    return text if count else "0 files"


def runs_text(history: Description) -> str:
    """e.g. ``12 runs (3 duplicate rank rows not counted)``: the runs counted, and the rows of
    cluster jobs left out because another rank's row measured the same node at the same time."""
    runs, duplicates = history.runs, history.duplicates
    text = f"{format_count(runs)} run{'s' if runs != 1 else ''}"
    if duplicates:
        plural = "s" if duplicates != 1 else ""
        text += f" ({format_count(duplicates)} duplicate rank row{plural} not counted)"
    return text


def problems_text(history: Description) -> str:
    """The badge: e.g. ``⚠ 1 unreadable file, 3 skipped rows``."""
    unreadable, rows = len(history.unreadable), history.skipped_rows
    parts = []
    if unreadable:
        parts.append(f"{format_count(unreadable)} unreadable file{'s' if unreadable != 1 else ''}")
    if rows or not unreadable:
        parts.append(f"{format_count(rows)} skipped row{'s' if rows != 1 else ''}")
    return "⚠ " + ", ".join(parts)


def skipped_list(history: Description) -> list:
    """The unreadable files with their reason, then the skipped rows, as plain text (CSV content
    is untrusted: never rendered as HTML)."""
    names = dict(
        zip(
            (f.path for f in history.files),
            display_names([f.path for f in history.files]),
            strict=True,
        )
    )
    items = [
        html.Li(f"{names.get(s.file, s.file)}, line {s.line}: {s.reason}")
        for s in history.skipped[:SKIPPED_SHOWN]
    ]
    more = history.skipped_rows - len(items)
    unreadable = [html.Li(f"{f.path}: {f.error}") for f in history.unreadable]
    return [
        html.P(
            "These files or rows were left out; everything else is shown.", className="small mb-1"
        ),
        html.Ul(unreadable + items, className="small mb-0 font-monospace"),
        html.P(f"… and {format_count(more)} more.", className="small mb-0") if more > 0 else None,
    ]


# What the summary sets, by name.
OUTPUTS = {
    "files": (ids.HEADER_FILES, "children"),
    "runs": (ids.HEADER_RUNS, "children"),
    "dates": (ids.HEADER_DATES, "children"),
    "problems": (ids.SKIPPED_BADGE, "children"),
    "problems_class": (ids.SKIPPED_BADGE, "className"),
    "skipped": (ids.SKIPPED_LIST, "children"),
}


def summary(source: RunSource) -> dict[str, object]:
    """The header's summary of the data, by :data:`OUTPUTS` name."""
    history = source.describe()
    options = source.filter_options(Selection())
    problems = history.skipped_rows + len(history.unreadable)
    return {
        "files": files_text(history),
        "runs": runs_text(history),
        "dates": (
            f"{options.first_run:%Y-%m-%d} → {options.last_run:%Y-%m-%d}"
            if options.first_run is not None
            else "no runs yet"
        ),
        "problems": problems_text(history),
        "problems_class": "" if problems else "d-none",
        "skipped": skipped_list(history) if problems else None,
    }


def first_view(source: RunSource) -> dict[str, dict[str, object]]:
    """The summary, drawn with the page (see ``components.set_first_props``)."""
    return props_by_component(OUTPUTS, summary(source))


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Refresh the summary whenever the data version changes (the page comes with it)."""

    @app.callback(
        output={name: Output(*target) for name, target in OUTPUTS.items()},
        inputs={"_version": Input(ids.DATA_VERSION, "data")},
        prevent_initial_call=True,
    )
    def update_header(_version: int | None) -> dict[str, object]:
        return summary(source)

    @app.callback(
        Output(ids.SKIPPED_COLLAPSE, "is_open"),
        Input(ids.SKIPPED_BADGE, "n_clicks"),
        State(ids.SKIPPED_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
    def toggle_skipped(_clicks: int, is_open: bool) -> bool:
        return not is_open
