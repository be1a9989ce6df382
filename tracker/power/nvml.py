"""NVIDIA GPU energy through NVML, one source per device (a whole GPU or one MIG slice).

Where the driver has the total-energy counter (Volta and newer), energy is its increment; where
the counter is not supported, the power reading is integrated over time with the trapezoid rule,
read once a second by one light thread (:class:`PowerPoller`) whatever the measuring interval,
so a short burst between two of the tracker's reads is not lost. Any NVML call that fails is
degraded to what still works: an optional field becomes unknown, a failing read leaves a gap in
that GPU's energy (flagged in its method), and the GPU is read again at the next poll.

``nvml`` is the pynvml module, or any object with the same functions and ``NVMLError`` classes
(tests pass a small fake); it is imported only when GPUs are probed, never at import time.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from tracker.power.base import DeviceInfo, PowerSource
from tracker.power.load import ProcessTree

logger = logging.getLogger("tracker")

MILLI = 1e-3  # NVML reports energy in mJ and power in mW
LINUX_LIBRARY = "libnvidia-ml.so.1"  # the name pynvml loads on Linux
POLL_PERIOD_S = 1.0  # Ampere and newer (but GA100) report power averaged over 1 s
JOIN_TIMEOUT_S = 2.0


def import_nvml() -> object | None:
    """pynvml, or None (logged). On Linux the driver library is looked for first: without it
    the import of pynvml (several ms) would be spent only to fail in ``nvmlInit``."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(LINUX_LIBRARY)
        except OSError:
            logger.debug("no NVIDIA driver (%s not found): no GPU energy measured", LINUX_LIBRARY)
            return None
    try:
        import pynvml
    except ImportError:
        logger.debug("pynvml is not installed (pip install nvidia-ml-py): no GPU energy measured")
        return None
    return pynvml


def _text(value: bytes | str) -> str:
    """NVML strings are bytes in older bindings and str in newer ones."""
    return value.decode() if isinstance(value, bytes) else value


class PowerPoller:
    """Polls the GPUs that need it (no energy counter, or process mode) every ``period_s`` on
    one daemon thread. Each poll is one or two NVML calls per GPU (tens of microseconds), so the
    thread costs well under 0.1 % of one CPU; no thread is started when no GPU needs it.

    ``clock`` is monotonic seconds, the sampler's clock. ``wait(seconds)`` returns True to stop
    (default: the stop event's wait); tests pass one that advances a fake clock.
    """

    def __init__(
        self,
        *,
        period_s: float = POLL_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.period_s = period_s
        self._clock = clock
        self._stop = threading.Event()
        self._wait = self._stop.wait if wait is None else wait
        self._gpus: list[NvmlGpu] = []
        self._thread: threading.Thread | None = None

    def add(self, gpu: NvmlGpu) -> None:
        self._gpus.append(gpu)

    def discard(self, gpu: NvmlGpu) -> None:
        with contextlib.suppress(ValueError):
            self._gpus.remove(gpu)

    def start(self) -> None:
        """Start the thread once, if some GPU needs polling."""
        if self._thread is None and self._gpus:
            self._thread = threading.Thread(target=self.run, name="carbonboard-gpu-power")
            self._thread.daemon = True
            self._thread.start()

    def run(self) -> None:
        """The polling loop; it never dies on an error (each GPU handles its own NVML errors)."""
        failed = False
        while not self._wait(self.period_s) and not self._stop.is_set():
            now = self._clock()
            for gpu in list(self._gpus):
                try:
                    gpu.poll(now)
                except Exception:  # a bug must not stop the other GPUs' polling
                    if not failed:
                        logger.exception("polling GPU %d failed; polling goes on", gpu.index)
                    failed = True

    def join(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self.join()


class _NvmlSession:
    """One ``nvmlInit`` and one poller shared by the GPU sources; both end when the last
    source closes."""

    def __init__(self, nvml: object, poller: PowerPoller) -> None:
        self.nvml = nvml
        self.poller = poller
        self.users = 0

    def release(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.shutdown()

    def shutdown(self) -> None:
        self.poller.stop()
        with contextlib.suppress(self.nvml.NVMLError):
            self.nvml.nvmlShutdown()


class Target(NamedTuple):
    """A device to measure: the NVML index of its board and, for a MIG slice, its MIG index."""

    index: int
    mig_index: int | None = None


def _mig_devices(nvml: object, board: object) -> list[tuple[int, object]]:
    """(MIG index, handle) of each MIG device on ``board``; [] when MIG is off or unknown
    (``nvmlDeviceGetMigMode`` raises NotSupported on GPUs without MIG, FunctionNotFound on
    drivers before it)."""
    try:
        current_mode, _pending = nvml.nvmlDeviceGetMigMode(board)
        if current_mode != nvml.NVML_DEVICE_MIG_ENABLE:
            return []
        slots = nvml.nvmlDeviceGetMaxMigDeviceCount(board)
    except nvml.NVMLError:
        return []
    devices = []
    for mig_index in range(slots):
        with contextlib.suppress(nvml.NVMLError):  # NotFound: no MIG device in that slot
            devices.append((mig_index, nvml.nvmlDeviceGetMigDeviceHandleByIndex(board, mig_index)))
    return devices


def _resolve_uuid(nvml: object, entry: str, boards: list[tuple[object, str]]) -> Target | None:
    """The device a unique prefix of a ``GPU-`` or ``MIG-`` UUID names; None when none or
    several. ``boards`` is each board's (handle, UUID), in NVML order."""
    if entry.startswith("MIG-"):
        matches = [
            Target(index, mig_index)
            for index, (board, _uuid) in enumerate(boards)
            for mig_index, handle in _mig_devices(nvml, board)
            if _text(nvml.nvmlDeviceGetUUID(handle)).startswith(entry)
        ]
    else:
        matches = [Target(i) for i, (_board, uuid) in enumerate(boards) if uuid.startswith(entry)]
    return matches[0] if len(matches) == 1 and entry else None


def select_devices(
    nvml: object, gpu_ids: Sequence[int | str] | None, environ: Mapping[str, str]
) -> list[Target]:
    """Devices to measure: ``gpu_ids`` if given, else ``CUDA_VISIBLE_DEVICES`` if set, else
    every GPU. Entries are indices, GPU UUIDs or MIG UUIDs (a unique prefix is enough, as for
    CUDA); like CUDA, an entry that names no device ends the list there."""
    count = nvml.nvmlDeviceGetCount()
    if gpu_ids is not None:
        origin, entries = "gpu_ids", [str(entry).strip() for entry in gpu_ids]
    elif "CUDA_VISIBLE_DEVICES" in environ:
        value = environ["CUDA_VISIBLE_DEVICES"]
        origin = "CUDA_VISIBLE_DEVICES"
        entries = [entry.strip() for entry in value.split(",")] if value.strip() else []
    else:
        return [Target(index) for index in range(count)]
    if not entries:
        logger.debug("%s is empty: no GPU energy measured", origin)
        return []
    boards: list[tuple[object, str]] | None = None  # listed once, only if a UUID is given
    targets: list[Target] = []
    for entry in entries:
        if entry.lstrip("-").isdigit():
            target = Target(int(entry)) if 0 <= int(entry) < count else None
        else:
            if boards is None:
                handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
                boards = [(handle, _text(nvml.nvmlDeviceGetUUID(handle))) for handle in handles]
            target = _resolve_uuid(nvml, entry, boards)
        if target is None:
            logger.debug(
                "%s entry %r names none of the %d GPUs (nor their MIG devices): "
                "it and the entries after it are ignored",
                origin,
                entry,
                count,
            )
            break
        if target not in targets:
            targets.append(target)
    return targets


def mig_share_of_board(nvml: object, board: object, mig: object) -> float | None:
    """The share of the board's energy charged to a MIG device: its compute slices over the
    board's (``computeInstanceSliceCount`` / ``nvmlDeviceGetMaxMigDeviceCount``, 1/7 for a
    1g slice of an A100 or H100). None when NVML does not say."""
    try:
        slices = nvml.nvmlDeviceGetAttributes(mig).computeInstanceSliceCount
        board_slices = nvml.nvmlDeviceGetMaxMigDeviceCount(board)
    except nvml.NVMLError:
        return None
    return slices / board_slices if 0 < slices <= board_slices else None


class NvmlGpu(PowerSource):
    """One NVIDIA GPU or MIG slice: the board's energy counter increments, or its power
    integrated over time, times the slice's share of the board and, in process mode, the
    tracked process tree's share of the device."""

    component = "gpu"

    def __init__(
        self,
        session: _NvmlSession,
        target: Target,
        now: float,
        tree: ProcessTree | None = None,
    ) -> None:
        nvml = self._nvml = session.nvml
        self.index, self.mig_index = target
        self._board = nvml.nvmlDeviceGetHandleByIndex(self.index)
        self._mig = None
        self._board_share: float | None = 1.0
        if self.mig_index is not None:
            self._mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(self._board, self.mig_index)
            self._board_share = mig_share_of_board(nvml, self._board, self._mig)
        self._device = self._mig if self._mig is not None else self._board
        self._name = self._optional(nvml.nvmlDeviceGetName, self._device)
        self._lock = threading.Lock()
        self._last_now = now
        self._pending_j = 0.0
        self._gap = False
        self._last_power_w: float | None = None
        self._last_mj: int | None = None
        try:
            self._last_mj = nvml.nvmlDeviceGetTotalEnergyConsumption(self._board)
            self._base_method = "nvml-energy-counter"
        except nvml.NVMLError as error:  # NotSupported before Volta, FunctionNotFound: old driver
            self._last_power_w = nvml.nvmlDeviceGetPowerUsage(self._board) * MILLI
            self._base_method = "nvml-power-integration"
            logger.debug(
                "GPU %d has no energy counter (%s): its power is integrated", target.index, error
            )
        self._tree = tree
        self._whole_device = False
        self._last_seen_us = 0
        if tree is not None:  # probes support, and skips the samples from before the run
            with contextlib.suppress(nvml.NVMLError):
                self._process_share()
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
        pid: int | None = None,
        poller: PowerPoller | None = None,
    ) -> list[NvmlGpu]:
        """A source per selected device that reports energy or power; [] (logged) when none.
        ``pid``: process mode, for that process and its descendants. ``poller`` defaults to a
        1 Hz thread on ``time.monotonic``."""
        nvml = import_nvml() if nvml is None else nvml
        if nvml is None:
            return []
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as error:
            logger.debug(
                "NVML unavailable (%s): no NVIDIA GPU measured; an NVIDIA driver enables it", error
            )
            return []
        session = _NvmlSession(nvml, PowerPoller() if poller is None else poller)
        sources: list[NvmlGpu] = []
        try:
            targets = select_devices(nvml, gpu_ids, {} if environ is None else environ)
        except nvml.NVMLError as error:
            logger.warning("NVML failed listing GPUs (%s): GPU energy is not measured", error)
            targets = []
        tree = None if pid is None else ProcessTree(pid)
        for target in targets:
            try:
                sources.append(cls(session, target, now, tree))
            except nvml.NVMLError as error:
                logger.warning(
                    "GPU %d reports no energy nor power (%s): skipped", target.index, error
                )
        if not sources:
            session.shutdown()
        for source in sources:
            if source.needs_polling:
                session.poller.add(source)
        session.poller.start()
        return sources

    @property
    def needs_polling(self) -> bool:
        """Integrated power and process shares change within a measuring interval."""
        return self._last_mj is None or self._tree is not None

    @property
    def method(self) -> str:
        """``nvml-energy-counter`` or ``nvml-power-integration``, then the qualifiers that apply,
        joined by ``+``: ``mig-share`` / ``whole-board`` (a MIG slice with / without its share),
        ``process-share`` / ``whole-device`` (process mode with / without per-process
        utilisation), ``gap`` (some read failed: energy may be missing)."""
        words = [self._base_method]
        if self.mig_index is not None:
            words.append("whole-board" if self._board_share is None else "mig-share")
        if self._tree is not None:
            words.append("whole-device" if self._whole_device else "process-share")
        if self._gap:
            words.append("gap")
        return "+".join(words)

    def _optional(self, call: Callable[[object], object], handle: object) -> str:
        """An informational string NVML may not provide: '' (unknown) rather than losing the GPU."""
        try:
            return _text(call(handle))
        except self._nvml.NVMLError as error:
            logger.debug("GPU %d: %s failed (%s): left unknown", self.index, call.__name__, error)
            return ""

    def poll(self, now: float) -> None:
        """Add the energy since the previous poll to the pending energy; a failed read leaves a
        gap (flagged) and the next poll tries again."""
        with self._lock:
            self._poll(now)

    def _poll(self, now: float) -> None:
        nvml = self._nvml
        try:
            energy_j = self._board_energy_j(now)
            share = self._process_share()
        except nvml.NVMLError as error:
            self._degrade(error)
            return
        self._pending_j += energy_j * (self._board_share or 1.0) * share

    def _board_energy_j(self, now: float) -> float:
        nvml = self._nvml
        elapsed_s = max(0.0, now - self._last_now)
        self._last_now = max(self._last_now, now)
        if self._last_mj is not None:
            energy_mj = nvml.nvmlDeviceGetTotalEnergyConsumption(self._board)
            # The counter restarts at 0 when the driver reloads: the reading is then the energy
            # since the restart, and what came before it since the last read is lost.
            restarted = energy_mj < self._last_mj
            self._gap = self._gap or restarted
            increment_mj = energy_mj if restarted else energy_mj - self._last_mj
            self._last_mj = energy_mj
            return increment_mj * MILLI
        power_w = nvml.nvmlDeviceGetPowerUsage(self._board) * MILLI
        previous_w, self._last_power_w = self._last_power_w, power_w
        # After a failed read the trapezoid restarts here: the gap's energy is not guessed.
        return 0.0 if previous_w is None else (previous_w + power_w) / 2 * elapsed_s

    def _degrade(self, error: Exception) -> None:
        if not self._gap:
            logger.warning(
                "GPU %d (%s) read failed (%s): its energy until the next good read may be "
                "missing (method flagged 'gap'); it is read again at the next poll",
                self.index,
                self._name,
                error,
            )
        self._gap = True
        self._last_power_w = None

    def _process_share(self) -> float:
        """The tracked tree's share of the device since the previous call: its processes' SM
        utilisation over all processes'; when no process used the SMs, its share of the
        processes holding a compute context (an idle context still keeps the GPU powered).
        1.0 (whole device, flagged) where NVML has no per-process utilisation."""
        nvml = self._nvml
        if self._tree is None or self._whole_device:
            return 1.0
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(self._device, self._last_seen_us)
        except nvml.NVMLError_NotFound:  # no process used the device since the last call
            samples = []
        except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound) as error:
            logger.debug(
                "GPU %d has no per-process utilisation (%s): the whole device is charged",
                self.index,
                error,
            )
            self._whole_device = True
            return 1.0
        self._last_seen_us = max([self._last_seen_us, *(s.timeStamp for s in samples)])
        total = sum(s.smUtil for s in samples)
        if total > 0:
            pids = self._tree_pids()
            return sum(s.smUtil for s in samples if s.pid in pids) / total
        holders = {p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(self._device)}
        return len(holders & self._tree_pids()) / len(holders) if holders else 0.0

    def _tree_pids(self) -> set[int]:
        """The tracked tree's PIDs, listed only when a share needs them (a /proc walk)."""
        return {process.pid for process in self._tree.processes()} if self._tree else set()

    def read_energy_j(self, now: float) -> float:
        with self._lock:
            self._poll(now)
            energy_j, self._pending_j = self._pending_j, 0.0
            return energy_j

    def info(self) -> DeviceInfo:
        extra = {"index": str(self.index)}
        if self.mig_index is not None:
            extra["mig_index"] = str(self.mig_index)
        return DeviceInfo(model=self._name, count=1, extra=extra)

    def utilization_percent(self) -> float | None:
        try:
            return float(self._nvml.nvmlDeviceGetUtilizationRates(self._device).gpu)
        except self._nvml.NVMLError:
            return None

    def close(self) -> None:
        if self._session is not None:
            self._session.poller.discard(self)
            self._session.release()
            self._session = None
