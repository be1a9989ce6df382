"""Where the code runs: settings, cloud metadata, geo-IP — resolved off the critical path.

Order: explicit settings, then the cloud metadata services (AWS IMDSv2, Google Cloud, Azure IMDS,
probed together within a small total budget), then geo-IP over HTTPS. When all fail the location
is unknown and the caller uses the flagged world average: a country is never guessed.
``requests`` is imported only when a network lookup actually runs.
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from tracker import intensity
from tracker.intensity.endpoints import GEOIP_URL, METADATA_BUDGET_S, METADATA_URLS

log = logging.getLogger(__name__)

# What a cloud region name looks like; anything else is not a metadata service's answer.
_REGION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}$")


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


def _place(
    country_iso3: str, region: str, cloud_provider: str, cloud_region: str, source: str
) -> Location:
    """A location completed from the bundled tables: the country a cloud region or a region
    implies, display names, and canonical region keys."""
    cloud = intensity.find_cloud_region(cloud_provider, cloud_region) if cloud_region else None
    if not country_iso3 and cloud is not None:
        country_iso3 = cloud.country_iso3
    found = intensity.find_region(country_iso3 or None, region) if region else None
    if found is not None:
        country_iso3, region = found.country_iso3, found.key
    return Location(
        country_iso_code=country_iso3,
        country_name=intensity.country_name(country_iso3) if country_iso3 else "",
        region=region,
        cloud_provider=cloud_provider.strip().lower(),
        cloud_region=cloud_region.strip().lower(),
        source=source,
    )


def from_settings(
    country_iso_code: str | None = None,
    region: str | None = None,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
) -> Location | None:
    """The location the user gave, or ``None`` when they gave none.

    Raises ``ValueError`` for a country code that does not exist.
    """
    if not (country_iso_code or region or cloud_region):
        return None
    country_iso3 = intensity.validate_country(country_iso_code) if country_iso_code else ""
    return _place(country_iso3, region or "", cloud_provider or "", cloud_region or "", "settings")


def _session(requests: Any) -> Any:
    """A session that ignores proxy settings: metadata services are link-local."""
    session = requests.Session()
    session.trust_env = False
    return session


def _aws_region(session: Any, base_url: str, timeout: Callable[[], float]) -> str:
    token = session.put(
        f"{base_url}/latest/api/token",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        timeout=timeout(),
    )
    token.raise_for_status()
    answer = session.get(
        f"{base_url}/latest/meta-data/placement/region",
        headers={"X-aws-ec2-metadata-token": token.text},
        timeout=timeout(),
    )
    answer.raise_for_status()
    return answer.text


def _gcp_region(session: Any, base_url: str, timeout: Callable[[], float]) -> str:
    answer = session.get(
        f"{base_url}/computeMetadata/v1/instance/zone",
        headers={"Metadata-Flavor": "Google"},
        timeout=timeout(),
    )
    answer.raise_for_status()
    if answer.headers.get("Metadata-Flavor") != "Google":
        raise ValueError("not Google's metadata server")
    zone = answer.text.strip().rsplit("/", 1)[-1]  # projects/<n>/zones/europe-west1-b
    return zone.rsplit("-", 1)[0]


def _azure_region(session: Any, base_url: str, timeout: Callable[[], float]) -> str:
    answer = session.get(
        f"{base_url}/metadata/instance/compute/location",
        params={"api-version": "2021-02-01", "format": "text"},
        headers={"Metadata": "true"},
        timeout=timeout(),
    )
    answer.raise_for_status()
    return answer.text


_PROBES = {"aws": _aws_region, "gcp": _gcp_region, "azure": _azure_region}


def detect_cloud(
    metadata_urls: Mapping[str, str] | None = None, budget_s: float = METADATA_BUDGET_S
) -> Location | None:
    """Ask the three metadata services at once; the first valid answer within ``budget_s`` wins.

    Off the cloud nothing answers, so this costs at most ``budget_s`` and returns ``None``.
    """
    import requests

    urls = {**METADATA_URLS, **(metadata_urls or {})}
    deadline = time.monotonic() + budget_s

    def remaining_s() -> float:
        return max(0.01, deadline - time.monotonic())

    def probe(provider: str) -> str:
        with _session(requests) as session:
            region = _PROBES[provider](session, urls[provider].rstrip("/"), remaining_s).strip()
        if not _REGION_NAME.match(region):
            raise ValueError(f"unexpected answer {region[:40]!r}")
        return region

    answers: queue.Queue[tuple[str, str | Exception]] = queue.Queue()

    def ask(provider: str) -> None:
        try:
            answers.put((provider, probe(provider)))
        except Exception as error:  # any failure only means "not this provider"
            answers.put((provider, error))

    # Daemon threads, not an executor: a probe still waiting must never delay interpreter exit.
    for provider in _PROBES:
        threading.Thread(target=ask, args=(provider,), name="cloud-metadata", daemon=True).start()
    for _ in _PROBES:
        try:
            provider, answer = answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if isinstance(answer, str):
            return _place("", "", provider, answer, "cloud-metadata")
        log.debug("no %s metadata service: %s", provider, answer)
    return None


def _coordinate(value: Any, limit: float) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and abs(number) <= limit else None


def detect_geoip(url: str = GEOIP_URL, timeout_s: float = 2.0) -> Location | None:
    """Country, region and coordinates of this machine's public address, or ``None``.

    Expects geojs.io's answer (``country_code3`` or ``country_code``, ``region``, ``latitude``,
    ``longitude``); a missing or invalid country means no answer, never a guess.
    """
    import requests

    try:
        answer = requests.get(url, timeout=timeout_s)
        answer.raise_for_status()
        data = answer.json()
        if not isinstance(data, dict):
            raise ValueError("the answer is not a JSON object")
        code = data.get("country_code3") or data.get("country_code")
        if not code:
            raise ValueError("the answer names no country")
        country_iso3 = intensity.validate_country(code)
    except (requests.RequestException, ValueError) as error:
        # A detail: the caller says once per process what an unknown location means.
        log.debug("geo-IP lookup at %s failed (%s); location unknown", url, error)
        return None
    located = _place(country_iso3, str(data.get("region") or ""), "", "", "geo-ip")
    return replace(
        located,
        latitude=_coordinate(data.get("latitude"), 90.0),
        longitude=_coordinate(data.get("longitude"), 180.0),
    )


def resolve(
    settings: Location | None,
    *,
    offline: bool,
    metadata_urls: Mapping[str, str] | None = None,
    metadata_budget_s: float = METADATA_BUDGET_S,
    geoip_url: str = GEOIP_URL,
    http_timeout_s: float = 2.0,
) -> Location:
    """The best location available: settings, then cloud metadata, then geo-IP (online only)."""
    if offline or (settings is not None and settings.country_iso_code):
        return settings or Location()
    cloud = settings if settings is not None and settings.cloud_region else None
    cloud = cloud or detect_cloud(metadata_urls, metadata_budget_s)
    if cloud is not None and cloud.country_iso_code:
        return cloud
    geo = detect_geoip(geoip_url, http_timeout_s)
    if geo is None:
        return cloud or settings or Location()
    if cloud is not None:
        return replace(geo, cloud_provider=cloud.cloud_provider, cloud_region=cloud.cloud_region)
    return geo
