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
        r.g_co2e_per_kwh
        for c in ("USA", "CAN", "CHN", "SWE", "NOR", "FIN")
        for r in intensity.regions(c)
    ]
    figures += [r.g_co2e_per_kwh for r in intensity.cloud_regions()]
    assert all(0 < figure <= 1200 for figure in figures)


def test_countries_keep_the_generation_mix_and_year():
    france = next(c for c in intensity.countries() if c.iso3 == "FRA")
    assert france.name == "France"
    assert france.year == "2023"
    assert (france.basis, france.method) == ("lifecycle", "reported")
    assert set(france.mix_twh) == {
        "coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "bioenergy", "other_renewables",
    }  # fmt: skip
    assert max(france.mix_share, key=france.mix_share.get) == "nuclear"
    assert sum(france.mix_share.values()) == pytest.approx(1.0)


def test_implausible_reported_figures_are_estimated_from_the_mix():
    """Turkmenistan's reported 1,306 g/kWh exceeds coal's lifecycle figure; its grid is gas."""
    turkmenistan = next(c for c in intensity.countries() if c.iso3 == "TKM")
    assert turkmenistan.method == "estimated-from-mix"
    assert turkmenistan.g_co2e_per_kwh == pytest.approx(743, abs=5)  # natural gas lifecycle


def test_every_figure_names_a_known_basis_and_a_year():
    figures = [c.intensity for c in intensity.countries()]
    figures += [r.intensity for c in ("USA", "CAN", "CHN", "SWE") for r in intensity.regions(c)]
    figures += [r.intensity for r in intensity.cloud_regions()]
    assert {f.basis for f in figures} == set(intensity.BASES)
    assert all(f.year for f in figures if not f.source.startswith("cloud:gcp:")), "year missing"


def test_known_values():
    assert 50 <= intensity.lookup("FRA").g_co2e_per_kwh <= 60
    assert 600 <= intensity.lookup("POL").g_co2e_per_kwh <= 700
    assert intensity.lookup("FRA").basis == "lifecycle"
    # eGRID2023, STC2ERTA: California 394.769 lbs CO2e/MWh
    california = intensity.lookup("USA", "california")
    assert california.g_co2e_per_kwh == pytest.approx(394.769 * 0.45359237, abs=1e-3)
    assert (california.source, california.year, california.basis) == (
        "us-state:california",
        "2023",
        "direct",
    )
    quebec = intensity.lookup("CAN", "quebec")
    assert quebec.g_co2e_per_kwh < 40
    assert (quebec.source, quebec.year, quebec.basis) == ("ca-province:quebec", "2023", "lifecycle")


def test_texas_is_egrid2023_on_a_direct_basis():
    """eGRID2023 gives Texas 771.179 lbs CO2e/MWh, 349.8 g/kWh (eGRID 2016 had 476)."""
    texas = intensity.lookup(country="USA", region="texas")
    assert texas == intensity.Intensity(
        round(771.179 * 0.45359237, 3), "us-state:texas", "2023", "direct"
    )
    assert texas.g_co2e_per_kwh == pytest.approx(350, abs=0.5)
    assert intensity.lookup("USA", "TX") == texas


def test_nordic_zones_are_per_zone_on_a_lifecycle_basis():
    assert intensity.lookup("SWE", "SE3") == intensity.Intensity(
        27.0, "nordic:SE3", "2025", "lifecycle"
    )
    zones = {r.key: r.g_co2e_per_kwh for r in intensity.regions("NOR")}
    assert sorted(zones) == ["NO1", "NO2", "NO3", "NO4", "NO5"]
    assert zones["NO4"] == 51.7  # the zone with gas generation
    assert sorted(r.key for r in intensity.regions("SWE")) == ["SE1", "SE2", "SE3", "SE4"]


@pytest.mark.parametrize(
    "name",
    ["guangdong", "Guangdong", "Guangdong Province", "CN-GD", "cn-gd"],
)
def test_a_chinese_province_by_name_alias_or_iso_code(name):
    found = intensity.lookup(country="CHN", region=name)
    assert found == intensity.Intensity(441.9, "cn-province:guangdong", "2023", "direct")
    assert intensity.lookup(region=name) == found  # the country is implied


def test_chinese_provinces_by_their_other_names():
    inner_mongolia = intensity.lookup("CN", "inner mongolia")
    assert inner_mongolia.source == "cn-province:inner mongolia"
    assert intensity.lookup("CN", "Nei Mongol Autonomous Region") == inner_mongolia
    assert intensity.lookup("CN", "neimenggu") == inner_mongolia
    assert intensity.lookup("CN", "Beijing Municipality").source == "cn-province:beijing"
    xinjiang = intensity.find_region("CHN", "Xinjiang Uyghur")
    assert xinjiang is not None and (xinjiang.code, xinjiang.name) == ("CN-XJ", "Xinjiang")
    assert len(intensity.regions("CHN")) == 30  # Tibet is not in the official table


def test_a_province_not_in_the_official_table_falls_back_to_the_country():
    assert intensity.lookup("CHN", "tibet") == intensity.lookup("CHN")
    assert intensity.lookup("CHN").basis == "lifecycle"


def test_us_postal_codes_stay_unambiguous_beside_chinese_provinces():
    """Hainan (CN-HI) and Hawaii (HI) share a suffix: only the full ISO code names Hainan."""
    assert intensity.find_region(None, "HI").source == "us-state:hawaii"
    assert intensity.find_region(None, "CN-HI").source == "cn-province:hainan"


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
    assert gcp == intensity.Intensity(122.0, "cloud:gcp:europe-west1", "", "operational")
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
    texas = intensity.lookup("USA", "texas")
    assert intensity.lookup(cloud_provider="azure", cloud_region="southcentralus") == texas
    beijing = intensity.lookup("CHN", "beijing")
    assert intensity.lookup(cloud_provider="aws", cloud_region="cn-north-1") == beijing
    assert intensity.lookup(cloud_provider="azure", cloud_region="chinanorth3") == (
        intensity.lookup("CHN", "hebei")
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


def test_build_without_the_reference_says_so_in_one_line(tmp_path):
    """``make data`` on a fresh clone: a clear message and a failing status, no traceback."""
    missing = tmp_path / "reference"
    result = subprocess.run(
        [sys.executable, "-m", "tracker.intensity.build", "--reference", str(missing),
         "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"no reference figures at {missing}: the bundled files stay as committed "
        "(pass --reference DIR to rebuild from elsewhere)"
    ]
    assert not (tmp_path / "out").exists()
