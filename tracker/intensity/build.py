"""Build the bundled grid-intensity files from the public reference figures.

Run ``python -m tracker.intensity.build [--reference DIR] [--out DIR]``. The reference files are
compilations of public data (see ``data/README.md`` for the original sources); this script keeps
their figures, converts units, drops what is not a country, derives what needs deriving, checks
every figure for plausibility and writes the project's own compact JSON files. Every figure keeps
its basis (``lifecycle``, ``direct`` or ``operational``, see ``tracker.intensity.BASES``) and data
year, because sources differ and a comparison must be able to say so. The output is
deterministic, so a test can check the committed files are exactly what this script produces.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
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
# Lifecycle factor of each source: its key in carbon_intensity_per_source.json.
SOURCE_FACTOR_KEYS = {
    "coal": "coal",
    "gas": "natural_gas",
    "oil": "petroleum",
    "nuclear": "nuclear",
    "hydro": "hydroelectricity",
    "wind": "wind",
    "solar": "solar",
    "bioenergy": "biomass",
    "other_renewables": "geothermal",
    "other": "fossil",
}
# A known typo in the reference copy of Google's table (the region is me-central1, Doha).
GCP_REGION_FIXES = {"me-cenrtal1": "me-central1"}


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def source_factors(reference: Mapping[str, Any]) -> dict[str, float]:
    """Lifecycle gCO2e/kWh for each of our generation sources."""
    return {ours: float(reference[key]) for ours, key in SOURCE_FACTOR_KEYS.items()}


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
            "basis": "lifecycle",
            "mix_twh": mix,
        }
        if 0 < reported <= MAX_PLAUSIBLE_G_PER_KWH:
            entry.update(g_co2e_per_kwh=reported, method="reported")
        else:
            estimate = intensity_from_mix(mix, factors)
            print(f"{code}: reported {reported} g/kWh is implausible; mix estimate {estimate}")
            entry.update(g_co2e_per_kwh=estimate, method="estimated-from-mix")
        countries[code] = entry
    return countries


def build_us_states(reference_dir: Path) -> dict[str, Any]:
    """Per-state eGRID total output emission rates, converted from lbs/MWh to g/kWh.

    eGRID counts what the plants emit (direct combustion CO2e), not the fuel chain or the
    building of plants, so these figures have the ``direct`` basis.
    """
    import pycountry

    raw = _read_json(reference_dir / "usa_emissions.json")
    year = str(raw["_source"]["year"])
    states: dict[str, Any] = {}
    for key, row in sorted(raw.items()):
        if key.startswith("_"):  # the file's unit and source notes
            continue
        subdivision = pycountry.subdivisions.get(code=f"US-{row['regionCode']}")
        if subdivision is None:  # the national "usa" row
            continue
        states[key] = {
            "name": subdivision.name,
            "code": row["regionCode"],
            "country_iso3": "USA",
            "g_co2e_per_kwh": round(float(row["emissions"]) * LBS_PER_MWH_TO_G_PER_KWH, 3),
            "year": year,
            "basis": "direct",
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
            "basis": "lifecycle",
            "mix_percent": mix,
        }
    return provinces


def build_nordic_zones(reference_dir: Path) -> dict[str, Any]:
    """Nordic bidding zones (SE1-4, NO1-5, FI); the country comes from the zone's prefix.

    Each zone's figure is its yearly generation by production type (ENTSO-E) times the lifecycle
    factors, so the basis is ``lifecycle``.
    """
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
            "basis": "lifecycle",
        }
    return zones


def build_china_provinces(reference_dir: Path) -> dict[str, Any]:
    """Chinese provinces, keyed by their first English name, coded by ISO 3166-2 (``CN-BJ``).

    The official provincial factors count the CO2 of generation only, so the basis is
    ``direct``. The other names geolocation services give (``nei mongol``) become aliases.
    """
    import pycountry

    raw = _read_json(reference_dir / "china_provincial_emissions.json")["data"]
    provinces: dict[str, Any] = {}
    for code, row in sorted(raw.items()):
        if pycountry.subdivisions.get(code=code) is None:
            raise ValueError(f"{code} is not an ISO 3166-2 code")
        key, *aliases = row["names"]
        provinces[key] = {
            "name": row["description"],
            "code": code,
            "country_iso3": "CHN",
            "g_co2e_per_kwh": float(row["emission_factor"]),
            "year": str(row["year"]),
            "basis": "direct",
            "aliases": aliases,
        }
    return provinces


def _gcp_figures(reference_dir: Path) -> dict[str, float]:
    """Google's location-based grid figure per region: hourly operational grid intensity."""
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
            entry = {"g_co2e_per_kwh": gcp_figures[region], "year": "", "basis": "operational"}
            source = f"cloud:gcp:{region}"
        elif grid_region:
            kind, entry = next(
                (kind, table[grid_region])
                for kind, table in regions.items()
                if grid_region in table and table[grid_region]["country_iso3"] == iso3
            )
            source = f"{kind}:{grid_region}"
        else:
            entry, source = countries[iso3], f"country:{iso3}"
        cloud.setdefault(provider, {})[region] = {
            "location": row["location"],
            "country_iso3": iso3,
            "g_co2e_per_kwh": entry["g_co2e_per_kwh"],
            "source": source,
            "year": entry["year"],
            "basis": entry["basis"],
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
        "cn-province": build_china_provinces(reference_dir),
    }
    cloud = build_cloud_regions(reference_dir, countries, regions)
    figures = [c["g_co2e_per_kwh"] for c in countries.values()]
    figures += [r["g_co2e_per_kwh"] for table in regions.values() for r in table.values()]
    figures += [r["g_co2e_per_kwh"] for table in cloud.values() for r in table.values()]
    if not all(0 < figure <= MAX_PLAUSIBLE_G_PER_KWH for figure in figures):
        raise ValueError("a built intensity is outside (0, 1200] gCO2e/kWh")
    header = {
        "unit": "gCO2e/kWh (gCO2/kWh for cn-province)",
        "basis": "per entry: lifecycle, direct or operational",
        "sources": "see README.md",
    }
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
    if not args.reference.is_dir():
        sys.exit(
            f"no reference figures at {args.reference}: the bundled files stay as committed "
            "(pass --reference DIR to rebuild from elsewhere)"
        )
    for path in write(args.reference, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
