"""One plotly template that matches the page's Bootstrap 5.3 theme, registered on import.

Figures use ``template=PLOTLY_TEMPLATE`` so charts, exported images and the page share fonts and
colours; the font is the system stack (no web font is downloaded).
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

PLOTLY_TEMPLATE = "carbonboard"
FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", '
    '"Liberation Sans", Arial, sans-serif'
)
BODY_COLOR = "#212529"  # Bootstrap --bs-body-color
MUTED_COLOR = "#6c757d"  # --bs-secondary-color
BORDER_COLOR = "#dee2e6"  # --bs-border-color
GRID_COLOR = "#e9ecef"  # --bs-gray-200
# Bootstrap's named colours, in an order that keeps neighbouring series distinguishable.
COLORWAY = (
    "#0d6efd",  # blue (primary)
    "#198754",  # green (success)
    "#fd7e14",  # orange
    "#6f42c1",  # purple
    "#20c997",  # teal
    "#dc3545",  # red
    "#ffc107",  # yellow
    "#0dcaf0",  # cyan
    "#d63384",  # pink
    "#6c757d",  # gray
)
COMPONENT_COLORS = {"CPU": "#0d6efd", "GPU": "#198754", "RAM": "#fd7e14"}
# Bootstrap contextual colour of each run status, for badges.
STATUS_BADGE = {
    "finished": "success",
    "running": "primary",
    "interrupted": "warning",
    "crashed": "danger",
}


def _axis() -> dict:
    return {
        "gridcolor": GRID_COLOR,
        "linecolor": BORDER_COLOR,
        "zerolinecolor": BORDER_COLOR,
        "tickcolor": BORDER_COLOR,
        "title": {"font": {"color": MUTED_COLOR}},
        "automargin": True,
    }


def build_template() -> go.layout.Template:
    """The template: Bootstrap body colours and fonts, light grid, no chart-studio links."""
    return go.layout.Template(
        layout={
            "font": {"family": FONT_FAMILY, "color": BODY_COLOR, "size": 13},
            "colorway": list(COLORWAY),
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "xaxis": _axis(),
            "yaxis": _axis(),
            "margin": {"l": 48, "r": 16, "t": 36, "b": 40},
            "hoverlabel": {"font": {"family": FONT_FAMILY}},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
            "title": {"font": {"size": 15}, "x": 0, "xanchor": "left"},
            "geo": {"bgcolor": "#ffffff", "lakecolor": "#ffffff", "landcolor": "#f8f9fa"},
        }
    )


pio.templates[PLOTLY_TEMPLATE] = build_template()


def themed_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure in the app's template from plain plotly dicts, without plotly.py's property-by-
    property validation.

    Validation costs milliseconds per trace on every request (the regional tab's five charts took
    50 ms with it, 20 ms without); the figure tests validate each builder's output strictly
    instead, so a wrong property name still fails, in the test suite rather than in production.
    """
    spec = {"data": data, "layout": {"template": pio.templates[PLOTLY_TEMPLATE], **layout}}
    # ``_validate`` is how plotly.py itself loads its templates; were it ever removed, every
    # figure would fail at once, in the first test that draws one.
    return go.Figure(spec, _validate=False)
