"""Memory power modelled from its size: 3 W per 8 GB (0.375 W/GB), as CodeCarbon does.

DRAM draws power to refresh every cell whether used or not, so the whole machine's installed
memory counts in machine mode; in process mode the tracked process tree's resident memory is its
share. GB here are binary (2**30 bytes), the unit in which memory modules are sized.
"""

from __future__ import annotations

import psutil

from tracker.power.base import DeviceInfo, PowerSource
from tracker.power.load import ProcessTree

RAM_W_PER_GB = 3.0 / 8.0
BYTES_PER_GB = 2**30
RAM_TOTAL_DECIMALS = 3  # ``ram_total_size`` is written to the MB; the dashboard rounds alike


def ram_device(total_gb: float | None = None) -> DeviceInfo:
    """Installed memory for the row's ``ram_total_size``, modelled or forced power alike."""
    if total_gb is None:
        total_gb = psutil.virtual_memory().total / BYTES_PER_GB
    return DeviceInfo(count=1, extra={"total_gb": f"{total_gb:.{RAM_TOTAL_DECIMALS}f}"})


class RamModel(PowerSource):
    """An estimate: power = RAM_W_PER_GB x GB counted (installed, or the tree's RSS)."""

    component = "ram"
    method = "ram-model"

    def __init__(self, total_bytes: int, now: float, tree: ProcessTree | None = None) -> None:
        self.total_gb = total_bytes / BYTES_PER_GB
        self._tree = tree
        self._last = now
        self._last_power_w = self._power_w()

    @classmethod
    def probe(cls, *, pid: int | None = None, now: float = 0.0) -> RamModel:
        """Always available; ``pid`` set means process mode, counting that tree's RSS."""
        tree = None if pid is None else ProcessTree(pid)
        return cls(psutil.virtual_memory().total, now, tree)

    def used_gb(self) -> float:
        """Memory counted now: in use on the machine, or resident in the tracked tree."""
        used_bytes = psutil.virtual_memory().used if self._tree is None else self._tree.rss_bytes()
        return used_bytes / BYTES_PER_GB

    def _power_w(self) -> float:
        counted_gb = self.total_gb if self._tree is None else self.used_gb()
        return RAM_W_PER_GB * counted_gb

    def read_energy_j(self, now: float) -> float:
        # Trapezoid between reads: in process mode the resident size moves during the interval.
        elapsed_s, self._last = max(0.0, now - self._last), now
        power_w = self._power_w()
        energy_j = (self._last_power_w + power_w) / 2 * elapsed_s
        self._last_power_w = power_w
        return energy_j

    def info(self) -> DeviceInfo:
        return ram_device(self.total_gb)

    def utilization_percent(self) -> float | None:
        return 100.0 * self.used_gb() / self.total_gb if self.total_gb else None
