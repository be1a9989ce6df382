"""Fixtures for the power sources: fake sysfs trees on disk and a small NVML stand-in.

The sources take their hardware as parameters (a root path, an NVML module object), so these
fixtures are real inputs to the real code: nothing is patched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from tracker.power.nvml import PowerPoller

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RANGE_UJ = 262_143_328_850  # a real Intel package's max_energy_range_uj


class PowercapTree:
    """``<root>/sys/class/powercap`` zones written as the kernel lays them out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / "sys" / "class" / "powercap"
        self.base.mkdir(parents=True, exist_ok=True)

    def zone(self, zone: str, name: str, energy_uj: int = 0, range_uj: int = RANGE_UJ) -> Path:
        directory = self.base / zone
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "name").write_text(f"{name}\n")
        (directory / "max_energy_range_uj").write_text(f"{range_uj}\n")
        self.set(zone, energy_uj)
        return directory / "energy_uj"

    def set(self, zone: str, energy_uj: int) -> None:
        (self.base / zone / "energy_uj").write_text(f"{energy_uj}\n")

    def cpuinfo(self, model: str, packages: int = 1, threads_per_package: int = 2) -> None:
        lines = []
        for package in range(packages):
            for thread in range(threads_per_package):
                processor = package * threads_per_package + thread
                lines += [
                    f"processor\t: {processor}",
                    f"model name\t: {model}",
                    f"physical id\t: {package}",
                    "",
                ]
        (self.root / "proc").mkdir(exist_ok=True)
        (self.root / "proc" / "cpuinfo").write_text("\n".join(lines))


@pytest.fixture
def powercap(tmp_path) -> PowercapTree:
    return PowercapTree(tmp_path)


@dataclass
class FakeMig:
    """A MIG device: ``slices`` compute slices of its board (1 for a 1g profile)."""

    uuid: str = "MIG-00000000-0000-0000-0000-000000000000"
    name: str = "NVIDIA A100-SXM4-40GB MIG 1g.5gb"
    slices: int = 1


@dataclass
class FakeDevice:
    name: str = "NVIDIA A100-SXM4-40GB"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    energy_mj: int | None = 1_000_000  # None: the counter is not supported
    power_mw: int | None = 250_000  # None: power reading not supported either
    utilization: int = 40
    lost: bool = False
    # NVML function name -> error class name it raises (e.g. a driver without the function)
    errors: dict[str, str] = field(default_factory=dict)
    mig_mode: int | None = None  # None: a GPU without MIG (the call is not supported)
    migs: dict[int, FakeMig] = field(default_factory=dict)  # MIG index -> device
    max_mig_devices: int = 7  # A100 / H100: 7 compute slices
    # per-process SM utilisation samples: (pid, smUtil %, CPU timestamp in us); None: unsupported
    process_samples: list[tuple[int, int, int]] | None = field(default_factory=list)
    compute_pids: list[int] = field(default_factory=list)


class FakeNvml:
    """The slice of pynvml the GPU source uses, with pynvml's names, error hierarchy and
    semantics: a board handle is its index, a MIG handle is (board index, MIG index); energy and
    power are board-level (NotSupported on a MIG handle), as on real MIG devices."""

    NVML_DEVICE_MIG_DISABLE = 0
    NVML_DEVICE_MIG_ENABLE = 1

    class NVMLError(Exception):
        """Base of every NVML error, as in pynvml."""

    class NVMLError_NotSupported(NVMLError):
        """The device lacks the queried feature (e.g. the energy counter before Volta)."""

    class NVMLError_FunctionNotFound(NVMLError):
        """The installed driver predates the function."""

    class NVMLError_NotFound(NVMLError):
        """No such object (an empty MIG slot, no utilisation sample since the timestamp)."""

    class NVMLError_Unknown(NVMLError):
        """A transient driver error."""

    class NVMLError_GpuIsLost(NVMLError):
        """The device fell off the bus."""

    class NVMLError_DriverNotLoaded(NVMLError):
        """nvmlInit without a loaded driver."""

    def __init__(self, devices: list[FakeDevice], *, name_as_bytes: bool = True) -> None:
        self.devices = devices
        self.name_as_bytes = name_as_bytes
        self.driver_loaded = True
        self.init_calls = 0
        self.shutdown_calls = 0
        self.calls: dict[str, int] = {}

    def _device(self, handle: int | tuple[int, int], function: str) -> FakeDevice:
        self.calls[function] = self.calls.get(function, 0) + 1
        device = self.devices[handle[0] if isinstance(handle, tuple) else handle]
        if device.lost:
            raise self.NVMLError_GpuIsLost("GPU is lost")
        if function in device.errors:
            error = getattr(self, device.errors[function])
            raise error(device.errors[function].removeprefix("NVMLError_"))
        return device

    def _mig(self, handle: tuple[int, int], function: str) -> FakeMig:
        return self._device(handle, function).migs[handle[1]]

    def _text(self, value: str) -> bytes | str:
        return value.encode() if self.name_as_bytes else value

    def nvmlInit(self) -> None:
        if not self.driver_loaded:
            raise self.NVMLError_DriverNotLoaded("Driver Not Loaded")
        self.init_calls += 1

    def nvmlShutdown(self) -> None:
        self.shutdown_calls += 1

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.devices):
            raise self.NVMLError("Invalid Argument")
        return index

    def nvmlDeviceGetName(self, handle: int | tuple[int, int]) -> bytes | str:
        if isinstance(handle, tuple):
            return self._text(self._mig(handle, "nvmlDeviceGetName").name)
        return self._text(self._device(handle, "nvmlDeviceGetName").name)

    def nvmlDeviceGetUUID(self, handle: int | tuple[int, int]) -> bytes | str:
        if isinstance(handle, tuple):
            return self._text(self._mig(handle, "nvmlDeviceGetUUID").uuid)
        return self._text(self._device(handle, "nvmlDeviceGetUUID").uuid)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int | tuple[int, int]) -> int:
        device = self._device(handle, "nvmlDeviceGetTotalEnergyConsumption")
        if device.energy_mj is None or isinstance(handle, tuple):
            raise self.NVMLError_NotSupported("Not Supported")
        return device.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: int | tuple[int, int]) -> int:
        device = self._device(handle, "nvmlDeviceGetPowerUsage")
        if device.power_mw is None or isinstance(handle, tuple):
            raise self.NVMLError_NotSupported("Not Supported")
        return device.power_mw

    def nvmlDeviceGetUtilizationRates(self, handle: int | tuple[int, int]) -> SimpleNamespace:
        device = self._device(handle, "nvmlDeviceGetUtilizationRates")
        if isinstance(handle, tuple):  # not available on MIG devices
            raise self.NVMLError_NotSupported("Not Supported")
        return SimpleNamespace(gpu=device.utilization, memory=10)

    def nvmlDeviceGetMigMode(self, handle: int) -> list[int]:
        device = self._device(handle, "nvmlDeviceGetMigMode")
        if device.mig_mode is None:
            raise self.NVMLError_NotSupported("Not Supported")
        return [device.mig_mode, device.mig_mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: int) -> int:
        device = self._device(handle, "nvmlDeviceGetMaxMigDeviceCount")
        return device.max_mig_devices if device.mig_mode is not None else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: int, index: int) -> tuple[int, int]:
        device = self._device(handle, "nvmlDeviceGetMigDeviceHandleByIndex")
        if device.mig_mode != self.NVML_DEVICE_MIG_ENABLE or index not in device.migs:
            raise self.NVMLError_NotFound("Not Found")
        return (handle, index)

    def nvmlDeviceGetAttributes(self, handle: tuple[int, int]) -> SimpleNamespace:
        mig = self._mig(handle, "nvmlDeviceGetAttributes")
        return SimpleNamespace(
            computeInstanceSliceCount=mig.slices, gpuInstanceSliceCount=mig.slices
        )

    def nvmlDeviceGetProcessUtilization(
        self, handle: int | tuple[int, int], last_seen_us: int
    ) -> list[SimpleNamespace]:
        device = self._device(handle, "nvmlDeviceGetProcessUtilization")
        if device.process_samples is None or isinstance(handle, tuple):
            raise self.NVMLError_NotSupported("Not Supported")
        samples = [
            SimpleNamespace(pid=pid, smUtil=sm, memUtil=0, encUtil=0, decUtil=0, timeStamp=t)
            for pid, sm, t in device.process_samples
            if t > last_seen_us
        ]
        if not samples:
            raise self.NVMLError_NotFound("Not Found")
        return samples

    def nvmlDeviceGetComputeRunningProcesses(
        self, handle: int | tuple[int, int]
    ) -> list[SimpleNamespace]:
        device = self._device(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=pid, usedGpuMemory=1 << 30) for pid in device.compute_pids]


@pytest.fixture
def fake_nvml():
    """``fake_nvml(*devices, **options)`` builds an NVML stand-in over the given devices."""
    return lambda *devices, **options: FakeNvml(list(devices), **options)


@pytest.fixture
def gpu_device():
    """The device record class: ``gpu_device(energy_mj=None)`` is a GPU without the counter."""
    return FakeDevice


@pytest.fixture
def mig_device():
    """The MIG device record class."""
    return FakeMig


@pytest.fixture
def no_polling():
    """A poller whose thread ends at once: reads happen only when the test calls them."""
    return PowerPoller(wait=lambda _seconds: True)


class HostTree:
    """A machine's ``proc`` and ``sys`` trees under one folder, as the kernel lays them out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = root / "proc"
        self.sys = root / "sys"
        self.proc.mkdir(parents=True, exist_ok=True)
        self.sys.mkdir(parents=True, exist_ok=True)

    def cpuinfo(self, model: str, cpus: int, *, guest: bool, packages: int = 1) -> None:
        """``cpus`` logical CPUs spread over ``packages``; a guest has the ``hypervisor`` flag."""
        flags = "fpu vme de pse tsc msr pae mce cx8 apic sep" + (" hypervisor" if guest else "")
        blocks = [
            f"processor\t: {n}\nmodel name\t: {model}\nphysical id\t: {n * packages // cpus}\n"
            f"flags\t\t: {flags}\n"
            for n in range(cpus)
        ]
        (self.proc / "cpuinfo").write_text("\n".join(blocks))

    def meminfo(self, total_kb: int) -> None:
        (self.proc / "meminfo").write_text(f"MemTotal:       {total_kb} kB\nMemFree: 1 kB\n")

    def dmi(self, **values: str) -> None:
        directory = self.sys / "class" / "dmi" / "id"
        directory.mkdir(parents=True, exist_ok=True)
        for name, value in values.items():
            (directory / name).write_text(f"{value}\n")

    def rapl_zone(self, zone: str, name: str, *, readable: bool = True) -> Path:
        directory = self.sys / "class" / "powercap" / zone
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "name").write_text(f"{name}\n")
        (directory / "max_energy_range_uj").write_text(f"{RANGE_UJ}\n")
        energy = directory / "energy_uj"
        energy.write_text("1000\n")
        energy.chmod(0o644 if readable else 0o000)
        return energy


@pytest.fixture
def host_tree(tmp_path) -> HostTree:
    return HostTree(tmp_path / "host")
