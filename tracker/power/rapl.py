"""CPU package energy from Linux powercap RAPL counters (Intel, and AMD since Zen).

Each package domain ``<root>/sys/class/powercap/intel-rapl:N`` (``amd-rapl:N`` on some kernels)
exposes ``energy_uj``, a counter in microjoules that wraps at ``max_energy_range_uj``. Only
package domains are summed: their sub-domains (core, uncore, dram) are parts of the package or
measured separately, and adding them would count energy twice. CodeCarbon's options widen the
choice: ``rapl_include_dram`` adds the DRAM domains, ``rapl_prefer_psys`` reads the platform
domain instead of the packages.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from tracker.notices import PROCESS_NOTICES
from tracker.power.base import DeviceInfo, PowerSource, PowerSourceError
from tracker.power.host import HostRoots
from tracker.power.load import CpuLoad
from tracker.power.tdp import cpu_device

logger = logging.getLogger("tracker")

POWERCAP_DIR = "class/powercap"  # under the sys root
# Top-level zones only: "intel-rapl:0" but not its sub-domain "intel-rapl:0:1", nor the
# "intel-rapl-mmio:0" interface, which reports the same package a second time on recent Intel
# client CPUs.
PACKAGE_ZONE = re.compile(r"^(intel|amd)-rapl:\d+$")
# Generous upper bound on one package's power, to know how often a counter must be read.
MAX_PACKAGE_POWER_W = 500.0
# Every zone, sub-domains included ("intel-rapl:0:2" may be a package's DRAM domain).
ANY_ZONE = re.compile(r"^(intel|amd)-rapl:\d+(:\d+)?$")
MICROJOULES_PER_JOULE = 1e6


class _Package:
    """One package counter and its last reading (a plain class: dataclasses cost import time)."""

    __slots__ = ("energy_file", "last_uj", "range_uj")

    def __init__(self, energy_file: Path, range_uj: int, last_uj: int) -> None:
        self.energy_file = energy_file
        self.range_uj = range_uj
        self.last_uj = last_uj


def _zone_name(directory: Path) -> str:
    """A zone's ``name`` ("package-0", "dram", "psys"), "" when unreadable."""
    try:
        return directory.joinpath("name").read_text().strip()
    except OSError:
        return ""


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def enable_hint(path: Path) -> str:
    """How to make a root-only RAPL counter readable (root-only since CVE-2020-8694)."""
    return (
        f"{path} is not readable by this user (root-only since CVE-2020-8694): run "
        f"`sudo chmod a+r {path}` (until reboot) or add the udev rule "
        '`SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys%p/energy_uj"` '
        "to /etc/udev/rules.d/99-rapl.rules; "
        "meanwhile the CPU energy is estimated from its TDP"
    )


def missing_hint(base: Path) -> str:
    """Why a powercap folder has no package zone, and the fix where there is one."""
    return (
        f"no RAPL package domain under {base} (not Linux, a VM, or the intel_rapl_common "
        "module not loaded: `sudo modprobe intel_rapl_common`); estimating CPU energy "
        "from its TDP"
    )


def _zone_names(base: Path) -> dict[str, str]:
    """Every RAPL zone under a powercap folder -> its name; empty when there is no folder."""
    try:
        return {z: _zone_name(base / z) for z in os.listdir(base) if ANY_ZONE.match(z)}
    except OSError:
        return {}


class RaplAccess:
    """What ``detect`` says about RAPL: the package zones, whether all are readable, and the one
    line that fixes it when not."""

    __slots__ = ("fix", "readable", "zones")

    def __init__(self, zones: list[str], readable: bool, fix: str) -> None:
        self.zones = zones  # "intel-rapl:0 (package-0)", ...
        self.readable = readable
        self.fix = fix  # "" when readable


def rapl_access(sys_root: str | os.PathLike = "/sys") -> RaplAccess:
    """The package zones under ``<sys_root>/class/powercap`` and whether this user reads them;
    reads nothing but names and permissions (no counter is started)."""
    base = Path(sys_root, POWERCAP_DIR)
    names = _zone_names(base)
    packages = sorted(z for z in names if PACKAGE_ZONE.match(z) and names[z].startswith("package"))
    if not packages:
        return RaplAccess([], False, missing_hint(base))
    zones = [f"{z} ({names[z]})" for z in packages]
    for zone in packages:
        energy_file = base / zone / "energy_uj"
        if not os.access(energy_file, os.R_OK):
            return RaplAccess(zones, False, enable_hint(energy_file))
    return RaplAccess(zones, True, "")


class RaplCpu(PowerSource):
    """Sum of the package counters' increments, unwrapped; in process mode, the process tree's
    share of the machine's CPU time of it."""

    component = "cpu"
    method = "rapl"

    def __init__(self, packages: list[_Package], device: DeviceInfo, load: CpuLoad) -> None:
        self._packages = packages
        self._device = device
        self._load = load
        # A counter must not wrap twice between two reads, even at full power; halved for margin.
        self.max_safe_interval_s = min(
            p.range_uj / MICROJOULES_PER_JOULE / MAX_PACKAGE_POWER_W / 2 for p in packages
        )

    @classmethod
    def probe(
        cls,
        sysfs_root: str | os.PathLike | HostRoots = "/",
        *,
        pid: int | None = None,
        now: float = 0.0,
        include_dram: bool = False,
        prefer_psys: bool = False,
    ) -> RaplCpu | None:
        """The source over every readable package domain, or None (logged) when there is none.
        ``sysfs_root`` holds ``sys/`` and ``proc/`` (or is a :class:`HostRoots`).

        ``pid`` set means process mode: the tree rooted at ``pid`` is attributed its share.
        ``include_dram`` adds the DRAM domains (memory power, measured apart from the packages);
        ``prefer_psys`` reads the platform domain ``psys`` (CPU, chipset, PCIe...) instead of the
        packages where the machine has one. Both are CodeCarbon's options of the same names.
        """
        base = Path(HostRoots.under(sysfs_root).sys, POWERCAP_DIR)
        names = _zone_names(base)
        top_level = sorted(z for z in names if PACKAGE_ZONE.match(z))
        psys = [z for z in top_level if names[z] == "psys"]
        zones = [z for z in top_level if names[z].startswith("package")]
        if prefer_psys and psys:
            zones = psys
        elif include_dram:
            zones += sorted(z for z, name in names.items() if name == "dram")
        packages = []
        for zone in zones:
            directory = base / zone
            energy_file = directory / "energy_uj"
            try:
                # os.access answers for this user; the read itself settles it for root too.
                if not os.access(energy_file, os.R_OK):
                    raise PermissionError(energy_file)
                packages.append(
                    _Package(
                        energy_file,
                        _read_int(directory / "max_energy_range_uj"),
                        _read_int(energy_file),
                    )
                )
            except PermissionError:
                hint = enable_hint(energy_file)  # the fix: said once per process, not per run
                PROCESS_NOTICES.warn(logger, hint, "%s", hint)
                return None
            except (OSError, ValueError) as error:
                logger.debug("RAPL zone %s unreadable (%s); estimating CPU energy", zone, error)
                return None
        if not packages:
            logger.debug(missing_hint(base))
            return None
        device = cpu_device(sysfs_root)
        device.extra["packages"] = str(sum(names[z].startswith("package") for z in zones))
        device.extra["rapl_domains"] = "+".join(names[z] for z in zones)
        return cls(packages, device, CpuLoad(pid, now))

    def read_energy_j(self, now: float) -> float:
        total_uj = 0
        for package in self._packages:
            try:
                value_uj = _read_int(package.energy_file)
            except (OSError, ValueError) as error:
                raise PowerSourceError(f"RAPL counter {package.energy_file}: {error}") from error
            increment_uj = value_uj - package.last_uj
            if increment_uj < 0:  # wrapped once: reads are frequent enough that it cannot twice
                increment_uj += package.range_uj
            package.last_uj = value_uj
            total_uj += increment_uj
        _, share = self._load.update(now)
        return total_uj / MICROJOULES_PER_JOULE * share

    def info(self) -> DeviceInfo:
        return self._device

    def utilization_percent(self) -> float | None:
        return self._load.utilization_percent()
