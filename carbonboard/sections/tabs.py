"""The tabs below the filters: a tab's sections compute only while it is open.

dcc.Tabs draws only the open tab. Each tab's sections read the selection from a store of their
own (``TAB_SELECTIONS``) that a clientside callback fills only while that tab is open, so a
filter change sends requests for the open tab only (the server's time goes to what is seen),
and opening a tab brings its sections up to date.
"""

from __future__ import annotations

from dash import Dash, Input, Output, dcc

from carbonboard import ids

TAB_SELECTIONS = {
    ids.TAB_OVERVIEW: ids.OVERVIEW_TAB_SELECTION,
    ids.TAB_RUNS: ids.RUNS_TAB_SELECTION,
    ids.TAB_REGIONAL: ids.REGIONAL_TAB_SELECTION,
    ids.TAB_EFFICIENCY: ids.EFFICIENCY_TAB_SELECTION,
}

# A null selection: the URL has not been read yet (the filters callback always sets one).
FORWARD_WHEN_OPEN = """function (selection, tab) {
    if (!selection || (tab || "%s") !== "%s") {
        return window.dash_clientside.no_update;
    }
    return selection;
}"""


def stores() -> list[dcc.Store]:
    """The tabs' selection stores, for the page layout."""
    return [dcc.Store(id=store_id) for store_id in TAB_SELECTIONS.values()]


def register_callbacks(app: Dash) -> None:
    """Forward the selection to each tab's store while that tab is open."""
    for tab, store_id in TAB_SELECTIONS.items():
        app.clientside_callback(
            FORWARD_WHEN_OPEN % (ids.TAB_OVERVIEW, tab),
            Output(store_id, "data"),
            Input(ids.SELECTION, "data"),
            Input(ids.VIEW_TABS, "value"),
        )
