"""The comparison arithmetic and figures, on small hand-built tables with known answers."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from carbonboard.regional import baseline as rbase
from carbonboard.regional import figures as rfig
from carbonboard.regional import tables as rtab
from carbonboard.regional import text as rtext
from carbonboard.theme import FONT_FAMILY, HIGHLIGHT_COLOR, placeholder_figure, themed_figure
from tracker import intensity
from tracker.intensity import WORLD_AVERAGE, Intensity
from tracker.schema import FIELDNAMES

COUNTRIES = pd.DataFrame(
    {
        "iso3": ["FRA", "POL", "SWE", "USA", "IND", "CAN"],
        "name": ["France", "Poland", "Sweden", "United States", "India", "Canada"],
        "g_co2e_per_kwh": [50.0, 650.0, 40.0, 400.0, 700.0, 150.0],
        "year": ["2023", "2023", "2023", "2023", "2022", "2023"],
        "coal": [0.5, 60.0, 0.0, 16.0, 74.0, 5.0],
        "gas": [6.0, 10.0, 0.0, 40.0, 3.0, 12.0],
        "oil": [1.0, 1.5, 0.5, 1.0, 0.5, 1.0],
        "nuclear": [65.0, 0.0, 29.0, 18.0, 3.0, 13.0],
        "hydro": [12.0, 2.0, 40.0, 6.0, 8.0, 60.0],
        "wind": [9.0, 14.0, 20.0, 10.0, 4.0, 6.0],
        "solar": [5.0, 9.0, 2.0, 6.0, 6.0, 1.0],
        "other_renewables": [1.5, 3.5, 8.5, 3.0, 1.5, 2.0],
    }
)
SUBNATIONAL = pd.DataFrame(
    {
        "country": ["USA", "USA", "USA", "CAN", "CAN"],
        "region": ["california", "texas", "washington", "quebec", "alberta"],
        "name": ["California", "Texas", "Washington", "Quebec", "Alberta"],
        "g_co2e_per_kwh": [200.0, 400.0, 100.0, 2.0, 500.0],
        "year": ["2022", "2022", "2022", "2023", "2023"],
    }
)
CLOUD = pd.DataFrame(
    {
        "provider": ["gcp", "gcp", "aws", "aws", "azure"],
        "region": ["europe-north1", "us-central1", "us-east-1", "eu-north-1", "westeurope"],
        "location": ["Finland", "Iowa", "Virginia", "Sweden", "Netherlands"],
        "g_co2e_per_kwh": [100.0, 400.0, 300.0, 40.0, 300.0],
        "year": ["2023", "2023", "2022", "2023", "2023"],
        "pue": [1.1, 1.1, 1.15, 1.15, 1.18],
        "source": [
            "cloud:gcp:europe-north1",
            "cloud:gcp:us-central1",
            "us-state:virginia",
            "nordic:SE3",
            "country:NLD",
        ],
    }
)
INTENSITY = {  # (country, region, provider, cloud region) -> intensity, resolved like the tracker
    ("FRA", None, None, None): Intensity(50.0, "country:FRA", "2023"),
    ("POL", None, None, None): Intensity(650.0, "country:POL", "2023"),
    ("USA", "california", None, None): Intensity(200.0, "us-state:california", "2022"),
    ("USA", "iowa", "gcp", "us-central1"): Intensity(400.0, "cloud:gcp:us-central1", "2023"),
    ("CAN", "quebec", None, None): Intensity(2.0, "ca-province:quebec", "2023"),
}


def table_lookup(country=None, region=None, cloud_provider=None, cloud_region=None) -> Intensity:
    return INTENSITY.get((country, region, cloud_provider, cloud_region), WORLD_AVERAGE)


def runs(*rows: dict) -> pd.DataFrame:
    """Runs in the CSV contract: every column present, the given ones filled."""
    frame = pd.DataFrame([{name: row.get(name) for name in FIELDNAMES} for row in rows])
    return frame if rows else pd.DataFrame(columns=FIELDNAMES)


def run(country="", energy=1.0, pue=1.0, emissions=0.1, region="", provider="", cloud_region=""):
    return {
        "country_iso_code": country,
        "region": region,
        "cloud_provider": provider,
        "cloud_region": cloud_region,
        "energy_consumed": energy,
        "pue": pue,
        "emissions": emissions,
    }


def test_it_energy_divides_by_pue_and_treats_missing_pue_as_one():
    frame = runs(run(energy=1.5, pue=1.5), run(energy=2.0, pue=None), run(energy=3.0, pue=0))
    assert rbase.it_energy_kwh(frame).tolist() == [1.0, 2.0, 3.0]


def test_location_mix_groups_runs_per_location_largest_first():
    frame = runs(
        run("FRA", 1.0), run("fra", 2.0), run("POL", 5.0, pue=1.25), run("", 0.5, emissions=0.2)
    )
    mix = rbase.location_mix(frame)
    assert mix["country_iso_code"].tolist() == ["POL", "FRA", ""]
    assert mix["energy_kwh"].tolist() == [5.0, 3.0, 0.5]
    assert mix["it_energy_kwh"].tolist() == [4.0, 3.0, 0.5]
    assert mix["runs"].tolist() == [1, 2, 1]
    assert mix["recorded_emissions_kg"].tolist() == pytest.approx([0.1, 0.2, 0.2])


def test_several_countries_are_energy_weighted():
    base = rbase.baseline(runs(run("FRA", 3.0), run("POL", 1.0)), table_lookup)
    assert base.energy_kwh == 4.0
    assert base.emissions_kg == pytest.approx((3 * 50 + 1 * 650) / 1000)
    assert base.g_co2e_per_kwh == pytest.approx((3 * 50 + 1 * 650) / 4)
    assert base.country_shares().to_dict() == {"FRA": 0.75, "POL": 0.25}
    assert rtext.describe_countries(base, COUNTRIES) == "France 75 %, Poland 25 %"


def test_unknown_country_and_no_location_fall_back_to_world_average():
    base = rbase.baseline(runs(run("XYZ", 2.0), run("", 2.0)), table_lookup)
    assert base.g_co2e_per_kwh == WORLD_AVERAGE.g_co2e_per_kwh
    assert rtext.describe_countries(base, COUNTRIES) == "XYZ 50 %, unknown location 50 %"
    text = rtext.location_assumption(base, COUNTRIES)
    assert "world average" in text and "world-average" in text
    figure = rfig.world_map_figure(base, COUNTRIES)
    assert len(figure.data) == 1  # no marker for places the map does not know


def test_ranking_holds_cleanest_own_and_dirtiest_sorted_with_savings():
    base = rbase.baseline(runs(run("USA", 10.0, region="california")), table_lookup)
    ranking = rtab.country_ranking(base, COUNTRIES, n=2)
    assert ranking["label"].tolist() == [
        "Sweden",
        "France",
        "Your runs",
        "Poland",
        "India",
    ]
    assert ranking["kind"].tolist() == ["cleanest", "cleanest", "yours", "dirtiest", "dirtiest"]
    assert ranking["emissions_kg"].tolist() == pytest.approx([0.4, 0.5, 2.0, 6.5, 7.0])
    assert ranking["saving_percent"].iloc[0] == pytest.approx(80.0)
    assert ranking["saving_percent"].iloc[-1] == pytest.approx(-250.0)
    bar = rfig.ranking_figure(ranking).data[0]
    assert list(bar.y) == ranking["label"].tolist()
    assert bar.text[0] == "400 g  80 % less" and bar.text[-1] == "7 kg  250 % more"


def test_subnational_uses_the_same_energy_and_highlights_the_current_state():
    base = rbase.baseline(runs(run("USA", 10.0, region="california")), table_lookup)
    compared = rtab.subnational_comparison(base, SUBNATIONAL, "USA")
    assert compared["region"].tolist() == ["washington", "california", "texas"]
    assert compared["emissions_kg"].tolist() == pytest.approx([1.0, 2.0, 4.0])
    assert compared["is_current"].tolist() == [False, True, False]
    assert compared["saving_percent"].tolist() == pytest.approx([50.0, 0.0, -100.0])
    figure = rfig.subnational_figure(compared, base)
    assert list(figure.data[0].y) == ["Washington", "California (yours)", "Texas"]
    assert figure.data[0].marker.color[1] == HIGHLIGHT_COLOR
    assert figure.layout.shapes[0].x0 == pytest.approx(2.0)  # the baseline line


def test_cloud_run_gets_its_provider_first_and_a_recommendation():
    frame = runs(
        run(
            "USA",
            17.0 * 1.1 / 1.1,
            pue=1.1,
            region="iowa",
            provider="gcp",
            cloud_region="us-central1",
        )
    )
    base = rbase.baseline(frame, table_lookup)
    compared = rtab.cloud_comparison(base, CLOUD)
    assert compared["provider"].tolist()[:2] == ["gcp", "gcp"]
    assert compared["region"].tolist()[:2] == ["europe-north1", "us-central1"]
    assert compared["is_current"].tolist()[:2] == [False, True]
    it_energy = 17.0 / 1.1
    assert compared["emissions_kg"].iloc[0] == pytest.approx(it_energy * 1.1 * 100 / 1000)
    assert rtext.cloud_recommendation(base, compared) == (
        "In GCP europe-north1 this would have emitted 75 % less: 1.7 kg instead of 6.8 kg."
    )
    assert rtab.unknown_cloud_regions(base, CLOUD) == []
    text = rtext.cloud_assumptions(base, CLOUD)
    assert "AWS 1.15, Azure 1.18, GCP 1.10" in text
    assert "GCP published figures per region, else the grid where each region sits" in text


def test_on_premise_run_lists_the_regions_beating_its_grid():
    base = rbase.baseline(runs(run("POL", 10.0)), table_lookup)  # 6.5 kg
    compared = rtab.cloud_comparison(base, CLOUD)
    assert compared["emissions_kg"].is_monotonic_increasing
    assert rtext.cloud_recommendation(base, compared).startswith(
        "5 cloud regions would have beaten your grid. In AWS eu-north-1 this would have emitted "
        "93 % less: 460 g instead of 6.5 kg."
    )
    france = rbase.baseline(runs(run("FRA", 10.0)), table_lookup)  # 500 g: one region beats it
    assert rtext.cloud_recommendation(france, rtab.cloud_comparison(france, CLOUD)).startswith(
        "1 cloud region would have beaten your grid. In AWS eu-north-1"
    )
    quebec = rbase.baseline(runs(run("CAN", 10.0, region="quebec")), table_lookup)
    assert rtext.cloud_recommendation(quebec, rtab.cloud_comparison(quebec, CLOUD)) == (
        "No cloud region would have beaten your grid (20 g at 2 gCO₂e/kWh)."
    )


def test_unknown_cloud_region_is_reported_not_an_error():
    base = rbase.baseline(runs(run("", 1.0, provider="aws", cloud_region="mars-1")), table_lookup)
    compared = rtab.cloud_comparison(base, CLOUD)
    assert rtab.unknown_cloud_regions(base, CLOUD) == ["aws mars-1"]
    assert not compared["is_current"].any()
    assert rtext.cloud_recommendation(base, compared).startswith("In AWS eu-north-1")
    finding = rtext.cloud_finding(base, CLOUD, compared)
    assert finding.startswith(rtext.cloud_recommendation(base, compared))
    assert finding.endswith(" No data for this region: aws mars-1.")


def test_zero_energy_compares_nothing_and_divides_by_nothing():
    base = rbase.baseline(runs(run("FRA", 0.0), run("POL", 0.0)), table_lookup)
    assert not base.has_energy and base.pue == 1.0 and math.isnan(base.g_co2e_per_kwh)
    ranking = rtab.country_ranking(base, COUNTRIES)
    assert ranking["emissions_kg"].eq(0).all() and ranking["saving_percent"].isna().all()
    assert rtext.cloud_recommendation(base, rtab.cloud_comparison(base, CLOUD)) == (
        "The selection recorded no energy: there is nothing to compare."
    )
    assert rtext.grid_assumptions(base, COUNTRIES, COUNTRIES) == (
        "The selection recorded no energy: there is nothing to compare."
    )
    rfig.ranking_figure(ranking).to_json()  # NaN savings serialise
    rfig.world_map_figure(base, COUNTRIES, "emissions").to_json()


def test_empty_selection_gives_empty_tables_and_message_figures():
    base = rbase.baseline(runs(), table_lookup)
    assert base.runs == 0 and base.energy_kwh == 0.0
    assert rtab.country_ranking(base, COUNTRIES).empty
    assert rfig.ranking_figure(rtab.country_ranking(base, COUNTRIES)).layout.annotations
    assert rtext.cloud_recommendation(base, rtab.cloud_comparison(base, CLOUD)) == (
        "No runs in this selection."
    )
    assert rfig.subnational_figure(rtab.subnational_comparison(base, SUBNATIONAL, "USA"), base)
    assert rtext.describe_countries(base, COUNTRIES) == "no location"
    assert rtext.cloud_assumptions(base, CLOUD) == "No runs in this selection."


@pytest.mark.parametrize(
    ("mode", "title", "first_z"),
    [
        ("intensity", "grid intensity (gCO2e/kWh)", 50.0),
        ("emissions", "kg CO2e had it run there", 0.1),
        ("low_carbon", "low-carbon share of generation (%)", 92.5),
    ],
)
def test_world_map_modes_change_values_and_colour_scale(mode, title, first_z):
    base = rbase.baseline(runs(run("FRA", 1.5), run("POL", 0.5)), table_lookup)
    figure = rfig.world_map_figure(base, COUNTRIES, mode)
    choropleth, markers = figure.data
    assert (
        choropleth.locationmode == "ISO-3"
        and list(choropleth.locations) == COUNTRIES["iso3"].tolist()
    )
    assert choropleth.colorbar.title.text == title
    assert choropleth.z[0] == pytest.approx(first_z)
    assert list(markers.locations) == ["FRA", "POL"]
    assert "coal" in choropleth.hovertemplate and choropleth.customdata[0][2] == 0.5


def test_world_map_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="unknown map mode"):
        rfig.world_map_figure(rbase.baseline(runs(), table_lookup), COUNTRIES, "bogus")


def test_energy_mix_figure_stacks_every_source_in_order():
    figure = rfig.energy_mix_figure(COUNTRIES, ["POL", "XYZ", "FRA"])
    assert [trace.name for trace in figure.data] == [s.replace("_", " ") for s in rtab.MIX_SOURCES]
    assert list(figure.data[0].y) == ["Poland", "France"]
    assert rfig.energy_mix_figure(COUNTRIES, ["XYZ"]).layout.annotations


def test_assumptions_state_energy_pue_source_and_year():
    base = rbase.baseline(runs(run("FRA", 1.2, pue=1.2)), table_lookup)
    text = rtext.grid_assumptions(base, COUNTRIES, COUNTRIES)
    assert "1.2 kWh as measured (1 kWh drawn by the IT equipment x your PUE 1.20)" in text
    assert "data years 2022-2023" in text and "country:FRA, 2023" in text


def test_static_tables_come_from_the_tracker_intensity_data():
    countries = rtab.country_table()
    assert len(countries) > 150 and countries["iso3"].is_unique
    france = countries.set_index("iso3").loc["FRA"]
    assert france["g_co2e_per_kwh"] == intensity.lookup("FRA").g_co2e_per_kwh
    assert france[list(rtab.MIX_SOURCES)].sum() == pytest.approx(100.0)
    assert france["nuclear"] > 50  # France's grid is mostly nuclear
    cloud = rtab.cloud_table()
    assert set(cloud["provider"]) == {"aws", "azure", "gcp"}
    for provider, pue in cloud.groupby("provider")["pue"].unique().items():
        assert list(pue) == [intensity.provider_pue(provider)]
    subnational = rtab.subnational_table()
    assert {"USA", "CAN"} <= set(subnational["country"])
    assert rtab.country_table() is countries  # built once per process


def test_real_lookup_never_fails_on_a_bad_country_code():
    frame = runs(run("XYZ", 1.0), run("USA", 1.0, region="CA"), run("CAN", 1.0, region="quebec"))
    base = rbase.baseline(frame)
    sources = base.locations.set_index("country_iso_code")["intensity_source"].to_dict()
    assert sources == {
        "XYZ": "world-average",
        "USA": "us-state:california",
        "CAN": "ca-province:quebec",
    }
    usa = rtab.subnational_comparison(base, rtab.subnational_table(), "USA")
    assert usa.loc[usa["is_current"], "region"].tolist() == ["california"]  # matched by postal code


def test_many_sources_are_counted_not_listed():
    places = [run("FRA"), run("POL"), run("USA", region="california"), run("XYZ")]
    base = rbase.baseline(runs(*places), table_lookup)
    assert rtext.describe_sources(base) == "bundled figures for 4 locations"
    assert rtext.describe_sources(rbase.baseline(runs(run("FRA")), table_lookup)) == "country:FRA"


def every_regional_figure() -> dict[str, go.Figure]:
    """Each builder in each of its states: a cloud run in the USA, and an empty selection."""
    cloud_run = run("USA", 10.0, region="iowa", provider="gcp", cloud_region="us-central1")
    base = rbase.baseline(runs(cloud_run, run("FRA", 2.0)), table_lookup)
    empty = rbase.baseline(runs(), table_lookup)
    figures = {
        f"map-{mode}": rfig.world_map_figure(base, COUNTRIES, mode) for mode in rfig.MAP_MODES
    }
    for label, selection in (("", base), ("-empty", empty)):
        ranking = rtab.country_ranking(selection, COUNTRIES)
        states = rtab.subnational_comparison(selection, SUBNATIONAL, "USA")
        figures[f"ranking{label}"] = rfig.ranking_figure(ranking)
        figures[f"subnational{label}"] = rfig.subnational_figure(states, selection)
        figures[f"cloud{label}"] = rfig.cloud_figure(
            rtab.cloud_comparison(selection, CLOUD), selection
        )
    figures["mix"] = rfig.energy_mix_figure(COUNTRIES, ["POL", "FRA"])
    figures["placeholder"] = placeholder_figure("nothing")
    return figures


@pytest.mark.parametrize("name", sorted(every_regional_figure()))
def test_figures_built_without_validation_pass_plotly_strict_validation(name):
    """The builders skip plotly.py's validation for speed; every property they set is checked
    here instead: strict construction raises on an unknown property or an invalid value."""
    spec = every_regional_figure()[name].to_plotly_json()
    go.Figure(spec)
    assert spec["layout"]["template"]["layout"]["font"]["family"] == FONT_FAMILY


def test_strict_validation_catches_what_the_fast_builder_lets_through():
    wrong = themed_figure([{"type": "bar", "colour": "red"}], {}).to_plotly_json()
    with pytest.raises(ValueError, match="colour"):
        go.Figure(wrong)


def test_a_comparison_on_one_basis_names_it():
    base = rbase.baseline(runs(run("FRA", 1.0)))  # the bundled data: France is lifecycle
    text = rtext.grid_assumptions(base, rtab.country_table(), rtab.country_table())
    assert f"Basis: lifecycle - {intensity.BASES['lifecycle']}." in text
    assert "Mixed bases" not in text


def test_a_comparison_mixing_bases_says_so():
    """US states are eGRID direct figures; runs in France are on a lifecycle basis."""
    base = rbase.baseline(runs(run("FRA", 1.0)))
    table = rtab.subnational_table()
    usa = table[table["country"] == "USA"]
    text = rtext.grid_assumptions(base, rtab.country_table(), usa)
    assert (
        f"Mixed bases: direct ({len(usa)} here), lifecycle (your runs). For the same grid a "
        "lifecycle figure is higher than a direct one, so this ranking across bases is approximate."
    ) in text
    cloud = rtext.cloud_assumptions(base, rtab.cloud_table())
    assert "Mixed bases: " in cloud
    assert {"operational", "direct", "lifecycle"} <= set(rtab.cloud_table()["basis"])


def test_hand_built_tables_without_a_basis_add_no_note():
    base = rbase.baseline(runs(run("FRA", 1.0)), table_lookup)
    assert rtext.basis_note(base, COUNTRIES) == ""
    assert "Basis" not in rtext.grid_assumptions(base, COUNTRIES, COUNTRIES)
