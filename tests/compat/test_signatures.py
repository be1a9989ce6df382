"""Every parameter name CodeCarbon 3.3 documents is accepted, with CodeCarbon's positional order.

The lists below were copied from CodeCarbon 3.3.2, module ``codecarbon/emissions_tracker.py``:
``BaseEmissionsTracker.__init__``, ``OfflineEmissionsTracker.__init__`` and
``track_emissions``, in their order of declaration.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tracker import EmissionsTracker, OfflineEmissionsTracker, track_emissions
from tracker.emissions_tracker import TaskEmissionsTracker, track_task_emissions

# codecarbon 3.3.2, codecarbon/emissions_tracker.py, BaseEmissionsTracker.__init__
BASE_PARAMETERS = (
    "project_name",
    "measure_power_secs",
    "api_call_interval",
    "api_endpoint",
    "api_key",
    "output_dir",
    "output_file",
    "output_methods",
    "save_to_file",
    "save_to_api",
    "save_to_logger",
    "logging_logger",
    "save_to_prometheus",
    "save_to_logfire",
    "prometheus_url",
    "output_handlers",
    "gpu_ids",
    "emissions_endpoint",
    "experiment_id",
    "experiment_name",
    "electricitymaps_api_token",
    "co2_signal_api_token",
    "tracking_mode",
    "log_level",
    "on_csv_write",
    "logger_preamble",
    "force_cpu_power",
    "force_ram_power",
    "pue",
    "wue",
    "force_carbon_intensity_g_co2e_kwh",
    "force_mode_cpu_load",
    "allow_multiple_runs",
    "rapl_include_dram",
    "rapl_prefer_psys",
    "metadata",
)
# codecarbon 3.3.2, codecarbon/emissions_tracker.py, OfflineEmissionsTracker.__init__ (keywords)
OFFLINE_PARAMETERS = (
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "country_2letter_iso_code",
)
# codecarbon 3.3.2, codecarbon/emissions_tracker.py, track_emissions (after ``fn``)
DECORATOR_PARAMETERS = (
    *BASE_PARAMETERS[:-1],  # everything but metadata
    "offline",
    *OFFLINE_PARAMETERS,
)


def sample_value(name: str, tmp_path: Path) -> object:
    """A valid value for each parameter, so that construction succeeds."""
    values: dict[str, object] = {
        "project_name": "signature",
        "measure_power_secs": 1.0,
        "api_call_interval": 4,
        "output_dir": str(tmp_path),
        "output_file": "emissions.csv",
        "output_methods": ["csv"],
        "output_handlers": [],
        "gpu_ids": [0],
        "tracking_mode": "machine",
        "log_level": "error",
        "on_csv_write": "append",
        "pue": 1.0,
        "wue": 0.0,
        "force_cpu_power": 10.0,
        "force_ram_power": 1.0,
        "force_carbon_intensity_g_co2e_kwh": 50.0,
        "country_iso_code": "FRA",
        "allow_multiple_runs": True,
        "offline": True,
        "save_to_file": True,
    }
    if name in values:
        return values[name]
    if name.startswith(("save_to_", "force_mode", "rapl_")):
        return False
    return None


def test_the_constructor_takes_codecarbons_parameters_in_its_order():
    parameters = list(inspect.signature(EmissionsTracker.__init__).parameters)[1:]
    assert tuple(parameters[: len(BASE_PARAMETERS)]) == BASE_PARAMETERS
    keyword_only = {
        name
        for name, p in inspect.signature(EmissionsTracker.__init__).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert set(OFFLINE_PARAMETERS) <= keyword_only


@pytest.mark.parametrize("tracker_class", [EmissionsTracker, OfflineEmissionsTracker])
def test_every_documented_parameter_is_accepted(tracker_class, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    names = BASE_PARAMETERS + OFFLINE_PARAMETERS
    tracker = tracker_class(**{name: sample_value(name, tmp_path) for name in names})
    assert tracker.settings.project_name == "signature"
    assert tracker.settings.country_iso_code == "FRA"


def test_parameters_pass_positionally_as_in_codecarbon(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    tracker = OfflineEmissionsTracker("positional", 2.0, 3, None, None, str(tmp_path))
    assert (tracker.settings.project_name, tracker.settings.measure_power_secs) == (
        "positional",
        2.0,
    )
    assert tracker.settings.api_call_interval == 3
    assert tracker.settings.output_dir == str(tmp_path)


def test_the_decorator_accepts_every_documented_parameter(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = {name: sample_value(name, tmp_path) for name in DECORATOR_PARAMETERS}
    decorate = track_emissions(**settings)

    @decorate
    def answer() -> int:
        return 42

    assert answer() == 42
    assert (tmp_path / "emissions.csv").read_text().count("signature") == 1


# codecarbon 3.3.2, codecarbon/emissions_tracker.py: TaskEmissionsTracker.__init__ and
# track_task_emissions (public in that module, not exported by the codecarbon package).
TASK_HELPER_PARAMETERS = (
    (TaskEmissionsTracker.__init__, ("self", "task_name", "tracker")),
    (track_task_emissions, ("fn", "tracker", "task_name")),
)


@pytest.mark.parametrize(("helper", "names"), TASK_HELPER_PARAMETERS)
def test_the_task_helpers_take_codecarbons_parameters_in_its_order(helper, names):
    assert tuple(inspect.signature(helper).parameters) == names
