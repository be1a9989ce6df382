"""Share and export: the runs behind the view (CSV, JSON), a self-contained report, chart images,
and the meeting-room display (light/dark theme, presentation mode).

Files are built on the server from the same selection as the page; chart images are drawn in the
browser by plotly.js (assets/export.js), so they work with no network. The display preferences
live in the browser's local storage, so they survive a reload.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html

from carbonboard import export, ids
from carbonboard.data.source import RunSource
from carbonboard.report import build_report
from carbonboard.sections.efficiency import BUDGETS_CONFIG
from carbonboard.selection import Selection

CLIENTSIDE = "carbonboard_export"


def _button(label: str, component_id: str) -> dbc.Button:
    return dbc.Button(label, id=component_id, color="secondary", outline=True, size="sm")


def layout() -> html.Section:
    """A toolbar: downloads, chart images, theme and presentation switches."""
    return html.Section(
        id=ids.EXPORT_SECTION,
        className="export-toolbar d-flex flex-wrap align-items-center gap-3 my-3",
        # assets/export.js fills this picker with the charts on the page.
        **{"data-chart-picker": ids.EXPORT_CHART},
        children=[
            dbc.ButtonGroup(
                [
                    _button("Runs CSV", ids.EXPORT_CSV),
                    _button("Runs JSON", ids.EXPORT_JSON),
                    _button("Report (HTML)", ids.EXPORT_REPORT),
                ]
            ),
            html.Div(
                [
                    dcc.Dropdown(
                        id=ids.EXPORT_CHART,
                        placeholder="Chart…",
                        clearable=False,
                        searchable=False,
                        style={"minWidth": "16rem"},
                    ),
                    dbc.ButtonGroup(
                        [_button("PNG", ids.EXPORT_PNG), _button("SVG", ids.EXPORT_SVG)]
                    ),
                ],
                className="d-flex align-items-center gap-2",
            ),
            dbc.Switch(id=ids.THEME_DARK, label="Dark theme", value=False, className="mb-0"),
            dbc.Switch(
                id=ids.PRESENTATION_MODE, label="Presentation", value=False, className="mb-0"
            ),
            html.Span(id=ids.EXPORT_STATUS, className="text-body-secondary small", role="status"),
            dcc.Download(id=ids.EXPORT_DOWNLOAD),
            dcc.Store(id=ids.EXPORT_IMAGE_REQUEST),
            dcc.Store(id=ids.DISPLAY_PREFS, storage_type="local"),
        ],
    )


def view_parts(selection: Selection) -> list[str]:
    """What names the view in a file name besides the project: the experiment, if one."""
    return [selection.experiment] if selection.experiment else []


def filename(selection: Selection, what: str, extension: str) -> str:
    """e.g. ``nlp-bert_bert-base_runs.csv``."""
    return export.export_filename(selection.project, [*view_parts(selection), what], extension)


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Downloads on the server; images, theme and presentation in the browser."""

    @app.callback(
        Output(ids.EXPORT_DOWNLOAD, "data"),
        Input(ids.EXPORT_CSV, "n_clicks"),
        Input(ids.EXPORT_JSON, "n_clicks"),
        Input(ids.EXPORT_REPORT, "n_clicks"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def download(_csv: int | None, _json: int | None, _report: int | None, selection: dict):
        selection_value = Selection.from_dict(selection)
        if ctx.triggered_id == ids.EXPORT_REPORT:
            return dcc.send_string(
                build_report(
                    source,
                    selection_value,
                    budgets=app.server.config.get(BUDGETS_CONFIG, ()),
                ),
                filename(selection_value, "report", "html"),
                type="text/html",
            )
        runs = source.selected_runs(selection_value)
        if ctx.triggered_id == ids.EXPORT_JSON:
            text = export.runs_to_json(runs)
            return dcc.send_string(text, filename(selection_value, "runs", "json"))
        text = export.runs_to_csv(runs)
        return dcc.send_string(text, filename(selection_value, "runs", "csv"), type="text/csv")

    # A chart image is drawn by the browser; its file name comes from the server when asked (a
    # callback on every selection change would cost each switch a round trip for it).
    @app.callback(
        Output(ids.EXPORT_IMAGE_REQUEST, "data"),
        Input(ids.EXPORT_PNG, "n_clicks"),
        Input(ids.EXPORT_SVG, "n_clicks"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def image_request(_png: int | None, _svg: int | None, selection: dict) -> dict:
        selection_value = Selection.from_dict(selection)
        return {
            "format": "svg" if ctx.triggered_id == ids.EXPORT_SVG else "png",
            "prefix": export.file_stem(selection_value.project, view_parts(selection_value)),
            "clicks": (_png or 0) + (_svg or 0),  # each click a new request, even the same one
        }

    app.clientside_callback(
        f"window.dash_clientside.{CLIENTSIDE}.downloadChart",
        Output(ids.EXPORT_STATUS, "children"),
        Input(ids.EXPORT_IMAGE_REQUEST, "data"),
        State(ids.EXPORT_CHART, "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        f"window.dash_clientside.{CLIENTSIDE}.applyPrefs",
        Output(ids.DISPLAY_PREFS, "data"),
        Output(ids.THEME_DARK, "value"),
        Output(ids.PRESENTATION_MODE, "value"),
        Input(ids.DISPLAY_PREFS, "data"),
        Input(ids.THEME_DARK, "value"),
        Input(ids.PRESENTATION_MODE, "value"),
    )
