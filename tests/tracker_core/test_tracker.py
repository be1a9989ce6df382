"""The tracker end to end, in this process: rows, arithmetic, tasks, flush, decorator, statuses."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import pytest

from tracker import EmissionsTracker, OfflineEmissionsTracker, __version__, schema, track_emissions
from tracker.intensity import lookup
from tracker.power.base import JOULES_PER_KWH, PowerSourceError

FAST = {"measure_power_secs": 0.05, "offline": True}


@pytest.fixture
def make(tmp_path: Path, environ: dict[str, str], kit):
    """A fast offline tracker writing into ``tmp_path``, on steady sources unless given others."""

    def make(**kwargs) -> EmissionsTracker:
        settings = {"output_dir": str(tmp_path), "power_sources": kit.steady_sources(), **FAST}
        return EmissionsTracker(environ=environ, **{**settings, **kwargs})

    return make


@pytest.fixture
def read_rows(kit):
    return kit.read_rows


def test_row_fills_every_column_with_consistent_figures(tmp_path, make, read_rows):
    tracker = make(
        project_name="arith",
        experiment_id="exp-1",
        pue=1.5,
        wue=2.0,
        force_carbon_intensity_g_co2e_kwh=200.0,
    )
    tracker.start()
    time.sleep(0.3)
    emissions_kg = tracker.stop()

    header, rows = read_rows(tmp_path / "emissions.csv")
    assert header == list(schema.FIELDNAMES)
    (row,) = rows
    f = {
        name: float(row[name])
        for name in schema.FIELDNAMES
        if schema.column_kind(name) in ("float", "int") and row[name] != ""
    }
    duration_s = f["duration"]
    assert 0.3 <= duration_s < 2.0
    assert float(row["emissions"]) == emissions_kg
    # Steady sources: each mean power is the source's power (they started just before start()).
    assert f["cpu_power"] == pytest.approx(40.0, rel=0.05)
    assert f["gpu_power"] == pytest.approx(200.0, rel=0.05)
    assert f["ram_power"] == pytest.approx(6.0, rel=0.05)
    # As in CodeCarbon 3.3: PUE is in each component's energy, not in the devices' powers.
    for component in ("cpu", "gpu", "ram"):
        assert f[f"{component}_energy"] == pytest.approx(
            f[f"{component}_power"] * duration_s / JOULES_PER_KWH * 1.5, rel=1e-12
        )
    components_kwh = f["cpu_energy"] + f["gpu_energy"] + f["ram_energy"]
    assert f["energy_consumed"] == pytest.approx(components_kwh, rel=1e-12)
    assert f["emissions"] == pytest.approx(f["energy_consumed"] * 200.0 / 1000, rel=1e-12)
    assert f["emissions_rate"] == pytest.approx(f["emissions"] / duration_s, rel=1e-12)
    assert f["water_consumed"] == pytest.approx(f["energy_consumed"] * 2.0, rel=1e-12)
    assert f["carbon_intensity_g_co2e_kwh"] == pytest.approx(200.0, rel=1e-12)
    assert (f["cpu_utilization_percent"], f["gpu_utilization_percent"]) == (50.0, 90.0)
    assert f["ram_utilization_percent"] == 25.0
    assert f["ram_used_gb"] == 4.0
    assert f["ram_total_size"] == 16.0
    assert (row["carbon_intensity_source"], row["carbon_intensity_basis"]) == ("forced", "")
    assert (row["cpu_model"], row["cpu_count"]) == ("Test CPU", "8")
    assert (row["gpu_model"], row["gpu_count"]) == ("2 x Test GPU", "2")
    assert (row["cpu_energy_method"], row["gpu_energy_method"]) == ("steady", "counter")
    assert row["ram_energy_method"] == "model"
    assert (row["project_name"], row["experiment_id"]) == ("arith", "exp-1")
    assert (row["pue"], row["wue"], row["tracking_mode"]) == ("1.5", "2.0", "machine")
    assert (row["status"], row["schema_version"]) == ("finished", str(schema.SCHEMA_VERSION))
    assert row["codecarbon_version"] == __version__
    assert row["python_version"].count(".") == 2 and row["os"]
    assert row["run_id"] == tracker.run_id and row["timestamp"].endswith("+00:00")
    assert tracker.final_emissions_kg == tracker.final_emissions == emissions_kg


def test_offline_tracker_uses_the_country_grid(tmp_path, environ, read_rows, kit):
    tracker = OfflineEmissionsTracker(
        country_iso_code="fr",
        output_dir=str(tmp_path),
        measure_power_secs=0.05,
        power_sources=kit.steady_sources(),
        environ=environ,
    )
    with tracker:
        time.sleep(0.1)
    (row,) = read_rows(tmp_path / "emissions.csv")[1]
    france = lookup(country="FRA")
    assert (row["country_iso_code"], row["country_name"], row["on_cloud"]) == ("FRA", "France", "N")
    assert row["carbon_intensity_source"] == france.source == "country:FRA"
    assert float(row["carbon_intensity_g_co2e_kwh"]) == pytest.approx(france.g_co2e_per_kwh)
    assert row["carbon_intensity_year"] == france.year
    assert row["carbon_intensity_basis"] == france.basis == "lifecycle"


def test_no_gpu_means_zero_gpu_figures_and_method_none(tmp_path, make, read_rows, kit):
    sources = [kit.SteadySource("cpu", 10.0), kit.SteadySource("ram", 1.0)]
    with make(power_sources=sources):
        time.sleep(0.05)
    (row,) = read_rows(tmp_path / "emissions.csv")[1]
    assert (row["gpu_energy"], row["gpu_power"], row["gpu_count"]) == ("0.0", "0.0", "0")
    assert (row["gpu_energy_method"], row["gpu_model"], row["gpu_utilization_percent"]) == (
        "none",
        "",
        "",
    )


def test_context_manager_statuses(tmp_path, make, read_rows):
    with make(project_name="ok"):
        pass
    with pytest.raises(ZeroDivisionError), make(project_name="error"):
        _ = 1 / 0
    with pytest.raises(KeyboardInterrupt), make(project_name="ctrl-c"):
        raise KeyboardInterrupt
    rows = read_rows(tmp_path / "emissions.csv")[1]
    assert [(r["project_name"], r["status"]) for r in rows] == [
        ("ok", "finished"),
        ("error", "crashed"),
        ("ctrl-c", "interrupted"),
    ]


def test_decorator_tracks_each_call_and_returns_the_result(tmp_path, environ, read_rows):
    @track_emissions(
        project_name="decorated",
        output_dir=str(tmp_path),
        measure_power_secs=0.05,
        offline=True,
        country_iso_code="SE",
        force_cpu_power=20.0,
        force_ram_power=2.0,
        environ=environ,
    )
    def double(x: int) -> int:
        """Doubles."""
        time.sleep(0.05)
        return 2 * x

    assert double(21) == 42
    assert double(5) == 10
    assert double.__doc__ == "Doubles."
    rows = read_rows(tmp_path / "emissions.csv")[1]
    assert [r["project_name"] for r in rows] == ["decorated", "decorated"]
    assert len({r["run_id"] for r in rows}) == 2
    for row in rows:
        assert (row["cpu_energy_method"], row["ram_energy_method"]) == ("forced", "forced")
        assert float(row["cpu_power"]) == pytest.approx(20.0, rel=1e-6)
        assert row["country_iso_code"] == "SWE"


def test_bare_decorator_writes_in_the_current_folder(workdir, read_rows):
    @track_emissions
    def work() -> str:
        return "done"

    assert work() == "done"
    (row,) = read_rows(workdir / "emissions.csv")[1]
    assert (row["project_name"], row["status"]) == ("default", "finished")


def test_decorator_rejects_bad_settings_when_decorating():
    with pytest.raises(ValueError, match="pue"):
        track_emissions(pue=-1.0)
    with pytest.raises(TypeError):
        track_emissions(no_such_setting=1)


def test_tasks_are_written_to_their_own_file(tmp_path, make, read_rows):
    tracker = make(force_carbon_intensity_g_co2e_kwh=100.0)
    tracker.start()
    tracker.start_task("load")
    time.sleep(0.1)
    tracker.start_task("train")  # stops "load"
    time.sleep(0.2)
    train = tracker.stop_task()
    tracker.start_task("left-running")
    time.sleep(0.05)
    tracker.stop()

    header, tasks = read_rows(tmp_path / "emissions_tasks.csv")
    assert header == list(schema.TASK_FIELDNAMES)
    assert [t["task_name"] for t in tasks] == ["load", "train", "left-running"]
    (run,) = read_rows(tmp_path / "emissions.csv")[1]
    assert {t["run_id"] for t in tasks} == {run["run_id"]}
    assert (train.task_name, float(tasks[1]["emissions"])) == ("train", train.emissions)
    durations = [float(t["duration"]) for t in tasks]
    assert durations[1] >= 0.2
    assert sum(durations) <= float(run["duration"])
    for task in tasks:
        assert float(task["cpu_energy"]) == pytest.approx(
            40.0 * float(task["duration"]) / JOULES_PER_KWH, rel=1e-9
        )
        assert float(task["emissions"]) == pytest.approx(
            float(task["energy_consumed"]) * 100.0 / 1000, rel=1e-12
        )


def test_flush_appends_a_cumulative_running_row(tmp_path, make, read_rows):
    tracker = make()
    tracker.start()
    time.sleep(0.1)
    flushed_kg = tracker.flush()
    time.sleep(0.1)
    final_kg = tracker.stop()
    first, last = read_rows(tmp_path / "emissions.csv")[1]
    assert first["run_id"] == last["run_id"]
    assert (first["status"], last["status"]) == ("running", "finished")
    assert float(first["emissions"]) == flushed_kg < final_kg == float(last["emissions"])
    assert float(first["duration"]) < float(last["duration"])


def test_lifecycle_misuse_never_raises(tmp_path, caplog, make, read_rows):
    tracker = make()
    assert tracker.stop() is None
    assert tracker.flush() is None
    assert tracker.stop_task() is None
    tracker.start_task("too early")
    tracker.start()
    tracker.start()
    first = tracker.stop()
    assert tracker.stop() == first
    tracker.start()  # a tracker runs once
    assert len(read_rows(tmp_path / "emissions.csv")[1]) == 1
    assert "already been started" in caplog.text


def test_save_to_file_false_writes_nothing(tmp_path, make):
    tracker = make(save_to_file=False)
    tracker.start()
    time.sleep(0.05)
    assert tracker.stop() > 0
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]


def test_unwritable_output_goes_to_the_fallback_file(tmp_path, environ, caplog, make, read_rows):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file\n")
    tracker = make(output_dir=str(blocker / "runs"))
    with caplog.at_level(logging.ERROR, logger="tracker"):
        tracker.start()
        tracker.start_task("t")
        emissions_kg = tracker.stop()
    assert emissions_kg > 0
    fallback = Path(environ["XDG_STATE_HOME"]) / "carbonboard" / "emissions-fallback.csv"
    (row,) = read_rows(fallback)[1]
    assert float(row["emissions"]) == emissions_kg
    assert read_rows(fallback.with_name("emissions_tasks-fallback.csv"))[1][0]["task_name"] == "t"
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(str(fallback) in message for message in errors), errors


def test_a_failing_source_keeps_its_energy_and_the_run_goes_on(
    tmp_path, caplog, make, read_rows, kit
):
    class FailingSource(kit.SteadySource):
        """Works for ``good_reads`` reads, then fails as a vanished device does."""

        def __init__(self, *args, good_reads: int, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.reads_left = good_reads

        def read_energy_j(self, now: float) -> float:
            if self.reads_left == 0:
                raise PowerSourceError("device vanished")
            self.reads_left -= 1
            return super().read_energy_j(now)

    sources = [FailingSource("gpu", 50.0, good_reads=2), kit.SteadySource("cpu", 10.0)]
    tracker = make(power_sources=sources)
    tracker.start()
    time.sleep(0.4)
    assert tracker.stop() > 0
    (row,) = read_rows(tmp_path / "emissions.csv")[1]
    assert 0 < float(row["gpu_energy"]) < 50.0 * float(row["duration"]) / JOULES_PER_KWH
    assert float(row["cpu_power"]) == pytest.approx(10.0, rel=0.05)
    assert "device vanished" in caplog.text


def test_signal_handlers_are_restored_after_the_run(make):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    tracker = make()
    tracker.start()
    assert signal.getsignal(signal.SIGTERM) == tracker._on_signal
    tracker.stop()
    assert {s: signal.getsignal(s) for s in before} == before


def test_an_ignored_signal_stays_ignored(make):
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        tracker = make()
        tracker.start()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) == tracker._on_signal
        tracker.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
