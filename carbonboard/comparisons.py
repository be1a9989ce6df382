"""Where should this have run? The selection's energy replayed on other grids and cloud regions.

Everything here is a pure function: runs and static intensity tables in, small DataFrames and
``go.Figure`` out. The selection is first reduced to a handful of numbers (energy per location,
:func:`location_mix`), so the per-country figures cost the same for ten runs or a million.

Energy compared (see docs/comparisons.md):

* the IT energy of a run is ``energy_consumed / pue`` (a missing or non-positive PUE counts as 1);
* grids (countries, states, provinces) receive the energy as measured, i.e. the IT energy times the
  selection's own PUE: the same machines in the same facility, plugged into another grid;
* cloud regions receive the IT energy times the provider's PUE;
* a selection spanning several locations is compared through its energy-weighted mix: its own
  intensity is ``sum(energy_i * intensity_i) / sum(energy_i)``.

Static tables (built once per process from ``tracker.intensity`` by :func:`country_table`,
:func:`subnational_table` and :func:`cloud_table`; tests pass small hand-built ones):

* countries: ``iso3, name, g_co2e_per_kwh, year`` and the mix shares in :data:`MIX_SOURCES` (%);
* sub-national: ``country, region, name, g_co2e_per_kwh, year`` (``code`` optional);
* cloud: ``provider, region, location, g_co2e_per_kwh, year, source, pue``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carbonboard.figures import axis_unit
from carbonboard.formatting import (
    MASS_UNITS_KG,
    format_energy_kwh,
    format_intensity,
    format_mass_kg,
    plot_escape,
    plot_labels,
    plot_text,
    short_label,
)
from carbonboard.theme import (
    HIGHLIGHT_COLOR,
    MAP_BORDER_COLOR,
    MIX_COLORS,
    NEUTRAL_COLOR,
    PROVIDER_COLORS,
    RANKING_COLORS,
    placeholder_figure,
    themed_figure,
)
from tracker import intensity
from tracker.intensity import Intensity

GRAMS_PER_KG = 1000.0
LOCATION_KEYS = ("country_iso_code", "region", "cloud_provider", "cloud_region")
MIX_SOURCES = ("coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "other_renewables")
MIX_LABELS = {source: source.replace("_", " ") for source in MIX_SOURCES}  # as hover shows them
LOW_CARBON_SOURCES = ("nuclear", "hydro", "wind", "solar", "other_renewables")
PROVIDER_NAMES = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
MAP_MODES = ("intensity", "emissions", "low_carbon")
# Colour scales: low is good (green) for intensity and emissions, high is good for low-carbon share.
INTENSITY_COLORSCALE = "RdYlGn_r"
LOW_CARBON_COLORSCALE = "RdYlGn"
# Intensity and emissions colour scales end at this quantile, so a few extreme grids do not wash
# out the rest of the map; the hover still shows every value.
COLOR_CAP_QUANTILE = 0.98

Lookup = Callable[..., Intensity]


# --------------------------------------------------------------------------------------------
# The selection, reduced to energy per location


def it_energy_kwh(runs: pd.DataFrame) -> pd.Series:
    """Energy drawn by the IT equipment: the measured energy without the facility's overhead."""
    energy = _numeric(runs, "energy_consumed")
    if "pue" not in runs:
        return energy
    pue = pd.to_numeric(runs["pue"], errors="coerce")
    return energy / pue.where(pue > 0, 1.0).fillna(1.0)


def location_mix(runs: pd.DataFrame) -> pd.DataFrame:
    """Energy, IT energy and recorded emissions per distinct location of the selection's runs.

    Columns: the four :data:`LOCATION_KEYS` (text, "" when unknown), ``energy_kwh``,
    ``it_energy_kwh``, ``recorded_emissions_kg``, ``runs``; one row per location, largest first.
    The rows are grouped as they are first, so the text clean-up runs on a handful of groups.
    """
    numbers = pd.DataFrame(
        {
            "energy_kwh": _numeric(runs, "energy_consumed"),
            "it_energy_kwh": it_energy_kwh(runs),
            "recorded_emissions_kg": _numeric(runs, "emissions"),
            "runs": 1,
        },
        index=runs.index,
    )
    keys = [runs[key] if key in runs else pd.Series("", index=runs.index) for key in LOCATION_KEYS]
    raw = numbers.groupby(keys, sort=False, dropna=False).sum()
    raw.index.names = list(LOCATION_KEYS)
    raw = raw.reset_index()
    for key in LOCATION_KEYS:
        raw[key] = raw[key].astype("string").fillna("").str.strip()
    raw["country_iso_code"] = raw["country_iso_code"].str.upper()
    raw["cloud_provider"] = raw["cloud_provider"].str.lower()
    mix = raw.groupby(list(LOCATION_KEYS), sort=False, as_index=False).sum()
    mix[list(LOCATION_KEYS)] = mix[list(LOCATION_KEYS)].astype(object)
    return mix.sort_values("energy_kwh", ascending=False, kind="stable").reset_index(drop=True)


def _numeric(runs: pd.DataFrame, column: str) -> pd.Series | float:
    """A numeric column with blanks as 0, or 0 when the file lacks it."""
    if column not in runs:
        return 0.0
    return pd.to_numeric(runs[column], errors="coerce").fillna(0.0)


def with_intensity(mix: pd.DataFrame, lookup: Lookup = intensity.lookup) -> pd.DataFrame:
    """The location mix with the bundled intensity of each location (one lookup per location)."""
    found = [
        _resolve(
            lookup,
            country=row.country_iso_code or None,
            region=row.region or None,
            cloud_provider=row.cloud_provider or None,
            cloud_region=row.cloud_region or None,
        )
        for row in mix.itertuples(index=False)
    ]
    return mix.assign(
        g_co2e_per_kwh=[i.g_co2e_per_kwh for i in found],
        intensity_source=[i.source for i in found],
        intensity_year=[i.year for i in found],
        intensity_basis=[i.basis for i in found],
    )


def _resolve(lookup: Lookup, country: str | None, **place: str | None) -> Intensity:
    """The lookup, where a country code that names no country is ignored rather than raised:
    a file may hold anything, and the dashboard never fails on it."""
    try:
        return lookup(country=country, **place)
    except ValueError:
        return lookup(country=None, **place)


@dataclass(frozen=True)
class Baseline:
    """The selection as it ran: its energy, where, and what that emitted on the bundled data.

    Its figures are computed once, on first use: every view asks for them, some several times.
    """

    locations: pd.DataFrame  # with_intensity(location_mix(runs), lookup); never modified

    @cached_property
    def runs(self) -> int:
        return int(self.locations["runs"].sum()) if len(self.locations) else 0

    @cached_property
    def energy_kwh(self) -> float:
        return float(self.locations["energy_kwh"].sum())

    @cached_property
    def it_energy_kwh(self) -> float:
        return float(self.locations["it_energy_kwh"].sum())

    @property
    def pue(self) -> float:
        """The selection's own energy-weighted PUE (1 when it drew no energy)."""
        return self.energy_kwh / self.it_energy_kwh if self.it_energy_kwh > 0 else 1.0

    @cached_property
    def emissions_kg(self) -> float:
        """What the selection emitted on the bundled grid data for its own locations."""
        loc = self.locations
        return float((loc["energy_kwh"] * loc["g_co2e_per_kwh"]).sum() / GRAMS_PER_KG)

    @cached_property
    def recorded_emissions_kg(self) -> float:
        return float(self.locations["recorded_emissions_kg"].sum())

    @property
    def g_co2e_per_kwh(self) -> float:
        """Energy-weighted intensity of the selection's locations; NaN when it drew no energy."""
        if self.energy_kwh <= 0:
            return math.nan
        return self.emissions_kg * GRAMS_PER_KG / self.energy_kwh

    @property
    def has_energy(self) -> bool:
        return self.energy_kwh > 0

    @cached_property
    def _country_shares(self) -> pd.Series:
        by_country = self.locations.groupby("country_iso_code", sort=False)["energy_kwh"].sum()
        total = by_country.sum()
        shares = by_country / total if total > 0 else by_country * 0.0
        return shares.sort_values(ascending=False, kind="stable")

    def country_shares(self) -> pd.Series:
        """Share of the selection's energy per country (ISO-3, "" = unknown), largest first."""
        return self._country_shares.copy()

    def providers(self) -> list[str]:
        """Cloud providers of the selection, the one with most energy first."""
        cloud = self.locations[self.locations["cloud_provider"] != ""]
        by_provider = cloud.groupby("cloud_provider", sort=False)["energy_kwh"].sum()
        return list(by_provider.sort_values(ascending=False, kind="stable").index)

    def subnational_regions(self, country: str) -> list[str]:
        """The selection's regions (state, province...) within ``country``."""
        rows = self.locations[
            (self.locations["country_iso_code"] == country) & (self.locations["region"] != "")
        ]
        return list(dict.fromkeys(rows["region"].str.lower()))


def baseline(runs: pd.DataFrame, lookup: Lookup = intensity.lookup) -> Baseline:
    """Reduce the selection's runs to its baseline: energy per location with its intensity."""
    return Baseline(with_intensity(location_mix(runs), lookup))


# --------------------------------------------------------------------------------------------
# Static tables from the tracker's bundled intensity data (the one source of truth)


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


# --------------------------------------------------------------------------------------------
# Counterfactuals: the same energy elsewhere


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


def country_ranking(base: Baseline, countries: pd.DataFrame, n: int = 5) -> pd.DataFrame:
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


def unknown_cloud_regions(base: Baseline, cloud: pd.DataFrame) -> list[str]:
    """The selection's cloud locations missing from the cloud table, as "provider region"."""
    known = set(zip(cloud["provider"], cloud["region"].str.lower(), strict=True))
    own = base.locations[base.locations["cloud_provider"] != ""]
    pairs = zip(own["cloud_provider"], own["cloud_region"], strict=True)
    unknown = [(p, r) for p, r in dict.fromkeys(pairs) if (p, r.lower()) not in known]
    return [short_label(f"{p} {r}".strip()) for p, r in unknown]


def cloud_recommendation(base: Baseline, compared: pd.DataFrame) -> str:
    """One sentence: the best region of the selection's provider, or the regions beating it."""
    if not base.has_energy:
        return nothing_to_compare(base)
    providers = [p for p in base.providers() if p in set(compared["provider"])]
    if providers:
        best = compared[compared["provider"] == providers[0]].nsmallest(1, "emissions_kg")
        return _recommend(base, best.iloc[0], PROVIDER_NAMES.get(providers[0], providers[0]))
    beating = compared[compared["emissions_kg"] < base.emissions_kg]
    if beating.empty:
        return (
            f"No cloud region would have beaten your grid ({_kg(base.emissions_kg)} "
            f"at {format_intensity(base.g_co2e_per_kwh)})."
        )
    best = beating.nsmallest(1, "emissions_kg").iloc[0]
    sentence = _recommend(base, best, PROVIDER_NAMES.get(best["provider"], best["provider"]))
    count = f"{len(beating)} cloud region{'s' if len(beating) > 1 else ''}"
    return f"{count} would have beaten your grid. {sentence}"


def cloud_finding(base: Baseline, cloud: pd.DataFrame, compared: pd.DataFrame) -> str:
    """The recommendation, then the selection's cloud regions we have no figures for."""
    missing = unknown_cloud_regions(base, cloud)
    gap = f" No data for this region: {', '.join(missing)}." if missing else ""
    return cloud_recommendation(base, compared) + gap


def _recommend(base: Baseline, best: pd.Series, provider_name: str) -> str:
    """'In <region> this would have emitted 93 % less: 1.2 kg instead of 17 kg.'"""
    there, here = _kg(best["emissions_kg"]), _kg(base.emissions_kg)
    saving = best["saving_percent"]
    where = f"{provider_name} {best['region']}"
    if saving > 0:
        return f"In {where} this would have emitted {saving:.0f} % less: {there} instead of {here}."
    return f"Your runs already beat {where}, the provider's cleanest region ({there})."


# --------------------------------------------------------------------------------------------
# Text


def nothing_to_compare(base: Baseline) -> str:
    """What every view says instead of its assumptions when the selection drew no energy."""
    if base.runs == 0:
        return "No runs in this selection."
    return "The selection recorded no energy: there is nothing to compare."


def _kg(mass_kg: float) -> str:
    """A mass of CO2e in the page's units, bare ("1.2 kg"): the sentence says what it is."""
    return format_mass_kg(mass_kg, suffix="")


def describe_sources(base: Baseline, limit: int = 3) -> str:
    """Where the selection's intensity figures come from: the sources, or how many there are."""
    sources = list(dict.fromkeys(base.locations["intensity_source"]))
    if len(sources) > limit:
        return f"bundled figures for {len(sources)} locations"
    return ", ".join(map(short_label, sources))


def describe_countries(base: Baseline, countries: pd.DataFrame, limit: int = 3) -> str:
    """The selection's country mix by energy, e.g. "France 60 %, Poland 40 %"."""
    names = dict(zip(countries["iso3"], countries["name"], strict=True))
    shares = base.country_shares()
    if shares.empty:
        return "no location"
    labels = [
        short_label(names.get(iso3, iso3)) if iso3 else "unknown location" for iso3 in shares.index
    ]
    if len(shares) == 1:
        return labels[0]
    parts = [f"{label} {share * 100:.0f} %" for label, share in zip(labels, shares, strict=True)]
    more = [f"{len(shares) - limit} more"] if len(shares) > limit else []
    return ", ".join(parts[:limit] + more)


def year_span(years: Iterable) -> str:
    """'2022-2023' for the data years of a table (text or numbers), '' when unknown."""
    values = sorted({str(y) for y in years if str(y) not in ("", "nan", "None", "<NA>")})
    if not values:
        return ""
    return values[0] if len(values) == 1 else f"{values[0]}-{values[-1]}"


def _bases(values: Iterable) -> dict[str, int]:
    """How many figures name each basis, in order of first use; ``mixed:a+b`` counts as each."""
    counts: dict[str, int] = {}
    for value in values:
        for basis in str(value).removeprefix("mixed:").split("+"):
            if basis not in ("", "nan", "None", "<NA>"):
                counts[basis] = counts.get(basis, 0) + 1
    return counts


def basis_note(base: Baseline, table: pd.DataFrame) -> str:
    """What the compared figures count (their basis). Figures of different bases do not rank
    as if alike, so when the table and the selection mix them, the note says so and how many
    figures have each; "" when no basis is known (hand-built tables)."""
    counts = _bases(table["basis"]) if "basis" in table else {}
    for basis in _bases(base.locations["intensity_basis"]):
        counts.setdefault(basis, 0)
    if not counts:
        return ""
    if len(counts) == 1:
        (basis,) = counts
        return f"Basis: {basis} - {intensity.BASES.get(basis, 'as the source gives it')}."
    parts = ", ".join(
        f"{basis} ({count} here)" if count else f"{basis} (your runs)"
        for basis, count in counts.items()
    )
    return (
        f"Mixed bases: {parts}. For the same grid a lifecycle figure is higher than a direct "
        "one, so this ranking across bases is approximate."
    )


def energy_assumption(base: Baseline) -> str:
    """The energy every grid comparison replays, and how it was derived."""
    measured, it = format_energy_kwh(base.energy_kwh), format_energy_kwh(base.it_energy_kwh)
    return (
        f"Same energy everywhere: {measured} as measured "
        f"({it} drawn by the IT equipment x your PUE {base.pue:.2f})."
    )


def location_assumption(base: Baseline, countries: pd.DataFrame) -> str:
    """Where the selection ran and the intensity that implies, with its provenance."""
    sources = describe_sources(base)
    years = year_span(base.locations["intensity_year"])
    where = describe_countries(base, countries)
    fallback = (
        " Runs without a known location are counted at the world average."
        if (base.locations["intensity_source"] == "world-average").any()
        else ""
    )
    return (
        f"Your runs: {where}; energy-weighted intensity {format_intensity(base.g_co2e_per_kwh)} "
        f"({sources}{', ' + years if years else ''}) gives {_kg(base.emissions_kg)} "
        f"(recorded at run time: {_kg(base.recorded_emissions_kg)}).{fallback}"
    )


def grid_assumptions(base: Baseline, countries: pd.DataFrame, table: pd.DataFrame) -> str:
    """Assumptions under a grid comparison (countries, states, provinces)."""
    if not base.has_energy:
        return nothing_to_compare(base)
    years = year_span(table["year"])
    return " ".join(
        part
        for part in [
            energy_assumption(base),
            "Intensity: annual average of each grid, gCO2e/kWh"
            + (f", data years {years}." if years else "."),
            basis_note(base, table),
            location_assumption(base, countries),
        ]
        if part
    )


def _cloud_sources(cloud: pd.DataFrame) -> str:
    """Whose figures the cloud intensities are: a provider's own where it publishes them."""
    own = [
        PROVIDER_NAMES.get(p, p)
        for p in sorted(set(cloud["provider"]))
        if cloud["source"].str.startswith(f"cloud:{p}:").any()
    ]
    grid = "the grid where each region sits"
    return f"{' and '.join(own)} published figures per region, else {grid}" if own else grid


def cloud_assumptions(base: Baseline, countries: pd.DataFrame, cloud: pd.DataFrame) -> str:
    """Assumptions under the cloud comparison, stating every provider's PUE."""
    if not base.has_energy:
        return nothing_to_compare(base)
    pues = cloud.groupby("provider", sort=True)["pue"].first()
    pue_text = ", ".join(f"{PROVIDER_NAMES.get(p, p)} {v:.2f}" for p, v in pues.items())
    years = year_span(cloud["year"])
    return " ".join(
        part
        for part in [
            f"Same IT energy everywhere: {format_energy_kwh(base.it_energy_kwh)} "
            f"(measured energy / your PUE {base.pue:.2f}), times each provider's PUE: {pue_text}.",
            f"Intensity: {_cloud_sources(cloud)}" + (f", data years {years}." if years else "."),
            basis_note(base, cloud),
            location_assumption(base, countries),
        ]
        if part
    )


# --------------------------------------------------------------------------------------------
RANKING_SIZE = 5  # cleanest and dirtiest grids shown next to the selection's own

# Figures (all with the app's template; masses on axes in the unit that suits the values)


def _mix_hover(countries: pd.DataFrame) -> tuple[np.ndarray, str]:
    """customdata and hover lines showing each country's generation mix. An array, not nested
    lists: plotly validates a list element by element, an array at once."""
    columns = countries[["name", "year", *MIX_SOURCES]].assign(
        name=countries["name"].map(plot_text)
    )
    customdata = columns.astype(object).where(columns.notna(), None).to_numpy()
    lines = "<br>".join(
        f"{MIX_LABELS[source]}: %{{customdata[{i + 2}]:.0f}} %"
        for i, source in enumerate(MIX_SOURCES)
    )
    return customdata, lines


def world_map_figure(base: Baseline, countries: pd.DataFrame, mode: str = "intensity") -> go.Figure:
    """Choropleth of every country: its grid intensity, the selection's emissions had it run
    there, or its low-carbon share; the selection's countries are marked; hover shows the mix."""
    if mode not in MAP_MODES:
        raise ValueError(f"unknown map mode {mode!r}: expected one of {MAP_MODES}")
    customdata, mix_lines = _mix_hover(countries)
    if mode == "emissions":
        emissions_kg = emissions_there_kg(base.energy_kwh, countries)
        factor, unit = axis_unit(emissions_kg, MASS_UNITS_KG)
        z = emissions_kg / factor
        title, colorscale = f"{unit} CO2e had it run there", INTENSITY_COLORSCALE
        value_line = f"your runs would have emitted %{{z:.3g}} {unit} CO2e"
    elif mode == "low_carbon":
        z = low_carbon_percent(countries)
        title, colorscale = "low-carbon share of generation (%)", LOW_CARBON_COLORSCALE
        value_line = "low-carbon share %{z:.0f} %"
    else:
        z = countries["g_co2e_per_kwh"]
        title, colorscale = "grid intensity (gCO2e/kWh)", INTENSITY_COLORSCALE
        value_line = "%{z:.0f} gCO2e/kWh"
    zmax = 100.0 if mode == "low_carbon" else float(z.quantile(COLOR_CAP_QUANTILE))
    traces = [
        {
            "type": "choropleth",
            "locations": countries["iso3"].to_numpy(),
            "locationmode": "ISO-3",
            "z": np.asarray(z, dtype=float),
            "zmin": 0.0,
            "zmax": zmax if zmax > 0 else None,
            "colorscale": colorscale,
            "colorbar": {"title": {"text": title, "side": "right"}, "thickness": 14},
            "marker": {"line": {"width": 0.3, "color": MAP_BORDER_COLOR}},
            "customdata": customdata,
            "hovertemplate": (
                f"<b>%{{customdata[0]}}</b> (%{{customdata[1]}})<br>{value_line}<br>"
                f"{mix_lines}<extra></extra>"
            ),
            "name": title,
        }
    ]
    shares = base.country_shares()
    known = shares[shares.index.isin(set(countries["iso3"]))].sort_index()
    if not known.empty:
        traces.append(
            {
                "type": "scattergeo",
                "locations": list(known.index),
                "locationmode": "ISO-3",
                "mode": "markers",
                "marker": {
                    "symbol": "star",
                    "size": [round(10 + 14 * share) for share in known],  # whole pixels
                    "color": HIGHLIGHT_COLOR,
                    "line": {"width": 1, "color": MAP_BORDER_COLOR},
                },
                "text": [f"your runs: {share * 100:.0f} % of the energy" for share in known],
                "hovertemplate": "%{location}: %{text}<extra></extra>",
                "name": "your runs",
                "showlegend": False,
            }
        )
    geo = {
        "projection": {"type": "natural earth"},
        "showframe": False,
        "showcoastlines": False,
        "showcountries": False,  # the choropleth outlines each country: borders twice cost 40 %
        "showland": True,  # places without data stay visible, in the land colour
        "lataxis": {"range": [-58, 85]},
    }
    return themed_figure(
        traces, {"geo": geo, "margin": {"l": 0, "r": 0, "t": 10, "b": 0}, "height": 460}
    )


def energy_mix_figure(countries: pd.DataFrame, iso3s: list[str]) -> go.Figure:
    """Stacked shares of each generation source for the given countries, in the given order."""
    rows = countries.set_index("iso3").reindex([i for i in iso3s if i in set(countries["iso3"])])
    if rows.empty:
        return placeholder_figure("No generation mix for these countries")
    traces = [
        {
            "type": "bar",
            "y": plot_labels(rows["name"]),
            "x": rows[source].to_numpy(dtype=float),
            "name": MIX_LABELS[source],
            "marker": {"color": MIX_COLORS[source]},
            "orientation": "h",
            "hovertemplate": f"%{{y}}: {MIX_LABELS[source]} %{{x:.1f}} %<extra></extra>",
        }
        for source in MIX_SOURCES
    ]
    layout = {
        "barmode": "stack",
        "xaxis": {"title": {"text": "share of electricity generation (%)"}, "range": [0, 100]},
        "yaxis": {"autorange": "reversed"},
        "legend": {"orientation": "h", "y": -0.25, "yanchor": "top"},
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "height": max(320, 26 * len(rows) + 140),
    }
    return themed_figure(traces, layout)


def _saving_label(saving: float) -> str:
    if not math.isfinite(saving):
        return ""
    return f"{saving:.0f} % less" if saving >= 0 else f"{-saving:.0f} % more"


def _emission_bars(
    labels: list[str],
    emissions_kg: pd.Series,
    colors: list[str],
    hover: list[str],
    x_title: str,
    text: list[str] | None = None,
    baseline_kg: float | None = None,
) -> go.Figure:
    """Sorted horizontal bars of masses (first on top), optionally with a dashed line at the
    selection's own emissions."""
    factor, unit = axis_unit(emissions_kg, MASS_UNITS_KG)
    bars = {
        "type": "bar",
        "y": plot_labels(labels),
        "x": np.asarray(emissions_kg, dtype=float) / factor,
        "orientation": "h",
        "marker": {"color": colors},
        "hovertext": [plot_escape(line) for line in hover],
        "hoverinfo": "text",
    }
    if text:
        bars.update(text=text, textposition="auto")
    layout = {
        "xaxis": {"title": {"text": f"{unit} CO2e {x_title}"}},
        "yaxis": {"autorange": "reversed", "automargin": True},
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "height": max(320, (28 if text else 16) * len(labels) + 100),
        "bargap": 0.15,
    }
    if baseline_kg is not None and math.isfinite(baseline_kg):
        x = baseline_kg / factor  # a dashed line at the selection's own emissions, labelled
        layout["shapes"] = [
            {
                "type": "line",
                "x0": x,
                "x1": x,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "y domain",
                "line": {"dash": "dash", "color": HIGHLIGHT_COLOR},
            }
        ]
        layout["annotations"] = [
            {
                "text": f"your runs: {_kg(baseline_kg)}",
                "x": x,
                "xref": "x",
                "xanchor": "left",
                "y": 1,
                "yref": "y domain",
                "yanchor": "top",
                "showarrow": False,
            }
        ]
    return themed_figure([bars], layout)


def ranking_figure(ranking: pd.DataFrame) -> go.Figure:
    """Sorted horizontal bars: the selection in the cleanest, its own and the dirtiest grids."""
    if ranking.empty:
        return placeholder_figure("No runs in this selection")
    rows = list(
        zip(
            ranking["label"],
            ranking["emissions_kg"],
            ranking["g_co2e_per_kwh"],
            ranking["saving_percent"],
            ranking["kind"],
            strict=True,
        )
    )
    return _emission_bars(
        labels=[label for label, *_ in rows],
        emissions_kg=ranking["emissions_kg"],
        colors=[RANKING_COLORS[kind] for *_, kind in rows],
        hover=[
            f"{short_label(label)}: {_kg(kg)} at {format_intensity(g)}"
            for label, kg, g, _, _ in rows
        ],
        x_title="for the same energy",
        text=[
            _kg(kg) if kind == "yours" else f"{_kg(kg)}  {_saving_label(saving)}"
            for _, kg, _, saving, kind in rows
        ],
    )


def subnational_figure(compared: pd.DataFrame, base: Baseline) -> go.Figure:
    """The selection's energy across a country's states or provinces, its own highlighted."""
    if compared.empty or base.runs == 0:
        return placeholder_figure("No sub-national data for this selection")
    rows = list(
        zip(
            compared["name"],
            compared["emissions_kg"],
            compared["g_co2e_per_kwh"],
            compared["saving_percent"],
            compared["is_current"],
            strict=True,
        )
    )
    return _emission_bars(
        labels=[f"{name} (yours)" if current else name for name, *_, current in rows],
        emissions_kg=compared["emissions_kg"],
        colors=[HIGHLIGHT_COLOR if current else NEUTRAL_COLOR for *_, current in rows],
        hover=[
            f"{short_label(name)}: {_kg(kg)} at {format_intensity(g)} "
            f"({_saving_label(saving) or 'n/a'})"
            for name, kg, g, saving, _ in rows
        ],
        x_title="for the same energy",
        baseline_kg=base.emissions_kg,
    )


def cloud_figure(compared: pd.DataFrame, base: Baseline) -> go.Figure:
    """The selection's IT energy across cloud regions (provider PUE applied), own ones marked."""
    if compared.empty or base.runs == 0:
        return placeholder_figure("No cloud regions to compare")
    rows = list(
        zip(
            compared["provider"],
            compared["region"],
            compared["location"],
            compared["emissions_kg"],
            compared["g_co2e_per_kwh"],
            compared["pue"],
            compared["saving_percent"],
            compared["is_current"],
            strict=True,
        )
    )
    labels = [
        f"{PROVIDER_NAMES.get(p, p)} {short_label(region)}{' (yours)' if current else ''}"
        for p, region, *_, current in rows
    ]
    return _emission_bars(
        labels=labels,
        emissions_kg=compared["emissions_kg"],
        colors=[
            HIGHLIGHT_COLOR if current else PROVIDER_COLORS.get(p, NEUTRAL_COLOR)
            for p, *_, current in rows
        ],
        hover=[
            f"{label} - {short_label(location)}: {_kg(kg)} at {format_intensity(g)} x PUE {pue:.2f}"
            f" ({_saving_label(saving) or 'n/a'})"
            for label, (_, _, location, kg, g, pue, saving, _) in zip(labels, rows, strict=True)
        ],
        x_title="for the same IT energy, provider PUE applied",
        baseline_kg=base.emissions_kg,
    )
