"""CPU power estimated from the processor's TDP and its load, where no counter is readable.

    full load = TDP x packages                  bare metal: ``tdp-model``
              = TDP x vCPUs / threads of the part a virtual machine: ``tdp-model-vcpu-share``
              = DEFAULT_W_PER_LOGICAL_CPU x CPUs  part (or a VM's thread count) unknown:
                                                  ``tdp-model-default``
    idle      = IDLE_FRACTION x full load
    machine mode: power = idle + (full load - idle) x the machine's busy fraction
    process mode: energy = the tree's CPU seconds x (full load - idle) / logical CPUs

TDP and threads come from ``tracker/data/cpu_tdp.csv`` (Intel ARK, AMD specifications and a
curated thread count per part), matched by normalised model name, then by the best fuzzy match
sharing the model number. See docs/power.md.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from tracker.power.base import DeviceInfo, PowerSource
from tracker.power.host import CpuInfo, HostRoots, read_cpu_info, virtualization
from tracker.power.load import MachineLoad, ProcessTree

logger = logging.getLogger("tracker")

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TDP_TABLE = DATA_DIR / "cpu_tdp.csv"
THREADS_TABLE = DATA_DIR / "cpu_threads.csv"  # curated input of the build, not read at run time
# Share of full-load power drawn at idle. SPECpower_ssj2008 servers, as Cloud Carbon Footprint
# averages them per vCPU, idle at 0.74 / 3.5 W (AWS), 0.71 / 4.26 W (GCP), 0.78 / 3.76 W (Azure):
# 0.17-0.21 of full load. 0.2 is that ratio rounded; laptops idle lower (see docs/power.md).
IDLE_FRACTION = 0.2
# Unknown part: W per logical CPU at full load. The same SPECpower averages give 3.5-4.26 W per
# vCPU at full load; the cloud parts of the thread table give 2.3-6.7 W per thread (EPYC 7R13
# 225 W / 96, Xeon Platinum 8375C 300 W / 64, 8124M 240 W / 36).
DEFAULT_W_PER_LOGICAL_CPU = 4.0

METHOD_WHOLE_PART = "tdp-model"
METHOD_VCPU_SHARE = "tdp-model-vcpu-share"
METHOD_DEFAULT = "tdp-model-default"
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

    __slots__ = ("exact", "model", "tdp_w", "threads")

    def __init__(self, model: str, tdp_w: float, threads: int | None, exact: bool) -> None:
        self.model = model  # the table's name for the part
        self.tdp_w = tdp_w
        self.threads = threads  # hardware threads of one part, None where not curated
        self.exact = exact


@lru_cache(maxsize=1)
def load_tdp_table() -> dict[str, tuple[str, float, int | None]]:
    """Normalised name -> (table name, TDP in W, threads or None); read once, on first use."""
    with TDP_TABLE.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)  # header: key,model,tdp_w,threads
        return {
            key: (model, float(tdp_w), int(threads) if threads else None)
            for key, model, tdp_w, threads in rows
        }


# Apple silicon's tiers: "Apple M1 Pro" is not an "Apple M1" described with more words.
APPLE_TIERS = frozenset({"pro", "max", "ultra"})


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
        if "apple" in tokens and tokens & APPLE_TIERS != candidate_tokens & APPLE_TIERS:
            continue  # an M1 Max is another chip than an M1, drawing several times its power
        # A table name wholly contained in the reported one ("xeon gold 6248" in "xeon gold
        # 6248 engineering sample") is the same part described with fewer words.
        contained = candidate_tokens <= tokens
        score = 1.0 if contained else SequenceMatcher(None, key, candidate).ratio()
        if score > best_score:  # the table is sorted: ties go to the first name, deterministically
            best_score, best_key = score, candidate
    if best_score < MATCH_THRESHOLD:
        return None
    return TdpMatch(*table[best_key], exact=False)


class CpuPowerModel:
    """The modelled CPU: full-load and idle power of what this machine is charged for."""

    __slots__ = ("detail", "full_load_w", "idle_w", "logical_cpus", "method")

    def __init__(
        self,
        full_load_w: float,
        logical_cpus: int,
        method: str,
        detail: dict[str, str] | None = None,
    ) -> None:
        self.full_load_w = full_load_w
        self.idle_w = IDLE_FRACTION * full_load_w
        self.logical_cpus = logical_cpus
        self.method = method
        self.detail = detail or {}  # what the figure rests on, for the row's device info

    def power_w(self, busy_fraction: float) -> float:
        """Machine power at a busy fraction of all logical CPUs: linear from idle to full load."""
        return self.idle_w + (self.full_load_w - self.idle_w) * busy_fraction

    @property
    def active_w_per_cpu(self) -> float:
        """Power one fully busy logical CPU adds above idle: a process's marginal cost per CPU
        second, whatever else runs."""
        return (self.full_load_w - self.idle_w) / self.logical_cpus


def cpu_power_model(
    cpu: CpuInfo, vm_evidence: str = "", *, full_load_w: float | None = None
) -> CpuPowerModel:
    """The model for a CPU part: pure, from what ``/proc`` and ``/sys`` said.

    Bare metal is charged its whole part(s); a virtual machine (``vm_evidence`` says why) the
    share its vCPUs are of the part's hardware threads; a part missing from the table, or a VM on
    a part whose threads are unknown, DEFAULT_W_PER_LOGICAL_CPU per logical CPU (never more than
    the part's TDP x packages when that is known). ``full_load_w`` forces the figure.
    """
    count = cpu.logical_cpus
    detail = {"virtualization": vm_evidence} if vm_evidence else {}
    if full_load_w is not None:
        return CpuPowerModel(full_load_w, count, METHOD_WHOLE_PART, {**detail, "forced": "yes"})
    match = lookup_tdp(cpu.model) if cpu.model else None
    if match is not None:
        detail["tdp_model"] = match.model
        detail["part_tdp_w"] = f"{match.tdp_w:g}"
    if match is not None and not vm_evidence:
        return CpuPowerModel(match.tdp_w * cpu.packages, count, METHOD_WHOLE_PART, detail)
    if match is not None and match.threads:
        detail["part_threads"] = str(match.threads)
        full_w = match.tdp_w * count / match.threads
        return CpuPowerModel(full_w, count, METHOD_VCPU_SHARE, detail)
    full_w = DEFAULT_W_PER_LOGICAL_CPU * count
    if match is not None:
        full_w = min(full_w, match.tdp_w * cpu.packages)
    return CpuPowerModel(full_w, count, METHOD_DEFAULT, detail)


def cpu_device(root: str | os.PathLike | HostRoots = "/") -> DeviceInfo:
    """The CPU as recorded in the row: model name and logical CPU count (CodeCarbon's cpu_count).
    ``root`` holds ``proc/`` (or is a :class:`HostRoots`)."""
    cpu = read_cpu_info(str(HostRoots.under(root).proc))
    return DeviceInfo(model=cpu.model, count=cpu.logical_cpus)


def probe_cpu_model(
    root: str | os.PathLike | HostRoots = "/", *, full_load_w: float | None = None
) -> CpuPowerModel:
    """The model for this machine's CPU, read under ``root`` (``proc/`` and ``sys/``)."""
    roots = HostRoots.under(root)
    cpu = read_cpu_info(str(roots.proc))
    return cpu_power_model(cpu, virtualization(cpu, roots.sys), full_load_w=full_load_w)


class TdpModelCpu(PowerSource):
    """CPU energy from a :class:`CpuPowerModel`.

    Machine mode: the model's power at the machine's busy fraction over each read interval.
    Process mode: the tracked tree's own CPU seconds times the model's active power per CPU, so
    a neighbour's load neither raises nor lowers the job's figure and idle power is not the job's.
    """

    component = "cpu"

    def __init__(
        self,
        model: CpuPowerModel,
        device: DeviceInfo,
        now: float,
        *,
        process_cpu_s: Callable[[], float] | None = None,
    ) -> None:
        self.model = model
        self.method = model.method
        self._device = device
        self._last = now
        self._process_cpu_s = process_cpu_s
        self._machine = MachineLoad() if process_cpu_s is None else None
        self._last_cpu_s = 0.0 if process_cpu_s is None else process_cpu_s()
        self._process_share: float | None = None

    @property
    def max_power_w(self) -> float:
        """Full-load power of what is charged (the part, the VM's share, or the default)."""
        return self.model.full_load_w

    @classmethod
    def probe(
        cls,
        root: str | os.PathLike | HostRoots = "/",
        *,
        pid: int | None = None,
        now: float = 0.0,
        full_load_w: float | None = None,
        process_cpu_s: Callable[[], float] | None = None,
    ) -> TdpModelCpu:
        """Always available: an unknown model gets a per-logical-CPU default (logged).

        ``pid`` set means process mode for that tree; ``process_cpu_s`` replaces the reader of
        its cumulative CPU seconds (psutil's, by default).
        """
        model = probe_cpu_model(root, full_load_w=full_load_w)
        device = cpu_device(root)
        if model.method == METHOD_DEFAULT:
            logger.debug(
                "CPU model %r: no TDP%s in the table: assuming %.0f W per logical CPU (%.0f W); "
                "force_cpu_power sets the figure",
                device.model,
                " and thread count" if "tdp_model" in model.detail else "",
                DEFAULT_W_PER_LOGICAL_CPU,
                model.full_load_w,
            )
        device.extra.update(model.detail)
        device.extra["tdp_w"] = f"{model.full_load_w:g}"
        if pid is not None and process_cpu_s is None:
            process_cpu_s = ProcessTree(pid).cpu_s
        return cls(model, device, now, process_cpu_s=process_cpu_s)

    def read_energy_j(self, now: float) -> float:
        elapsed_s, self._last = max(0.0, now - self._last), now
        if self._machine is not None:
            return self.model.power_w(self._machine.update()) * elapsed_s
        cpu_s = self._process_cpu_s()
        # A descendant reaped outside the tree takes its time with it: never negative.
        used_s, self._last_cpu_s = max(0.0, cpu_s - self._last_cpu_s), cpu_s
        if elapsed_s > 0:
            self._process_share = min(1.0, used_s / (elapsed_s * self.model.logical_cpus))
        return used_s * self.model.active_w_per_cpu

    def info(self) -> DeviceInfo:
        return self._device

    def utilization_percent(self) -> float | None:
        """The machine's busy share, or in process mode the tree's share of the CPUs."""
        fraction = self._process_share if self._machine is None else self._machine.fraction
        return None if fraction is None else 100.0 * fraction
