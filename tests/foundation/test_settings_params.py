"""``EmissionsTracker``'s parameters and the settings (``tracker.config``) name the same things:
every setting is a constructor parameter that reaches ``tracker.settings``, and every parameter is
a setting apart from the documented ``CONSTRUCTOR_ONLY`` extras."""

from __future__ import annotations

import dataclasses
import inspect
import logging

import pytest

from tracker import config
from tracker.emissions_tracker import CONSTRUCTOR_ONLY, HOSTED_ONLY, EmissionsTracker

PARAMETERS = [name for name in inspect.signature(EmissionsTracker.__init__).parameters][1:]


def non_default_values(tmp_path) -> dict[str, tuple[object, object]]:
    """setting -> (argument, the value in tracker.settings): none of them the default."""
    return {
        "project_name": ("p2", "p2"),
        "experiment_id": ("e-1", "e-1"),
        "measure_power_secs": (2.5, 2.5),
        "output_dir": (str(tmp_path / "out"), str(tmp_path / "out")),
        "output_file": ("runs.csv", "runs.csv"),
        "save_to_file": (False, False),
        "gpu_ids": ([0, "GPU-abc"], (0, "GPU-abc")),
        "tracking_mode": ("process", "process"),
        "log_level": ("error", "error"),
        "pue": (1.4, 1.4),
        "wue": (0.3, 0.3),
        "force_cpu_power": (12.0, 12.0),
        "force_ram_power": (3.0, 3.0),
        "force_carbon_intensity_g_co2e_kwh": (100.0, 100.0),
        "country_iso_code": ("FRA", "FRA"),
        "region": ("ile-de-france", "ile-de-france"),
        "cloud_provider": ("gcp", "gcp"),
        "cloud_region": ("europe-west9", "europe-west9"),
        "electricitymaps_api_token": ("tok", "tok"),
        "offline": (True, True),
        "experiment_name": ("exp", "exp"),
        "on_csv_write": ("update", "update"),
        "api_call_interval": (3, 3),
        "emissions_endpoint": ("http://127.0.0.1:9/rows", "http://127.0.0.1:9/rows"),
        "database_url": ("postgresql://u@127.0.0.1:1/db", "postgresql://u@127.0.0.1:1/db"),
        "save_to_logger": (True, True),
        "logger_preamble": ("pre", "pre"),
        "allow_multiple_runs": (False, False),
        "force_mode_cpu_load": (True, True),
        "rapl_include_dram": (True, True),
        "rapl_prefer_psys": (True, True),
        "prometheus_port": (9999, 9999),
        "prometheus_host": ("::1", "::1"),
        "prometheus_textfile_dir": (str(tmp_path / "prom"), str(tmp_path / "prom")),
        "save_to_prometheus": (True, True),
        "prometheus_url": ("http://127.0.0.1:9/", "http://127.0.0.1:9/"),
    }


@pytest.fixture
def tracker_log_level():
    """Creating a tracker sets the "tracker" logger's level: put it back for the next tests."""
    logger = logging.getLogger("tracker")
    level = logger.level
    yield
    logger.setLevel(level)


def test_every_parameter_is_a_setting_or_a_documented_extra():
    assert set(PARAMETERS) - set(CONSTRUCTOR_ONLY) == set(config.NAMES)
    assert set(CONSTRUCTOR_ONLY) <= set(PARAMETERS)
    assert not set(CONSTRUCTOR_ONLY) & set(config.NAMES)
    assert set(HOSTED_ONLY) <= set(CONSTRUCTOR_ONLY)
    assert len(CONSTRUCTOR_ONLY) == len(set(CONSTRUCTOR_ONLY))


def test_the_settings_are_the_fields_of_settings():
    assert list(config.NAMES) == [f.name for f in dataclasses.fields(config.Settings)]


def test_every_setting_given_to_the_constructor_reaches_the_settings(
    tmp_path, monkeypatch, tracker_log_level
):
    monkeypatch.chdir(tmp_path)  # no config file of the checkout's folder
    values = non_default_values(tmp_path)
    assert set(values) == set(config.NAMES)  # a new setting gets a line above
    defaults = config.Settings()
    assert all(getattr(defaults, name) != shown for name, (_, shown) in values.items())
    tracker = EmissionsTracker(
        **{name: given for name, (given, _) in values.items()},
        environ={"HOME": str(tmp_path)},
    )
    assert {name: getattr(tracker.settings, name) for name in values} == {
        name: shown for name, (_, shown) in values.items()
    }
