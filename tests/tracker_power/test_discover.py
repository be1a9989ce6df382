"""discover(): the right source per component, forced powers, and a cheap, lazy import."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.power import (
    ConstantPower,
    NvmlGpu,
    RamModel,
    RaplCpu,
    TdpModelCpu,
    combined_info,
    discover,
)

ROOT = Path(__file__).resolve().parents[2]


def _by_component(sources):
    return {c: [s for s in sources if s.component == c] for c in ("cpu", "gpu", "ram")}


def test_empty_sysfs_root_gives_models_and_one_log_line_per_missing_thing(
    tmp_path, fake_nvml, caplog
):
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        sources = discover(sysfs_root=tmp_path, nvml=fake_nvml(), environ={}, platform_name="linux")
    found = _by_component(sources)
    assert [type(s) for s in found["cpu"]] == [TdpModelCpu]
    assert found["gpu"] == []
    assert [type(s) for s in found["ram"]] == [RamModel]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("RAPL" in m for m in messages) == 1
    assert all(r.levelno < logging.ERROR for r in caplog.records)


def test_rapl_and_gpus_are_preferred(powercap, fake_nvml, gpu_device):
    powercap.zone("intel-rapl:0", "package-0")
    powercap.cpuinfo("AMD EPYC 7R13 Processor")
    nvml = fake_nvml(gpu_device(uuid="GPU-a"), gpu_device(uuid="GPU-b", energy_mj=None))
    sources = discover(sysfs_root=powercap.root, nvml=nvml, environ={}, platform_name="linux")
    found = _by_component(sources)
    assert [type(s) for s in found["cpu"]] == [RaplCpu]
    assert [s.method for s in found["gpu"]] == ["nvml-energy-counter", "nvml-power-integration"]
    gpus = combined_info(sources, "gpu")
    assert (gpus.model, gpus.count) == ("2 x NVIDIA A100-SXM4-40GB", 2)
    cpu = combined_info(sources, "cpu")
    assert (cpu.model, cpu.count) == ("AMD EPYC 7R13 Processor", 2)  # the cpuinfo's processors
    for source in sources:
        source.close()
    assert nvml.shutdown_calls == 1


def test_forced_powers_replace_cpu_and_ram_sources(powercap, fake_nvml):
    powercap.zone("intel-rapl:0", "package-0")
    powercap.cpuinfo("AMD EPYC 7R13 Processor")
    ticks = iter([100.0])
    sources = discover(
        force_cpu_power=42.0,
        force_ram_power=6.0,
        sysfs_root=powercap.root,
        nvml=fake_nvml(),
        clock=lambda: next(ticks),
        environ={},
        platform_name="linux",
    )
    cpu, ram = sources
    assert isinstance(cpu, ConstantPower) and isinstance(ram, ConstantPower)
    assert (cpu.component, cpu.method, ram.component, ram.method) == (
        "cpu",
        "forced",
        "ram",
        "forced",
    )
    assert cpu.read_energy_j(110.0) == pytest.approx(420.0)
    assert ram.read_energy_j(110.0) == pytest.approx(60.0)
    assert cpu.info().model == "AMD EPYC 7R13 Processor"  # still described
    assert float(ram.info().extra["total_gb"]) > 0


def test_cuda_visible_devices_from_the_environment(fake_nvml, gpu_device, tmp_path):
    nvml = fake_nvml(gpu_device(uuid="GPU-a"), gpu_device(uuid="GPU-b"))
    sources = discover(
        sysfs_root=tmp_path,
        nvml=nvml,
        environ={"CUDA_VISIBLE_DEVICES": "1"},
        platform_name="linux",
    )
    assert [s.index for s in sources if isinstance(s, NvmlGpu)] == [1]
    sources = discover(sysfs_root=tmp_path, nvml=nvml, gpu_ids=[0], environ={})
    assert [s.index for s in sources if isinstance(s, NvmlGpu)] == [0]


def test_process_mode_tracks_the_given_tree(powercap, fake_nvml):
    powercap.zone("intel-rapl:0", "package-0")
    sources = discover(
        tracking_mode="process",
        pid=os.getpid(),
        sysfs_root=powercap.root,
        nvml=fake_nvml(),
        environ={},
        platform_name="linux",
    )
    ram = next(s for s in sources if s.component == "ram")
    assert ram.used_gb() < ram.total_gb  # the tree's resident memory, not the machine's


def test_unknown_tracking_mode_is_rejected():
    with pytest.raises(ValueError, match="tracking_mode"):
        discover(tracking_mode="container")


def test_windows_uses_the_cpu_model(tmp_path, fake_nvml):
    sources = discover(sysfs_root=tmp_path, nvml=fake_nvml(), environ={}, platform_name="win32")
    assert [type(s) for s in sources] == [TdpModelCpu, RamModel]


def test_import_is_lazy_about_pynvml_and_heavy_packages():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import tracker.power"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "tracker.power" in imported
    top_level = {name.split(".")[0] for name in imported}
    assert not top_level & {"pynvml", "pandas", "numpy", "dash", "plotly"}
