"""The sampling loop: interval accounting, intensity changes, safe read intervals, failures."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tracker.intensity import Intensity
from tracker.sampler import Sampler, intensity_basis, intensity_source

LOW = Intensity(100.0, "country:FRA", "2023")
HIGH = Intensity(300.0, "live:electricitymaps", "")


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_basis_is_joined_like_the_source_when_the_figures_differ():
    country = Intensity(50.0, "country:FRA", "2023", "lifecycle")
    state = Intensity(350.0, "us-state:texas", "2023", "direct")
    live = Intensity(40.0, "live:electricitymaps", "2025", "lifecycle")
    assert intensity_basis((state,)) == "direct"
    assert intensity_basis((country, live)) == "lifecycle"  # two sources, one basis
    assert intensity_basis((country, state, live)) == "mixed:lifecycle+direct"
    assert intensity_basis((Intensity(300.0, "forced"),)) == ""  # a forced figure's is unknown


def test_each_interval_uses_the_intensity_in_force(kit):
    clock = ManualClock()
    current = [LOW]
    sampler = Sampler(
        [kit.SteadySource("cpu", 36.0, now=0.0, percent=20.0)],
        intensity=lambda: current[0],
        pue=2.0,
        interval_s=10.0,
        clock=clock,
    )
    clock.now = 10.0
    sampler.sample()  # 360 J = 1e-4 kWh at 100 g/kWh, x PUE 2
    current[0] = HIGH
    clock.now = 20.0
    totals = sampler.sample()  # another 1e-4 kWh at 300 g/kWh
    assert totals.elapsed_s == 20.0
    assert totals.energy_j["cpu"] == pytest.approx(720.0)
    assert totals.energy_kwh == pytest.approx(2e-4)
    assert totals.emissions_g == pytest.approx(2 * (1e-4 * 100 + 1e-4 * 300))
    assert totals.intensities == (LOW, HIGH)
    assert intensity_source(totals.intensities) == "mixed:country:FRA+live:electricitymaps"
    assert intensity_source((LOW,)) == "country:FRA"
    hourly = [Intensity(g, "live:electricitymaps", "") for g in (100.0, 120.0, 110.0)]
    assert intensity_source(hourly) == "live:electricitymaps"  # one source, its hourly figures
    assert intensity_source([LOW, *hourly, LOW]) == "mixed:country:FRA+live:electricitymaps"
    assert totals.utilization_percent("cpu") == 20.0
    assert totals.utilization_percent("gpu") is None


def test_totals_since_give_a_tasks_share(kit):
    clock = ManualClock()
    sampler = Sampler(
        [kit.SteadySource("ram", 3.6, now=0.0)],
        intensity=lambda: LOW,
        pue=1.0,
        interval_s=1.0,
        clock=clock,
    )
    clock.now = 5.0
    at_task_start = sampler.sample()
    clock.now = 15.0
    task = sampler.sample().since(at_task_start)
    assert task.elapsed_s == 10.0
    assert task.energy_j["ram"] == pytest.approx(36.0)
    assert task.emissions_g == pytest.approx(36.0 / 3.6e6 * 100)
    assert task.intensities == (LOW,)


def test_reads_at_least_as_often_as_a_wrapping_counter_needs(kit):
    source = kit.SteadySource("cpu", 1.0)
    source.max_safe_interval_s = 0.5
    sampler = Sampler([source], intensity=lambda: LOW, pue=1.0, interval_s=15.0)
    assert sampler.read_every_s == 0.5


def test_a_counter_read_more_often_does_not_push_each_report_late(kit):
    """Reads every 0.27 s (a wrapping counter's limit), reports every 0.3 s: a report waited for
    the read after it was due, 0.54 s apart (a crash then lost up to twice the interval)."""
    source = kit.SteadySource("cpu", 10.0)
    source.max_safe_interval_s = 0.27
    reports = []
    sampler = Sampler(
        [source], intensity=lambda: LOW, pue=1.0, interval_s=0.3, on_interval=reports.append
    )
    sampler.start()
    time.sleep(1.25)
    sampler.stop()
    assert len(reports) >= 3  # 4 on time; at most 2 when each waited for the next read


def test_thread_reports_each_interval_and_stops_promptly(kit):
    reports = []
    sampler = Sampler(
        [kit.SteadySource("cpu", 10.0)],
        intensity=lambda: LOW,
        pue=1.0,
        interval_s=0.02,
        on_interval=reports.append,
    )
    sampler.start()
    time.sleep(0.25)
    started = time.monotonic()
    totals = sampler.stop()
    assert time.monotonic() - started < 0.5
    assert not any(t.name == "carbonboard-sampler" for t in threading.enumerate())
    assert len(reports) >= 3
    assert [r.elapsed_s for r in reports] == sorted(r.elapsed_s for r in reports)
    assert totals.elapsed_s >= reports[-1].elapsed_s


def test_an_error_in_the_report_does_not_stop_measuring(kit, caplog):
    def broken(_totals) -> None:
        raise RuntimeError("disk on fire")

    sampler = Sampler(
        [kit.SteadySource("cpu", 10.0)],
        intensity=lambda: LOW,
        pue=1.0,
        interval_s=0.02,
        on_interval=broken,
    )
    sampler.start()
    time.sleep(0.15)
    totals = sampler.stop()
    assert totals.energy_j["cpu"] > 0
    (record,) = caplog.records  # logged once, however many intervals failed
    assert record.exc_info[1].args == ("disk on fire",)


def test_an_interval_past_the_wait_limit_does_not_kill_the_thread(kit):
    """1e10 s is more than ``Event.wait`` accepts: the thread used to die with OverflowError."""
    sampler = Sampler(
        [kit.SteadySource("cpu", 10.0)], intensity=lambda: LOW, pue=1.0, interval_s=1e10
    )
    sampler.start()
    time.sleep(0.1)
    assert sampler._thread is not None and sampler._thread.is_alive()
    started = time.monotonic()
    sampler.stop()
    assert time.monotonic() - started < 0.5
    assert not sampler._thread.is_alive()


def test_a_failing_tick_is_logged_once_and_sampling_goes_on(kit, caplog):
    ticks = []

    def intensity() -> Intensity:
        ticks.append(time.monotonic())
        if len(ticks) <= 3:
            raise LookupError("intensity table missing")
        return LOW

    sampler = Sampler(
        [kit.SteadySource("cpu", 10.0)], intensity=intensity, pue=1.0, interval_s=0.02
    )
    sampler.start()
    deadline = time.monotonic() + 5
    while len(ticks) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    assert len(ticks) >= 6  # ticks after the failing ones were taken
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.exc_info[1].args == ("intensity table missing",)
