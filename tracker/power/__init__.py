"""Power sources: one class per source behind :class:`~tracker.power.base.PowerSource`.

:func:`discover` picks, for each component, the best source this machine offers: a measured
counter where readable (RAPL, NVML, powermetrics), else a documented model (TDP, RAM size), unless
a power is forced. Missing hardware is logged once on the "tracker" logger, never raised: at
DEBUG, since a run's one INFO line names the method of each component; a fix the user can apply
(an unreadable RAPL counter) is a warning, once per process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from tracker.power.base import (
    JOULES_PER_KWH,
    ConstantPower,
    DeviceInfo,
    PowerSource,
    PowerSourceError,
)
from tracker.power.nvml import NvmlGpu
from tracker.power.powermetrics import Powermetrics, PowermetricsRunner
from tracker.power.ram import RamModel, ram_device
from tracker.power.rapl import RaplCpu
from tracker.power.tdp import TdpModelCpu, cpu_device

__all__ = [
    "JOULES_PER_KWH",
    "ConstantPower",
    "DeviceInfo",
    "NvmlGpu",
    "PowerSource",
    "PowerSourceError",
    "Powermetrics",
    "RamModel",
    "RaplCpu",
    "TdpModelCpu",
    "combined_info",
    "discover",
]

TRACKING_MODES = ("machine", "process")


def discover(
    *,
    tracking_mode: str = "machine",
    gpu_ids: Sequence[int | str] | None = None,
    force_cpu_power: float | None = None,
    force_ram_power: float | None = None,
    pid: int | None = None,
    sysfs_root: str | os.PathLike = "/",
    nvml: object = None,
    clock: Callable[[], float] = time.monotonic,
    environ: Mapping[str, str] | None = None,
    platform_name: str = sys.platform,
    force_mode_cpu_load: bool = False,
    rapl_include_dram: bool = False,
    rapl_prefer_psys: bool = False,
) -> list[PowerSource]:
    """At most one CPU source, one source per measured GPU, and one RAM source.

    CPU: forced, else powermetrics (macOS, root), else RAPL (Linux), else the TDP model.
    GPU: NVML (or powermetrics on Apple Silicon). RAM: forced, else the size model.
    In process mode (``pid`` defaults to this process) CPU, RAM and each GPU are the tree's share.
    The TDP model charges a process tree its own CPU seconds, and a virtual machine its vCPUs'
    share of the part. ``force_mode_cpu_load`` skips the counters: the CPU is the TDP x load
    model, its full-load power ``force_cpu_power`` when given. ``rapl_include_dram`` /
    ``rapl_prefer_psys``: see :meth:`RaplCpu.probe`.
    """
    if tracking_mode not in TRACKING_MODES:
        raise ValueError(f"tracking_mode must be one of {TRACKING_MODES}, not {tracking_mode!r}")
    environ = os.environ if environ is None else environ
    now = clock()
    tracked_pid = (os.getpid() if pid is None else pid) if tracking_mode == "process" else None
    on_mac = platform_name == "darwin"
    runner = PowermetricsRunner() if on_mac else None
    sources: list[PowerSource] = []

    if force_mode_cpu_load:
        sources.append(
            TdpModelCpu.probe(sysfs_root, pid=tracked_pid, now=now, full_load_w=force_cpu_power)
        )
    elif force_cpu_power is not None:
        sources.append(ConstantPower("cpu", force_cpu_power, now, cpu_device(sysfs_root)))
    else:
        cpu = None
        if runner is not None:
            cpu = Powermetrics.probe(
                "cpu", runner, platform_name=platform_name, pid=tracked_pid, now=now
            )
        elif platform_name.startswith("linux"):
            cpu = RaplCpu.probe(
                sysfs_root,
                pid=tracked_pid,
                now=now,
                include_dram=rapl_include_dram,
                prefer_psys=rapl_prefer_psys,
            )
        sources.append(cpu or TdpModelCpu.probe(sysfs_root, pid=tracked_pid, now=now))

    if runner is not None:
        gpu = Powermetrics.probe("gpu", runner, platform_name=platform_name, now=now)
        sources.extend([gpu] if gpu else [])
    else:
        sources.extend(
            NvmlGpu.probe(nvml=nvml, gpu_ids=gpu_ids, environ=environ, now=now, pid=tracked_pid)
        )

    if force_ram_power is not None:
        sources.append(ConstantPower("ram", force_ram_power, now, ram_device()))
    else:
        sources.append(RamModel.probe(pid=tracked_pid, now=now))
    return sources


def combined_info(sources: Sequence[PowerSource], component: str) -> DeviceInfo:
    """One description of a component's sources for the row: counts added, models as CodeCarbon
    writes them ("2 x NVIDIA A100-SXM4-40GB": sources per distinct model)."""
    sources_per_model: dict[str, int] = {}
    total = 0
    for source in sources:
        if source.component != component:
            continue
        info = source.info()
        total += info.count
        sources_per_model[info.model] = sources_per_model.get(info.model, 0) + 1
    models = [
        f"{n} x {model}" if n > 1 else model for model, n in sources_per_model.items() if model
    ]
    return DeviceInfo(model=", ".join(models), count=total)
