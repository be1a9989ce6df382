"""The one small interface every power source implements.

A source is created by its own ``probe`` classmethod, which returns ``None`` (and logs one line
saying why and how to enable it) when its hardware or counter is absent: missing hardware is never
an error. Vendor errors are translated at this boundary into ``PowerSourceError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

JOULES_PER_KWH = 3.6e6


class PowerSourceError(Exception):
    """A source failed mid-run; the sampler drops it and keeps the energy measured so far."""


@dataclass
class DeviceInfo:
    """What a source knows about the hardware it measures, for the row's hardware columns."""

    model: str = ""
    count: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class PowerSource(ABC):
    component: str  # "cpu" | "gpu" | "ram"
    method: str  # recorded in <component>_energy_method, e.g. "rapl"
    # A wrapping counter loses energy if it wraps twice between reads: a source that has one sets
    # this, and the sampler reads at least this often whatever its measuring interval.
    max_safe_interval_s: float | None = None

    @abstractmethod
    def read_energy_j(self, now: float) -> float:
        """Energy in joules consumed since the previous call (or since creation); never negative.

        ``now`` is a monotonic timestamp in seconds, passed in so tests control time.
        """

    def info(self) -> DeviceInfo:
        return DeviceInfo()

    def utilization_percent(self) -> float | None:
        """Current load of the measured device, when the source knows it."""
        return None

    def close(self) -> None:
        """Release vendor handles; the default has none."""
        return None


class ConstantPower(PowerSource):
    """A fixed power draw, for ``force_cpu_power`` / ``force_ram_power``: energy = power x time."""

    method = "forced"

    def __init__(
        self, component: str, power_w: float, now: float, device: DeviceInfo | None = None
    ) -> None:
        self.component = component
        self.power_w = power_w
        self._last = now
        self._device = device or DeviceInfo()

    def read_energy_j(self, now: float) -> float:
        elapsed, self._last = max(0.0, now - self._last), now
        return self.power_w * elapsed

    def info(self) -> DeviceInfo:
        """The hardware is still described when its power is forced (``device`` at creation)."""
        return self._device
