"""macOS powermetrics: the parser against recorded plists, the source through a real subprocess."""

from __future__ import annotations

import logging
import plistlib
import sys
from pathlib import Path

import pytest

from tracker.power import PowerSourceError
from tracker.power.powermetrics import (
    Powermetrics,
    PowermetricsRunner,
    parse_powermetrics,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
APPLE = FIXTURES / "powermetrics_apple_silicon.plist"
INTEL = FIXTURES / "powermetrics_intel_mac.plist"


def _printing(path: Path) -> list[str]:
    """A command that writes a recorded output, as powermetrics would, with its trailing NUL."""
    return [
        sys.executable,
        "-c",
        f"import sys; sys.stdout.buffer.write(open({str(path)!r}, 'rb').read() + b'\\0')",
    ]


def test_apple_silicon_cpu_and_gpu_power_in_milliwatts():
    sample = parse_powermetrics(APPLE.read_bytes())
    assert sample.cpu_power_w == pytest.approx(5.201)
    assert sample.gpu_power_w == pytest.approx(0.403)
    assert sample.elapsed_s == pytest.approx(0.104212083)


def test_energy_only_sample_is_divided_by_its_duration():
    data = plistlib.loads(APPLE.read_bytes())
    for key in ("cpu_power", "gpu_power", "gpu_energy"):
        del data["processor"][key]
    sample = parse_powermetrics(plistlib.dumps(data))
    assert sample.cpu_power_w == pytest.approx(0.542 / 0.104212083)
    assert sample.gpu_power_w == pytest.approx(0.042 / 0.104212083)  # from the gpu section


def test_intel_mac_package_power_has_no_separate_gpu_figure():
    sample = parse_powermetrics(INTEL.read_bytes() + b"\0")
    assert (sample.cpu_power_w, sample.gpu_power_w) == (13.0, None)


def test_intel_mac_package_joules_when_watts_are_missing():
    data = plistlib.loads(INTEL.read_bytes())
    del data["processor"]["package_watts"]
    sample = parse_powermetrics(plistlib.dumps(data))
    assert sample.cpu_power_w == pytest.approx(1.3062 / 0.100480112)


@pytest.mark.parametrize(
    "output",
    [b"powermetrics must be invoked as the superuser\n", plistlib.dumps({"elapsed_ns": 1})],
)
def test_anything_else_is_a_value_error(output):
    with pytest.raises(ValueError):
        parse_powermetrics(output)


def test_not_on_macos_there_is_no_source():
    assert Powermetrics.probe("cpu", PowermetricsRunner(), platform_name="linux") is None


def test_cpu_and_gpu_sources_share_each_run_and_integrate_power():
    runner = PowermetricsRunner(_printing(APPLE))
    cpu = Powermetrics.probe("cpu", runner, platform_name="darwin", now=0.0)
    gpu = Powermetrics.probe("gpu", runner, platform_name="darwin", now=0.0)
    assert (cpu.component, cpu.method, gpu.component) == ("cpu", "powermetrics", "gpu")
    assert cpu.read_energy_j(10.0) == pytest.approx(5.201 * 10.0)
    assert gpu.read_energy_j(10.0) == pytest.approx(0.403 * 10.0)


def test_intel_mac_has_a_cpu_source_and_no_gpu_source(caplog):
    runner = PowermetricsRunner(_printing(INTEL))
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert Powermetrics.probe("cpu", runner, platform_name="darwin") is not None
        assert Powermetrics.probe("gpu", runner, platform_name="darwin") is None
    (record,) = caplog.records
    assert "integrated GPU" in record.getMessage()


def test_failing_powermetrics_logs_the_sudo_hint(caplog):
    runner = PowermetricsRunner(
        [sys.executable, "-c", "import sys; sys.exit('must be invoked as the superuser')"]
    )
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert Powermetrics.probe("cpu", runner, platform_name="darwin") is None
    (record,) = caplog.records
    assert "superuser" in record.getMessage() and "sudo" in record.getMessage()


def test_missing_binary_logs_and_gives_no_source(caplog):
    runner = PowermetricsRunner(["powermetrics-that-does-not-exist"])
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert Powermetrics.probe("cpu", runner, platform_name="darwin") is None
    assert "not found" in caplog.records[0].getMessage()


def test_failure_mid_run_raises_power_source_error(tmp_path):
    recorded = tmp_path / "sample.plist"
    recorded.write_bytes(APPLE.read_bytes())
    cpu = Powermetrics.probe("cpu", PowermetricsRunner(_printing(recorded)), platform_name="darwin")
    recorded.unlink()
    with pytest.raises(PowerSourceError, match="powermetrics"):
        cpu.read_energy_j(1.0)
