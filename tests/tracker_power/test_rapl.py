"""RAPL package counters read from fake powercap trees laid out as the kernel does."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracker.power import PowerSourceError
from tracker.power.rapl import MAX_PACKAGE_POWER_W, RaplCpu

RANGE_UJ = 262_143_328_850
ROOT = Path(__file__).resolve().parents[2]


def test_single_package_counter_readings_over_time(powercap):
    powercap.zone("intel-rapl:0", "package-0", energy_uj=5_000_000)
    source = RaplCpu.probe(powercap.root, now=0.0)
    assert source is not None and source.method == "rapl" and source.component == "cpu"
    for reading_uj, expected_j in ((7_500_000, 2.5), (7_500_000, 0.0), (19_500_000, 12.0)):
        powercap.set("intel-rapl:0", reading_uj)
        assert source.read_energy_j(1.0) == pytest.approx(expected_j)


def test_dual_package_energies_add_up(powercap):
    powercap.zone("intel-rapl:0", "package-0", energy_uj=1_000_000)
    powercap.zone("intel-rapl:1", "package-1", energy_uj=9_000_000)
    source = RaplCpu.probe(powercap.root)
    powercap.set("intel-rapl:0", 4_000_000)
    powercap.set("intel-rapl:1", 10_000_000)
    assert source.read_energy_j(1.0) == pytest.approx(4.0)
    assert source.info().extra["packages"] == "2"


def test_wraparound_once_adds_the_range(powercap):
    powercap.zone("intel-rapl:0", "package-0", energy_uj=RANGE_UJ - 1_000_000)
    source = RaplCpu.probe(powercap.root)
    powercap.set("intel-rapl:0", 2_000_000)  # wrapped: 1 J to the top, then 2 J
    assert source.read_energy_j(1.0) == pytest.approx(3.0)
    powercap.set("intel-rapl:0", 2_500_000)  # and counting normally after the wrap
    assert source.read_energy_j(2.0) == pytest.approx(0.5)


def test_sub_domains_psys_and_mmio_duplicates_are_not_counted(powercap):
    powercap.zone("intel-rapl:0", "package-0", energy_uj=0)
    powercap.zone("intel-rapl:0:0", "core", energy_uj=0)
    powercap.zone("intel-rapl:0:1", "uncore", energy_uj=0)
    powercap.zone("intel-rapl:0:2", "dram", energy_uj=0)
    powercap.zone("intel-rapl:1", "psys", energy_uj=0)
    powercap.zone("intel-rapl-mmio:0", "package-0", energy_uj=0)
    source = RaplCpu.probe(powercap.root)
    for zone in ("intel-rapl:0:0", "intel-rapl:0:1", "intel-rapl:0:2", "intel-rapl:1"):
        powercap.set(zone, 50_000_000)
    powercap.set("intel-rapl-mmio:0", 1_000_000)
    powercap.set("intel-rapl:0", 1_000_000)
    assert source.read_energy_j(1.0) == pytest.approx(1.0)
    assert source.info().extra["packages"] == "1"


def test_amd_naming(powercap):
    powercap.zone("amd-rapl:0", "package-0", energy_uj=0)
    powercap.zone("amd-rapl:0:0", "core", energy_uj=0)
    source = RaplCpu.probe(powercap.root)
    powercap.set("amd-rapl:0", 3_000_000)
    powercap.set("amd-rapl:0:0", 9_000_000)
    assert source.read_energy_j(1.0) == pytest.approx(3.0)


def test_max_safe_interval_is_the_smallest_range_at_max_power_halved(powercap):
    powercap.zone("intel-rapl:0", "package-0", range_uj=RANGE_UJ)
    powercap.zone("intel-rapl:1", "package-1", range_uj=65_532_610_987)
    source = RaplCpu.probe(powercap.root)
    assert source.max_safe_interval_s == pytest.approx(65_532.610987 / MAX_PACKAGE_POWER_W / 2)
    assert source.max_safe_interval_s == pytest.approx(65.53, rel=1e-3)


def test_no_powercap_logs_one_line_with_the_fix(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert RaplCpu.probe(tmp_path) is None
    assert len(caplog.records) == 1
    assert "modprobe intel_rapl_common" in caplog.records[0].getMessage()


def test_counter_vanishing_mid_run_raises_power_source_error(powercap):
    energy_file = powercap.zone("intel-rapl:0", "package-0")
    source = RaplCpu.probe(powercap.root)
    energy_file.unlink()
    with pytest.raises(PowerSourceError, match="energy_uj"):
        source.read_energy_j(1.0)


def test_info_names_the_cpu_model_from_cpuinfo(powercap):
    powercap.zone("intel-rapl:0", "package-0")
    powercap.cpuinfo("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")
    info = RaplCpu.probe(powercap.root).info()
    assert info.model == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"
    assert info.count == os.cpu_count()


def test_permission_denied_logs_the_file_and_the_fix(powercap, caplog):
    energy_file = powercap.zone("intel-rapl:0", "package-0")
    energy_file.chmod(0)
    if os.access(energy_file, os.R_OK):
        pytest.skip("this user reads 000 files (root): see the test below")
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert RaplCpu.probe(powercap.root) is None
    (record,) = caplog.records
    assert str(energy_file) in record.getMessage()
    assert f"sudo chmod a+r {energy_file}" in record.getMessage()
    assert 'SUBSYSTEM=="powercap"' in record.getMessage()


def _setpriv_drops_dac_override() -> bool:
    """As root, setpriv can start a child without the capability to bypass file permissions."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", "true"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _setpriv_drops_dac_override(), reason="needs root and setpriv")
def test_permission_denied_as_root_without_dac_override(powercap):
    """Root normally reads a 000 file; without CAP_DAC_OVERRIDE it is denied like anyone else."""
    energy_file = powercap.zone("intel-rapl:0", "package-0")
    energy_file.chmod(0)
    script = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(message)s')\n"
        "from tracker.power.rapl import RaplCpu\n"
        f"print('source', RaplCpu.probe({str(powercap.root)!r}))\n"
    )
    result = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-dac_override,-dac_read_search",
            "--",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    log_line, source_line = result.stdout.strip().splitlines()
    assert f"sudo chmod a+r {energy_file}" in log_line
    assert source_line == "source None"


def test_process_mode_attributes_the_trees_cpu_share(powercap):
    powercap.zone("intel-rapl:0", "package-0", energy_uj=0)
    start = time.monotonic()
    source = RaplCpu.probe(powercap.root, pid=os.getpid(), now=start)
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # keep this process busy so its share is not zero
        sum(range(1000))
    powercap.set("intel-rapl:0", 100_000_000)
    energy_j = source.read_energy_j(time.monotonic())
    share = source.utilization_percent() / 100
    assert 0 < share <= 1
    assert energy_j == pytest.approx(100.0 * share)
