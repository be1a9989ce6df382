"""The shared component helpers: first-view props set in one walk through a layout."""

from __future__ import annotations

import pytest
from dash import dcc, html

from carbonboard.components import set_first_props


def test_first_props_reach_every_named_component_however_deep() -> None:
    layout = html.Div(
        [
            dcc.Store(id="store"),
            html.Section(html.Div([html.Span(id="deep"), html.Span(id="untouched")])),
        ],
        id="page",
    )
    set_first_props(
        layout,
        {"store": {"data": {"a": 1}}, "deep": {"children": "42", "title": "whole"}, "page": {}},
    )
    assert layout["store"].data == {"a": 1}
    assert (layout["deep"].children, layout["deep"].title) == ("42", "whole")
    assert getattr(layout["untouched"], "children", None) is None


def test_an_id_the_layout_lacks_is_an_error_not_a_silent_miss() -> None:
    layout = html.Div([html.Span(id="here")])
    with pytest.raises(KeyError, match="nowhere"):
        set_first_props(layout, {"here": {"children": "x"}, "nowhere": {"children": "y"}})
