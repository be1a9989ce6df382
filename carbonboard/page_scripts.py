"""Which scripts the first page waits for: the big bundles load only when something needs them.

A first load is mostly the browser compiling scripts. Two bundles are not needed to draw the
first view, so the page does not start with them:

* plotly.js (our partial bundle, 1.4 MB) is loaded by ``dcc.Graph`` itself, asynchronously, the
  first time a chart is drawn: Dash's graph component fetches plotly from
  :data:`GRAPH_PLOTLY_PATH` when ``window.Plotly`` is missing, and the app answers that path with
  our bundle (see :func:`serve_plotly_bundle`), never plotly's full one. The page's other work
  (its layout, the first callbacks) goes on while the browser compiles it.
* The runs grid's library (dash-ag-grid, 1 MB) is in :data:`DEFERRED_LIBRARIES`: its script tag
  is taken out of the page and ``assets/deferred-components.js`` stands in for its components
  until a grid is first drawn (opening the runs tab), when it loads the real script.
"""

from __future__ import annotations

import json
import re

import flask

from carbonboard.assets_path import PLOTLY_BUNDLE, assets_dir

# Component libraries loaded only when one of their components is drawn (or one of their
# functions called, e.g. by a clientside callback): namespace -> what stands in for them.
DEFERRED_LIBRARIES: dict[str, dict[str, list[str]]] = {
    "dash_ag_grid": {"components": ["AgGrid"], "functions": ["getApiAsync"]},
}
# Where dcc.Graph loads plotly.js from when the page has none (served locally, no fingerprint).
GRAPH_PLOTLY_PATH = "/_dash-component-suites/plotly/package_data/plotly.min.js"
# Scripts the first view is sure to need that the page asks for only once its layout is drawn
# (dcc's lazy parts for the graphs and dropdowns): fetched from the start instead,
# so they are in the browser's cache when asked for. (Not plotly.js: a preload only fetches, and
# fetching it is quick; compiling it, which takes long, starts when the first graph asks for it
# either way.)
PRELOADED = (
    "_dash-component-suites/dash/dcc/async-graph.js",
    "_dash-component-suites/dash/dcc/async-dropdown.js",
)
# The renderer's first two requests, which it makes only once the page's scripts have run: asked
# for with the page instead, so the server works out the layout (with the first view's figures)
# while the browser compiles the scripts. The renderer's own requests take the preloaded answers
# (same address, mode and credentials): each is asked for once.
PRELOADED_DATA = ("_dash-layout", "_dash-dependencies")
# Scripts Dash lists that the page never needs: @babel/polyfill (ES2015+ for browsers that
# predate it: 130 ms of a first load's main thread on a small machine; the one part of it Dash's
# own scripts use, the generator runtime ``regeneratorRuntime``, dash-bootstrap-components'
# bundle defines as well) and dash_table's bundle (carbonboard draws no DataTable).
UNUSED_SCRIPTS = re.compile(r"/dash/deps/polyfill@|/dash/dash_table/")
# The element holding the deferred libraries' script addresses, read by deferred-components.js.
DEFERRED_CONFIG_ID = "carbonboard-deferred-scripts"
# Page scripts Dash would list from the assets folder that the page must not load eagerly.
ASSETS_NOT_IN_PAGE = re.escape(PLOTLY_BUNDLE)

_SCRIPT_TAG = re.compile(r'<script src="(?P<src>[^"]+)"></script>\s*')


def defer_libraries(scripts_html: str) -> str:
    """The page's ``<script>`` tags without those of :data:`DEFERRED_LIBRARIES` and
    :data:`UNUSED_SCRIPTS`, and a JSON element saying, for each deferred library, its scripts
    and what stands in for it."""
    deferred: dict[str, dict[str, list[str]]] = {}

    def take_out(match: re.Match[str]) -> str:
        src = match["src"]
        if UNUSED_SCRIPTS.search(src):
            return ""
        for namespace, stand_ins in DEFERRED_LIBRARIES.items():
            if f"/_dash-component-suites/{namespace}/" in src:
                library = deferred.setdefault(namespace, {"scripts": [], **stand_ins})
                library["scripts"].append(src)
                return ""
        return match[0]

    kept = _SCRIPT_TAG.sub(take_out, scripts_html)
    # JSON inside a script element: "</" must not close it early
    config = json.dumps(deferred).replace("</", "<\\/")
    return f'<script id="{DEFERRED_CONFIG_ID}" type="application/json">{config}</script>\n{kept}'


def preload_links(path_prefix: str) -> str:
    """``<link rel="preload">`` tags for :data:`PRELOADED_DATA` and :data:`PRELOADED`, under the
    app's ``path_prefix``."""
    data = "".join(
        f'<link rel="preload" href="{path_prefix}{path}" as="fetch" crossorigin="anonymous">\n'
        for path in PRELOADED_DATA
    )
    return data + "".join(
        f'<link rel="preload" href="{path_prefix}{path}" as="script">\n' for path in PRELOADED
    )


def serve_plotly_bundle(server: flask.Flask) -> None:
    """Answer :data:`GRAPH_PLOTLY_PATH` with our partial plotly.js bundle. The address has no
    fingerprint, so the browser revalidates its copy (a 304 when unchanged)."""

    def plotly_bundle() -> flask.Response:
        return flask.send_from_directory(
            assets_dir(), PLOTLY_BUNDLE, mimetype="application/javascript", max_age=0
        )

    server.add_url_rule(GRAPH_PLOTLY_PATH, "carbonboard_plotly_bundle", plotly_bundle)
