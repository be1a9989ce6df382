"""Two installs from one wheel: ``carbonboard`` (the tracker alone, for training images) and
``carbonboard[board]`` (the dashboard). The slow tests install the built wheel into a fresh venv
each, with pip and the package registry, as a user would."""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

from carbonboard.launcher import BOARD_MODULES, INSTALL_HINT, missing_board_libraries

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[2]
# Never in a tracker-only install: the dashboard's libraries and the optional extras.
NOT_IN_TRACKER = ("dash", "plotly", "pandas", "numpy", "dash_bootstrap_components", "click")
NOT_IN_TRACKER += ("waitress", "flask", "IPython", "prometheus_client")
TRACKER_PROBE = """
import csv, importlib.util, sys, time
absent = sys.argv[2].split(",")
assert not [m for m in absent if importlib.util.find_spec(m) is not None], "heavy modules found"
import tracker
assert tracker.__file__.startswith(sys.prefix), tracker.__file__  # the wheel, not the checkout
from tracker import OfflineEmissionsTracker
t = OfflineEmissionsTracker(country_iso_code="FRA", measure_power_secs=0.1, output_dir=sys.argv[1])
t.start()
sum(range(2_000_000))
time.sleep(0.3)
kg = t.stop()
rows = list(csv.DictReader(open(sys.argv[1] + "/emissions.csv", encoding="utf-8")))
assert kg > 0 and [r["status"] for r in rows] == ["finished"], (kg, rows)
assert rows[0]["carbon_intensity_source"] == "country:FRA"
print("measured", kg)
"""


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def distribution(requirement: str) -> str:
    """``"dash>=2.17"`` -> ``"dash"``."""
    name = requirement
    for mark in "<>=!~[; ":
        name = name.split(mark)[0]
    return name.strip().lower()


def test_the_board_extra_is_what_the_command_checks_for():
    board = {distribution(r) for r in pyproject()["project"]["optional-dependencies"]["board"]}
    assert board == set(BOARD_MODULES)


def test_plain_install_is_the_tracker_alone():
    base = {distribution(r) for r in pyproject()["project"]["dependencies"]}
    assert base == {"psutil", "nvidia-ml-py", "requests", "pycountry", "filelock", "platformdirs"}
    assert pyproject()["project"]["scripts"]["carbonboard"] == "carbonboard.launcher:main"


def test_missing_board_libraries_are_named():
    absent = {"pandas", "waitress"}
    missing = missing_board_libraries(lambda module: None if module in absent else object())
    assert missing == ["pandas", "waitress"]
    assert missing_board_libraries() == []  # this test environment has the board


def fresh_venv(folder: Path, requirement: str) -> Path:
    """A new venv with ``requirement`` installed by pip (dependencies from the registry)."""
    venv.EnvBuilder(with_pip=True).create(folder)
    subprocess.run(
        [folder / "bin" / "python", "-m", "pip", "install", "-q", requirement],
        check=True,
        env=clean_env(),
    )
    return folder / "bin"


def clean_env() -> dict[str, str]:
    """The environment without this checkout on the path or tracker settings."""
    skip = ("PYTHONPATH", "VIRTUAL_ENV", "CARBONBOARD_", "CODECARBON_")
    return {k: v for k, v in os.environ.items() if not k.startswith(skip)}


@pytest.mark.slow
def test_tracker_only_install_measures_without_the_board(wheel, tmp_path):
    bin_dir = fresh_venv(tmp_path / "venv", str(wheel))
    out = tmp_path / "out"
    out.mkdir()
    probe = subprocess.run(
        [bin_dir / "python", "-c", TRACKER_PROBE, str(out), ",".join(NOT_IN_TRACKER)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("measured")
    run = subprocess.run(
        [
            bin_dir / "python",
            "-m",
            "tracker",
            "run",
            "--offline",
            "--country",
            "FRA",
            "--output",
            str(out / "cli.csv"),
            "--",
            bin_dir / "python",
            "-c",
            "pass",
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (out / "cli.csv").read_text(encoding="utf-8").count("\n") == 2  # header and the row
    board = subprocess.run(
        [bin_dir / "carbonboard", "--help"], env=clean_env(), capture_output=True, text=True
    )
    assert board.returncode == 1
    (line,) = board.stderr.splitlines()
    assert line.startswith("carbonboard: the dashboard needs dash, plotly, pandas")
    assert line.endswith(INSTALL_HINT)


@pytest.mark.slow
def test_board_install_runs_the_command(wheel, tmp_path):
    bin_dir = fresh_venv(tmp_path / "venv", f"{wheel}[board]")
    board = subprocess.run(
        [bin_dir / "carbonboard", "--help"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert board.returncode == 0, board.stderr
    assert "Usage: carbonboard" in board.stdout
