"""Adaptive units: readable numbers, never a misleading zero."""

from __future__ import annotations

import math

import pytest

from carbonboard.formatting import (
    ELLIPSIS,
    LABEL_MAX_CHARS,
    distinct_labels,
    format_count,
    format_duration_s,
    format_energy_kwh,
    format_intensity,
    format_mass_kg,
    format_power_w,
    is_cut,
    plot_escape,
    plot_labels,
    plot_text,
    short_label,
    significant,
)


@pytest.mark.parametrize(
    ("kg", "text"),
    [
        (2_500.0, "2.5 t CO₂eq"),
        (12.345, "12.3 kg CO₂eq"),
        (1.0, "1 kg CO₂eq"),
        (0.0123, "12.3 g CO₂eq"),
        (0.000_456, "456 mg CO₂eq"),
        (2e-9, "0.002 mg CO₂eq"),
        (0.0, "0 mg CO₂eq"),
    ],
)
def test_mass_picks_a_readable_unit(kg: float, text: str) -> None:
    assert format_mass_kg(kg) == text


def test_a_real_run_never_shows_zero() -> None:
    for kg in (1e-12, 3.7e-7, 4.2e-5, 0.049):
        assert not format_mass_kg(kg).startswith("0 ")
        assert "0.0 " not in format_mass_kg(kg)


@pytest.mark.parametrize(
    ("kwh", "text"),
    [(0.000_5, "500 mWh"), (0.34, "340 Wh"), (5.0, "5 kWh"), (1234.0, "1.23 MWh"), (3e6, "3 GWh")],
)
def test_energy_units(kwh: float, text: str) -> None:
    assert format_energy_kwh(kwh) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(12.0, "12 s"), (90.0, "1.5 min"), (3 * 3600.0, "3 h"), (86400.0 * 4.25, "4.25 days")],
)
def test_duration_units(seconds: float, text: str) -> None:
    assert format_duration_s(seconds) == text


def test_missing_values_show_a_dash() -> None:
    for formatter in (format_mass_kg, format_energy_kwh, format_duration_s, format_power_w):
        assert formatter(None) == "–"
        assert formatter(math.nan) == "–"
    assert format_intensity(None) == "–"


def test_other_formats() -> None:
    assert format_count(1234567) == "1,234,567"
    assert format_power_w(250.0) == "250 W"
    assert format_power_w(2500.0) == "2.5 kW"
    assert format_intensity(56.04) == "56 gCO₂e/kWh"
    assert significant(123456.0) == "123,456"
    assert significant(-0.00123) == "-0.00123"


def test_short_label_cuts_long_names_and_keeps_short_ones_whole() -> None:
    exact = "x" * LABEL_MAX_CHARS
    assert short_label(exact) == exact and not is_cut(exact)
    long = "é" * (10 * 1024)  # characters, not bytes, are counted
    assert short_label(long) == "é" * LABEL_MAX_CHARS + ELLIPSIS and is_cut(long)
    assert len(short_label("a" * 1_000_000)) == LABEL_MAX_CHARS + 1
    assert short_label("nlp-bert · bert-base", 8) == "nlp-bert…"
    assert short_label(None) == "" and not is_cut(None)
    assert short_label(42) == "42"


def test_distinct_names_keep_distinct_labels() -> None:
    """Two long names that share their first characters stay two bars, not one."""
    first, second = "p" * 200 + "-one", "p" * 200 + "-two"
    labels = distinct_labels([first, "short", second, first])
    assert labels == [short_label(first), "short", short_label(first) + " (2)", labels[0]]
    assert distinct_labels(["a", "a"]) == ["a", "a"]  # one name is one category, as before


def test_plot_text_is_plain_text_for_plotly() -> None:
    """plotly.js reads tags in every text; escaped, they are drawn as written."""
    hostile = '<a href="https://attacker.example/">x</a> & <br>'
    assert (
        plot_escape(hostile)
        == '&lt;a href="https://attacker.example/"&gt;x&lt;/a&gt; &amp; &lt;br&gt;'
    )
    assert "<" not in plot_text(hostile * 100) and plot_text(hostile * 100).endswith(ELLIPSIS)
    assert plot_labels([hostile, "ok"]) == [plot_escape(hostile), "ok"]
