"""CPU power estimated from the processor's TDP and its load, where no counter is readable.

power = TDP x packages x (IDLE_FRACTION + (1 - IDLE_FRACTION) x load)

TDP comes from ``tracker/data/cpu_tdp.csv`` (Intel ARK and AMD product specifications), matched by
normalised model name, then by the best fuzzy match sharing the model number. See docs/power.md.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import platform
import re
from functools import lru_cache
from pathlib import Path

from tracker.power.base import DeviceInfo, PowerSource
from tracker.power.load import CpuLoad, logical_cpu_count

logger = logging.getLogger("tracker")

TDP_TABLE = Path(__file__).resolve().parent.parent / "data" / "cpu_tdp.csv"
# Share of TDP drawn by an idle package: deep package C-states bring idle power to a small
# fraction of TDP; 0.1 is the low, round end of that range (see docs/power.md).
IDLE_FRACTION = 0.1
# Unknown model: contemporary parts draw 2-5 W per hardware thread at TDP (Xeon Platinum 8375C
# 300 W / 64, EPYC 7R13 225 W / 96, Ryzen 9 5950X 105 W / 32, Core i7-8700 65 W / 12).
DEFAULT_W_PER_LOGICAL_CPU = 4.0
# Fuzzy matches below this difflib similarity are rejected.
MATCH_THRESHOLD = 0.7

_NOISE = (
    re.compile(r"\([^)]*\)"),  # (R), (TM), (9M Cache, up to 4.00 GHz), (Broadwell, IBRS)
    re.compile(r"@\s*[\d.]+\s*[gm]hz"),  # @ 2.30GHz
    re.compile(r"\s(with|w/)\s.*$"),  # with Radeon Graphics, w/ Radeon 780M Graphics
    re.compile(r"\b\d+(st|nd|rd|th) gen\b"),  # 11th Gen
    re.compile(r"\b\d+-cores?( processor)?\b"),  # 16-Core Processor, 64-Cores
    re.compile(r"\b(cpu|processor|apu)\b"),
    re.compile(r"[^a-z0-9+\-. ]"),
)


def normalise_model_name(name: str) -> str:
    """A CPU model name reduced to what identifies the part: lower case, no trademarks, no clock,
    no core count or marketing suffix, single spaces."""
    text = name.lower()
    for pattern in _NOISE:
        text = pattern.sub(" ", text)
    return " ".join(text.split())


def _tokens(key: str) -> set[str]:
    return set(key.replace("-", " ").split())


class TdpMatch:
    """A table entry found for a model name; ``exact`` False for a fuzzy match."""

    __slots__ = ("exact", "model", "tdp_w")

    def __init__(self, model: str, tdp_w: float, exact: bool) -> None:
        self.model = model  # the table's name for the part
        self.tdp_w = tdp_w
        self.exact = exact


@lru_cache(maxsize=1)
def load_tdp_table() -> dict[str, tuple[str, float]]:
    """Normalised name -> (table name, TDP in W); read once, on first use."""
    with TDP_TABLE.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)  # header: key,model,tdp_w
        return {key: (model, float(tdp_w)) for key, model, tdp_w in rows}


@lru_cache(maxsize=256)
def lookup_tdp(model_name: str) -> TdpMatch | None:
    """The TDP of a CPU model: exact normalised match, else the closest name sharing its model
    number (the longest token with a digit) when similar enough, else None."""
    key = normalise_model_name(model_name)
    table = load_tdp_table()
    if key in table:
        return TdpMatch(*table[key], exact=True)
    tokens = _tokens(key)
    numbered = sorted((t for t in tokens if any(c.isdigit() for c in t)), key=len, reverse=True)
    if not numbered:
        return None
    from difflib import SequenceMatcher  # only on a miss: keeps the common path's import cheap

    best_score, best_key = 0.0, ""
    for candidate in table:
        if numbered[0] not in candidate:  # cheap substring test before tokenising
            continue
        candidate_tokens = _tokens(candidate)
        if numbered[0] not in candidate_tokens:
            continue
        # A table name wholly contained in the reported one ("apple m1" in "apple m1 pro") is
        # the same part described with fewer words.
        contained = candidate_tokens <= tokens
        score = 1.0 if contained else SequenceMatcher(None, key, candidate).ratio()
        if score > best_score:  # the table is sorted: ties go to the first name, deterministically
            best_score, best_key = score, candidate
    if best_score < MATCH_THRESHOLD:
        return None
    return TdpMatch(*table[best_key], exact=False)


class CpuInfo:
    """The CPU model name and how many packages (sockets) the machine has."""

    __slots__ = ("model", "packages")

    def __init__(self, model: str, packages: int) -> None:
        self.model = model
        self.packages = packages


@lru_cache(maxsize=8)
def read_cpu_info(sysfs_root: str = "/") -> CpuInfo:
    """Model name and package count from ``<root>/proc/cpuinfo``; the model falls back to
    ``platform.processor()`` where there is no such file (macOS, Windows) or no model line."""
    model, packages = "", set()
    cpuinfo = Path(sysfs_root, "proc/cpuinfo")
    # No such file off Linux: the platform module names the processor instead.
    with contextlib.suppress(OSError), open(cpuinfo, encoding="utf-8", errors="replace") as f:
        for line in f:
            field, _, value = line.partition(":")
            field = field.strip()
            if field == "model name" and not model:
                model = value.strip()
            elif field == "physical id":
                packages.add(value.strip())
    return CpuInfo(model or platform.processor(), max(1, len(packages)))


def cpu_device(sysfs_root: str | os.PathLike = "/") -> DeviceInfo:
    """The CPU as recorded in the row: model name and logical CPU count (CodeCarbon's cpu_count)."""
    return DeviceInfo(model=read_cpu_info(str(sysfs_root)).model, count=logical_cpu_count())


class TdpModelCpu(PowerSource):
    """CPU power modelled from TDP and load; the load is measured over each read interval."""

    component = "cpu"
    method = "tdp-model"

    def __init__(
        self,
        max_power_w: float,
        device: DeviceInfo,
        now: float,
        load: CpuLoad,
    ) -> None:
        self.max_power_w = max_power_w
        self._device = device
        self._last = now
        self._load = load

    @classmethod
    def probe(
        cls, sysfs_root: str | os.PathLike = "/", *, pid: int | None = None, now: float = 0.0
    ) -> TdpModelCpu:
        """Always available: an unknown model gets a per-logical-CPU default (logged)."""
        cpu = read_cpu_info(str(sysfs_root))
        device = cpu_device(sysfs_root)
        match = lookup_tdp(cpu.model) if cpu.model else None
        if match is None:
            max_power_w = DEFAULT_W_PER_LOGICAL_CPU * device.count
            logger.info(
                "CPU model %r not in the TDP table: assuming %.0f W per logical CPU (%.0f W); "
                "force_cpu_power sets the figure",
                cpu.model,
                DEFAULT_W_PER_LOGICAL_CPU,
                max_power_w,
            )
        else:
            max_power_w = match.tdp_w * cpu.packages
            device.extra["tdp_model"] = match.model
        device.extra["tdp_w"] = f"{max_power_w:g}"
        return cls(max_power_w, device, now, CpuLoad(pid, now))

    def read_energy_j(self, now: float) -> float:
        elapsed_s, self._last = max(0.0, now - self._last), now
        busy, share = self._load.update(now)
        power_w = self.max_power_w * (IDLE_FRACTION + (1 - IDLE_FRACTION) * busy)
        return power_w * elapsed_s * share

    def info(self) -> DeviceInfo:
        return self._device

    def utilization_percent(self) -> float | None:
        return self._load.utilization_percent()
