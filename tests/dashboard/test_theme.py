"""Chart colours: all from the theme, and readable on the light and the dark page alike (the dark
theme repaints a chart's background, not its data)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from carbonboard import theme
from carbonboard.assets_path import assets_dir
from carbonboard.regional import baseline as rbase
from carbonboard.regional import figures as rfig
from carbonboard.regional import tables as rtab

from .conftest import run_row

# WCAG 2.1, success criterion 1.4.11: a mark that carries meaning by its colour alone needs 3:1
# against what surrounds it. Other series are named by their axis or legend, and must only not
# fade into the page.
MEANINGFUL_CONTRAST = 3.0
VISIBLE_CONTRAST = 1.5
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_is_the_wcag_ratio() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#212529", "#212529") == pytest.approx(1.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("background", sorted(theme.BACKGROUNDS))
def test_your_runs_stand_out_in_both_themes(background) -> None:
    """The highlight once equalled the dark background: "your runs" and the dashed line at
    their emissions vanished from the regional charts."""
    page = theme.BACKGROUNDS[background]
    assert contrast(theme.HIGHLIGHT_COLOR, page) >= MEANINGFUL_CONTRAST
    assert theme.RANKING_COLORS["yours"] == theme.HIGHLIGHT_COLOR


SERIES = {
    **{f"colorway {i}": color for i, color in enumerate(theme.COLORWAY)},
    **{f"component {k}": v for k, v in theme.COMPONENT_COLORS.items()},
    **{f"mix {k}": v for k, v in theme.MIX_COLORS.items()},
    **{f"provider {k}": v for k, v in theme.PROVIDER_COLORS.items()},
    **{f"ranking {k}": v for k, v in theme.RANKING_COLORS.items()},
    "neutral": theme.NEUTRAL_COLOR,
}


@pytest.mark.parametrize("background", sorted(theme.BACKGROUNDS))
@pytest.mark.parametrize("series", sorted(SERIES))
def test_every_series_colour_shows_on_both_backgrounds(series, background) -> None:
    assert contrast(SERIES[series], theme.BACKGROUNDS[background]) >= VISIBLE_CONTRAST


def test_the_highlight_is_no_other_series_colour_of_the_comparisons() -> None:
    others = {
        *theme.PROVIDER_COLORS.values(),
        theme.NEUTRAL_COLOR,
        theme.RANKING_COLORS["cleanest"],
        theme.RANKING_COLORS["dirtiest"],
    }
    assert theme.HIGHLIGHT_COLOR not in others


def test_the_browsers_dark_theme_paints_the_background_the_theme_names() -> None:
    script = (assets_dir() / "export.js").read_text(encoding="utf-8")
    dark = re.search(r"const DARK = (\{[^}]*\})", script).group(1)
    palette = json.loads(re.sub(r"(\w+):", r'"\1":', dark))
    assert palette["paper"] == theme.BACKGROUNDS["dark"]
    assert contrast(palette["font"], palette["paper"]) >= 4.5  # text, WCAG 1.4.3


def regional_figures() -> dict:
    """The regional charts of a cloud run in California: own state, own region, own grid."""
    runs = pd.DataFrame(
        [
            run_row(
                country=("United States", "USA"),
                region="california",
                cloud_provider="gcp",
                cloud_region="us-west2",
            )
        ]
    )
    for column in ("energy_consumed", "emissions", "pue"):
        runs[column] = pd.to_numeric(runs[column])
    base = rbase.baseline(runs)
    countries = rtab.country_table()
    return {
        "ranking": rfig.ranking_figure(rtab.country_ranking(base, countries)),
        "subnational": rfig.subnational_figure(
            rtab.subnational_comparison(base, rtab.subnational_table(), "USA"), base
        ),
        "cloud": rfig.cloud_figure(rtab.cloud_comparison(base, rtab.cloud_table()), base),
        "map": rfig.world_map_figure(base, countries),
        "mix": rfig.energy_mix_figure(countries, ["USA", "FRA"]),
    }


@pytest.mark.parametrize("name", ["ranking", "subnational", "cloud", "map", "mix"])
def test_regional_charts_take_every_colour_from_the_theme(name) -> None:
    figure = regional_figures()[name]
    spec = figure.to_plotly_json()
    spec["layout"].pop("template")
    used = set(HEX.findall(json.dumps(spec, default=str)))
    palette = {
        theme.HIGHLIGHT_COLOR,
        theme.NEUTRAL_COLOR,
        theme.MAP_BORDER_COLOR,
        *theme.RANKING_COLORS.values(),
        *theme.PROVIDER_COLORS.values(),
        *theme.MIX_COLORS.values(),
    }
    assert used <= palette, used - palette
    if name != "mix":  # the selection is marked, in the highlight
        assert theme.HIGHLIGHT_COLOR in used


@pytest.mark.parametrize("name", ["subnational", "cloud"])
def test_the_dashed_line_at_your_emissions_is_the_highlight(name) -> None:
    figure = regional_figures()[name]
    (line,) = figure.layout.shapes
    assert line.line.dash == "dash" and line.line.color == theme.HIGHLIGHT_COLOR


def test_every_axis_lets_its_tick_labels_be_placed_once() -> None:
    """plotly's default overflow rule on number and date axes measures every tick label again for
    each label placed; the template turns it off, and keeps the margins fitting the labels."""
    layout = theme.build_template().layout
    assert layout.xaxis.ticklabeloverflow == layout.yaxis.ticklabeloverflow == "allow"
    assert layout.xaxis.automargin and layout.yaxis.automargin


def test_a_category_margin_grows_with_the_longest_label_from_the_least_given() -> None:
    short, long = ["a", "bb"], ["a", "x" * 40]
    assert theme.category_margin([]) == theme.category_margin(short) == theme.MARGIN["l"]
    assert theme.category_margin(short, least=10) < theme.MARGIN["l"]
    assert theme.category_margin(long) >= 40 * theme.LABEL_CHAR_PX
