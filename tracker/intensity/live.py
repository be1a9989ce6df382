"""Live grid intensity from Electricity Maps, cached on disk per zone.

Only used online and with an API token. Any failure (timeout, HTTP error, rejected token, malformed
answer, corrupt cache file) logs one line and returns ``None`` so the caller falls back to the
bundled figures; a failed lookup or cache write, which every run of the process would meet
again, is a warning once per process and a debug line after (:mod:`tracker.notices`).
``requests`` is imported only when a request is actually made.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracker.folders import user_cache_dir
from tracker.intensity import Intensity, country_iso2, find_region
from tracker.intensity.endpoints import ELECTRICITYMAPS_URL
from tracker.location import Location
from tracker.notices import PROCESS_NOTICES, Notices

log = logging.getLogger(__name__)

SOURCE = "live:electricitymaps"
# Electricity Maps answers on a lifecycle basis unless asked otherwise; it names the basis in
# ``emissionFactorType``.
DEFAULT_BASIS = "lifecycle"


def default_cache_dir() -> Path:
    """``electricitymaps`` in the user's cache folder (:func:`tracker.folders.user_cache_dir`)."""
    return user_cache_dir() / "electricitymaps"


def query_for(location: Location) -> dict[str, str] | None:
    """The Electricity Maps query for a location: coordinates, else a Nordic zone or a country.

    ``None`` when the location is unknown: the live figure of a guessed zone would be a made-up one.
    """
    if location.latitude is not None and location.longitude is not None:
        return {"lat": f"{location.latitude:.2f}", "lon": f"{location.longitude:.2f}"}
    if not location.country_iso_code:
        return None
    iso2 = country_iso2(location.country_iso_code)
    if not iso2:
        return None
    zone = find_region(location.country_iso_code, location.region) if location.region else None
    if zone is not None and zone.kind == "nordic" and zone.code != iso2:
        return {"zone": f"{iso2}-{zone.code}"}  # Electricity Maps names SE3 "SE-SE3"
    return {"zone": iso2}


class ElectricityMapsClient:
    """Latest carbon intensity for a zone or coordinates, with a disk cache valid for ``ttl_s``.

    The cache is shared between runs, so its age is measured on the wall clock (``wall_clock``,
    injectable for tests); durations within a run use the caller's monotonic clock.
    """

    def __init__(
        self,
        token: str,
        *,
        url: str = ELECTRICITYMAPS_URL,
        timeout_s: float = 2.0,
        cache_dir: Path | None = None,
        ttl_s: float = 3600.0,
        wall_clock: Callable[[], float] = time.time,
        notices: Notices = PROCESS_NOTICES,
    ) -> None:
        self._token = token
        self._url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._ttl_s = ttl_s
        self._wall_clock = wall_clock
        self._notices = notices

    def _cache_path(self, query: dict[str, str]) -> Path:
        key = "_".join(f"{name}-{value}" for name, value in sorted(query.items()))
        return self._cache_dir / f"{re.sub(r'[^A-Za-z0-9.-]', '_', key)}.json"

    def _read_cache(self, path: Path) -> Intensity | None:
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            age_s = self._wall_clock() - float(entry["fetched_at_unix_s"])
            value = _intensity_value(entry["g_co2e_per_kwh"])
            year = str(entry["year"])
            basis = str(entry.get("basis", DEFAULT_BASIS))
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring corrupt intensity cache file %s (%s)", path, error)
            return None
        return Intensity(value, SOURCE, year, basis) if 0 <= age_s < self._ttl_s else None

    def _write_cache(self, path: Path, found: Intensity) -> None:
        entry = {
            "fetched_at_unix_s": self._wall_clock(),
            "g_co2e_per_kwh": found.g_co2e_per_kwh,
            "year": found.year,
            "basis": found.basis,
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps(entry), encoding="utf-8")
            os.replace(partial, path)
        except OSError as error:
            self._notices.warn(
                log,
                f"cache-write:{path.parent}",
                "could not write intensity cache file %s (%s)",
                path,
                error,
            )

    def latest(self, query: dict[str, str]) -> Intensity | None:
        """The current intensity for ``query`` (see ``query_for``), from cache or the API."""
        path = self._cache_path(query)
        cached = self._read_cache(path)
        if cached is not None:
            return cached
        import requests

        url = f"{self._url}/carbon-intensity/latest"
        try:
            answer = requests.get(
                url, params=query, headers={"auth-token": self._token}, timeout=self._timeout_s
            )
            if answer.status_code in (401, 403):
                raise ValueError(f"HTTP {answer.status_code}: the API token was rejected")
            answer.raise_for_status()
            found = _parse(answer.json())
        except (requests.RequestException, ValueError) as error:
            self._notices.warn(
                log,
                "electricitymaps-lookup",
                "Electricity Maps lookup for %s failed (%s); using bundled data",
                query,
                error,
            )
            return None
        self._write_cache(path, found)
        return found


def _intensity_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"carbon intensity {value!r} is not a number")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"carbon intensity {value!r} is out of range")
    return float(value)


def _parse(data: Any) -> Intensity:
    """An ``Intensity`` from the API's JSON: ``carbonIntensity`` (g/kWh), ``datetime`` and
    ``emissionFactorType`` (the basis)."""
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    value = _intensity_value(data.get("carbonIntensity"))
    moment = str(data.get("datetime") or "")
    basis = data.get("emissionFactorType")
    return Intensity(
        value,
        SOURCE,
        moment[:4] if moment[:4].isdigit() else "",
        basis if basis in ("lifecycle", "direct") else DEFAULT_BASIS,
    )
