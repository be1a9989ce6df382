"""Build the bundled grid-intensity files from the public reference figures.

Run ``python -m tracker.intensity.build [--reference DIR] [--out DIR]``. The reference files are
compilations of public data (see ``data/README.md`` for the original sources); this script keeps
their figures, converts units, drops what is not a country, derives what needs deriving, checks
every figure for plausibility and writes the project's own compact JSON files. The output is
deterministic, so a test can check the committed files are exactly what this script produces.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tracker.intensity import DATA_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "data" / "reference"
CLOUD_LOCATIONS_FILE = DATA_DIR / "cloud_region_locations.csv"
OUTPUT_FILES = ("countries.json", "regions.json", "cloud_regions.json")

# 1 lb = 453.59237 g (exact, by definition) and 1 MWh = 1000 kWh, so lbs/MWh x 0.45359237 = g/kWh.
LBS_PER_MWH_TO_G_PER_KWH = 0.45359237
# No grid emits more than its dirtiest plant: lignite is ~1,100 gCO2e/kWh over its lifecycle.
MAX_PLAUSIBLE_G_PER_KWH = 1200.0
EGRID_YEAR = "2016"
CANADA_YEAR = "2023"

# Our generation sources, and the OWID energy-dataset column (TWh) each one comes from. Aggregates
# (fossil, low carbon, renewables) are sums of these and are not kept.
OWID_MIX_COLUMNS = {
    "coal": "coal_TWh",
    "gas": "gas_TWh",
    "oil": "oil_TWh",
    "nuclear": "nuclear_TWh",
    "hydro": "hydroelectricity_TWh",
    "wind": "wind_TWh",
    "solar": "solar_TWh",
    "bioenergy": "biofuel_TWh",
    "other_renewables": "other_renewable_exc_biofuel_TWh",
}
# Canada Energy Regulator source names, mapped onto ours.
CANADA_MIX_COLUMNS = {
    "coal": "coal",
    "gas": "naturalGas",
    "oil": "petroleum",
    "nuclear": "nuclear",
    "hydro": "hydro",
    "wind": "wind",
    "solar": "solar",
    "bioenergy": "biomass",
    "other_renewables": "tidal",
    "other": "other",
}
# Lifecycle factor of each source: the key in carbon_intensity_per_source.json, or a figure the
# reference lacks (IPCC AR5 WGIII Annex III, 2014, median lifecycle: dedicated biomass 230).
SOURCE_FACTOR_KEYS = {
    "coal": "coal",
    "gas": "natural_gas",
    "oil": "petroleum",
    "nuclear": "nuclear",
    "hydro": "hydroelectricity",
    "wind": "wind",
    "solar": "solar",
    "other_renewables": "geothermal",
    "other": "fossil",
}
BIOENERGY_G_PER_KWH = 230.0
# A known typo in the reference copy of Google's table (the region is me-central1, Doha).
GCP_REGION_FIXES = {"me-cenrtal1": "me-central1"}


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def source_factors(reference: Mapping[str, Any]) -> dict[str, float]:
    """Lifecycle gCO2e/kWh for each of our generation sources."""
    factors = {ours: float(reference[key]) for ours, key in SOURCE_FACTOR_KEYS.items()}
    factors["bioenergy"] = BIOENERGY_G_PER_KWH
    return factors


def intensity_from_mix(mix: Mapping[str, float], factors: Mapping[str, float]) -> float:
    """Generation-weighted lifecycle intensity of a mix (any unit: TWh or percent)."""
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("an empty generation mix has no intensity")
    return round(sum(amount * factors[source] for source, amount in mix.items()) / total, 3)


def build_countries(reference_dir: Path, factors: Mapping[str, float]) -> dict[str, Any]:
    """Per-country intensity and mix from the OWID energy dataset, countries only."""
    import pycountry

    raw = _read_json(reference_dir / "global_energy_mix.json")
    countries: dict[str, Any] = {}
    for code, row in sorted(raw.items()):
        country = pycountry.countries.get(alpha_3=code)
        if country is None:
            print(f"dropped {code} ({row.get('country_name')}): not an ISO 3166 country")
            continue
        mix = {ours: round(float(row[column]), 3) for ours, column in OWID_MIX_COLUMNS.items()}
        reported = float(row["carbon_intensity"])
        entry = {
            "name": row["country_name"],
            "iso2": country.alpha_2,
            "year": str(row["year"]),
            "mix_twh": mix,
        }
        if 0 < reported <= MAX_PLAUSIBLE_G_PER_KWH:
            entry.update(g_co2e_per_kwh=reported, basis="reported")
        else:
            estimate = intensity_from_mix(mix, factors)
            print(f"{code}: reported {reported} g/kWh is implausible; mix estimate {estimate}")
            entry.update(g_co2e_per_kwh=estimate, basis="estimated-from-mix")
        countries[code] = entry
    return countries


def build_us_states(reference_dir: Path) -> dict[str, Any]:
    """Per-state eGRID emission rates, converted from lbs/MWh to g/kWh."""
    import pycountry

    raw = _read_json(reference_dir / "usa_emissions.json")
    states: dict[str, Any] = {}
    for key, row in sorted(raw.items()):
        code = row["regionCode"]
        subdivision = pycountry.subdivisions.get(code=f"US-{code}")
        if subdivision is None:  # "_unit" and the national "usa" row
            continue
        states[key] = {
            "name": subdivision.name,
            "code": code,
            "country_iso3": "USA",
            "g_co2e_per_kwh": round(float(row["emissions"]) * LBS_PER_MWH_TO_G_PER_KWH, 3),
            "year": EGRID_YEAR,
        }
    return states


def build_canada_provinces(reference_dir: Path, factors: Mapping[str, float]) -> dict[str, Any]:
    """Per-province intensity computed from the generation mix and lifecycle factors."""
    import pycountry

    raw = _read_json(reference_dir / "canada_energy_mix.json")
    by_name = {s.name.lower(): s for s in pycountry.subdivisions.get(country_code="CA")}
    provinces: dict[str, Any] = {}
    for key, row in sorted(raw.items()):
        subdivision = by_name[key]
        mix = {ours: float(row[column]) for ours, column in CANADA_MIX_COLUMNS.items()}
        provinces[key] = {
            "name": subdivision.name,
            "code": subdivision.code.split("-", 1)[1],
            "country_iso3": "CAN",
            "g_co2e_per_kwh": intensity_from_mix(mix, factors),
            "year": CANADA_YEAR,
            "mix_percent": mix,
        }
    return provinces


def build_nordic_zones(reference_dir: Path) -> dict[str, Any]:
    """Nordic bidding zones (SE1-4, NO1-5, FI); the country comes from the zone's prefix."""
    import pycountry

    raw = _read_json(reference_dir / "nordic_emissions.json")["data"]
    zones: dict[str, Any] = {}
    for zone, row in sorted(raw.items()):
        country = pycountry.countries.get(alpha_2=zone[:2])
        zones[zone] = {
            "name": f"{country.name} {zone}" if zone != country.alpha_2 else country.name,
            "code": zone,
            "country_iso3": country.alpha_3,
            "g_co2e_per_kwh": float(row["emission_factor"]),
            "year": str(row["year"]),
        }
    return zones


def _gcp_figures(reference_dir: Path) -> dict[str, float]:
    with (reference_dir / "impact.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["provider"] == "gcp"]
    return {GCP_REGION_FIXES.get(r["region"], r["region"]): float(r["impact"]) for r in rows}


def build_cloud_regions(
    reference_dir: Path, countries: Mapping[str, Any], regions: Mapping[str, Any]
) -> dict[str, Any]:
    """Every listed cloud region with its figure: Google's own, else the grid where it sits."""
    gcp_figures = _gcp_figures(reference_dir)
    with CLOUD_LOCATIONS_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    listed = {row["region"] for row in rows if row["provider"] == "gcp"}
    if missing := sorted(set(gcp_figures) - listed):
        raise ValueError(f"Google regions with a figure but no location row: {missing}")
    cloud: dict[str, Any] = {}
    for row in rows:
        provider, region, iso3 = row["provider"], row["region"], row["country_iso3"]
        grid_region = row["grid_region"]
        if provider == "gcp" and region in gcp_figures:
            figure, source, year = gcp_figures[region], f"cloud:gcp:{region}", ""
        elif grid_region:
            kind, entry = next(
                (kind, table[grid_region])
                for kind, table in regions.items()
                if grid_region in table and table[grid_region]["country_iso3"] == iso3
            )
            figure, source, year = entry["g_co2e_per_kwh"], f"{kind}:{grid_region}", entry["year"]
        else:
            entry = countries[iso3]
            figure, source, year = entry["g_co2e_per_kwh"], f"country:{iso3}", entry["year"]
        cloud.setdefault(provider, {})[region] = {
            "location": row["location"],
            "country_iso3": iso3,
            "g_co2e_per_kwh": figure,
            "source": source,
            "year": year,
        }
    return {provider: dict(sorted(table.items())) for provider, table in sorted(cloud.items())}


def build(reference_dir: Path) -> dict[str, Any]:
    """The three documents, keyed by output file name."""
    factors = source_factors(_read_json(reference_dir / "carbon_intensity_per_source.json"))
    countries = build_countries(reference_dir, factors)
    regions = {
        "us-state": build_us_states(reference_dir),
        "ca-province": build_canada_provinces(reference_dir, factors),
        "nordic": build_nordic_zones(reference_dir),
    }
    cloud = build_cloud_regions(reference_dir, countries, regions)
    figures = [c["g_co2e_per_kwh"] for c in countries.values()]
    figures += [r["g_co2e_per_kwh"] for table in regions.values() for r in table.values()]
    figures += [r["g_co2e_per_kwh"] for table in cloud.values() for r in table.values()]
    if not all(0 < figure <= MAX_PLAUSIBLE_G_PER_KWH for figure in figures):
        raise ValueError("a built intensity is outside (0, 1200] gCO2e/kWh")
    header = {"unit": "gCO2e/kWh", "basis": "lifecycle", "sources": "see README.md"}
    return {
        "countries.json": {**header, "countries": countries},
        "regions.json": {**header, "regions": regions, "source_factors": factors},
        "cloud_regions.json": {**header, "cloud_regions": cloud},
    }


def render(document: Mapping[str, Any]) -> str:
    """Stable text for a document: sorted keys, one entry per line, trailing newline."""
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write(reference_dir: Path, out_dir: Path) -> list[Path]:
    """Build from ``reference_dir`` and write the files into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in build(reference_dir).items():
        path = out_dir / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE_DIR)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    for path in write(args.reference, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
