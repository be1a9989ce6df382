"""NVIDIA GPU energy through NVML, one source per device.

Where the driver has the total-energy counter (Volta and newer), energy is its increment; where
the counter is not supported, the power reading is integrated over time with the trapezoid rule.
One source per device means a GPU lost mid-run drops only that GPU's source.

``nvml`` is the pynvml module, or any object with the same functions and ``NVMLError`` classes
(tests pass a small fake); it is imported only when GPUs are probed, never at import time.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping, Sequence

from tracker.power.base import DeviceInfo, PowerSource, PowerSourceError

logger = logging.getLogger("tracker")

MILLI = 1e-3  # NVML reports energy in mJ and power in mW
LINUX_LIBRARY = "libnvidia-ml.so.1"  # the name pynvml loads on Linux


def import_nvml() -> object | None:
    """pynvml, or None (logged). On Linux the driver library is looked for first: without it
    the import of pynvml (several ms) would be spent only to fail in ``nvmlInit``."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(LINUX_LIBRARY)
        except OSError:
            logger.info("no NVIDIA driver (%s not found): no GPU energy measured", LINUX_LIBRARY)
            return None
    try:
        import pynvml
    except ImportError:
        logger.info("pynvml is not installed (pip install nvidia-ml-py): no GPU energy measured")
        return None
    return pynvml


def _text(value: bytes | str) -> str:
    """NVML strings are bytes in older bindings and str in newer ones."""
    return value.decode() if isinstance(value, bytes) else value


class _NvmlSession:
    """One ``nvmlInit`` shared by the GPU sources; ``nvmlShutdown`` when the last one closes."""

    def __init__(self, nvml: object) -> None:
        self.nvml = nvml
        self.users = 0

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.shutdown()

    def shutdown(self) -> None:
        with contextlib.suppress(self.nvml.NVMLError):
            self.nvml.nvmlShutdown()


def select_devices(
    nvml: object, gpu_ids: Sequence[int | str] | None, environ: Mapping[str, str]
) -> list[int]:
    """NVML indices to measure: ``gpu_ids`` if given, else ``CUDA_VISIBLE_DEVICES`` if set, else
    every device. Entries are indices or GPU UUIDs (a unique prefix is enough, as for CUDA);
    like CUDA, an entry that names no device ends the list there."""
    count = nvml.nvmlDeviceGetCount()
    if gpu_ids is not None:
        origin, entries = "gpu_ids", [str(entry).strip() for entry in gpu_ids]
    elif "CUDA_VISIBLE_DEVICES" in environ:
        value = environ["CUDA_VISIBLE_DEVICES"]
        origin = "CUDA_VISIBLE_DEVICES"
        entries = [entry.strip() for entry in value.split(",")] if value.strip() else []
    else:
        return list(range(count))
    if not entries:
        logger.info("%s is empty: no GPU energy measured", origin)
        return []
    uuids: list[str] = []
    indices: list[int] = []
    for entry in entries:
        if entry.lstrip("-").isdigit():
            index = int(entry) if 0 <= int(entry) < count else None
        else:
            if not uuids:
                uuids = [
                    _text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(i)))
                    for i in range(count)
                ]
            matches = [i for i, uuid in enumerate(uuids) if entry and uuid.startswith(entry)]
            index = matches[0] if len(matches) == 1 else None
        if index is None:
            logger.info(
                "%s entry %r names none of the %d GPUs: it and the entries after it are ignored",
                origin,
                entry,
                count,
            )
            break
        if index not in indices:
            indices.append(index)
    return indices


class NvmlGpu(PowerSource):
    """One NVIDIA GPU: its energy counter's increments, or its power integrated over time."""

    component = "gpu"

    def __init__(self, session: _NvmlSession, index: int, now: float) -> None:
        nvml = self._nvml = session.nvml
        self.index = index
        self._handle = nvml.nvmlDeviceGetHandleByIndex(index)
        self._name = _text(nvml.nvmlDeviceGetName(self._handle))
        self._last_now = now
        self._last_mj: int | None = None
        self._last_power_w = 0.0
        try:
            self._last_mj = nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
            self.method = "nvml-energy-counter"
        except nvml.NVMLError_NotSupported:
            self._last_power_w = nvml.nvmlDeviceGetPowerUsage(self._handle) * MILLI
            self.method = "nvml-power-integration"
        self._session: _NvmlSession | None = session
        session.users += 1

    @classmethod
    def probe(
        cls,
        *,
        nvml: object = None,
        gpu_ids: Sequence[int | str] | None = None,
        environ: Mapping[str, str] | None = None,
        now: float = 0.0,
    ) -> list[NvmlGpu]:
        """A source per selected GPU that reports energy or power; [] (logged) when none."""
        nvml = import_nvml() if nvml is None else nvml
        if nvml is None:
            return []
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as error:
            logger.info(
                "NVML unavailable (%s): no NVIDIA GPU measured; an NVIDIA driver enables it", error
            )
            return []
        session = _NvmlSession(nvml)
        sources: list[NvmlGpu] = []
        try:
            indices = select_devices(nvml, gpu_ids, {} if environ is None else environ)
        except nvml.NVMLError as error:
            logger.warning("NVML failed listing GPUs (%s): GPU energy is not measured", error)
            indices = []
        for index in indices:
            try:
                sources.append(cls(session, index, now))
            except nvml.NVMLError as error:
                logger.warning("GPU %d reports no energy nor power (%s): skipped", index, error)
        if not sources:
            session.shutdown()
        return sources

    def read_energy_j(self, now: float) -> float:
        nvml = self._nvml
        try:
            if self._last_mj is not None:
                energy_mj = nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
                # The counter restarts at 0 when the driver reloads: the reading is then the
                # energy since the restart.
                restarted = energy_mj < self._last_mj
                increment_mj = energy_mj if restarted else energy_mj - self._last_mj
                self._last_mj = energy_mj
                return increment_mj * MILLI
            power_w = nvml.nvmlDeviceGetPowerUsage(self._handle) * MILLI
        except nvml.NVMLError as error:
            raise PowerSourceError(f"GPU {self.index} ({self._name}): {error}") from error
        elapsed_s, self._last_now = max(0.0, now - self._last_now), now
        energy_j = (self._last_power_w + power_w) / 2 * elapsed_s
        self._last_power_w = power_w
        return energy_j

    def info(self) -> DeviceInfo:
        return DeviceInfo(model=self._name, count=1, extra={"index": str(self.index)})

    def utilization_percent(self) -> float | None:
        try:
            return float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)
        except self._nvml.NVMLError:
            return None

    def close(self) -> None:
        if self._session is not None:
            self._session.release()
            self._session = None
