"""Settings precedence (arguments > environment > project file > user file > defaults) and
validation at construction."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker import EmissionsTracker, OfflineEmissionsTracker
from tracker.config import Settings, resolve


def write_config(folder: Path, text: str, name: str = ".carbonboard.config") -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_defaults(workdir, environ):
    settings = resolve({}, environ=environ)
    assert settings == Settings()
    assert (settings.project_name, settings.measure_power_secs, settings.pue) == ("default", 15, 1)
    assert settings.output_path == Path("emissions.csv")


def test_each_layer_overrides_the_ones_below(workdir, environ):
    home = Path(environ["HOME"])
    write_config(
        home,
        "[carbonboard]\nproject_name = from-user\nexperiment_id = user-exp\npue = 1.1\n"
        "wue = 0.5\nsave_to_file = false\n",
    )
    write_config(home, "[codecarbon]\nregion = california\n", ".codecarbon.config")
    write_config(workdir, "[carbonboard]\nproject_name = from-project\npue = 1.2\nwue = 0.7\n")
    write_config(workdir, "[codecarbon]\nwue = 9\ngpu_ids = 0, 2\n", ".codecarbon.config")
    environ.update(CODECARBON_PUE="1.3", CODECARBON_MEASURE_POWER_SECS="2")
    environ.update(CARBONBOARD_PUE="1.4", CARBONBOARD_TRACKING_MODE="process")

    settings = resolve({"tracking_mode": "machine", "project_name": None}, environ=environ)

    assert settings.tracking_mode == "machine"  # argument over environment
    assert settings.pue == 1.4  # CARBONBOARD_ over CODECARBON_ over files
    assert settings.measure_power_secs == 2.0  # CODECARBON_ alone
    assert settings.project_name == "from-project"  # None means "not given"
    assert settings.wue == 0.7  # .carbonboard.config over .codecarbon.config
    assert settings.gpu_ids == (0, 2)
    assert settings.experiment_id == "user-exp"  # user file under project file
    assert settings.save_to_file is False
    assert settings.region == "california"


def test_the_tracker_reads_the_same_layers(workdir, environ, kit):
    write_config(workdir, "[carbonboard]\nproject_name = configured\nmeasure_power_secs = 0.05\n")
    environ["CARBONBOARD_OUTPUT_DIR"] = str(workdir / "out")
    with OfflineEmissionsTracker(environ=environ, power_sources=kit.steady_sources()) as tracker:
        pass
    assert tracker.settings.project_name == "configured"
    (row,) = kit.read_rows(workdir / "out" / "emissions.csv")[1]
    assert row["project_name"] == "configured"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"pue": -1.0}, "pue must be between 1 and 5"),
        ({"pue": 0.5}, "pue must be between 1 and 5"),
        ({"pue": 120}, r"pue must be between 1 and 5 \(a ratio"),
        ({"wue": -0.1}, "wue must be between 0 and 20"),
        ({"tracking_mode": "gpu"}, "tracking_mode must be one of machine, process"),
        ({"measure_power_secs": 0}, "measure_power_secs must be between 0.05 and 86400"),
        ({"measure_power_secs": 1e-9}, "measure_power_secs must be between 0.05 and 86400"),
        ({"measure_power_secs": 1e10}, "measure_power_secs must be between 0.05 and 86400"),
        ({"measure_power_secs": float("nan")}, "not a finite number"),
        ({"force_cpu_power": -5}, "force_cpu_power must be between 0 and 10000"),
        ({"force_ram_power": 1e6}, "force_ram_power must be between 0 and 10000"),
        ({"log_level": "loud"}, "log_level must be one of"),
        ({"project_name": ""}, "project_name must not be empty"),
        ({"save_to_file": "maybe"}, "not a boolean"),
        ({"country_iso_code": "XX"}, "unknown country code"),
        ({"force_carbon_intensity_g_co2e_kwh": -3.0}, "between 0 and 2000"),
        ({"force_carbon_intensity_g_co2e_kwh": 5e4}, "between 0 and 2000"),
    ],
)
def test_invalid_arguments_raise_at_construction(workdir, environ, arguments, message):
    with pytest.raises(ValueError, match=message):
        EmissionsTracker(environ=environ, **arguments)


def test_invalid_environment_value_names_its_variable(workdir, environ):
    environ["CODECARBON_PUE"] = "abc"
    with pytest.raises(ValueError, match="pue from environment variable CODECARBON_PUE"):
        EmissionsTracker(environ=environ)


def test_invalid_config_value_names_its_file(workdir, environ):
    write_config(workdir, "[carbonboard]\nmeasure_power_secs = -1\n")
    with pytest.raises(ValueError, match=r"from config file .*\.carbonboard\.config"):
        EmissionsTracker(environ=environ)


def test_unknown_config_keys_are_ignored(workdir, environ):
    write_config(
        workdir,
        "[codecarbon]\napi_endpoint = http://example.invalid\nlog_level = error\n",
        ".codecarbon.config",
    )
    assert resolve({}, environ=environ).log_level == "error"
