"""CodeCarbon 3.3's smaller public names: ``get_detected_hardware()``,
``EmissionsData.compute_delta_emission()``, ``co2_signal_api_token`` from every place settings
come from, and the task helpers ``TaskEmissionsTracker`` / ``track_task_emissions``."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from tracker import EmissionsTracker
from tracker.config import SECRET_MASK, resolve
from tracker.emissions_data import EmissionsData
from tracker.emissions_tracker import (
    HARDWARE_KEYS,
    TaskEmissionsTracker,
    track_task_emissions,
)
from tracker.power.base import DeviceInfo

FAST = {"measure_power_secs": 0.05, "offline": True, "country_iso_code": "FRA"}


@pytest.fixture
def make(tmp_path: Path, environ: dict[str, str], kit):
    def make(**kwargs) -> EmissionsTracker:
        settings = {"output_dir": str(tmp_path), "power_sources": kit.steady_sources(), **FAST}
        return EmissionsTracker(environ=environ, **{**settings, **kwargs})

    return make


@pytest.fixture(autouse=True)
def tracker_log_level():
    """Creating a tracker sets the "tracker" logger's level: put it back for the next tests."""
    logger = logging.getLogger("tracker")
    level = logger.level
    yield
    logger.setLevel(level)


# -- get_detected_hardware() -----------------------------------------------------------------


def test_detected_hardware_has_codecarbons_keys_before_the_run_starts(make):
    hardware = make().get_detected_hardware()
    assert tuple(hardware) == HARDWARE_KEYS
    assert hardware["ram_total_size"] == 16.0
    assert (hardware["cpu_count"], hardware["cpu_model"]) == (8, "Test CPU")
    assert (hardware["gpu_count"], hardware["gpu_model"]) == (2, "2 x Test GPU")
    assert hardware["gpu_ids"] is None
    assert hardware["cpu_physical_count"] is None or hardware["cpu_physical_count"] >= 1


def test_detected_hardware_is_what_the_rows_say(make, tmp_path, kit):
    tracker = make(gpu_ids="0,GPU-abc")
    tracker.start()
    during = tracker.get_detected_hardware()
    tracker.stop()
    assert during["gpu_ids"] == [0, "GPU-abc"]
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert float(row["ram_total_size"]) == during["ram_total_size"]
    assert int(float(row["cpu_count"])) == during["cpu_count"]
    assert (row["cpu_model"], row["gpu_model"]) == (during["cpu_model"], during["gpu_model"])
    assert int(float(row["gpu_count"])) == during["gpu_count"]
    assert tracker.get_detected_hardware() == during  # after the run: the same answer


def test_detected_hardware_discovers_this_machine_without_starting(tmp_path, environ):
    tracker = EmissionsTracker(output_dir=str(tmp_path), environ=environ, **FAST)
    hardware = tracker.get_detected_hardware()
    assert tuple(hardware) == HARDWARE_KEYS
    assert hardware["ram_total_size"] > 0 and hardware["cpu_count"] >= 1
    assert hardware["gpu_count"] >= 0
    assert not (tmp_path / "emissions.csv").exists()  # nothing measured, nothing written


def test_detected_hardware_never_raises(make, kit, caplog):
    class Broken(kit.SteadySource):
        def info(self) -> DeviceInfo:
            raise OSError("device vanished")

    hardware = make(power_sources=[Broken("cpu", 10.0)]).get_detected_hardware()
    assert hardware == dict.fromkeys(HARDWARE_KEYS)
    assert "get_detected_hardware() failed" in caplog.text


# -- EmissionsData.compute_delta_emission() --------------------------------------------------


def emissions_data(**values: object) -> EmissionsData:
    """A row with every CodeCarbon field set; ``values`` override."""
    base: dict[str, object] = {
        f.name: "" for f in dataclasses.fields(EmissionsData) if f.type in ("str", "str | None")
    }
    base.update(
        duration=10.0,
        emissions=0.002,
        emissions_rate=0.0002,
        cpu_power=40.0,
        gpu_power=0.0,
        ram_power=6.0,
        cpu_energy=0.004,
        gpu_energy=0.001,
        ram_energy=0.0005,
        energy_consumed=0.0055,
        water_consumed=0.01,
        cpu_count=8,
        gpu_count=0,
        longitude=None,
        latitude=None,
        ram_total_size=16.0,
        task_name=None,
    )
    base.update(values)
    return EmissionsData(**base)  # type: ignore[arg-type]


def test_compute_delta_emission_turns_the_figure_into_codecarbons_delta_in_place():
    previous = emissions_data()
    current = emissions_data(
        duration=25.0,
        emissions=0.005,
        cpu_energy=0.010,
        gpu_energy=0.002,
        ram_energy=0.0012,
        energy_consumed=0.0132,
        water_consumed=0.03,
        cpu_power=42.0,
        run_id="r-1",
    )
    assert current.compute_delta_emission(previous) is None  # CodeCarbon's returns None
    assert current.duration == pytest.approx(15.0)
    assert current.emissions == pytest.approx(0.003)
    assert current.cpu_energy == pytest.approx(0.006)
    assert current.gpu_energy == pytest.approx(0.001)
    assert current.ram_energy == pytest.approx(0.0007)
    assert current.energy_consumed == pytest.approx(0.0077)
    assert current.water_consumed == pytest.approx(0.02)
    assert current.emissions_rate == pytest.approx(0.003 / 15.0)
    assert (current.cpu_power, current.run_id) == (42.0, "r-1")  # powers and labels stay
    assert previous == emissions_data()  # the earlier figure is left alone


def test_compute_delta_emission_rate_is_zero_without_elapsed_time():
    current = emissions_data(emissions=0.004)
    current.compute_delta_emission(emissions_data())
    assert (current.duration, current.emissions_rate) == (0.0, 0)
    assert current.emissions == pytest.approx(0.002)


# -- co2_signal_api_token, the former name of electricitymaps_api_token ----------------------


def token(environ, **arguments) -> str | None:
    return resolve(arguments, environ=environ).electricitymaps_api_token


@pytest.mark.parametrize("prefix", ["CODECARBON_", "CARBONBOARD_"])
def test_the_former_name_works_as_an_environment_variable(workdir, environ, prefix):
    environ[f"{prefix}CO2_SIGNAL_API_TOKEN"] = "old-name"
    assert token(environ) == "old-name"
    environ[f"{prefix}ELECTRICITYMAPS_API_TOKEN"] = "new-name"
    assert token(environ) == "new-name"  # both in one place: the current name wins


def test_the_former_name_follows_the_usual_precedence(workdir, environ):
    environ["CODECARBON_ELECTRICITYMAPS_API_TOKEN"] = "codecarbon-new"
    environ["CARBONBOARD_CO2_SIGNAL_API_TOKEN"] = "carbonboard-old"
    assert token(environ) == "carbonboard-old"  # CARBONBOARD_ over CODECARBON_
    assert token(environ, electricitymaps_api_token="argument") == "argument"
    assert token(environ, co2_signal_api_token="argument-old") == "argument-old"
    both = {"co2_signal_api_token": "old", "electricitymaps_api_token": "new"}
    assert token(environ, **both) == "new"


@pytest.mark.parametrize(
    ("file_name", "section"),
    [(".codecarbon.config", "codecarbon"), (".carbonboard.config", "carbonboard")],
)
def test_the_former_name_works_in_config_files(workdir, environ, file_name, section):
    home = Path(environ["HOME"])
    (home / file_name).write_text(f"[{section}]\nelectricitymaps_api_token = user-new\n")
    (workdir / file_name).write_text(f"[{section}]\nco2_signal_api_token = project-old\n")
    assert token(environ) == "project-old"  # project file over user file, whatever the name
    (workdir / file_name).write_text(
        f"[{section}]\nco2_signal_api_token = project-old\nelectricitymaps_api_token = new\n"
    )
    assert token(environ) == "new"
    environ["CODECARBON_CO2_SIGNAL_API_TOKEN"] = "environment-old"
    assert token(environ) == "environment-old"  # the environment over the files


def test_the_former_name_stays_secret(workdir, environ, caplog):
    environ["CODECARBON_CO2_SIGNAL_API_TOKEN"] = "very-secret-token-42"
    tracker = EmissionsTracker(environ=environ, save_to_file=False, **FAST)
    assert tracker.settings.electricitymaps_api_token == "very-secret-token-42"
    assert "very-secret-token-42" not in repr(tracker.settings)
    assert f"electricitymaps_api_token={SECRET_MASK}" in repr(tracker.settings)
    assert "very-secret-token-42" not in caplog.text


# -- TaskEmissionsTracker / track_task_emissions ---------------------------------------------


def test_task_emissions_tracker_measures_a_block_as_a_task(make, tmp_path, kit):
    tracker = make()
    with TaskEmissionsTracker("grid search", tracker=tracker) as task:
        assert task.tracker is tracker and not task.is_default_tracker
        sum(range(10_000))
    assert tracker.final_emissions is None  # the given tracker keeps running
    tracker.stop()
    (task_row,) = kit.read_rows(tmp_path / "emissions_tasks.csv")[1]
    (run_row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert task_row["task_name"] == "grid search" and task_row["run_id"] == run_row["run_id"]


def test_track_task_emissions_makes_each_call_a_task(make, tmp_path, kit):
    tracker = make()

    @track_task_emissions(tracker=tracker, task_name="predict")
    def predict(x: int) -> int:
        return x * 2

    assert [predict(1), predict(2)] == [2, 4]
    tracker.stop()
    names = [r["task_name"] for r in kit.read_rows(tmp_path / "emissions_tasks.csv")[1]]
    assert names == ["predict", "predict"]
    assert predict.__name__ == "predict"
