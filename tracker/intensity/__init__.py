"""Grid carbon intensity: bundled data, lookups and resolution order.

One source of truth for the tracker and for carbonboard's regional comparisons. Everything here is
pure and offline: the bundled JSON files (built by ``tracker.intensity.build``) are read on first
use and cached, so importing this package costs nothing.

Every figure carries its ``basis`` (what it counts, see ``BASES``) and data ``year``: the public
sources differ, and a comparison of figures on different bases must say so.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

# What a figure counts. For the same grid a lifecycle figure is higher than a direct one: a little
# for a coal grid, by far for a hydro or nuclear grid that emits next to nothing when generating.
# Figures of different bases therefore do not rank as they are.
BASES = {
    "lifecycle": "fuel supply, plant construction and operation (gCO2e/kWh)",
    "direct": "only what the plants emit when generating (gCO2e/kWh, or gCO2/kWh for China)",
    "operational": "the provider's location-based grid figure for its region (Google Cloud)",
}
WORLD_AVERAGE_G_PER_KWH = 481.0  # Ember, 2023, lifecycle basis
INDUSTRY_AVERAGE_PUE = 1.56  # Uptime Institute, 2024 global survey
# Fleet-wide PUE each provider publishes in its sustainability reporting.
PROVIDER_PUE = {"gcp": 1.10, "aws": 1.15, "azure": 1.18}
CLOUD_PROVIDERS = tuple(sorted(PROVIDER_PUE))


@dataclass(frozen=True)
class Intensity:
    g_co2e_per_kwh: float
    source: str  # e.g. "country:FRA", "us-state:california", "world-average"
    year: str = ""
    basis: str = ""  # a key of BASES; empty when unknown (a forced figure)

    @property
    def is_fallback(self) -> bool:
        return self.source == "world-average"


WORLD_AVERAGE = Intensity(WORLD_AVERAGE_G_PER_KWH, "world-average", "2023", "lifecycle")


@dataclass(frozen=True)
class CountryIntensity:
    """A country's grid: annual intensity and generation by source."""

    iso3: str
    iso2: str
    name: str
    g_co2e_per_kwh: float
    year: str
    basis: str  # "lifecycle" (OWID / Ember)
    method: str  # "reported", or "estimated-from-mix" where the reported figure is implausible
    mix_twh: dict[str, float] = field(default_factory=dict, hash=False)

    @property
    def source(self) -> str:
        return f"country:{self.iso3}"

    @property
    def intensity(self) -> Intensity:
        return Intensity(self.g_co2e_per_kwh, self.source, self.year, self.basis)

    @property
    def mix_share(self) -> dict[str, float]:
        """Each source's share of generation (0-1); empty when the country generated nothing."""
        total_twh = sum(self.mix_twh.values())
        if total_twh <= 0:
            return {}
        return {source: twh / total_twh for source, twh in self.mix_twh.items()}


@dataclass(frozen=True)
class RegionIntensity:
    """A sub-national grid: a US state, a Canadian or Chinese province or a Nordic bidding zone."""

    kind: str  # "us-state" | "ca-province" | "cn-province" | "nordic"
    key: str  # "california", "quebec", "guangdong", "SE3": what the source string names
    code: str  # postal code, ISO 3166-2 code (China) or zone: "CA", "QC", "CN-GD", "SE3"
    name: str
    country_iso3: str
    g_co2e_per_kwh: float
    year: str
    basis: str  # a key of BASES
    mix_percent: dict[str, float] = field(default_factory=dict, hash=False)
    aliases: tuple[str, ...] = ()  # other names it goes by: "nei mongol" for Inner Mongolia

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.key}"

    @property
    def intensity(self) -> Intensity:
        return Intensity(self.g_co2e_per_kwh, self.source, self.year, self.basis)


@dataclass(frozen=True)
class CloudRegionIntensity:
    """A cloud region and its figure: the provider's own, else the grid where the region sits."""

    provider: str  # "aws" | "azure" | "gcp"
    region: str
    location: str
    country_iso3: str
    g_co2e_per_kwh: float
    source: str  # "cloud:gcp:<region>" for Google's figure, else e.g. "us-state:virginia"
    year: str
    basis: str  # "operational" for Google's figure, else the grid's

    @property
    def intensity(self) -> Intensity:
        return Intensity(self.g_co2e_per_kwh, self.source, self.year, self.basis)


DATA_DIR = Path(__file__).resolve().parent / "data"


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


@cache
def _countries() -> dict[str, CountryIntensity]:
    return {
        iso3: CountryIntensity(
            iso3=iso3,
            iso2=row["iso2"],
            name=row["name"],
            g_co2e_per_kwh=row["g_co2e_per_kwh"],
            year=row["year"],
            basis=row["basis"],
            method=row["method"],
            mix_twh=row["mix_twh"],
        )
        for iso3, row in _load("countries.json")["countries"].items()
    }


@cache
def _iso2_index() -> dict[str, str]:
    return {country.iso2: iso3 for iso3, country in _countries().items()}


@cache
def _regions() -> tuple[RegionIntensity, ...]:
    return tuple(
        RegionIntensity(
            kind=kind,
            key=key,
            code=row["code"],
            name=row["name"],
            country_iso3=row["country_iso3"],
            g_co2e_per_kwh=row["g_co2e_per_kwh"],
            year=row["year"],
            basis=row["basis"],
            mix_percent=row.get("mix_percent", {}),
            aliases=tuple(row.get("aliases", ())),
        )
        for kind, table in _load("regions.json")["regions"].items()
        for key, row in table.items()
    )


# What geolocation services append to a Chinese province's name; the bundled names omit it.
_REGION_SUFFIXES = (" province", " municipality", " autonomous region")


def _region_alias(name: str) -> str:
    """A region name as the alias index holds it: lower case, accents dropped ("Québec" is
    "quebec"), without a trailing suffix."""
    decomposed = unicodedata.normalize("NFKD", " ".join(name.split()).lower())
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    for suffix in _REGION_SUFFIXES:
        text = text.removesuffix(suffix)
    return text


@cache
def _region_aliases() -> dict[str, tuple[RegionIntensity, ...]]:
    """Every name, key, code and alias, to the regions it may mean."""
    aliases: dict[str, tuple[RegionIntensity, ...]] = {}
    subdivision_of = {"us-state": "US", "ca-province": "CA"}  # their codes are postal codes
    for region in _regions():
        names = {region.key, region.code, region.name, *region.aliases}
        if region.kind in subdivision_of:  # and "US-TX", "CA-ON": ISO 3166-2
            names.add(f"{subdivision_of[region.kind]}-{region.code}")
        for alias in {_region_alias(name) for name in names}:
            aliases[alias] = (*aliases.get(alias, ()), region)
    return aliases


@cache
def _cloud() -> dict[tuple[str, str], CloudRegionIntensity]:
    return {
        (provider, region): CloudRegionIntensity(
            provider=provider,
            region=region,
            location=row["location"],
            country_iso3=row["country_iso3"],
            g_co2e_per_kwh=row["g_co2e_per_kwh"],
            source=row["source"],
            year=row["year"],
            basis=row["basis"],
        )
        for provider, table in _load("cloud_regions.json")["cloud_regions"].items()
        for region, row in table.items()
    }


# Codes in common use that ISO 3166-1 reserves for another meaning: "UK" is the United Kingdom.
COUNTRY_CODE_ALIASES = {"UK": "GB"}


def validate_country(code: str) -> str:
    """The ISO 3166-1 alpha-3 code for an alpha-2 or alpha-3 code, in any case.

    Raises ``ValueError`` for a code that names no country, so a typo never becomes a silent
    world-average figure.
    """
    text = str(code).strip().upper()
    text = COUNTRY_CODE_ALIASES.get(text, text)
    if text in _countries():
        return text
    if text in _iso2_index():
        return _iso2_index()[text]
    if len(text) in (2, 3) and text.isalpha():
        import pycountry

        found = pycountry.countries.get(**{f"alpha_{len(text)}": text})
        if found is not None:
            return found.alpha_3
    raise ValueError(f"unknown country code {code!r}: expected ISO 3166-1 alpha-2 or alpha-3")


def _pycountry_country(iso3: str) -> Any:
    import pycountry  # slow to import: only for countries without bundled data

    return pycountry.countries.get(alpha_3=iso3)


def country_name(iso3: str) -> str:
    """The display name of a country: the bundled one, else pycountry's ("" when unknown)."""
    if iso3 in _countries():
        return _countries()[iso3].name
    found = _pycountry_country(iso3)
    if found is None:
        return ""
    return getattr(found, "common_name", None) or found.name


def country_iso2(iso3: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country ("" when unknown)."""
    if iso3 in _countries():
        return _countries()[iso3].iso2
    found = _pycountry_country(iso3)
    return found.alpha_2 if found is not None else ""


def find_region(country_iso3: str | None, region: str) -> RegionIntensity | None:
    """The sub-national grid a region name, postal code, ISO code or zone means, within a country
    if given ("Guangdong Province", "CN-GD", "texas", "TX", "SE3").

    Without a country, only an unambiguous match counts.
    """
    matches = [
        r
        for r in _region_aliases().get(_region_alias(region), ())
        if country_iso3 is None or r.country_iso3 == country_iso3
    ]
    return matches[0] if len(matches) == 1 else None


def find_cloud_region(provider: str, region: str) -> CloudRegionIntensity | None:
    """The bundled entry for a cloud region, or ``None`` when the region is not listed."""
    return _cloud().get((provider.strip().lower(), region.strip().lower()))


def lookup(
    country: str | None = None,
    region: str | None = None,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
) -> Intensity:
    """The bundled intensity for a place: cloud region, then sub-national region, then country.

    The answer carries the figure's basis and year. Falls back to ``WORLD_AVERAGE`` (flagged) when
    nothing matches; an invalid country code raises ``ValueError``.
    """
    country_iso3 = validate_country(country) if country else None
    if cloud_provider and cloud_region:
        cloud = find_cloud_region(cloud_provider, cloud_region)
        if cloud is not None:
            return cloud.intensity
    if region:
        found = find_region(country_iso3, region)
        if found is not None:
            return found.intensity
    if country_iso3 in _countries():
        return _countries()[country_iso3].intensity
    return WORLD_AVERAGE


def countries() -> list[CountryIntensity]:
    """Every country with bundled data, by ISO 3166-1 alpha-3 code."""
    return sorted(_countries().values(), key=lambda c: c.iso3)


def regions(country: str) -> list[RegionIntensity]:
    """The sub-national grids of a country (US states, Canadian and Chinese provinces, Nordic
    zones)."""
    iso3 = validate_country(country)
    return sorted((r for r in _regions() if r.country_iso3 == iso3), key=lambda r: r.key)


def _provider_code(provider: str) -> str:
    code = provider.strip().lower()
    if code not in PROVIDER_PUE:
        raise ValueError(f"unknown cloud provider {provider!r}: expected one of {CLOUD_PROVIDERS}")
    return code


def cloud_regions(provider: str | None = None) -> list[CloudRegionIntensity]:
    """Every listed cloud region, or one provider's ("aws", "azure", "gcp")."""
    code = _provider_code(provider) if provider is not None else None
    return sorted(
        (entry for entry in _cloud().values() if code is None or entry.provider == code),
        key=lambda e: (e.provider, e.region),
    )


def provider_pue(provider: str) -> float:
    """The fleet PUE a cloud provider publishes; ``INDUSTRY_AVERAGE_PUE`` is for other sites."""
    return PROVIDER_PUE[_provider_code(provider)]
