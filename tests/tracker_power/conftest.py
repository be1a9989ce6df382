"""Fixtures for the power sources: fake sysfs trees on disk and a small NVML stand-in.

The sources take their hardware as parameters (a root path, an NVML module object), so these
fixtures are real inputs to the real code: nothing is patched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

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
class FakeDevice:
    name: str = "NVIDIA A100-SXM4-40GB"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    energy_mj: int | None = 1_000_000  # None: the counter is not supported
    power_mw: int | None = 250_000  # None: power reading not supported either
    utilization: int = 40
    lost: bool = False


class FakeNvml:
    """The slice of pynvml the GPU source uses, with pynvml's names and error hierarchy."""

    class NVMLError(Exception):
        """Base of every NVML error, as in pynvml."""

    class NVMLError_NotSupported(NVMLError):
        """The device lacks the queried feature (e.g. the energy counter before Volta)."""

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

    def _device(self, handle: int) -> FakeDevice:
        device = self.devices[handle]
        if device.lost:
            raise self.NVMLError_GpuIsLost("GPU is lost")
        return device

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

    def nvmlDeviceGetName(self, handle: int) -> bytes | str:
        name = self._device(handle).name
        return name.encode() if self.name_as_bytes else name

    def nvmlDeviceGetUUID(self, handle: int) -> bytes | str:
        uuid = self._device(handle).uuid
        return uuid.encode() if self.name_as_bytes else uuid

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        device = self._device(handle)
        if device.energy_mj is None:
            raise self.NVMLError_NotSupported("Not Supported")
        return device.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        device = self._device(handle)
        if device.power_mw is None:
            raise self.NVMLError_NotSupported("Not Supported")
        return device.power_mw

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=self._device(handle).utilization, memory=10)


@pytest.fixture
def fake_nvml():
    """``fake_nvml(*devices, **options)`` builds an NVML stand-in over the given devices."""
    return lambda *devices, **options: FakeNvml(list(devices), **options)


@pytest.fixture
def gpu_device():
    """The device record class: ``gpu_device(energy_mj=None)`` is a GPU without the counter."""
    return FakeDevice
