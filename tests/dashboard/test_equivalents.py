"""Equivalents whose numbers read well: smaller units before long decimals, "less than 1 m"."""

from __future__ import annotations

import pytest

from carbonboard.equivalents import equivalents


def texts(emissions_kg: float, unit: str = "km") -> dict[str, str]:
    return {e.factor.key: e.text for e in equivalents(emissions_kg, unit)}


def test_a_small_distance_steps_down_to_metres_and_feet() -> None:
    small = texts(0.1066 * 0.00105)  # 1.05 m of driving
    assert small["car_distance"] == "1.05 m driven by an average new car"
    feet = {e.factor.key: e for e in equivalents(0.1066 * 1.609344 / 5280 * 3, "mi")}
    assert feet["car_distance"].text == "3 ft driven by an average new car"
    assert feet["car_distance"].shown == (pytest.approx(3.0), "ft")


def test_streaming_steps_down_to_minutes_and_seconds() -> None:
    assert texts(0.036 / 4)["streaming_hours"] == "15 minutes of video streaming"
    assert texts(0.036 / 3600 * 30)["streaming_hours"] == "30 seconds of video streaming"


def test_numbers_that_read_badly_are_left_out() -> None:
    shown = texts(0.0001)  # 0.94 m, 0.0081 charges, 10 s, 2e-6 %, 0.0002 tree-months
    assert set(shown) == {"car_distance", "streaming_hours"}
    assert all("e-" not in text and "0.00" not in text for text in shown.values())
    assert len(texts(1.066)) == 4  # the household share, 0.0222 %, reads badly
    assert "household_electricity_years" in texts(106.6)  # 2.22 %


def test_a_tiny_figure_says_less_than_1_m() -> None:
    assert texts(9.05e-7) == {"car_distance": "less than 1 m driven by an average new car"}
    assert texts(9.05e-7, "mi") == {"car_distance": "less than 1 ft driven by an average new car"}
