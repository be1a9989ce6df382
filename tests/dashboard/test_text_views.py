"""The text components (``carbonboard.text_views``) and the overview parts drawn with them: data
in, text out, never markup."""

from __future__ import annotations

import pandas as pd
import pytest

from carbonboard.components import section_card, totals_cards
from carbonboard.data.aggregate import Totals
from carbonboard.sections.equivalents import equivalent_lines
from carbonboard.sections.project import LOCATIONS_SHOWN, last_run_lines, location_rows
from carbonboard.text_views import NAMESPACE, StatCards, TextLines, TextTable, span, stat


def test_a_span_carries_only_what_it_is_given() -> None:
    assert span("x") == {"text": "x"}
    assert span("x", "small", "tip") == {"text": "x", "className": "small", "title": "tip"}


def test_the_components_take_only_their_props_and_serialise_as_data() -> None:
    table = TextTable(id="t", columns=["a"], rows=[[span("<b>1</b>")]], empty="none")
    assert table.to_plotly_json() == {
        "props": {"id": "t", "columns": ["a"], "rows": [[{"text": "<b>1</b>"}]], "empty": "none"},
        "type": "TextTable",
        "namespace": NAMESPACE,
    }
    with pytest.raises(TypeError, match="no prop"):
        TextLines(id="l", children="markup is not a prop")


def test_a_row_of_cards_is_one_component_with_each_value_named() -> None:
    cards = totals_cards(
        Totals(energy_kwh=1200.0, emissions_kg=2.5, runs=42, duration_s=7200.0),
        ("e", "k", "r", "d"),
    )
    assert cards == [
        stat("Emissions", "e", "2.5 kg CO₂eq"),
        stat("Energy", "k", "1.2 MWh"),
        stat("Runs", "r", "42"),
        stat("Compute time", "d", "2 h"),
    ]
    assert [c["value"] for c in totals_cards(None, ("e", "k", "r", "d"))] == ["–"] * 4
    row = StatCards(id="row", cards=cards, className="g-3")
    assert row.to_plotly_json()["props"] == {"id": "row", "cards": cards, "className": "g-3"}


def test_a_section_card_is_one_component_around_its_children() -> None:
    inside = TextLines(id="inside")
    card = section_card("Last run", inside)
    assert card.to_plotly_json()["props"] == {"title": "Last run", "children": [inside]}
    assert card["inside"] is inside  # its children are the layout's, found by id
    with pytest.raises(TypeError, match="no prop"):
        section_card("x").__class__(title="x", style={"color": "red"})


def places(count: int) -> pd.DataFrame:
    """``count`` places as ``aggregate.locations`` gives them; the first with a region and a
    cited intensity source."""
    return pd.DataFrame(
        {
            "country": [f"Country {i}" for i in range(count)],
            "region": ["Region" if i == 0 else "" for i in range(count)],
            "cloud": [""] * count,
            "intensity_g_per_kwh": [100.0 + i for i in range(count)],
            "intensity_source": ["eGRID" if i == 0 else "" for i in range(count)],
            "intensity_year": ["2023" if i == 0 else "" for i in range(count)],
            "runs": [3] * count,
            "energy_kwh": [1.5] * count,
        }
    )


def test_the_location_rows_show_the_first_places_and_say_how_many_more() -> None:
    rows, note = location_rows(places(LOCATIONS_SHOWN + 3))
    assert len(rows) == LOCATIONS_SHOWN and note == "… and 3 more places"
    assert rows[0] == [
        "Country 0, Region",
        "100 gCO₂e/kWh",
        {"text": "eGRID (2023)", "className": "small"},
        "3",
        "1.5 kWh",
    ]
    assert rows[1][2] == {"text": "not recorded", "className": "small"}
    assert location_rows(places(2))[1] == ""
    assert location_rows(places(0)) == ([], "")


def test_the_last_run_lines_say_when_status_names_id_and_totals() -> None:
    run = pd.Series(
        {
            "timestamp": pd.Timestamp("2026-03-01 10:30", tz="UTC"),
            "status": "crashed",
            "project_name": "<b>p</b>",
            "experiment_id": "",
            "run_id": "run-1",
            "emissions": 0.0012,
            "energy_consumed": 0.0042,
            "duration": 2910.0,
        }
    )
    lines = last_run_lines(run)
    assert [s["text"] for s in lines[0]["spans"]] == ["2026-03-01 10:30 UTC", "crashed"]
    assert lines[0]["spans"][1]["className"].startswith("badge text-bg-")
    assert lines[1]["spans"][0]["text"] == "<b>p</b> · no experiment"  # text, not markup
    assert lines[2]["spans"][0]["text"] == "run-1"
    assert lines[3]["spans"][0]["text"] == "1.2 g CO₂eq · 4.2 Wh · 48.5 min"
    assert last_run_lines(None) == []


def test_equivalent_lines_name_each_source_and_nothing_for_no_emissions() -> None:
    heading, lines = equivalent_lines(12.0, "mi")
    assert heading == "12 kg CO₂eq is about as much as:"
    assert any(" mi driven" in line["spans"][0]["text"] for line in lines)
    assert all(line["spans"][1]["title"].startswith("http") for line in lines)
    assert equivalent_lines(0.0, "km") == ("", [])
