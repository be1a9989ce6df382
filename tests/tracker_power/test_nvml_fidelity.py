"""GPU fidelity: 1 Hz power polling on a fake clock, per-function fallbacks, gaps, MIG slices by
UUID and their share of the board, and process mode's share of the device.

The NVML stand-in follows NVML's semantics (board-level energy and power, NotSupported on MIG
handles, NotFound for an empty MIG slot or no utilisation sample); time is a fake monotonic
clock that the poller's ``wait`` advances, and the run's reads go through the real Sampler.
"""

from __future__ import annotations

import csv
import logging
import os
import threading

import pytest

from tracker import OfflineEmissionsTracker
from tracker.intensity import Intensity
from tracker.power import discover
from tracker.power.nvml import NvmlGpu, PowerPoller
from tracker.sampler import Sampler

INTENSITY = Intensity(100.0, "country:FRA", "2023", "lifecycle")
MEASURE_POWER_SECS = 15.0


class Scenario:
    """Fake time for a run: the poller's ``wait`` (on the poller's own thread) moves the clock
    one period, sets the GPU's power for the new time, and lets the sampler read every
    ``MEASURE_POWER_SECS``. Every read happens on that one thread, in order: deterministic."""

    def __init__(self, device, power_w, end_s: float) -> None:
        self.t = 0.0
        self.device = device
        self.power_w = power_w
        self.end_s = end_s
        self.sampler: Sampler | None = None
        self.next_read_s = MEASURE_POWER_SECS
        self.ready = threading.Event()  # set once the sampler exists
        device.power_mw = round(power_w(0.0) * 1000)

    def clock(self) -> float:
        return self.t

    def wait(self, seconds: float) -> bool:
        self.ready.wait(10.0)
        if self.t >= self.end_s:
            return True
        self.t = min(self.end_s, self.t + seconds)
        self.device.power_mw = round(self.power_w(self.t) * 1000)
        if self.t >= self.next_read_s:
            self.sampler.sample()
            self.next_read_s += MEASURE_POWER_SECS
        return False

    def run(self, sources, poller: PowerPoller) -> float:
        """The GPU energy of the run in joules, as the sampler totals it."""
        self.sampler = Sampler(
            sources,
            intensity=lambda: INTENSITY,
            pue=1.0,
            interval_s=MEASURE_POWER_SECS,
            clock=self.clock,
            started_at=0.0,
        )
        self.ready.set()
        poller.join(10.0)
        assert self.t == self.end_s
        return self.sampler.stop().energy_j["gpu"]


def _integration_gpu(fake_nvml, gpu_device, scenario_power, end_s):
    device = gpu_device(energy_mj=None)
    scenario = Scenario(device, scenario_power, end_s)
    poller = PowerPoller(clock=scenario.clock, wait=scenario.wait)
    sources = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, poller=poller)
    return scenario, sources, poller


def square_wave(t: float) -> float:
    """100/400 W, 10 s each, edges off the 1 s poll grid (at 0.3 s past the second)."""
    return 400.0 if ((t - 0.3) % 20.0) < 10.0 else 100.0


def test_square_wave_integrates_within_two_percent_at_measure_power_secs_15(fake_nvml, gpu_device):
    scenario, sources, poller = _integration_gpu(fake_nvml, gpu_device, square_wave, 300.0)
    energy_j = scenario.run(sources, poller)
    exact_j = 250.0 * 300.0  # the wave's mean power over whole periods
    assert energy_j == pytest.approx(exact_j, rel=0.02)
    assert scenario.sampler.totals().energy_methods["gpu"] == "nvml-power-integration"


def test_a_two_second_burst_between_reads_is_counted(fake_nvml, gpu_device):
    def burst(t: float) -> float:
        return 400.0 if 5.0 <= t < 7.0 else 50.0

    scenario, sources, poller = _integration_gpu(fake_nvml, gpu_device, burst, 30.0)
    energy_j = scenario.run(sources, poller)
    assert energy_j == pytest.approx(50.0 * 30 + 350.0 * 2, rel=0.05)

    # Control: read only every 15 s (no polling), the burst vanishes.
    device = gpu_device(energy_mj=None, power_mw=50_000)
    poller = PowerPoller(wait=lambda _s: True)
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, poller=poller)
    assert source.read_energy_j(15.0) + source.read_energy_j(30.0) == pytest.approx(50.0 * 30)


def test_gpus_with_the_counter_start_no_thread_in_machine_mode(fake_nvml, gpu_device):
    poller = PowerPoller()
    (source,) = NvmlGpu.probe(nvml=fake_nvml(gpu_device()), environ={}, poller=poller)
    assert not source.needs_polling
    assert poller._thread is None
    source.close()


def test_the_thread_stops_when_the_last_gpu_closes(fake_nvml, gpu_device):
    poller = PowerPoller(period_s=0.01)
    nvml = fake_nvml(gpu_device(energy_mj=None))
    (source,) = NvmlGpu.probe(nvml=nvml, environ={}, poller=poller)
    thread = poller._thread
    assert thread is not None and thread.daemon and thread.is_alive()
    source.close()
    assert not thread.is_alive()
    assert nvml.shutdown_calls == 1


# -- per-function fallbacks ---------------------------------------------------------------


@pytest.mark.parametrize("error", ["NVMLError_FunctionNotFound", "NVMLError_NotSupported"])
def test_counter_missing_falls_back_to_power_integration(fake_nvml, gpu_device, no_polling, error):
    device = gpu_device(power_mw=200_000, errors={"nvmlDeviceGetTotalEnergyConsumption": error})
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, poller=no_polling)
    assert source.method == "nvml-power-integration"
    assert source.read_energy_j(3.0) == pytest.approx(600.0)


@pytest.mark.parametrize(
    ("function", "check"),
    [
        ("nvmlDeviceGetName", lambda source: source.info().model == ""),
        ("nvmlDeviceGetUtilizationRates", lambda source: source.utilization_percent() is None),
    ],
)
def test_an_optional_call_failing_leaves_its_field_unknown_and_keeps_the_gpu(
    fake_nvml, gpu_device, function, check
):
    device = gpu_device(errors={function: "NVMLError_FunctionNotFound"})
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={})
    assert check(source)
    device.energy_mj += 10_000
    assert source.read_energy_j(1.0) == pytest.approx(10.0)
    assert source.method == "nvml-energy-counter"


def test_power_read_failing_mid_run_leaves_a_flagged_gap_and_recovers(
    fake_nvml, gpu_device, no_polling, caplog
):
    device = gpu_device(energy_mj=None, power_mw=100_000)
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, poller=no_polling)
    assert source.read_energy_j(1.0) == pytest.approx(100.0)
    device.errors["nvmlDeviceGetPowerUsage"] = "NVMLError_Unknown"
    with caplog.at_level(logging.WARNING, logger="tracker"):
        assert source.read_energy_j(2.0) == 0.0
    assert "GPU 0" in caplog.text and "Unknown" in caplog.text
    del device.errors["nvmlDeviceGetPowerUsage"]
    # The first good read restarts the trapezoid: the gap is not guessed.
    assert source.read_energy_j(5.0) == 0.0
    assert source.read_energy_j(6.0) == pytest.approx(100.0)
    assert source.method == "nvml-power-integration+gap"


def test_a_failing_gpu_degrades_itself_not_the_run(fake_nvml, gpu_device, tmp_path):
    good, bad = gpu_device(uuid="GPU-a"), gpu_device(uuid="GPU-b")
    sources = discover(sysfs_root=tmp_path, nvml=fake_nvml(good, bad), environ={})
    clock = iter([10.0, 20.0, 30.0]).__next__
    sampler = Sampler(
        sources, intensity=lambda: INTENSITY, pue=1.0, interval_s=10.0, clock=clock, started_at=0
    )
    good.energy_mj += 1_000_000
    bad.lost = True
    sampler.sample()
    bad.lost = False
    bad.energy_mj += 3_000_000  # its counter kept counting while it was unreadable
    good.energy_mj += 1_000_000
    totals = sampler.sample()
    assert totals.energy_j["gpu"] == pytest.approx(1_000 + 1_000 + 3_000)
    assert totals.energy_methods["gpu"] == "nvml-energy-counter+nvml-energy-counter+gap"


# -- MIG and CUDA_VISIBLE_DEVICES by UUID --------------------------------------------------

BOARD_0 = "GPU-11111111-aaaa-bbbb-cccc-000000000000"
BOARD_1 = "GPU-22222222-aaaa-bbbb-cccc-000000000000"
MIG_3G = "MIG-3a3a3a3a-1111-5555-9999-000000000000"
MIG_1G = "MIG-1b1b1b1b-2222-6666-aaaa-000000000000"


@pytest.fixture
def mig_machine(fake_nvml, gpu_device, mig_device):
    """Board 0 without MIG; board 1 (MIG on) with a 3g slice at index 0 and a 1g at index 2."""
    board_1 = gpu_device(
        uuid=BOARD_1,
        mig_mode=1,
        migs={0: mig_device(MIG_3G, "A100 MIG 3g.20gb", 3), 2: mig_device(MIG_1G, slices=1)},
    )
    return fake_nvml(gpu_device(uuid=BOARD_0, mig_mode=0), board_1)


@pytest.mark.parametrize(
    ("value", "targets"),
    [
        (MIG_1G, [(1, 2)]),
        ("MIG-3a3a", [(1, 0)]),  # a unique prefix
        (f"{MIG_3G},{BOARD_0}", [(1, 0), (0, None)]),
        ("GPU-2222", [(1, None)]),  # the board itself: all of it
        ("MIG-", []),  # ambiguous
        ("MIG-ffff", []),
        ("1", [(1, None)]),
    ],
)
def test_cuda_visible_devices_resolves_gpu_and_mig_uuids(mig_machine, value, targets):
    sources = NvmlGpu.probe(nvml=mig_machine, environ={"CUDA_VISIBLE_DEVICES": value})
    assert [(s.index, s.mig_index) for s in sources] == targets


def test_a_mig_slice_is_charged_its_compute_slices_of_the_board(mig_machine):
    slice_3g, slice_1g = NvmlGpu.probe(nvml=mig_machine, gpu_ids=[MIG_3G, MIG_1G], environ={})
    board = mig_machine.devices[1]
    board.energy_mj += 7_000_000  # 7 kJ on the board
    assert slice_3g.read_energy_j(1.0) == pytest.approx(3_000.0)
    assert slice_1g.read_energy_j(1.0) == pytest.approx(1_000.0)
    assert slice_3g.method == "nvml-energy-counter+mig-share"
    assert slice_3g.info().model == "A100 MIG 3g.20gb"
    assert slice_3g.info().extra == {"index": "1", "mig_index": "0"}
    assert slice_3g.utilization_percent() is None  # NVML has no utilisation for MIG devices


def test_a_mig_slice_without_attributes_is_charged_the_whole_board_flagged(mig_machine):
    mig_machine.devices[1].errors["nvmlDeviceGetAttributes"] = "NVMLError_FunctionNotFound"
    (source,) = NvmlGpu.probe(nvml=mig_machine, gpu_ids=[MIG_1G], environ={})
    mig_machine.devices[1].energy_mj += 7_000_000
    assert source.read_energy_j(1.0) == pytest.approx(7_000.0)
    assert source.method == "nvml-energy-counter+whole-board"


# -- process mode ---------------------------------------------------------------------------

OTHER_PID = 4_000_000  # above Linux's pid_max default: never one of this test's processes


def test_process_mode_charges_the_trees_share_of_sm_utilisation(fake_nvml, gpu_device, no_polling):
    me = os.getpid()
    device = gpu_device(process_samples=[(me, 10, 1), (OTHER_PID, 30, 1)])
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, pid=me, poller=no_polling)
    assert source.needs_polling
    assert source.method == "nvml-energy-counter+process-share"
    device.process_samples = [(me, 60, 2), (OTHER_PID, 20, 2)]  # since the last read: 3/4 ours
    device.energy_mj += 400_000
    assert source.read_energy_j(1.0) == pytest.approx(300.0)


def test_process_mode_idle_device_charges_context_holders(fake_nvml, gpu_device, no_polling):
    me = os.getpid()
    device = gpu_device(process_samples=[], compute_pids=[me, OTHER_PID])
    (source,) = NvmlGpu.probe(nvml=fake_nvml(device), environ={}, pid=me, poller=no_polling)
    device.energy_mj += 100_000
    assert source.read_energy_j(1.0) == pytest.approx(50.0)  # two holders, none busy
    device.compute_pids = [OTHER_PID]
    device.energy_mj += 100_000
    assert source.read_energy_j(2.0) == 0.0  # another job's GPU


def test_process_mode_without_per_process_utilisation_is_whole_device_flagged(
    fake_nvml, gpu_device, no_polling
):
    device = gpu_device(process_samples=None)
    nvml = fake_nvml(device)
    (source,) = NvmlGpu.probe(nvml=nvml, environ={}, pid=os.getpid(), poller=no_polling)
    device.energy_mj += 100_000
    assert source.read_energy_j(1.0) == pytest.approx(100.0)
    assert source.method == "nvml-energy-counter+whole-device"


def test_discover_passes_process_mode_to_the_gpus(fake_nvml, gpu_device, tmp_path):
    sources = discover(
        tracking_mode="process", sysfs_root=tmp_path, nvml=fake_nvml(gpu_device()), environ={}
    )
    (gpu,) = [s for s in sources if s.component == "gpu"]
    assert gpu.method == "nvml-energy-counter+process-share"
    gpu.close()


def test_the_runs_row_carries_the_gap_flag(fake_nvml, gpu_device, tmp_path):
    """End to end: a GPU read failing mid-run is flagged in the CSV row, and the run goes on."""
    device = gpu_device()
    tracker = OfflineEmissionsTracker(
        country_iso_code="fra",
        output_dir=str(tmp_path),
        measure_power_secs=3600,
        nvml=fake_nvml(device),
        sysfs_root=tmp_path,
        environ={},
    )
    tracker.start()
    device.lost = True
    tracker.flush()
    device.lost = False
    device.energy_mj += 36_000_000  # 0.01 kWh
    tracker.stop()
    with open(tmp_path / "emissions.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["gpu_energy_method"] for row in rows][-1] == "nvml-energy-counter+gap"
    assert float(rows[-1]["gpu_energy"]) == pytest.approx(0.01)


def test_the_rank_measuring_its_node_measures_every_gpu_whatever_it_is_pinned_to(
    fake_nvml, gpu_device, tmp_path
):
    """``srun --gpus-per-task=1``: each rank sees CUDA_VISIBLE_DEVICES of its own GPU, and local
    rank 0 measures the node for all of them: the job's rows hold the node's four GPUs once."""
    nvml = fake_nvml(*(gpu_device(energy_mj=0, uuid=f"GPU-{index}") for index in range(4)))
    trackers = []
    for local in range(4):
        environ = {
            "SLURM_JOB_ID": "77",
            "SLURM_PROCID": str(local),
            "SLURM_LOCALID": str(local),
            "SLURM_NTASKS": "4",
            "SLURMD_NODENAME": "n1",
            "CUDA_VISIBLE_DEVICES": str(local),
        }
        tracker = OfflineEmissionsTracker(
            country_iso_code="fra",
            output_dir=str(tmp_path),
            measure_power_secs=3600,
            force_cpu_power=0,
            force_ram_power=0,
            nvml=nvml,
            sysfs_root=tmp_path,
            environ={"HOME": str(tmp_path), **environ},
        )
        tracker.start()
        trackers.append(tracker)
    for device in nvml.devices:
        device.energy_mj += 3_600_000  # 1 Wh each
    for tracker in trackers:
        tracker.stop()
    with open(tmp_path / "emissions.csv", newline="") as file:
        rows = sorted(csv.DictReader(file), key=lambda row: row["local_rank"])
    assert [row["measurement_scope"] for row in rows] == ["node", "none", "none", "none"]
    assert rows[0]["gpu_count"] == "4"
    assert sum(float(row["gpu_energy"]) for row in rows) == pytest.approx(0.004)
    pinned = OfflineEmissionsTracker(  # outside a job, the GPUs the process may use, as before
        country_iso_code="fra",
        output_dir=str(tmp_path / "alone"),
        nvml=nvml,
        sysfs_root=tmp_path,
        environ={"HOME": str(tmp_path), "CUDA_VISIBLE_DEVICES": "2"},
    )
    assert pinned.get_detected_hardware()["gpu_count"] == 1
