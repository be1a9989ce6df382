"""The intensity in force for a run, resolved in the background so measuring never waits.

Resolution order: 1. a forced figure; 2. Electricity Maps' live figure (online, with a token);
3. the cloud region's figure; 4. the sub-national region's; 5. the country's; 6. the flagged world
average. The location comes from settings, else (online only) cloud metadata, else geo-IP.
Provider methods never raise once constructed: failures log one line and fall back. The world
average is announced by one warning per process (:mod:`tracker.notices`), not one per run.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tracker import location as locating
from tracker.intensity import Intensity, find_cloud_region, lookup
from tracker.intensity.endpoints import ELECTRICITYMAPS_URL, GEOIP_URL, METADATA_BUDGET_S
from tracker.intensity.live import ElectricityMapsClient, query_for
from tracker.location import Location
from tracker.notices import PROCESS_NOTICES, Notices

log = logging.getLogger(__name__)


def static_intensity(place: Location) -> Intensity:
    """The bundled figure for a location (cloud region, region, country, world average)."""
    return lookup(
        country=place.country_iso_code or None,
        region=place.region or None,
        cloud_provider=place.cloud_provider or None,
        cloud_region=place.cloud_region or None,
    )


class IntensityProvider:
    """Knows the run's location and grid intensity; ``current()`` never blocks.

    Raises ``ValueError`` at construction for an unknown country code or a forced intensity that
    is not a finite, non-negative number. ``notices`` remembers the warnings said once per
    process (a test passes a fresh one).
    """

    def __init__(
        self,
        *,
        offline: bool,
        country_iso_code: str | None = None,
        region: str | None = None,
        cloud_provider: str | None = None,
        cloud_region: str | None = None,
        force_carbon_intensity_g_co2e_kwh: float | None = None,
        electricitymaps_api_token: str | None = None,
        electricitymaps_url: str = ELECTRICITYMAPS_URL,
        geoip_url: str = GEOIP_URL,
        metadata_urls: Mapping[str, str] | None = None,
        cache_dir: Path | str | None = None,
        cache_ttl_s: float = 3600.0,
        http_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        notices: Notices = PROCESS_NOTICES,
    ) -> None:
        settings = locating.from_settings(country_iso_code, region, cloud_provider, cloud_region)
        self._forced = _forced(force_carbon_intensity_g_co2e_kwh)
        self._offline = offline
        self._settings = settings
        self._geoip_url = geoip_url
        self._metadata_urls = metadata_urls
        self._http_timeout_s = http_timeout_s
        self._ttl_s = cache_ttl_s
        self._clock = clock
        self._live = (
            ElectricityMapsClient(
                electricitymaps_api_token,
                url=electricitymaps_url,
                timeout_s=http_timeout_s,
                cache_dir=Path(cache_dir) if cache_dir is not None else None,
                ttl_s=cache_ttl_s,
                wall_clock=_wall_clock(clock),
                notices=notices,
            )
            if electricitymaps_api_token and not offline and self._forced is None
            else None
        )
        if cloud_region and find_cloud_region(cloud_provider or "", cloud_region) is None:
            log.warning(
                "unknown cloud region %s/%s: using the country's figure, else the world average",
                cloud_provider,
                cloud_region,
            )
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._live_checked_at: float | None = None
        self._location = settings or Location()
        self._intensity = self._forced or static_intensity(self._location)
        self._notices = notices
        self._warned_fallback = False

    def start(self) -> None:
        """Begin detecting the location and fetching live figures on a daemon thread."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name="carbonboard-intensity", daemon=True
            )
            self._thread.start()

    def location(self) -> Location:
        """The best location known so far."""
        return self._location

    def current(self) -> Intensity:
        """The intensity in force now; asks for a background refresh once the live figure ages."""
        checked_at = self._live_checked_at
        if checked_at is not None and self._clock() - checked_at >= self._ttl_s:
            self._wake.set()
        if self._intensity.is_fallback and not self._warned_fallback and self._ready.is_set():
            self._warned_fallback = True
            self._notices.warn(
                log,
                "world-average",
                "location unknown (%s): using the world-average intensity (%s gCO2e/kWh); "
                "set country_iso_code to be precise",
                "offline, and no country set"
                if self._offline
                else "no cloud metadata or geo-IP answer",
                self._intensity.g_co2e_per_kwh,
            )
        return self._intensity

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the location and first live figure; True when done."""
        return self._ready.wait(timeout_s)

    def close(self) -> None:
        """Stop background work; a request in flight finishes on its own (daemon thread)."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=0.1)

    def _run(self) -> None:
        try:
            place = locating.resolve(
                self._settings,
                offline=self._offline,
                metadata_urls=self._metadata_urls,
                metadata_budget_s=min(METADATA_BUDGET_S, self._http_timeout_s),
                geoip_url=self._geoip_url,
                http_timeout_s=self._http_timeout_s,
            )
            self._location = place
            self._intensity = self._forced or static_intensity(place)
            while self._live is not None and not self._closed:
                self._refresh_live(place)
                self._ready.set()
                self._wake.wait()
                self._wake.clear()
        except Exception:  # a bug here must not reach the user's code: keep the bundled figure
            log.exception("intensity resolution failed; keeping %s", self._intensity.source)
        finally:
            self._ready.set()

    def _refresh_live(self, place: Location) -> None:
        query = query_for(place)
        found = self._live.latest(query) if self._live is not None and query else None
        self._live_checked_at = self._clock()
        self._intensity = found or static_intensity(place)


def _wall_clock(clock: Callable[[], float]) -> Callable[[], float]:
    """Wall time advanced by ``clock``: immune to clock jumps mid-run, and one clock for tests."""
    wall_start_s, clock_start_s = time.time(), clock()
    return lambda: wall_start_s + (clock() - clock_start_s)


def _forced(value: float | None) -> Intensity | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"forced carbon intensity {value!r} is not a finite number")
    if value < 0:
        raise ValueError(f"forced carbon intensity {value!r} is negative")
    return Intensity(float(value), "forced", "")
