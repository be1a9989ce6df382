"""NVIDIA GPUs through an NVML stand-in passed in as the module: counters, integration, loss."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.power.nvml import NvmlGpu

ROOT = Path(__file__).resolve().parents[2]
UUIDS = (
    "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6",
    "GPU-4ab2c3de-1111-2222-3333-444455556666",
    "GPU-4ab2ffff-aaaa-bbbb-cccc-ddddeeeeffff",
)


def _gpus(gpu_device, count=3, **fields):
    return [gpu_device(uuid=UUIDS[i], **fields) for i in range(count)]


def test_energy_counter_increments_in_millijoules(fake_nvml, gpu_device):
    device = gpu_device(energy_mj=1_000_000)
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, now=0.0)
    assert source.method == "nvml-energy-counter"
    device.energy_mj += 125_500
    assert source.read_energy_j(1.0) == pytest.approx(125.5)
    assert source.read_energy_j(2.0) == 0.0


def test_counter_restart_after_driver_reload_counts_the_new_reading(fake_nvml, gpu_device):
    device = gpu_device(energy_mj=9_000_000)
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={})
    device.energy_mj = 4_000
    assert source.read_energy_j(1.0) == pytest.approx(4.0)


def test_unsupported_counter_integrates_power_with_the_trapezoid_rule(
    fake_nvml, gpu_device, no_polling
):
    device = gpu_device(energy_mj=None, power_mw=100_000)
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, now=10.0, poller=no_polling)
    assert source.method == "nvml-power-integration"
    device.power_mw = 300_000
    assert source.read_energy_j(12.0) == pytest.approx((100 + 300) / 2 * 2)
    assert source.read_energy_j(13.0) == pytest.approx(300.0)


def test_gpu_lost_mid_run_degrades_that_interval_and_is_read_again(fake_nvml, gpu_device, caplog):
    device = gpu_device(energy_mj=1_000_000)
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={})
    device.lost = True
    device.energy_mj += 50_000
    with caplog.at_level(logging.WARNING, logger="tracker"):
        assert source.read_energy_j(1.0) == 0.0
        assert source.read_energy_j(2.0) == 0.0  # still lost: one log line, not one per read
    (record,) = caplog.records
    assert "GPU 0" in record.getMessage() and "lost" in record.getMessage()
    assert source.method == "nvml-energy-counter+gap"
    assert source.utilization_percent() is None
    device.lost = False
    device.energy_mj += 30_000
    # Back: the counter still holds what the failed reads missed.
    assert source.read_energy_j(3.0) == pytest.approx(80.0)
    assert source.method == "nvml-energy-counter+gap"  # the run's figure had a gap


def test_info_and_utilization(fake_nvml, gpu_device):
    for name_as_bytes in (True, False):
        nvml = fake_nvml(gpu_device(name="NVIDIA H100 80GB HBM3"), name_as_bytes=name_as_bytes)
        (source,) = NvmlGpu.probe(nvml=nvml, environ={})
        info = source.info()
        assert (info.model, info.count) == ("NVIDIA H100 80GB HBM3", 1)
        assert source.utilization_percent() == 40.0


def test_all_visible_gpus_by_default(fake_nvml, gpu_device):
    sources = NvmlGpu.probe(nvml=fake_nvml(*_gpus(gpu_device)), environ={})
    assert [s.index for s in sources] == [0, 1, 2]


@pytest.mark.parametrize(
    ("value", "indices"),
    [
        ("2,0", [2, 0]),
        (" 1 ", [1]),
        ("", []),
        ("-1", []),
        ("0,7,1", [0]),  # like CUDA: an entry naming no device ends the list
        (UUIDS[2], [2]),
        ("GPU-8932f937", [0]),  # a unique UUID prefix is enough
        ("GPU-4ab2,0", []),  # an ambiguous prefix names no device
        (f"{UUIDS[1]},0,0", [1, 0]),
        ("MIG-0a1b2c3d", []),
    ],
)
def test_cuda_visible_devices(fake_nvml, gpu_device, value, indices):
    environ = {"CUDA_VISIBLE_DEVICES": value}
    sources = NvmlGpu.probe(nvml=fake_nvml(*_gpus(gpu_device)), environ=environ)
    assert [s.index for s in sources] == indices


def test_gpu_ids_take_precedence_over_cuda_visible_devices(fake_nvml, gpu_device):
    nvml = fake_nvml(*_gpus(gpu_device))
    sources = NvmlGpu.probe(nvml=nvml, gpu_ids=[1, UUIDS[2]], environ={"CUDA_VISIBLE_DEVICES": "0"})
    assert [s.index for s in sources] == [1, 2]


def test_selecting_no_gpu_logs_and_shuts_nvml_down(fake_nvml, gpu_device, caplog):
    nvml = fake_nvml(*_gpus(gpu_device))
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert NvmlGpu.probe(nvml=nvml, environ={"CUDA_VISIBLE_DEVICES": ""}) == []
    assert len(caplog.records) == 1 and "is empty" in caplog.records[0].getMessage()
    assert (nvml.init_calls, nvml.shutdown_calls) == (1, 1)


def test_an_entry_naming_no_gpu_is_one_log_line(fake_nvml, gpu_device, caplog):
    nvml = fake_nvml(*_gpus(gpu_device))
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert NvmlGpu.probe(nvml=nvml, environ={"CUDA_VISIBLE_DEVICES": "-1"}) == []
    (record,) = caplog.records
    assert "'-1' names none of the 3 GPUs" in record.getMessage()


def test_nvml_init_failure_is_one_log_line_and_no_source(fake_nvml, gpu_device, caplog):
    nvml = fake_nvml(gpu_device())
    nvml.driver_loaded = False
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        assert NvmlGpu.probe(nvml=nvml, environ={}) == []
    (record,) = caplog.records
    assert "Driver Not Loaded" in record.getMessage()


def test_device_without_energy_or_power_is_skipped(fake_nvml, gpu_device, caplog):
    nvml = fake_nvml(gpu_device(energy_mj=None, power_mw=None), gpu_device())
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        sources = NvmlGpu.probe(nvml=nvml, environ={})
    assert [s.index for s in sources] == [1]
    assert "GPU 0" in caplog.records[0].getMessage()


def test_nvml_shuts_down_once_when_the_last_source_closes(fake_nvml, gpu_device):
    nvml = fake_nvml(*_gpus(gpu_device, count=2))
    first, second = NvmlGpu.probe(nvml=nvml, environ={})
    first.close()
    first.close()  # closing twice releases once
    assert nvml.shutdown_calls == 0
    second.close()
    assert nvml.shutdown_calls == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the library gate is Linux's")
def test_without_nvidia_driver_pynvml_is_not_even_imported():
    """On a machine without the driver library, probing costs no pynvml import."""
    script = (
        "import sys\n"
        "from tracker.power.nvml import LINUX_LIBRARY, NvmlGpu\n"
        "import ctypes\n"
        "try:\n"
        "    ctypes.CDLL(LINUX_LIBRARY)\n"
        "    print('driver present')\n"
        "except OSError:\n"
        "    print(NvmlGpu.probe(environ={}), 'pynvml' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    if result.stdout.strip() == "driver present":
        pytest.skip("this machine has an NVIDIA driver library")
    assert result.stdout.strip() == "[] False"


def test_the_fake_speaks_the_real_bindings_names(fake_nvml, caplog):
    """Every name the source uses exists in pynvml, and the real module without a driver
    yields no source and one log line."""
    pynvml = pytest.importorskip("pynvml")
    used = [name for name in dir(fake_nvml([])) if name.startswith("nvml")]
    used += [name for name in dir(fake_nvml([])) if name.startswith(("NVMLError", "NVML_"))]
    assert [name for name in used if not hasattr(pynvml, name)] == []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        with caplog.at_level(logging.DEBUG, logger="tracker"):
            assert NvmlGpu.probe(nvml=pynvml, environ={}) == []
        assert len(caplog.records) == 1
    else:
        pynvml.nvmlShutdown()
        pytest.skip("this machine has a working NVIDIA driver")
