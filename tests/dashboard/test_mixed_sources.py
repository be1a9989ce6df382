"""Any mix of histories loads into one: our files (written by our tracker) with CodeCarbon
2.2 / 2.8 / 3.3 runs files and our or CodeCarbon's tasks files, given as several files, as a
folder or as a glob. Each mix loads through the store and through ``carbonboard report``, with
the dtypes ``column_dtype`` decides, the same as those of our history alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from carbonboard.data.history import History
from carbonboard.data.loader import column_dtype, has_column_dtype
from carbonboard.data.store import HistoryStore

from .conftest import CODECARBON_FIXTURES

CODECARBON_RUNS = {
    "2.2.7": CODECARBON_FIXTURES / "codecarbon-2.2.7.csv",
    "2.8.4": CODECARBON_FIXTURES / "codecarbon-2.8.4.csv",
    "3.3.2": CODECARBON_FIXTURES / "codecarbon-3.3.2.csv",
}
CODECARBON_TASKS = {
    version: next((CODECARBON_FIXTURES / f"tasks-{version}").glob("emissions_base_*.csv"))
    for version in ("2.8.4", "3.3.2")
}
TASKS = ("ours", "codecarbon-2.8.4", "codecarbon-3.3.2")
MODES = ("files", "folder", "glob")
OUR_PROJECT = "ours-project"
TRACKED_RUN = textwrap.dedent(
    f"""
    import time
    from tracker import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(
        country_iso_code="FRA", output_dir=".", project_name="{OUR_PROJECT}",
        experiment_id="mixed", measure_power_secs=1, log_level="error",
    )
    tracker.start()
    for task in ("load-data", "train"):
        tracker.start_task(task)
        time.sleep(0.02)
        tracker.stop_task()
    tracker.stop()
    """
)


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> tuple[Path, Path]:
    """``emissions.csv`` and ``emissions_tasks.csv`` of one run with two tasks, written by our
    tracker in a process of its own."""
    folder = tmp_path_factory.mktemp("ours")
    subprocess.run([sys.executable, "-c", TRACKED_RUN], cwd=folder, check=True, timeout=120)
    return folder / "emissions.csv", folder / "emissions_tasks.csv"


def mix(folder: Path, ours: tuple[Path, Path], codecarbon: str, tasks: str) -> list[Path]:
    """Our runs file, a CodeCarbon runs file and one tasks file, copied into ``folder``."""
    folder.mkdir()
    chosen = [ours[0], CODECARBON_RUNS[codecarbon]]
    chosen.append(ours[1] if tasks == "ours" else CODECARBON_TASKS[tasks.split("-")[1]])
    return [Path(shutil.copy(path, folder / path.name)) for path in chosen]


def arguments(folder: Path, files: list[Path], mode: str) -> list[str]:
    """The ``--filepath`` values of each way to name the files."""
    if mode == "files":
        return [str(path) for path in files]
    return [str(folder)] if mode == "folder" else [str(folder / "*.csv")]


def dtype_of(column: pd.Series) -> tuple[str, str]:
    """A column's dtype, a categorical's as the dtype of its categories (not their values)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "category", str(column.cat.categories.dtype)
    return str(column.dtype), ""


def assert_normalised(frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(frame.columns) == list(reference.columns)
    for name in frame.columns:
        assert has_column_dtype(frame[name], name), name
        assert dtype_of(frame[name]) == dtype_of(reference[name]), name


@pytest.fixture(scope="module")
def our_history(ours) -> History:
    """Our files alone: the dtypes every mix must keep."""
    return HistoryStore([*ours], disk_cache=False).history()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tasks", TASKS)
@pytest.mark.parametrize("codecarbon", list(CODECARBON_RUNS))
def test_a_mix_loads_into_one_history(tmp_path, ours, our_history, codecarbon, tasks, mode):
    files = mix(tmp_path / "mix", ours, codecarbon, tasks)
    history = HistoryStore.from_arguments(
        arguments(tmp_path / "mix", files, mode), disk_cache=False
    ).history()

    assert history.skipped == []
    assert {Path(f.path).name: f.kind for f in history.files} == {
        files[0].name: "runs",
        files[1].name: "runs",
        files[2].name: "tasks",
    }
    runs = history.runs
    assert sorted(runs["project_name"].unique()) == ["cc-sample", OUR_PROJECT]
    assert len(runs) == 1 + 2  # our run, and CodeCarbon's two (one flushed twice)
    assert set(runs["source_file"]) == {str(files[0]), str(files[1])}
    assert_normalised(runs, our_history.runs)
    assert_normalised(history.tasks, our_history.tasks)
    assert sorted(history.tasks["task_name"]) == ["load-data", "train"]
    assert history.tasks["source_file"].eq(str(files[2])).all()

    codecarbon_runs = runs[runs["project_name"] == "cc-sample"]
    assert codecarbon_runs["status"].eq("finished").all()
    assert codecarbon_runs["carbon_intensity_source"].eq("derived").all()
    ours_run = runs[runs["project_name"] == OUR_PROJECT].iloc[0]
    assert ours_run["carbon_intensity_source"] == "country:FRA"


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tasks", TASKS)
@pytest.mark.parametrize("codecarbon", list(CODECARBON_RUNS))
def test_a_mix_makes_a_report(tmp_path, ours, codecarbon, tasks, mode):
    files = mix(tmp_path / "mix", ours, codecarbon, tasks)
    out = tmp_path / "report.html"
    values = [f"--filepath={value}" for value in arguments(tmp_path / "mix", files, mode)]
    done = subprocess.run(
        [sys.executable, "-m", "carbonboard", "report", *values, f"--out={out}"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    page = out.read_text(encoding="utf-8")
    assert OUR_PROJECT in page and "cc-sample" in page


def test_every_contract_column_has_one_dtype_in_every_mix(our_history) -> None:
    """The reference itself follows ``column_dtype``: the mixes are compared with the rule."""
    for frame in (our_history.runs, our_history.tasks):
        for name in frame.columns:
            expected = column_dtype(name)
            assert frame[name].dtype == expected, name
            if expected == "category":
                assert frame[name].cat.categories.dtype == object, name
