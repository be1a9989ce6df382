"""Static tables of grids and cloud regions, and the selection's energy replayed on them.

The tables are built once per process from ``tracker.intensity`` (the one source of truth; tests
pass small hand-built ones):

* countries: ``iso3, name, g_co2e_per_kwh, year`` and the mix shares in :data:`MIX_SOURCES` (%);
* sub-national: ``country, region, name, g_co2e_per_kwh, year`` (``code`` optional);
* cloud: ``provider, region, location, g_co2e_per_kwh, year, source, pue``.

Grids (countries, states, provinces) receive the energy as measured, i.e. the IT energy times the
selection's own PUE: the same machines in the same facility, plugged into another grid; cloud
regions receive the IT energy times the provider's PUE.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd

from carbonboard.formatting import short_label
from carbonboard.regional.baseline import GRAMS_PER_KG, Baseline
from tracker import intensity

MIX_SOURCES = ("coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "other_renewables")
LOW_CARBON_SOURCES = ("nuclear", "hydro", "wind", "solar", "other_renewables")
PROVIDER_NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
RANKING_SIZE = 5  # cleanest and dirtiest grids shown next to the selection's own
CLOUD_REGIONS_SHOWN = 20  # regions of every provider charted at once (one provider's: all)


def _mix_percent(shares: dict[str, float], scale: float) -> dict[str, float]:
    """A mix in :data:`MIX_SOURCES` (%); bioenergy and other sources count as other renewables."""
    if not shares:
        return dict.fromkeys(MIX_SOURCES, math.nan)
    mix = {source: shares.get(source, 0.0) * scale for source in MIX_SOURCES}
    mix["other_renewables"] += (shares.get("bioenergy", 0.0) + shares.get("other", 0.0)) * scale
    return mix


@lru_cache(maxsize=1)
def country_table() -> pd.DataFrame:
    """Every country with bundled data: ``iso3, name, g_co2e_per_kwh, year, basis`` and its mix
    (%)."""
    return pd.DataFrame(
        [
            {
                "iso3": c.iso3,
                "name": c.name,
                "g_co2e_per_kwh": c.g_co2e_per_kwh,
                "year": c.year,
                "basis": c.basis,
                **_mix_percent(c.mix_share, 100.0),
            }
            for c in intensity.countries()
        ]
    )


@lru_cache(maxsize=1)
def subnational_table() -> pd.DataFrame:
    """Every sub-national grid: ``country, region, code, name, g_co2e_per_kwh, year, basis``."""
    return pd.DataFrame(
        [
            {
                "country": r.country_iso3,
                "region": r.key,
                "code": r.code,
                "name": r.name,
                "g_co2e_per_kwh": r.g_co2e_per_kwh,
                "year": r.year,
                "basis": r.basis,
            }
            for c in intensity.countries()
            for r in intensity.regions(c.iso3)
        ],
        columns=["country", "region", "code", "name", "g_co2e_per_kwh", "year", "basis"],
    )


@lru_cache(maxsize=1)
def cloud_table() -> pd.DataFrame:
    """Every cloud region: ``provider, region, location, g_co2e_per_kwh, year, basis, source,
    pue``."""
    return pd.DataFrame(
        [
            {
                "provider": r.provider,
                "region": r.region,
                "location": r.location,
                "g_co2e_per_kwh": r.g_co2e_per_kwh,
                "year": r.year,
                "basis": r.basis,
                "source": r.source,
                "pue": intensity.provider_pue(r.provider),
            }
            for r in intensity.cloud_regions()
        ]
    )


def emissions_there_kg(energy_kwh: float, table: pd.DataFrame) -> pd.Series:
    """Emissions of ``energy_kwh`` on each grid of ``table`` (uses its ``pue`` column if any)."""
    pue = table.get("pue", 1.0)
    return energy_kwh * pue * table["g_co2e_per_kwh"] / GRAMS_PER_KG


def saving_percent(baseline_kg: float, emissions_kg: pd.Series | float) -> pd.Series | float:
    """How much less than the baseline, in %; NaN when the baseline emitted nothing."""
    if baseline_kg <= 0:
        return emissions_kg * math.nan
    return (baseline_kg - emissions_kg) / baseline_kg * 100.0


def low_carbon_percent(countries: pd.DataFrame) -> pd.Series:
    """Share of low-carbon sources (nuclear and renewables) in each country's generation, in %."""
    return countries[list(LOW_CARBON_SOURCES)].sum(axis=1, min_count=1)


def country_ranking(base: Baseline, countries: pd.DataFrame, n: int = RANKING_SIZE) -> pd.DataFrame:
    """The selection in its own grid mix, and in the ``n`` cleanest and ``n`` dirtiest grids.

    Columns: ``label, iso3, g_co2e_per_kwh, emissions_kg, saving_percent, kind`` (kind is
    "cleanest", "yours" or "dirtiest"), sorted by emissions; empty when the selection is.
    """
    columns = ["label", "iso3", "g_co2e_per_kwh", "emissions_kg", "saving_percent", "kind"]
    if base.runs == 0:
        return pd.DataFrame(columns=columns)
    ranked = countries.dropna(subset=["g_co2e_per_kwh"]).sort_values("g_co2e_per_kwh")
    n = max(0, min(n, len(ranked) // 2))
    picked = pd.concat(
        [ranked.head(n).assign(kind="cleanest"), ranked.tail(n).assign(kind="dirtiest")]
    )
    picked = picked.assign(
        label=picked["name"],
        emissions_kg=emissions_there_kg(base.energy_kwh, picked),
    )
    yours = pd.DataFrame(
        {
            "label": ["Your runs"],
            "iso3": [""],
            "g_co2e_per_kwh": [base.g_co2e_per_kwh],
            "emissions_kg": [base.emissions_kg],
            "kind": ["yours"],
        }
    )
    table = pd.concat([picked[["label", "iso3", "g_co2e_per_kwh", "emissions_kg", "kind"]], yours])
    table["saving_percent"] = saving_percent(base.emissions_kg, table["emissions_kg"])
    return table.sort_values("emissions_kg", kind="stable").reset_index(drop=True)[columns]


def subnational_comparison(base: Baseline, subnational: pd.DataFrame, country: str) -> pd.DataFrame:
    """The selection's energy in every region of ``country``, cleanest first.

    Columns: ``region, name, g_co2e_per_kwh, year, emissions_kg, saving_percent, is_current``.
    """
    regions = subnational[subnational["country"] == country].copy()
    regions["emissions_kg"] = emissions_there_kg(base.energy_kwh, regions)
    regions["saving_percent"] = saving_percent(base.emissions_kg, regions["emissions_kg"])
    current = set(base.subnational_regions(country))
    names = [regions[c].astype(str).str.lower() for c in ("region", "code", "name") if c in regions]
    regions["is_current"] = pd.concat([n.isin(current) for n in names], axis=1).any(axis=1)
    return regions.sort_values("emissions_kg", kind="stable").reset_index(drop=True)


def cloud_comparison(base: Baseline, cloud: pd.DataFrame) -> pd.DataFrame:
    """The selection's IT energy in every cloud region, with its provider's PUE applied.

    Columns: the cloud table's, plus ``emissions_kg, saving_percent, is_current``; the
    selection's own providers first (most energy first), then by emissions.
    """
    table = cloud.copy()
    table["emissions_kg"] = emissions_there_kg(base.it_energy_kwh, table)
    table["saving_percent"] = saving_percent(base.emissions_kg, table["emissions_kg"])
    own = base.locations[base.locations["cloud_provider"] != ""]
    current = set(zip(own["cloud_provider"], own["cloud_region"].str.lower(), strict=True))
    table["is_current"] = [
        (p, r.lower()) in current for p, r in zip(table["provider"], table["region"], strict=True)
    ]
    rank = {provider: i for i, provider in enumerate(base.providers())}
    table["_provider_rank"] = table["provider"].map(rank).fillna(len(rank))
    table = table.sort_values(["_provider_rank", "emissions_kg"], kind="stable")
    return table.drop(columns="_provider_rank").reset_index(drop=True)


def cleanest_regions(compared: pd.DataFrame, top: int = CLOUD_REGIONS_SHOWN) -> pd.DataFrame:
    """The ``top`` regions of :func:`cloud_comparison` with the least emissions, and the
    selection's own wherever they rank, in the comparison's order: a chart of every provider's
    regions stays readable (one provider's regions are shown whole)."""
    cleanest = compared["emissions_kg"].rank(method="first") <= top
    return compared[cleanest | compared["is_current"]]


def unknown_cloud_regions(base: Baseline, cloud: pd.DataFrame) -> list[str]:
    """The selection's cloud locations missing from the cloud table, as "provider region"."""
    known = set(zip(cloud["provider"], cloud["region"].str.lower(), strict=True))
    own = base.locations[base.locations["cloud_provider"] != ""]
    pairs = zip(own["cloud_provider"], own["cloud_region"], strict=True)
    unknown = [(p, r) for p, r in dict.fromkeys(pairs) if (p, r.lower()) not in known]
    return [short_label(f"{p} {r}".strip()) for p, r in unknown]
