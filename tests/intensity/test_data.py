"""The bundled data: valid codes, plausible figures, known conversions, reproducible build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pycountry
import pytest

from tracker import intensity
from tracker.intensity import build

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT.parent / "shared" / "data" / "reference"


def test_every_country_code_is_a_real_country():
    listed = intensity.countries()
    assert len(listed) > 200
    for country in listed:
        found = pycountry.countries.get(alpha_3=country.iso3)
        assert found is not None, country.iso3
        assert found.alpha_2 == country.iso2


def test_every_figure_is_plausible():
    figures = [c.g_co2e_per_kwh for c in intensity.countries()]
    figures += [
        r.g_co2e_per_kwh for c in ("USA", "CAN", "SWE", "NOR", "FIN") for r in intensity.regions(c)
    ]
    figures += [r.g_co2e_per_kwh for r in intensity.cloud_regions()]
    assert all(0 < figure <= 1200 for figure in figures)


def test_countries_keep_the_generation_mix_and_year():
    france = next(c for c in intensity.countries() if c.iso3 == "FRA")
    assert france.name == "France"
    assert france.year == "2023"
    assert france.basis == "reported"
    assert set(france.mix_twh) == {
        "coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "bioenergy", "other_renewables",
    }  # fmt: skip
    assert max(france.mix_share, key=france.mix_share.get) == "nuclear"
    assert sum(france.mix_share.values()) == pytest.approx(1.0)


def test_implausible_reported_figures_are_estimated_from_the_mix():
    """Turkmenistan's reported 1,306 g/kWh exceeds coal's lifecycle figure; its grid is gas."""
    turkmenistan = next(c for c in intensity.countries() if c.iso3 == "TKM")
    assert turkmenistan.basis == "estimated-from-mix"
    assert turkmenistan.g_co2e_per_kwh == pytest.approx(743, abs=5)  # natural gas lifecycle


def test_known_values():
    assert 50 <= intensity.lookup("FRA").g_co2e_per_kwh <= 60
    assert 600 <= intensity.lookup("POL").g_co2e_per_kwh <= 700
    # eGRID 2016: California 452.541 lbs/MWh
    california = intensity.lookup("USA", "california")
    assert california.g_co2e_per_kwh == pytest.approx(452.541 * 0.45359237, abs=1e-3)
    assert (california.source, california.year) == ("us-state:california", "2016")
    quebec = intensity.lookup("CAN", "quebec")
    assert quebec.g_co2e_per_kwh < 40
    assert (quebec.source, quebec.year) == ("ca-province:quebec", "2023")
    assert intensity.lookup("SWE", "SE3") == intensity.Intensity(18.0, "nordic:SE3", "2024")


def test_canadian_figure_follows_the_documented_lifecycle_factors():
    """Alberta 2023: 73.5 % gas at 743 and 8 % coal at 995 dominate."""
    alberta = next(r for r in intensity.regions("CAN") if r.key == "alberta")
    mix = alberta.mix_percent
    factors = {"coal": 995, "gas": 743, "oil": 816, "nuclear": 29, "hydro": 26, "wind": 26,
               "solar": 48, "bioenergy": 230, "other_renewables": 38, "other": 635}  # fmt: skip
    expected = sum(mix[s] * factors[s] for s in mix) / sum(mix.values())
    assert alberta.g_co2e_per_kwh == pytest.approx(expected, abs=1e-3)


def test_cloud_regions():
    gcp = intensity.lookup(cloud_provider="gcp", cloud_region="europe-west1")
    assert gcp == intensity.Intensity(122.0, "cloud:gcp:europe-west1", "")
    virginia = intensity.lookup("USA", "virginia")
    assert intensity.lookup(cloud_provider="aws", cloud_region="us-east-1") == virginia
    assert intensity.lookup(cloud_provider="aws", cloud_region="eu-west-3") == intensity.lookup(
        "FRA"
    )
    assert intensity.lookup(cloud_provider="azure", cloud_region="westeurope") == intensity.lookup(
        "NLD"
    )
    assert intensity.lookup(cloud_provider="azure", cloud_region="swedencentral").source == (
        "nordic:SE3"
    )
    assert len(intensity.cloud_regions("aws")) >= 25
    assert len(intensity.cloud_regions("azure")) >= 30
    # Google regions without a published figure use the grid where they sit.
    stockholm = intensity.find_cloud_region("gcp", "europe-north2")
    assert stockholm is not None and stockholm.source == "nordic:SE3"


def test_every_cloud_region_sits_in_a_country_with_data():
    known = {c.iso3 for c in intensity.countries()}
    for entry in intensity.cloud_regions():
        assert entry.country_iso3 in known, entry
        assert entry.location


@pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason="reference figures not available")
def test_build_reproduces_the_committed_files(tmp_path):
    written = build.write(REFERENCE_DIR, tmp_path)
    assert sorted(p.name for p in written) == sorted(build.OUTPUT_FILES)
    for path in written:
        assert path.read_bytes() == (intensity.DATA_DIR / path.name).read_bytes(), path.name


def test_importing_the_package_loads_no_data_and_nothing_heavy():
    probe = (
        "import sys, tracker.intensity as i, tracker.intensity.provider\n"
        "assert i._countries.cache_info().currsize == 0\n"
        "heavy = {'pandas', 'numpy', 'dash', 'plotly', 'pycountry', 'requests'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=ROOT)
