"""What the kernel says about this machine: the CPU part, its logical CPUs, and whether it is a
virtual machine.

Everything is read under two roots, ``/proc`` and ``/sys`` by default, passed in (as
node_exporter's ``--path.procfs`` / ``--path.sysfs``) so that a fake tree on disk drives the same
code in tests and ``python -m tracker detect --proc-root DIR --sys-root DIR`` describes another
machine's captured files.
"""

from __future__ import annotations

import contextlib
import os
import platform
from functools import lru_cache
from pathlib import Path

# DMI identity files (``/sys/class/dmi/id``) and the values that mean a virtual machine, as the
# hypervisors and clouds write them (the same evidence systemd-detect-virt reads).
DMI_DIR = "class/dmi/id"
VM_DMI_VALUES = (
    ("sys_vendor", "QEMU"),
    ("sys_vendor", "innotek GmbH"),  # VirtualBox
    ("sys_vendor", "VMware, Inc."),
    ("sys_vendor", "Xen"),
    ("sys_vendor", "Parallels"),
    ("sys_vendor", "OpenStack Foundation"),
    ("sys_vendor", "Alibaba Cloud"),
    ("product_name", "KVM"),
    ("product_name", "Google Compute Engine"),
    ("product_name", "HVM domU"),
)
# Amazon's Nitro machines say "Amazon EC2" whether a VM or a whole host: bare-metal instance
# types end in ".metal" (their product_name is the instance type).
AWS_VENDOR = "Amazon EC2"
AWS_METAL_SUFFIX = ".metal"
# Microsoft writes its vendor name on its laptops too: only "Virtual Machine" is Hyper-V/Azure.
MICROSOFT_VENDOR = "Microsoft Corporation"
HYPERV_PRODUCT = "Virtual Machine"


class HostRoots:
    """The two roots every host file is read under."""

    __slots__ = ("proc", "sys")

    def __init__(self, proc: str | os.PathLike = "/proc", sys: str | os.PathLike = "/sys") -> None:
        self.proc = Path(proc)
        self.sys = Path(sys)

    @classmethod
    def under(cls, root: str | os.PathLike | HostRoots = "/") -> HostRoots:
        """``root/proc`` and ``root/sys``: the form the power sources take (one fake tree)."""
        if isinstance(root, HostRoots):
            return root
        return cls(Path(root, "proc"), Path(root, "sys"))


class CpuInfo:
    """The CPU part as ``/proc/cpuinfo`` describes it."""

    __slots__ = ("hypervisor_flag", "logical_cpus", "model", "packages")

    def __init__(self, model: str, packages: int, logical_cpus: int, hypervisor_flag: bool) -> None:
        self.model = model
        self.packages = packages  # distinct "physical id"s, at least 1
        self.logical_cpus = logical_cpus  # "processor" entries, else os.cpu_count()
        self.hypervisor_flag = hypervisor_flag  # the CPUID bit every hypervisor sets for a guest


@lru_cache(maxsize=8)
def read_cpu_info(proc_root: str = "/proc") -> CpuInfo:
    """Model name, packages, logical CPUs and the ``hypervisor`` flag from ``cpuinfo``; the model
    falls back to ``platform.processor()`` and the count to ``os.cpu_count()`` where the file or
    the line is missing (macOS, Windows)."""
    model, packages, processors, hypervisor = "", set(), 0, False
    # No such file off Linux: the platform module names the processor instead.
    with (
        contextlib.suppress(OSError),
        open(Path(proc_root, "cpuinfo"), encoding="utf-8", errors="replace") as lines,
    ):
        for line in lines:
            field, _, value = line.partition(":")
            field = field.strip()
            if field == "processor":
                processors += 1
            elif field == "model name" and not model:
                model = value.strip()
            elif field == "physical id":
                packages.add(value.strip())
            elif field == "flags" and not hypervisor:
                hypervisor = "hypervisor" in value.split()
    return CpuInfo(
        model or platform.processor(),
        max(1, len(packages)),
        processors or os.cpu_count() or 1,
        hypervisor,
    )


def _dmi(sys_root: Path, name: str) -> str:
    try:
        return Path(sys_root, DMI_DIR, name).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def virtualization(cpu: CpuInfo, sys_root: str | os.PathLike = "/sys") -> str:
    """Why this machine is a virtual machine ("hypervisor flag", "dmi sys_vendor=QEMU"...), or ""
    on bare metal. The CPU flag settles it; DMI covers hypervisors that hide the flag."""
    if cpu.hypervisor_flag:
        return "hypervisor flag"
    root = Path(sys_root)
    values = {name: _dmi(root, name) for name in ("sys_vendor", "product_name")}
    for name, expected in VM_DMI_VALUES:
        if expected.lower() in values[name].lower():
            return f"dmi {name}={values[name]}"
    vendor, product = values["sys_vendor"], values["product_name"]
    if vendor == AWS_VENDOR and not product.endswith(AWS_METAL_SUFFIX):
        return f"dmi sys_vendor={vendor} product_name={product}"
    if vendor == MICROSOFT_VENDOR and product == HYPERV_PRODUCT:
        return f"dmi sys_vendor={vendor} product_name={product}"
    return ""


def mem_total_bytes(proc_root: str | os.PathLike = "/proc") -> int | None:
    """``MemTotal`` of ``meminfo`` in bytes, None where there is no such file (not Linux)."""
    try:
        with open(Path(proc_root, "meminfo"), encoding="utf-8", errors="replace") as lines:
            for line in lines:
                field, _, value = line.partition(":")
                if field == "MemTotal":
                    number, _, unit = value.strip().partition(" ")
                    return int(number) * (1024 if unit.strip().lower() == "kb" else 1)
    except (OSError, ValueError):
        return None
    return None
