"""CPU and GPU power on macOS from Apple's ``powermetrics`` (which needs root).

Each read runs ``powermetrics --samplers cpu_power,gpu_power -i <ms> -n 1 -f plist`` once; the
CPU and GPU sources share that run. Energy between reads is the trapezoid of the sampled powers.

Apple Silicon reports ``processor.cpu_power`` and ``processor.gpu_power`` in mW (with
``cpu_energy``/``gpu_energy`` in mJ over ``elapsed_ns``); Intel Macs report
``processor.package_watts`` (``package_joules``), which includes the integrated GPU, so no separate
GPU figure is taken there and nothing is counted twice.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from tracker.power.base import PowerSource, PowerSourceError
from tracker.power.load import CpuLoad

logger = logging.getLogger("tracker")

SAMPLE_MS = 100
COMMAND = ("powermetrics", "--samplers", "cpu_power,gpu_power", "-n", "1", "-f", "plist", "-i")
TIMEOUT_S = 10.0
MILLI = 1e-3


class PowermetricsSample:
    """CPU and GPU power of one sample (None: not reported) and the sample's duration."""

    __slots__ = ("cpu_power_w", "elapsed_s", "gpu_power_w")

    def __init__(self, cpu_power_w: float | None, gpu_power_w: float | None, elapsed_s: float):
        self.cpu_power_w = cpu_power_w
        self.gpu_power_w = gpu_power_w
        self.elapsed_s = elapsed_s


def _power_w(section: dict, power_key: str, energy_key: str, elapsed_s: float) -> float | None:
    """A power in mW, or failing that an energy in mJ over the sample's duration, in W."""
    if power_key in section:
        return float(section[power_key]) * MILLI
    if energy_key in section and elapsed_s > 0:
        return float(section[energy_key]) * MILLI / elapsed_s
    return None


def parse_powermetrics(output: bytes) -> PowermetricsSample:
    """The CPU and GPU power in one ``-f plist`` sample; ValueError if it is not one."""
    import plistlib  # only macOS runs this: keep it off the import path elsewhere

    try:
        data = plistlib.loads(output.strip(b"\0\n\t "))
    except plistlib.InvalidFileException as error:
        raise ValueError(f"not a powermetrics plist: {error}") from error
    processor = data.get("processor")
    if not isinstance(processor, dict):
        raise ValueError("powermetrics plist has no processor section")
    elapsed_s = float(data.get("elapsed_ns", 0)) * 1e-9
    if "package_watts" in processor or "package_joules" in processor:  # Intel Mac
        package_w = (
            float(processor["package_watts"])
            if "package_watts" in processor
            else float(processor["package_joules"]) / elapsed_s
        )
        return PowermetricsSample(package_w, None, elapsed_s)
    cpu_w = _power_w(processor, "cpu_power", "cpu_energy", elapsed_s)
    gpu_w = _power_w(processor, "gpu_power", "gpu_energy", elapsed_s)
    if gpu_w is None and isinstance(data.get("gpu"), dict):
        gpu_w = _power_w(data["gpu"], "gpu_power", "gpu_energy", elapsed_s)
    if cpu_w is None:
        raise ValueError("powermetrics plist has no CPU power")
    return PowermetricsSample(cpu_w, gpu_w, elapsed_s)


class PowermetricsRunner:
    """Runs the command at most once per instant, so the CPU and GPU sources share a sample."""

    def __init__(self, command: Sequence[str] = (*COMMAND, str(SAMPLE_MS))) -> None:
        self.command = list(command)
        self._now: float | None = None
        self._sample: PowermetricsSample | None = None

    def sample(self, now: float) -> PowermetricsSample:
        import subprocess  # macOS only: keeps the import of the tracker cheap elsewhere

        if self._sample is None or now != self._now:
            try:
                result = subprocess.run(
                    self.command, capture_output=True, timeout=TIMEOUT_S, check=True
                )
                self._sample = parse_powermetrics(result.stdout)
            except (OSError, subprocess.SubprocessError, ValueError) as error:
                detail = getattr(error, "stderr", b"") or b""
                message = f"{error} {detail.decode(errors='replace').strip()}".strip()
                raise PowerSourceError(f"powermetrics: {message}") from error
            self._now = now
        return self._sample


class Powermetrics(PowerSource):
    """The CPU or the GPU (``component``) as measured by powermetrics; in process mode the CPU
    energy is the tracked process tree's CPU-time share of it, as for RAPL."""

    method = "powermetrics"

    def __init__(
        self, component: str, runner: PowermetricsRunner, now: float, pid: int | None = None
    ) -> None:
        self.component = component
        self._runner = runner
        self._last = now
        self._last_power_w = self._power_w(now)
        self._load = CpuLoad(pid, now) if component == "cpu" else None

    def _power_w(self, now: float) -> float:
        sample = self._runner.sample(now)
        power_w = sample.cpu_power_w if self.component == "cpu" else sample.gpu_power_w
        if power_w is None:
            raise PowerSourceError(f"powermetrics reports no {self.component} power")
        return power_w

    @classmethod
    def probe(
        cls,
        component: str,
        runner: PowermetricsRunner,
        *,
        platform_name: str = sys.platform,
        pid: int | None = None,
        now: float = 0.0,
    ) -> Powermetrics | None:
        """The source when on macOS and one sample has ``component`` power, else None (logged)."""
        if platform_name != "darwin":
            return None
        import shutil

        if shutil.which(runner.command[0]) is None:
            logger.debug("powermetrics not found: %s power is not measured", component)
            return None
        try:
            sample = runner.sample(now)
        except PowerSourceError as error:
            logger.debug(
                "%s: %s power is not measured (powermetrics needs root: run under sudo)",
                error,
                component,
            )
            return None
        if (sample.cpu_power_w if component == "cpu" else sample.gpu_power_w) is None:
            logger.debug(
                "powermetrics reports no separate %s power (an Intel Mac's package figure "
                "includes its integrated GPU)",
                component,
            )
            return None
        return cls(component, runner, now, pid)

    def read_energy_j(self, now: float) -> float:
        elapsed_s, self._last = max(0.0, now - self._last), now
        power_w = self._power_w(now)
        energy_j = (self._last_power_w + power_w) / 2 * elapsed_s
        self._last_power_w = power_w
        if self._load is not None:
            energy_j *= self._load.update(now)[1]
        return energy_j

    def utilization_percent(self) -> float | None:
        return None if self._load is None else self._load.utilization_percent()
