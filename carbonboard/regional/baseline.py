"""The selection as it ran, reduced to energy per location with each location's intensity.

Everything the regional views compare starts here: the runs are grouped once into a handful of
locations (:func:`location_mix`), so the per-country figures cost the same for ten runs or a
million. The IT energy of a run is ``energy_consumed / pue`` (a missing or non-positive PUE counts
as 1); a selection spanning several locations is compared through its energy-weighted mix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from tracker import intensity
from tracker.intensity import Intensity

GRAMS_PER_KG = 1000.0
LOCATION_KEYS = ("country_iso_code", "region", "cloud_provider", "cloud_region")

Lookup = Callable[..., Intensity]


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
    return merge_locations(raw.reset_index())


def merge_locations(raw: pd.DataFrame) -> pd.DataFrame:
    """Sums per location as recorded (the columns of :func:`location_mix`) merged per location
    once its text is cleaned (trimmed, ISO code upper case, provider lower case), largest first:
    a database groups its rows in SQL and finishes here, as :func:`location_mix` does."""
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
