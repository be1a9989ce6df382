"""A runs file given alone brings its tasks files, ours and CodeCarbon's, found beside it (#11)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carbonboard import ids
from carbonboard.app import create_app
from carbonboard.data.paths import resolve_paths
from carbonboard.data.source import Description
from carbonboard.data.store import HistoryStore
from carbonboard.sections.header import files_text
from tracker.schema import TASK_FIELDNAMES

from .conftest import CODECARBON_FIXTURES
from .test_callbacks import call

CODECARBON_RUN = "d39db2e5-d3ae-4ced-b4db-93a38a48bc59"  # the 3.3.2 fixture's run with tasks
CODECARBON_TASKS = f"emissions_base_{CODECARBON_RUN}.csv"


@pytest.fixture
def codecarbon_folder(tmp_path) -> Path:
    """CodeCarbon's output folder: ``emissions.csv`` and one tasks file per run beside it."""
    shutil.copy(CODECARBON_FIXTURES / "codecarbon-3.3.2.csv", tmp_path / "emissions.csv")
    shutil.copy(CODECARBON_FIXTURES / "tasks-3.3.2" / CODECARBON_TASKS, tmp_path)
    return tmp_path


def task_names(history) -> list[str]:
    return sorted(history.tasks["task_name"].astype(str))


def test_codecarbon_tasks_files_beside_the_runs_file_load(codecarbon_folder) -> None:
    runs_file = codecarbon_folder / "emissions.csv"
    assert [p.name for p in resolve_paths([str(runs_file)])] == ["emissions.csv", CODECARBON_TASKS]
    history = HistoryStore.from_arguments([str(runs_file)], disk_cache=False).history()
    assert set(history.tasks["run_id"].astype(str)) == {CODECARBON_RUN}
    assert task_names(history) == ["load-data", "train"]
    assert (
        files_text(Description.of(history)) == f"2 files: emissions.csv; tasks: {CODECARBON_TASKS}"
    )


def test_ours_beside_any_runs_file_and_only_tasks_files_load(
    tmp_path, make_row, csv_writer
) -> None:
    runs_file = csv_writer(tmp_path / "train.csv", [make_row(run_id="r1")])
    tasks = [{**make_row(run_id="r1"), "task_name": name} for name in ("load", "fit")]
    csv_writer(tmp_path / "train_tasks.csv", tasks, fieldnames=TASK_FIELDNAMES)
    # another runs file beside it is not the user's choice: not loaded
    csv_writer(tmp_path / "emissions_old.csv", [make_row(run_id="old")])
    store = HistoryStore.from_arguments([str(runs_file)], disk_cache=False)
    history = store.history()
    assert set(history.runs["run_id"]) == {"r1"}
    assert task_names(history) == ["fit", "load"]
    # a tasks file written later (CodeCarbon writes them when a run stops) is picked up
    late = [{**make_row(run_id="r1"), "task_name": "evaluate"}]
    csv_writer(tmp_path / "emissions_base_r1.csv", late, fieldnames=TASK_FIELDNAMES)
    history = store.history()
    assert task_names(history) == ["evaluate", "fit", "load"]
    assert files_text(store.describe()) == (
        "3 files: train.csv; tasks: emissions_base_r1.csv, train_tasks.csv"
    )


def test_a_tasks_file_given_alone_brings_no_other_file(codecarbon_folder) -> None:
    tasks_file = codecarbon_folder / CODECARBON_TASKS
    shutil.copy(tasks_file, codecarbon_folder / "emissions_base_other.csv")
    assert [p.name for p in resolve_paths([str(tasks_file)])] == [CODECARBON_TASKS]


def test_the_run_detail_shows_the_tasks_found_beside_the_runs_file(codecarbon_folder) -> None:
    source = HistoryStore.from_arguments(
        [str(codecarbon_folder / "emissions.csv")], disk_cache=False
    )
    app = create_app(source, refresh_interval_s=0)
    response = call(
        app,
        f"{ids.RUN_DETAIL}.children",
        {f"{ids.RUNS_TABLE}.cellClicked": {"rowIndex": 0, "rowId": CODECARBON_RUN}},
    )
    assert response.status_code == 200
    text = str(response.get_json()["response"][ids.RUN_DETAIL]["children"])
    assert CODECARBON_RUN in text and "2 tasks" in text
    assert ids.RUN_DETAIL_TASKS in text
    header = call(app, f"{ids.HEADER_FILES}.children", {f"{ids.DATA_VERSION}.data": 1})
    files = header.get_json()["response"][ids.HEADER_FILES]["children"]
    assert files == f"2 files: emissions.csv; tasks: {CODECARBON_TASKS}"
