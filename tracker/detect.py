"""``python -m tracker detect``: what this machine would be measured with, measuring nothing.

It answers before a run the questions a row answers after it: which CPU part and how many logical
CPUs, whether this is a virtual machine, which method each component would use and with what idle
and full-load power, whether RAPL is readable (or the one line that makes it so), each GPU, and
where the grid intensity would come from. It reads the host under two roots, ``/proc`` and
``/sys`` by default (like node_exporter's ``--path.procfs`` / ``--path.sysfs``), and never touches
the network: the location is the one the settings give.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import psutil

from tracker import config
from tracker.intensity import WORLD_AVERAGE, Intensity
from tracker.intensity.provider import static_intensity
from tracker.location import Location, from_settings
from tracker.power.host import HostRoots, mem_total_bytes, read_cpu_info, virtualization
from tracker.power.nvml import NvmlGpu
from tracker.power.ram import BYTES_PER_GB, RAM_W_PER_GB
from tracker.power.rapl import rapl_access
from tracker.power.tdp import cpu_power_model

WATTS_DECIMALS = 3


def _w(value: float) -> float:
    return round(value, WATTS_DECIMALS)


def describe_cpu(
    roots: HostRoots, settings: config.Settings, platform_name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CPU part and its source as :func:`tracker.power.discover` would choose it, and RAPL's
    state. Idle and full-load powers are the model's except for a forced power."""
    cpu = read_cpu_info(str(roots.proc))
    evidence = virtualization(cpu, roots.sys)
    forced_w = settings.force_cpu_power
    model = cpu_power_model(
        cpu, evidence, full_load_w=forced_w if settings.force_mode_cpu_load else None
    )
    rapl = rapl_access(roots.sys)
    method, idle_w, full_load_w = model.method, model.idle_w, model.full_load_w
    counters = not settings.force_mode_cpu_load  # that setting keeps the load model
    if forced_w is not None and counters:
        method, idle_w, full_load_w = "forced", forced_w, forced_w
    elif counters and platform_name == "darwin" and getattr(os, "geteuid", lambda: 1)() == 0:
        method = "powermetrics"  # measured: the model's figures are for comparison only
    elif counters and platform_name.startswith("linux") and rapl.readable:
        method = "rapl"  # measured: the model's figures are for comparison only
    described = {
        "model": cpu.model,
        "count": cpu.logical_cpus,
        "packages": cpu.packages,
        "virtualized": bool(evidence),
        "virtualization": evidence,
        "method": method,
        "idle_w": _w(idle_w),
        "full_load_w": _w(full_load_w),
        "model_method": model.method,
        "process_w_per_busy_cpu": _w(model.active_w_per_cpu),
        **model.detail,
    }
    fix = rapl.fix
    if evidence and not rapl.zones:  # no module or permission would help: say so, not modprobe
        fix = (
            f"none on a virtual machine: hypervisors do not expose RAPL to their guests (no "
            f"package zone under {roots.sys / 'class' / 'powercap'}); the CPU is modelled"
        )
    rapl_state = {"zones": rapl.zones, "readable": rapl.readable, "fix": fix}
    return described, rapl_state


def describe_ram(roots: HostRoots, settings: config.Settings) -> dict[str, Any]:
    """Installed memory (``MemTotal``, else psutil off Linux) and the power charged for it."""
    total_bytes = mem_total_bytes(roots.proc)
    if total_bytes is None:
        total_bytes = psutil.virtual_memory().total
    total_gb = total_bytes / BYTES_PER_GB
    if settings.force_ram_power is not None:
        return {"method": "forced", "total_gb": _w(total_gb), "power_w": settings.force_ram_power}
    return {"method": "ram-model", "total_gb": _w(total_gb), "power_w": _w(RAM_W_PER_GB * total_gb)}


def describe_gpus(
    settings: config.Settings, nvml: object, environ: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each GPU NVML discovery selects, with its method: an energy counter or integrated power,
    a MIG slice's share; the sources are closed at once."""
    gpus = NvmlGpu.probe(nvml=nvml, gpu_ids=settings.gpu_ids, environ=environ)
    try:
        described = []
        for gpu in gpus:
            info = gpu.info()
            described.append(
                {
                    "name": info.model,
                    "method": gpu.method,
                    "counter": gpu.method.startswith("nvml-energy-counter"),
                    "mig": "mig_index" in info.extra,
                    **info.extra,
                }
            )
        return described
    finally:
        for gpu in gpus:
            gpu.close()


def describe_grid(settings: config.Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The location the settings give and the bundled figure for it, offline."""
    place = from_settings(
        settings.country_iso_code, settings.region, settings.cloud_provider, settings.cloud_region
    )
    if place is None:
        where: dict[str, Any] = {
            "source": "unknown",
            "note": "no country, region or cloud region in the settings: a run asks the cloud "
            "metadata services, then geo-IP (online only), else uses the world average",
        }
        figure: Intensity = WORLD_AVERAGE
    else:
        where = {"source": place.source, **_place(place)}
        figure = static_intensity(place)
    intensity = {
        "g_co2e_per_kwh": figure.g_co2e_per_kwh,
        "source": figure.source,
        "year": figure.year,
        "basis": figure.basis,
    }
    if settings.force_carbon_intensity_g_co2e_kwh is not None:
        intensity = {"g_co2e_per_kwh": settings.force_carbon_intensity_g_co2e_kwh}
        intensity.update(source="forced", year="", basis="")
    elif settings.electricitymaps_api_token and not settings.offline:
        intensity["note"] = "an online run asks Electricity Maps first (not asked here)"
    return where, intensity


def _place(place: Location) -> dict[str, str]:
    return {
        "country_iso_code": place.country_iso_code,
        "country_name": place.country_name,
        "region": place.region,
        "cloud_provider": place.cloud_provider,
        "cloud_region": place.cloud_region,
    }


def describe(
    roots: HostRoots,
    settings: config.Settings,
    *,
    nvml: object = None,
    environ: Mapping[str, str] | None = None,
    platform_name: str = sys.platform,
) -> dict[str, Any]:
    """The whole report, as ``detect --json`` prints it."""
    environ = os.environ if environ is None else environ
    cpu, rapl = describe_cpu(roots, settings, platform_name)
    location, intensity = describe_grid(settings)
    return {
        "cpu": cpu,
        "rapl": rapl,
        "ram": describe_ram(roots, settings),
        "gpus": describe_gpus(settings, nvml, environ),
        "tracking_mode": settings.tracking_mode,
        "pue": settings.pue,
        "location": location,
        "intensity": intensity,
    }


def format_text(report: Mapping[str, Any]) -> str:
    """The report for a person: one line per fact, the RAPL fix verbatim."""
    cpu, ram, rapl = report["cpu"], report["ram"], report["rapl"]
    guest = f"virtual machine ({cpu['virtualization']})" if cpu["virtualized"] else "bare metal"
    lines = [
        f"CPU      {cpu['model'] or 'unknown'}: {cpu['count']} logical CPUs, {guest}",
        f"         method {cpu['method']}: idle {cpu['idle_w']:g} W, "
        f"full load {cpu['full_load_w']:g} W"
        + (f" (part: {cpu['tdp_model']}, {cpu['part_tdp_w']} W)" if "tdp_model" in cpu else ""),
        f"         process mode: {cpu['process_w_per_busy_cpu']:g} W per busy CPU",
        "RAPL     "
        + (
            f"readable: {', '.join(rapl['zones'])}"
            if rapl["readable"]
            else f"not used: {rapl['fix']}"
        ),
        f"RAM      method {ram['method']}: {ram['total_gb']:g} GB, {ram['power_w']:g} W",
    ]
    gpus = report["gpus"] or [None]
    for gpu in gpus:
        lines.append(
            "GPU      none measured (no NVIDIA driver, or none selected)"
            if gpu is None
            else f"GPU      {gpu['name']}: method {gpu['method']}"
            + (" (MIG)" if gpu["mig"] else "")
        )
    where, figure = report["location"], report["intensity"]
    place = ", ".join(
        where.get(k, "") for k in ("country_iso_code", "region", "cloud_region") if where.get(k)
    )
    lines.append(f"Location {place} ({where['source']})" if place else f"Location {where['note']}")
    lines.append(
        f"Grid     {figure['g_co2e_per_kwh']:g} gCO2e/kWh from {figure['source']}"
        + (f" ({figure['year']}, {figure['basis']})" if figure["basis"] else "")
    )
    lines.append(f"Mode     {report['tracking_mode']}, PUE {report['pue']:g}")
    return "\n".join(lines)


def run(
    *,
    as_json: bool,
    proc_root: str,
    sys_root: str,
    environ: Mapping[str, str] | None = None,
) -> int:
    """The ``detect`` subcommand: print the report; 2 for invalid settings (said in one line)."""
    try:
        settings = config.resolve({}, environ=environ)
    except ValueError as error:
        print(f"carbonboard: {error}", file=sys.stderr)
        return 2
    report = describe(HostRoots(proc_root, sys_root), settings, environ=environ)
    print(json.dumps(report, indent=2) if as_json else format_text(report))
    return 0
