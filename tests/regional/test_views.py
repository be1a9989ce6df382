"""The regional views by name, shared by the dashboard's tab and the report, and the tab's pure
update: which views a new selection or a toggle redraws, and the figures it does not resend."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import no_update

from carbonboard import ids
from carbonboard.data.store import HistoryStore
from carbonboard.regional import baseline as rbase
from carbonboard.regional import tables as rtab
from carbonboard.regional import text as rtext
from carbonboard.regional.views import NO_SUBNATIONAL, PARTS, regional_views
from carbonboard.sections.regional import (
    MAP_MODE_FIRST,
    PROVIDER_FIRST,
    VIEW_OUTPUTS,
    answer,
    parts_for,
    sent_views,
    source_views,
)
from carbonboard.selection import Selection
from tests.dashboard.conftest import run_row, write_csv


def base_of(*places: tuple[str, str, str, str, float]) -> rbase.Baseline:
    """A baseline on the bundled data: (country, region, provider, cloud region, kWh) per run."""
    columns = ["country_iso_code", "region", "cloud_provider", "cloud_region", "energy_consumed"]
    runs = pd.DataFrame(list(places), columns=columns).assign(pue=1.0, emissions=0.1)
    return rbase.baseline(runs)


CLOUD_RUN = ("USA", "iowa", "gcp", "us-central1", 4.0)
FRANCE_RUN = ("FRA", "", "", "", 2.0)


def test_every_part_gives_its_views_and_only_those():
    base = base_of(CLOUD_RUN, FRANCE_RUN)
    every = regional_views(base)
    assert list(every) == [name for names in PARTS.values() for name in names]
    assert list(regional_views(base, ["cloud"])) == list(PARTS["cloud"])
    for name in ("map_figure", "ranking_figure", "mix_figure", "subnational_figure"):
        assert isinstance(every[name], go.Figure)
    with pytest.raises(ValueError, match="unknown regional views"):
        regional_views(base, ["weather"])


def test_the_views_say_what_the_text_functions_say():
    base = base_of(CLOUD_RUN, FRANCE_RUN)
    countries, cloud = rtab.country_table(), rtab.cloud_table()
    views = regional_views(base)
    grid = rtext.grid_assumptions(base, countries, countries)
    assert views["map_note"] == grid
    assert views["ranking_note"] == rtext.ranking_note(base)
    assert views["summary"] == rtext.summary(base, countries)
    compared = rtab.cloud_comparison(base, cloud)
    assert views["cloud_finding"] == rtext.cloud_finding(base, cloud, compared)
    charted = rtab.cleanest_regions(compared)
    assert views["cloud_note"] == rtext.cloud_assumptions(base, cloud, len(compared) - len(charted))
    assert views["mix_note"] == rtext.MIX_NOTE


def test_one_provider_shows_its_regions_and_the_finding_stays_about_all():
    base = base_of(CLOUD_RUN)
    every = regional_views(base, ["cloud"])
    aws = regional_views(base, ["cloud"], provider="aws")
    labels = aws["cloud_figure"].data[0].y
    assert labels and all(label.startswith("AWS ") for label in labels)
    every_region = rtab.cloud_comparison(base, rtab.cloud_table())
    assert len(labels) == (every_region["provider"] == "aws").sum()  # one provider: all shown
    assert aws["cloud_finding"] == every["cloud_finding"]


def test_every_provider_charts_the_cleanest_regions_and_yours_and_says_how_many_more():
    base = base_of(CLOUD_RUN)
    every = regional_views(base, ["cloud"])
    labels = every["cloud_figure"].data[0].y
    compared = rtab.cloud_comparison(base, rtab.cloud_table())
    assert len(labels) == rtab.CLOUD_REGIONS_SHOWN + 1  # its own region ranks further down
    assert "GCP us-central1 (yours)" in labels
    assert every["cloud_figure"].layout.height <= 640
    more = len(compared) - len(labels)
    assert every["cloud_note"].startswith(
        f"… and {more} more regions, not charted: choose one provider to see all of its regions."
    )
    assert "more regions" not in regional_views(base, ["cloud"], provider="gcp")["cloud_note"]


def test_subnational_picks_the_asked_country_or_the_first_available():
    base = base_of(CLOUD_RUN, FRANCE_RUN)
    views = regional_views(base, ["subnational"], country="ZZZ")
    assert views["subnational_country"] == "USA"
    assert [o["value"] for o in views["subnational_options"]] == ["USA"]
    assert views["subnational_options"][0]["label"] == "US states"
    nowhere = regional_views(base_of(FRANCE_RUN), ["subnational"])
    assert nowhere["subnational_country"] is None and nowhere["subnational_options"] == []
    assert nowhere["subnational_note"] == NO_SUBNATIONAL
    assert nowhere["subnational_figure"].layout.annotations[0].text == NO_SUBNATIONAL


def sent(answered: dict) -> set[str]:
    return {name for name, value in answered.items() if value is not no_update}


def regional_update(base, trigger, mode, country, provider, drawn) -> dict:
    """The tab's answer as its callback gives it: the views of the parts ``trigger`` redraws,
    with the controls' values (``MAP_MODE_FIRST`` and ``PROVIDER_FIRST`` where given none)."""
    views = sent_views(
        base, parts_for(trigger), mode or MAP_MODE_FIRST, country, provider or PROVIDER_FIRST
    )
    return answer(views, drawn)


def test_a_new_selection_redraws_every_view_and_a_toggle_only_its_own():
    base = base_of(CLOUD_RUN, FRANCE_RUN)
    first = regional_update(base, ids.REGIONAL_TAB_SELECTION, None, None, None, None)
    assert set(first) == {*VIEW_OUTPUTS, "drawn"}
    assert sent(first) == {*VIEW_OUTPUTS, "drawn"}
    drawn = first["drawn"]
    assert set(drawn) == {c for c, prop in VIEW_OUTPUTS.values() if prop == "figure"}
    toggled = regional_update(base, ids.REGIONAL_CLOUD_PROVIDER, None, None, "aws", drawn)
    assert sent(toggled) == {"cloud_figure", "cloud_finding", "cloud_note", "drawn"}
    assert toggled["drawn"][ids.REGIONAL_CLOUD] != drawn[ids.REGIONAL_CLOUD]
    assert toggled["drawn"][ids.REGIONAL_MAP] == drawn[ids.REGIONAL_MAP]
    mode = regional_update(base, ids.REGIONAL_MAP_MODE, "low_carbon", None, None, drawn)
    assert sent(mode) == {*PARTS["map"], "drawn"}


def test_figures_the_browser_shows_are_not_sent_again():
    base = base_of(CLOUD_RUN, FRANCE_RUN)
    first = regional_update(base, None, "intensity", None, "all", None)
    again = regional_update(base, None, "intensity", None, "all", first["drawn"])
    figures = {name for name, (_, prop) in VIEW_OUTPUTS.items() if prop == "figure"}
    assert not figures & sent(again)
    assert sent(again) == {*VIEW_OUTPUTS, "drawn"} - figures
    assert again["summary"] == first["summary"] and again["drawn"] == first["drawn"]
    other = regional_update(base_of(FRANCE_RUN), None, "intensity", None, "all", first["drawn"])
    assert {"ranking_figure", "cloud_figure"} <= sent(other)


def test_a_tab_says_where_the_runs_ran_and_the_energy_replayed_once():
    base = base_of(CLOUD_RUN, FRANCE_RUN)
    views = regional_views(base)
    notes = [views[name] for name in ("map_note", "ranking_note", "subnational_note", "cloud_note")]
    said_once = (
        rtext.energy_assumption(base),
        rtext.location_assumption(base, rtab.country_table()),
    )
    for sentence in said_once:
        assert [sentence in note for note in notes] == [True, False, False, False]
    assert "data years" in views["subnational_note"] and "PUE" in views["cloud_note"]


def test_a_country_picked_on_the_tab_costs_a_new_selection_only_its_sub_national_view(tmp_path):
    rows = [
        run_row(project=project, country=country, region=region)
        for project in ("a", "b")
        for country, region in ((("United States", "USA"), "texas"), (("Sweden", "SWE"), "SE3"))
    ]
    source = HistoryStore.from_arguments([str(write_csv(tmp_path / "emissions.csv", rows))])
    selection = Selection(project="b")
    prepared = source_views(source, selection)  # as the board works it out while idle
    first = prepared["subnational_country"]
    other = next(o["value"] for o in prepared["subnational_options"] if o["value"] != first)
    # the country the page still shows from project "a", sent with the switch to "b"
    switched = source_views(source, selection, ids.REGIONAL_TAB_SELECTION, None, other, None)
    assert switched["subnational_country"] == other
    assert switched["subnational_figure"] is not prepared["subnational_figure"]
    for part in ("map", "ranking", "cloud"):  # the other parts: the views worked out ahead
        for name in PARTS[part]:
            assert switched[name] is prepared[name], name
    default = source_views(source, selection, ids.REGIONAL_TAB_SELECTION, None, first, None)
    assert all(default[name] is prepared[name] for name in VIEW_OUTPUTS)
