"""The sentences of the regional views: the summary, the recommendation, and the assumptions
under every chart (energy, PUE, intensity sources, data years and bases)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from carbonboard.formatting import (
    format_count,
    format_energy_kwh,
    format_intensity,
    format_mass_kg,
    short_label,
)
from carbonboard.regional.baseline import Baseline
from carbonboard.regional.tables import PROVIDER_NAMES, unknown_cloud_regions
from tracker import intensity

MIX_NOTE = (
    "Share of each source in the country's electricity generation, cleanest grid first; "
    "bioenergy counts as other renewables."
)


def nothing_to_compare(base: Baseline) -> str:
    """What every view says instead of its assumptions when the selection drew no energy."""
    if base.runs == 0:
        return "No runs in this selection."
    return "The selection recorded no energy: there is nothing to compare."


def mass_text(mass_kg: float) -> str:
    """A mass of CO2e in the page's units, bare ("1.2 kg"): the sentence says what it is."""
    return format_mass_kg(mass_kg, suffix="")


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
            f"No cloud region would have beaten your grid ({mass_text(base.emissions_kg)} "
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
    there, here = mass_text(best["emissions_kg"]), mass_text(base.emissions_kg)
    saving = best["saving_percent"]
    where = f"{provider_name} {best['region']}"
    if saving > 0:
        return f"In {where} this would have emitted {saving:.0f} % less: {there} instead of {here}."
    return f"Your runs already beat {where}, the provider's cleanest region ({there})."


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
        f"({sources}{', ' + years if years else ''}) gives {mass_text(base.emissions_kg)} "
        f"(recorded at run time: {mass_text(base.recorded_emissions_kg)}).{fallback}"
    )


def grid_data_note(base: Baseline, table: pd.DataFrame) -> str:
    """What is particular to one grid chart (its intensities' data years and bases), for the
    charts after the first, whose note said the rest once for the tab."""
    if not base.has_energy:
        return nothing_to_compare(base)
    years = year_span(table["year"])
    return " ".join(
        part
        for part in [
            "Intensity: annual average of each grid, gCO2e/kWh"
            + (f", data years {years}." if years else "."),
            basis_note(base, table),
        ]
        if part
    )


def grid_assumptions(base: Baseline, countries: pd.DataFrame, table: pd.DataFrame) -> str:
    """Every assumption of the grid comparisons (the same energy, the intensities, where the
    selection ran), said once per tab: under its first chart."""
    if not base.has_energy:
        return nothing_to_compare(base)
    return " ".join(
        [
            energy_assumption(base),
            grid_data_note(base, table),
            location_assumption(base, countries),
        ]
    )


def ranking_note(base: Baseline) -> str:
    """Under the ranking, which replays the map's grids: a pointer, not the map's note again."""
    if not base.has_energy:
        return nothing_to_compare(base)
    return "Same energy, grids and data as the map above."


def _cloud_sources(cloud: pd.DataFrame) -> str:
    """Whose figures the cloud intensities are: a provider's own where it publishes them."""
    own = [
        PROVIDER_NAMES.get(p, p)
        for p in sorted(set(cloud["provider"]))
        if cloud["source"].str.startswith(f"cloud:{p}:").any()
    ]
    grid = "the grid where each region sits"
    return f"{' and '.join(own)} published figures per region, else {grid}" if own else grid


def regions_left_out(count: int) -> str:
    """What the every-provider cloud chart leaves out, and how to see it; "" for nothing."""
    if count <= 0:
        return ""
    return (
        f"… and {format_count(count)} more regions, not charted: choose one provider to see "
        "all of its regions."
    )


def cloud_assumptions(base: Baseline, cloud: pd.DataFrame, left_out: int = 0) -> str:
    """Assumptions under the cloud comparison, stating every provider's PUE (where the
    selection ran is said once, under the map), after how many regions the chart left out."""
    if not base.has_energy:
        return nothing_to_compare(base)
    pues = cloud.groupby("provider", sort=True)["pue"].first()
    pue_text = ", ".join(f"{PROVIDER_NAMES.get(p, p)} {v:.2f}" for p, v in pues.items())
    years = year_span(cloud["year"])
    return " ".join(
        part
        for part in [
            regions_left_out(left_out),
            f"Same IT energy everywhere: {format_energy_kwh(base.it_energy_kwh)} "
            f"(measured energy / your PUE {base.pue:.2f}), times each provider's PUE: {pue_text}.",
            f"Intensity: {_cloud_sources(cloud)}" + (f", data years {years}." if years else "."),
            basis_note(base, cloud),
        ]
        if part
    )


def summary(base: Baseline, countries: pd.DataFrame) -> str:
    """One line above the views: what is being replayed."""
    if not base.has_energy:
        return nothing_to_compare(base)
    runs = f"{format_count(base.runs)} run{'s' if base.runs > 1 else ''}"
    return (
        f"{runs} drew {format_energy_kwh(base.energy_kwh)} in "
        f"{describe_countries(base, countries)}: {format_mass_kg(base.emissions_kg)} at "
        f"{format_intensity(base.g_co2e_per_kwh)}. The same energy elsewhere:"
    )
