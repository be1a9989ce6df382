"""The public lookup and listing API: fallback order, codes, regions, PUE."""

from __future__ import annotations

import pytest

from tracker import intensity
from tracker.intensity import WORLD_AVERAGE, lookup


@pytest.mark.parametrize("code", ["FRA", "fra", "FR", "fr", " Fr "])
def test_validate_country_accepts_alpha2_and_alpha3(code):
    assert intensity.validate_country(code) == "FRA"


def test_validate_country_accepts_real_countries_without_data():
    assert intensity.validate_country("AQ") == "ATA"  # Antarctica: valid, no grid data


@pytest.mark.parametrize("code", ["XX", "ZZZ", "France", "", "12", "EU"])
def test_validate_country_rejects_codes_that_do_not_exist(code):
    with pytest.raises(ValueError, match="unknown country code"):
        intensity.validate_country(code)


@pytest.mark.parametrize(
    ("country", "region", "source"),
    [
        ("CA", "CA-ON", "ca-province:ontario"),  # ISO 3166-2, as metadata services give it
        (None, "CA-ON", "ca-province:ontario"),
        ("US", "US-TX", "us-state:texas"),
        (None, "us-ca", "us-state:california"),
        ("CA", "Québec", "ca-province:quebec"),  # with its accent
        ("UK", None, "country:GBR"),  # the United Kingdom's common code
    ],
)
def test_regions_by_iso_code_and_accented_name(country, region, source):
    assert lookup(country, region).source == source


def test_lookup_falls_back_in_order():
    cloud = lookup("USA", "oregon", "gcp", "us-west1")
    assert cloud.source == "cloud:gcp:us-west1"
    assert lookup("USA", "oregon", "gcp", "no-such-region").source == "us-state:oregon"
    assert lookup("USA", "Atlantis").source == "country:USA"
    assert lookup("ATA") is WORLD_AVERAGE
    assert lookup() is WORLD_AVERAGE
    assert lookup().is_fallback and not lookup("FRA").is_fallback


def test_cloud_region_without_country_and_unknown_region_uses_world_average():
    assert lookup(cloud_provider="aws", cloud_region="mars-north-1") is WORLD_AVERAGE


def test_regions_by_name_postal_code_or_zone():
    assert lookup("US", "CA").source == "us-state:california"
    assert lookup("USA", "California").source == "us-state:california"
    assert lookup("CA", "QC").source == "ca-province:quebec"
    assert lookup(region="new york").source == "us-state:new york"
    assert lookup("NOR", "no1").source == "nordic:NO1"
    # A region of another country does not apply: the country's figure does.
    assert lookup("FRA", "california").source == "country:FRA"


def test_regions_listing():
    states = intensity.regions("US")
    assert len(states) == 51  # 50 states and the District of Columbia
    assert {r.kind for r in states} == {"us-state"}
    provinces = intensity.regions("CAN")
    assert len(provinces) == 13
    assert all(sum(p.mix_percent.values()) == pytest.approx(100, abs=0.5) for p in provinces)
    assert [r.code for r in intensity.regions("NO")] == ["NO1", "NO2", "NO3", "NO4", "NO5"]
    assert intensity.regions("FRA") == []
    with pytest.raises(ValueError):
        intensity.regions("XX")


def test_listings_carry_their_intensity():
    for country in intensity.countries():
        assert lookup(country.iso3) == country.intensity
    for entry in intensity.cloud_regions("gcp"):
        assert lookup(cloud_provider="GCP", cloud_region=entry.region) == entry.intensity
        assert entry.provider == "gcp"


def test_provider_pue():
    assert intensity.provider_pue("gcp") == 1.10
    assert intensity.provider_pue("AWS") == 1.15
    assert intensity.provider_pue("azure") == 1.18
    assert intensity.INDUSTRY_AVERAGE_PUE == 1.56
    with pytest.raises(ValueError, match="unknown cloud provider"):
        intensity.provider_pue("ovh")
    with pytest.raises(ValueError):
        intensity.cloud_regions("ovh")


def test_world_average_is_documented_figure():
    assert intensity.Intensity(481.0, "world-average", "2023", "lifecycle") == WORLD_AVERAGE
