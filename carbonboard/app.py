"""The Dash application factory: one page, every asset served locally, data kept on the server.

``create_app(source)`` serves a ``RunSource`` (:mod:`carbonboard.data.source`: CSV files through
``HistoryStore``, or a database) and wires the sections listed in ``SECTION_MODULES`` (each
exposes ``layout()`` and ``register_callbacks(app, source)``; its callbacks reach data only
through that source): the header, the sections above the tabs, then the sections of each tab
(``TABS``). Serve ``app.server`` with a production WSGI server (the CLI uses waitress); never
Flask's debugger.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

import dash_bootstrap_components as dbc
import flask
from dash import Dash, Input, Output, State, dcc, html, set_props
from dash.exceptions import PreventUpdate

from carbonboard import __version__, idle, ids, page_scripts, web_security
from carbonboard.assets_path import assets_dir, plotly_bundle_bytes
from carbonboard.components import set_first_props
from carbonboard.data.source import RunSource
from carbonboard.efficiency import Budget
from carbonboard.sections import (
    comparison,
    efficiency,
    equivalents,
    filters,
    header,
    live,
    project,
    regional,
    runs,
    tabs,
    totals,
)
from carbonboard.sections import export as export_section
from carbonboard.selection import Selection

log = logging.getLogger(__name__)

# The page, top to bottom. Each module: layout() -> Component, register_callbacks(app, source).
ABOVE_TABS = [totals, filters, export_section]
# The tabs: (value, label, sections). Only the open tab is drawn, which keeps the page fast.
TABS = [
    (ids.TAB_OVERVIEW, "Overview", [live, project, equivalents]),
    (ids.TAB_RUNS, "Runs and comparison", [runs, comparison]),
    (ids.TAB_REGIONAL, "Where should this have run?", [regional]),
    (ids.TAB_EFFICIENCY, "Efficiency", [efficiency]),
]
SECTION_MODULES = [header, *ABOVE_TABS, *(module for *_, modules in TABS for module in modules)]
# Sections whose first view does not depend on the address: drawn with the page, by
# ``first_view(source)``; their callbacks only follow new data.
FIRST_VIEW_MODULES = [header, totals, live]
# Sections whose first view is the default address's (no query: the whole history, the overview
# tab): a page opened there comes with the selection stores filled and these sections drawn, so
# no callback runs before its charts are drawn. A page opened at another address comes without
# them, and its selection fills them as before.
DEFAULT_ADDRESS_MODULES = [project, equivalents]
# The views the board works out ahead for the whole history and each project while it is idle,
# so that switching to one is a lookup: the overview and the regional tab, as a filter change
# draws them.
PREPARED_VIEWS = [
    lambda source, selection: project.project_view(source, selection, project.CUMULATIVE_FIRST),
    regional.source_views,
]
COMPRESSIBLE = (
    "application/json",
    "application/javascript",
    "text/javascript",
    "text/css",
    "text/html",
)
LOOPBACK_HOST = "127.0.0.1"
COMPRESS_MIN_BYTES = 1400  # below one packet, gzip only adds work
ERROR_MESSAGE = (
    "Something went wrong while updating the page; the rest keeps working. "
    "Details are in the server log."
)


@lru_cache(maxsize=64)
def _gzip_cached(path: str, body: bytes) -> bytes:
    """Static bundles (plotly.js, ...) are compressed once per process."""
    return gzip.compress(body, compresslevel=6)


def _compress(response: flask.Response) -> flask.Response:
    """gzip text responses when the browser accepts it (the page is large without)."""
    path = flask.request.path
    static = path.startswith(("/_dash-component-suites/", "/assets/"))
    if static and response.direct_passthrough:  # a file sent from disk: read it to compress it
        response.direct_passthrough = False
    if (
        response.direct_passthrough
        or response.status_code != 200
        or "gzip" not in flask.request.headers.get("Accept-Encoding", "")
        or response.mimetype not in COMPRESSIBLE
        or "Content-Encoding" in response.headers
    ):
        return response
    body = response.get_data()
    if len(body) < COMPRESS_MIN_BYTES:
        return response
    compressed = _gzip_cached(path, body) if static else gzip.compress(body, compresslevel=5)
    response.set_data(compressed)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(compressed))
    response.vary.add("Accept-Encoding")
    return response


class _DashboardDash(Dash):
    """Dash whose first page leaves out the scripts it does not need yet
    (:mod:`carbonboard.page_scripts`)."""

    def interpolate_index(self, **kwargs: str) -> str:
        kwargs["scripts"] = page_scripts.defer_libraries(kwargs.get("scripts", ""))
        prefix = self.config.requests_pathname_prefix
        kwargs["css"] = page_scripts.preload_links(prefix) + kwargs.get("css", "")
        return super().interpolate_index(**kwargs)


def _compress_plotly() -> None:
    _gzip_cached(page_scripts.GRAPH_PLOTLY_PATH, plotly_bundle_bytes())


def _on_error(error: Exception) -> None:
    """A failing callback logs its traceback on the server and shows a notice, never a trace."""
    log.error("callback failed", exc_info=error)
    set_props(ids.ERROR_NOTICE, {"is_open": True, "children": ERROR_MESSAGE})


def _page_layout(source: RunSource, refresh_interval_s: float):
    """Built on every page load, so a new visitor sees the current data version."""

    def layout() -> html.Div:
        page = html.Div(
            [
                dcc.Location(id=ids.URL, refresh=False),
                dcc.Store(id=ids.SELECTION),
                dcc.Store(id=ids.ADDRESS),
                dcc.Store(id=ids.PUSHED_ADDRESS),
                dcc.Store(id=ids.DATA_VERSION, data=source.version()),
                *tabs.stores(),
                dcc.Interval(
                    id=ids.REFRESH,
                    interval=max(refresh_interval_s, 0.2) * 1000,
                    disabled=refresh_interval_s <= 0,
                ),
                header.layout(),
                dbc.Container(
                    fluid=True,
                    className="carbonboard-main pb-5",
                    children=[
                        dbc.Alert(
                            id=ids.URL_NOTICE, color="warning", is_open=False, dismissable=True
                        ),
                        dbc.Alert(
                            id=ids.ERROR_NOTICE, color="danger", is_open=False, dismissable=True
                        ),
                        dbc.Alert(
                            [
                                html.H2("No runs yet", className="h5"),
                                html.P(
                                    "The emissions file is empty or holds only a header. Runs "
                                    "appear here as soon as the tracker writes them.",
                                    className="mb-0",
                                ),
                            ],
                            id=ids.EMPTY_STATE,
                            color="info",
                            is_open=False,
                        ),
                        *(module.layout() for module in ABOVE_TABS),
                        _tabs(),
                    ],
                ),
                html.Footer(
                    f"carbonboard {__version__}",
                    className="text-center text-body-secondary small py-3 border-top",
                ),
            ]
        )
        # What does not depend on the address comes with the page: no callback for it.
        first: dict[str, dict[str, object]] = {}

        def add(props: dict[str, dict[str, object]]) -> None:
            for component_id, values in props.items():
                first.setdefault(component_id, {}).update(values)

        add({ids.EMPTY_STATE: {"is_open": source.describe().runs == 0}})
        for module in FIRST_VIEW_MODULES:
            add(module.first_view(source))
        if _opened_at_default_address():
            default = Selection().to_dict()
            add({ids.SELECTION: {"data": default}, ids.OVERVIEW_TAB_SELECTION: {"data": default}})
            for module in DEFAULT_ADDRESS_MODULES:
                add(module.first_view(source))
        set_first_props(page, first)
        return page

    return layout


def _opened_at_default_address() -> bool:
    """Whether the page asking for its layout was opened at an address without a query. The
    renderer asks for the layout from that page, which the request names as its ``Referer``;
    without one the default is assumed (a page opened elsewhere is then drawn once more, by its
    callbacks, for its address)."""
    if not flask.has_request_context():
        return True
    return not urlsplit(flask.request.referrer or "").query


def _tabs() -> dcc.Tabs:
    """The views below the filters; dcc.Tabs mounts only the open one."""
    return dcc.Tabs(
        id=ids.VIEW_TABS,
        value=ids.TAB_OVERVIEW,
        className="carbonboard-tabs",
        parent_className="carbonboard-tabs-parent mb-3",
        content_className="carbonboard-tab-content pt-3",
        children=[
            dcc.Tab(
                label=label,
                value=value,
                id=f"{ids.VIEW_TABS}-{value}",
                className="carbonboard-tab",
                selected_className="carbonboard-tab--selected",
                children=[module.layout() for module in modules],
            )
            for value, label, modules in TABS
        ],
    )


def create_app(
    source: RunSource,
    *,
    refresh_interval_s: float = 5.0,
    debug: bool = False,
    host: str = LOOPBACK_HOST,
    allowed_hosts: Iterable[str] = (),
    budgets: Sequence[Budget] = (),
) -> Dash:
    """The dashboard over ``source`` (e.g. ``HistoryStore.from_arguments(filepaths)`` for CSV
    files, directories and globs, the latter two watched for new files).

    ``refresh_interval_s``: how often open pages poll ``source.version()`` for new data (0
    disables). ``debug`` turns on Dash's dev-tools UI in the browser and verbose logging; it
    never enables the Werkzeug debugger. Requests must name in their ``Host`` header a loopback
    name, ``host`` (the interface the server binds) or one of ``allowed_hosts``; see
    ``carbonboard.web_security``. ``budgets``: drawn as burn-downs in the efficiency tab.
    """
    source.version()  # load now: the first page must not wait for it
    app = _DashboardDash(
        __name__,
        title="carbonboard",
        update_title=None,
        assets_folder=str(assets_dir()),
        assets_path_ignore=["^src$"],  # build recipes, not page scripts
        assets_ignore=page_scripts.ASSETS_NOT_IN_PAGE,  # loaded when a chart is first drawn
        serve_locally=True,
        external_stylesheets=[],
        external_scripts=[],
        on_error=_on_error,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = _page_layout(source, refresh_interval_s)
    app.server.config[efficiency.BUDGETS_CONFIG] = tuple(budgets)
    for module in SECTION_MODULES:
        module.register_callbacks(app, source)
    tabs.register_callbacks(app)
    requests = idle.Requests()
    app.server.before_request(requests.started)
    app.server.teardown_request(lambda _error: requests.finished())
    # plotly.js compressed ahead, off the request path (the first page's charts wait for it),
    # once the server has answered and is quiet; then the views worked out ahead
    preparer = idle.Preparer(source, requests, once=[_compress_plotly], views=PREPARED_VIEWS)
    preparer.schedule()
    _register_refresh(app, source, preparer)
    page_scripts.serve_plotly_bundle(app.server)
    app.server.after_request(_compress)
    if debug:  # without pruning, Dash installs no error page of its own (a debugger page)
        app.enable_dev_tools(debug=True, dev_tools_hot_reload=False, dev_tools_prune_errors=False)
    web_security.secure(app, web_security.allowed_hosts(host, allowed_hosts))
    return app


def _register_refresh(app: Dash, source: RunSource, preparer: idle.Preparer) -> None:
    """Poll the source; only a new version triggers recomputation downstream (and the projects'
    views are worked out again while the board is quiet)."""

    @app.callback(
        Output(ids.DATA_VERSION, "data"),
        Input(ids.REFRESH, "n_intervals"),
        State(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,
    )
    def poll(_ticks: int, shown: int | None) -> int:
        version = source.version()
        if version == shown:
            raise PreventUpdate
        preparer.schedule()
        return version

    @app.callback(
        Output(ids.EMPTY_STATE, "is_open"),
        Input(ids.DATA_VERSION, "data"),
        prevent_initial_call=True,  # the page comes with it
    )
    def empty_state(_version: int | None) -> bool:
        return source.describe().runs == 0
