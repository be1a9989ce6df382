"""One plotly template that matches the page's Bootstrap 5.3 theme, registered on import.

Figures use ``template=PLOTLY_TEMPLATE`` so charts, exported images and the page share fonts and
colours; the font is the system stack (no web font is downloaded). Every colour a chart uses is
here. The dark theme repaints the charts' background, text and grid in the browser
(``assets/export.js``, from ``BACKGROUNDS["dark"]``) but not their data, so each data colour
must read on both backgrounds (the tests check the contrast).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.io as pio

PLOTLY_TEMPLATE = "carbonboard"
FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", '
    '"Liberation Sans", Arial, sans-serif'
)
# The chart background of each page theme: Bootstrap's --bs-body-bg, light and dark.
BACKGROUNDS = {"light": "#ffffff", "dark": "#212529"}
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
# The selection's own place in every comparison (bars, the star on the map, the dashed line at
# its emissions): Bootstrap pink, at least 3:1 against both backgrounds, and no other series'.
HIGHLIGHT_COLOR = "#d63384"
NEUTRAL_COLOR = "#9aa5b1"  # the other places, when no provider colour applies
RANKING_COLORS = {"cleanest": "#198754", "yours": HIGHLIGHT_COLOR, "dirtiest": "#8c564b"}
PROVIDER_COLORS = {"aws": "#ff9900", "gcp": "#4285f4", "azure": "#17becf"}
MIX_COLORS = {  # generation sources, in the colours energy statistics usually give them
    "coal": "#6c757d",
    "gas": "#f28e2b",
    "oil": "#8c564b",
    "nuclear": "#9467bd",
    "hydro": "#1f77b4",
    "wind": "#76b7e5",
    "solar": "#f2c80f",
    "other_renewables": "#59a14f",
}
MAP_BORDER_COLOR = "#ffffff"  # country outlines and the star's rim, drawn over the map's fills
# Bootstrap contextual colour of each run status, for badges.
STATUS_BADGE = {
    "finished": "success",
    "running": "primary",
    "interrupted": "warning",
    "crashed": "danger",
}


# The charts' margins. Wide enough for a number axis with its title, and a title under the x
# axis: plotly widens a margin its labels do not fit in (automargin), but only by drawing the
# chart a second time, which a first load pays for each chart.
MARGIN = {"l": 64, "r": 16, "t": 36, "b": 48}
LABEL_CHAR_PX = 7.5  # a generous mean width of one character of a 13 px tick label
LABEL_PAD_PX = 24  # the tick, the label's standoff and the chart's edge


def category_margin(labels: Sequence[str], least: int = MARGIN["l"]) -> int:
    """A left margin, in pixels, that the category labels of a horizontal bar chart fit in,
    from their length: automargin then has nothing to widen and draws the chart once. Wider
    characters than most (CJK) still fit, by automargin's second drawing."""
    longest = max((len(label) for label in labels), default=0)
    return max(least, math.ceil(longest * LABEL_CHAR_PX) + LABEL_PAD_PX)


def _axis() -> dict:
    return {
        "gridcolor": GRID_COLOR,
        "linecolor": BORDER_COLOR,
        "zerolinecolor": BORDER_COLOR,
        "tickcolor": BORDER_COLOR,
        "title": {"font": {"color": MUTED_COLOR}},
        "automargin": True,
        # plotly's default on number and date axes ("hide past div") measures every tick label
        # again for each label it places: a third of a first page's chart drawing. The margins
        # (automargin) keep labels inside the chart.
        "ticklabeloverflow": "allow",
    }


def build_template() -> go.layout.Template:
    """The template: Bootstrap body colours and fonts, light grid, no chart-studio links."""
    return go.layout.Template(
        layout={
            "font": {"family": FONT_FAMILY, "color": BODY_COLOR, "size": 13},
            "colorway": list(COLORWAY),
            "paper_bgcolor": BACKGROUNDS["light"],
            "plot_bgcolor": BACKGROUNDS["light"],
            "xaxis": _axis(),
            "yaxis": _axis(),
            "margin": dict(MARGIN),
            "hoverlabel": {"font": {"family": FONT_FAMILY}},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
            "title": {"font": {"size": 15}, "x": 0, "xanchor": "left"},
            "geo": {
                "bgcolor": BACKGROUNDS["light"],
                "lakecolor": BACKGROUNDS["light"],
                "landcolor": "#f8f9fa",
            },
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


def placeholder_figure(message: str = "") -> go.Figure:
    """An empty figure (no axes) with an optional centred message."""
    layout = {"height": 300, "xaxis": {"visible": False}, "yaxis": {"visible": False}}
    if message:
        note = {"text": message, "showarrow": False, "font": {"color": MUTED_COLOR}}
        layout["annotations"] = [note]
    return themed_figure([], layout)
