"""The tabs below the filters: a tab's sections compute only while it is open.

dcc.Tabs draws only the open tab. Each tab's sections read the selection from a store of their
own (``TAB_SELECTIONS``) that a clientside callback fills only while that tab is open, so a
filter change sends requests for the open tab only (the server's time goes to what is seen),
and opening a tab brings its sections up to date.
"""

from __future__ import annotations

import json

from dash import Dash, Input, Output, dcc

from carbonboard import ids

TAB_SELECTIONS = {
    ids.TAB_OVERVIEW: ids.OVERVIEW_TAB_SELECTION,
    ids.TAB_RUNS: ids.RUNS_TAB_SELECTION,
    ids.TAB_REGIONAL: ids.REGIONAL_TAB_SELECTION,
    ids.TAB_EFFICIENCY: ids.EFFICIENCY_TAB_SELECTION,
}

# One callback for every tab (each Dash callback costs the page its own round of work): the
# selection goes to the open tab's store only. A null selection: the URL has not been read yet.
FORWARD_TO_OPEN_TAB = """function (selection, tab) {
    const open = tab || %(default)s;
    const tabs = %(tabs)s;
    const noUpdate = window.dash_clientside.no_update;
    return tabs.map(name => (selection && name === open ? selection : noUpdate));
}"""


def stores() -> list[dcc.Store]:
    """The tabs' selection stores, for the page layout."""
    return [dcc.Store(id=store_id) for store_id in TAB_SELECTIONS.values()]


def register_callbacks(app: Dash) -> None:
    """Forward the selection to the open tab's store."""
    app.clientside_callback(
        FORWARD_TO_OPEN_TAB
        % {"default": json.dumps(ids.TAB_OVERVIEW), "tabs": json.dumps(list(TAB_SELECTIONS))},
        [Output(store_id, "data") for store_id in TAB_SELECTIONS.values()],
        Input(ids.SELECTION, "data"),
        Input(ids.VIEW_TABS, "value"),
        # A page comes either with its open tab's store filled (the default address: see
        # app.DEFAULT_ADDRESS_MODULES) or without a selection yet: nothing to forward on load.
        prevent_initial_call=True,
    )
