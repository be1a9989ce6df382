"""CodeCarbon's CPU options passed through discovery: ``rapl_include_dram``,
``rapl_prefer_psys`` and ``force_mode_cpu_load``, on a fake powercap tree under a temp root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.power import discover
from tracker.power.rapl import RaplCpu

RANGE_UJ = 262_143_328_850


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A package with a core and a DRAM sub-domain, and a platform (psys) domain."""
    base = tmp_path / "sys" / "class" / "powercap"
    for zone, name in (
        ("intel-rapl:0", "package-0"),
        ("intel-rapl:0:0", "core"),
        ("intel-rapl:0:2", "dram"),
        ("intel-rapl:1", "psys"),
    ):
        directory = base / zone
        directory.mkdir(parents=True)
        (directory / "name").write_text(f"{name}\n")
        (directory / "max_energy_range_uj").write_text(f"{RANGE_UJ}\n")
        (directory / "energy_uj").write_text("0\n")
    return tmp_path


def advance(root: Path, **joules: float) -> None:
    """Add energy to zones: ``advance(root, package=2.0)`` (names of the fixture's zones)."""
    zones = {"package": "intel-rapl:0", "core": "intel-rapl:0:0", "dram": "intel-rapl:0:2"}
    zones["psys"] = "intel-rapl:1"
    for name, value in joules.items():
        path = root / "sys" / "class" / "powercap" / zones[name] / "energy_uj"
        path.write_text(f"{int(path.read_text()) + int(value * 1e6)}\n")


def read(source: RaplCpu, root: Path) -> float:
    advance(root, package=10.0, core=6.0, dram=3.0, psys=25.0)
    return source.read_energy_j(1.0)


def test_packages_only_by_default(root):
    source = RaplCpu.probe(root)
    assert read(source, root) == pytest.approx(10.0)
    assert source.info().extra["rapl_domains"] == "package-0"


def test_rapl_include_dram_adds_the_dram_domain(root):
    source = RaplCpu.probe(root, include_dram=True)
    assert read(source, root) == pytest.approx(13.0)
    assert source.info().extra["rapl_domains"] == "package-0+dram"


def test_rapl_prefer_psys_reads_the_platform_domain(root):
    source = RaplCpu.probe(root, prefer_psys=True, include_dram=True)
    assert read(source, root) == pytest.approx(25.0)
    assert source.info().extra["rapl_domains"] == "psys"


def test_discover_passes_the_rapl_options(root):
    (cpu, *_) = discover(sysfs_root=root, rapl_include_dram=True, platform_name="linux")
    assert cpu.method == "rapl" and read(cpu, root) == pytest.approx(13.0)


def test_force_mode_cpu_load_uses_the_load_model_even_with_rapl(root):
    (cpu, *_) = discover(sysfs_root=root, force_mode_cpu_load=True, platform_name="linux")
    assert cpu.method == "tdp-model-default"  # the fake root names no CPU part
    (forced, *_) = discover(
        sysfs_root=root, force_mode_cpu_load=True, force_cpu_power=80.0, platform_name="linux"
    )
    assert forced.method == "tdp-model" and forced.max_power_w == 80.0
