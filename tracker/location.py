"""Where the code runs: settings, cloud metadata, geo-IP — resolved off the critical path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    country_iso_code: str = ""  # ISO 3166-1 alpha-3, "" when unknown
    country_name: str = ""
    region: str = ""
    cloud_provider: str = ""
    cloud_region: str = ""
    latitude: float | None = None
    longitude: float | None = None
    source: str = "unknown"  # "settings" | "cloud-metadata" | "geo-ip" | "unknown"

    @property
    def on_cloud(self) -> bool:
        return bool(self.cloud_provider)
