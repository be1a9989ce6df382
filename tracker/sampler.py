"""The measuring loop: one daemon thread reads every power source at a fixed interval.

Each read turns the energy since the previous read into emissions with the carbon intensity in
force at that moment, so a run whose intensity changes (a live figure arriving, a location
resolved) is accounted interval by interval. Durations come from a monotonic clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tracker.intensity import Intensity
from tracker.power.base import JOULES_PER_KWH, PowerSource

log = logging.getLogger(__name__)

COMPONENTS = ("cpu", "gpu", "ram")
JOIN_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Totals:
    """Everything measured since the sampler started, as of one read."""

    elapsed_s: float = 0.0
    energy_j: Mapping[str, float] = field(default_factory=dict)  # per component, before PUE
    emissions_g: float = 0.0  # after PUE
    utilization_sum: Mapping[str, float] = field(default_factory=dict)  # percent, one per read
    utilization_reads: Mapping[str, int] = field(default_factory=dict)
    intensities: tuple[Intensity, ...] = ()  # those applied to some energy, in order of first use
    # per component, as of this read: a source's method can gain a flag mid-run (a GPU's "gap")
    energy_methods: Mapping[str, str] = field(default_factory=dict)

    @property
    def energy_kwh(self) -> float:
        """Energy of all components before PUE."""
        return sum(self.energy_j.values()) / JOULES_PER_KWH

    def utilization_percent(self, component: str) -> float | None:
        """Mean utilisation over the reads, ``None`` when the sources report none."""
        reads = self.utilization_reads.get(component, 0)
        return self.utilization_sum.get(component, 0.0) / reads if reads else None

    def since(self, earlier: Totals) -> Totals:
        """What was measured between ``earlier`` and these totals (a task's share of a run)."""
        return Totals(
            elapsed_s=self.elapsed_s - earlier.elapsed_s,
            energy_j=_minus(self.energy_j, earlier.energy_j),
            emissions_g=self.emissions_g - earlier.emissions_g,
            utilization_sum=_minus(self.utilization_sum, earlier.utilization_sum),
            utilization_reads=_minus(self.utilization_reads, earlier.utilization_reads),
            # The intensity in force when ``earlier`` was taken still applies after it.
            intensities=self.intensities[max(0, len(earlier.intensities) - 1) :],
            energy_methods=self.energy_methods,
        )


def intensity_source(intensities: Sequence[Intensity]) -> str:
    """The row's ``carbon_intensity_source``: the one source applied (a live source's hourly
    figures are one source) or, when sources changed during the run, ``mixed:`` and each in
    order of first use, joined by ``+`` (``mixed:world-average+country:FRA``)."""
    return _one_or_mixed(i.source for i in intensities)


def intensity_basis(intensities: Sequence[Intensity]) -> str:
    """The row's ``carbon_intensity_basis``: the one basis of the figures applied or, when they
    differ, ``mixed:`` and each in order of first use (``mixed:lifecycle+direct``)."""
    return _one_or_mixed(i.basis for i in intensities)


def _one_or_mixed(labels: Iterable[str]) -> str:
    distinct = list(dict.fromkeys(labels))
    return distinct[0] if len(distinct) == 1 else "mixed:" + "+".join(distinct)


def energy_methods(sources: Sequence[PowerSource]) -> dict[str, str]:
    """Each component's ``<component>_energy_method`` cell: its sources' distinct methods joined
    by ``+`` (``nvml-energy-counter+nvml-power-integration``), ``none`` without a source."""
    return {
        component: "+".join(dict.fromkeys(s.method for s in sources if s.component == component))
        or "none"
        for component in COMPONENTS
    }


def _minus(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    return {key: a.get(key, 0) - b.get(key, 0) for key in a}


class Sampler:
    """Reads ``sources`` every ``interval_s`` (and at least as often as any source's
    ``max_safe_interval_s``) on a daemon thread; calls ``on_interval`` once per ``interval_s``.

    ``started_at`` (default: now, on ``clock``) is when the sources began measuring.
    """

    def __init__(
        self,
        sources: Sequence[PowerSource],
        *,
        intensity: Callable[[], Intensity],
        pue: float,
        interval_s: float,
        on_interval: Callable[[Totals], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        started_at: float | None = None,
    ) -> None:
        self.sources = list(sources)
        self._live = list(sources)
        self._intensity = intensity
        self._pue = pue
        self._interval_s = interval_s
        safe = [s.max_safe_interval_s for s in sources if s.max_safe_interval_s]
        self.read_every_s = min([interval_s, *safe])
        self._on_interval = on_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = clock() if started_at is None else started_at
        self._totals = Totals(energy_j=dict.fromkeys(COMPONENTS, 0.0))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="carbonboard-sampler", daemon=True)
        self._thread.start()

    def totals(self) -> Totals:
        """The totals as of the last read, without reading."""
        return self._totals

    def sample(self) -> Totals:
        """Read every source now and add the interval to the totals."""
        with self._lock:
            now = self._clock()
            energy_j = dict(self._totals.energy_j)
            utilization: dict[str, list[float]] = {}
            interval_j = 0.0
            for source in list(self._live):
                try:
                    joules = source.read_energy_j(now)
                    percent = source.utilization_percent()
                except Exception as error:  # a failing source must not stop the others
                    log.warning(
                        "%s power source %s failed (%s): keeping the energy measured so far",
                        source.component,
                        source.method,
                        error,
                    )
                    self._live.remove(source)
                    continue
                energy_j[source.component] = energy_j.get(source.component, 0.0) + joules
                interval_j += joules
                if percent is not None:
                    utilization.setdefault(source.component, []).append(percent)
            self._totals = self._add(now, energy_j, interval_j, utilization)
            return self._totals

    def _add(
        self,
        now: float,
        energy_j: dict[str, float],
        interval_j: float,
        utilization: dict[str, list[float]],
    ) -> Totals:
        previous = self._totals
        intensity = self._intensity()
        intensities = previous.intensities
        if interval_j > 0 and (not intensities or intensities[-1] != intensity):
            intensities = (*(i for i in intensities if i != intensity), intensity)
        util_sum = dict(previous.utilization_sum)
        util_reads = dict(previous.utilization_reads)
        for component, values in utilization.items():
            util_sum[component] = util_sum.get(component, 0.0) + sum(values) / len(values)
            util_reads[component] = util_reads.get(component, 0) + 1
        return Totals(
            elapsed_s=now - self._started_at,
            energy_j=energy_j,
            emissions_g=previous.emissions_g
            + interval_j / JOULES_PER_KWH * self._pue * intensity.g_co2e_per_kwh,
            utilization_sum=util_sum,
            utilization_reads=util_reads,
            intensities=intensities,
            energy_methods=energy_methods(self.sources),
        )

    def stop(self) -> Totals:
        """Stop the thread (waiting at most ``JOIN_TIMEOUT_S``), read a last time, close sources."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("the sampling thread did not stop within %.0f s", JOIN_TIMEOUT_S)
        totals = self.sample()
        for source in self.sources:
            try:
                source.close()
            except Exception as error:  # closing is best effort
                log.debug("closing %s source %s: %s", source.component, source.method, error)
        return totals

    def _run(self) -> None:
        """The thread's loop. It must never die while the run is live (crash safety would stop
        silently): any error in a tick, waiting included, is logged once and the loop goes on."""
        reported_at = self._started_at
        failed = False
        while True:
            try:
                # A read every read_every_s, and one when the next report is due: a counter
                # read more often than the interval must not push each report late.
                wait_s = self.read_every_s
                if self._on_interval is not None:
                    due_s = self._interval_s - (self._clock() - reported_at)
                    wait_s = min(wait_s, max(due_s, 0.0))
                # Event.wait raises OverflowError past threading.TIMEOUT_MAX (about 292 years).
                if self._stop.wait(min(wait_s, threading.TIMEOUT_MAX)):
                    return
                totals = self.sample()
                # A read within 1% of the interval counts as on time: waits overshoot slightly.
                if self._on_interval is not None and (
                    self._clock() - reported_at >= 0.99 * self._interval_s
                ):
                    reported_at = self._clock()
                    self._on_interval(totals)
            except Exception:  # the thread must survive anything, and say so only once
                if not failed:
                    log.exception("measuring failed; the run continues")
                failed = True
