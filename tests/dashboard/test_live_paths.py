"""Directories and globs are followed: files that appear load, files that leave drop out."""

from __future__ import annotations

import logging
import os

import pytest

from carbonboard import ids
from carbonboard.app import create_app
from carbonboard.data import store as store_module
from carbonboard.data.paths import PathError
from carbonboard.data.store import HistoryStore
from tracker.schema import TASK_FIELDNAMES


@pytest.fixture
def runs_dir(tmp_path, make_row, csv_writer):
    """A directory with one emissions CSV (runs a1, a2) and a CSV that is not ours."""
    directory = tmp_path / "runs"
    directory.mkdir()
    csv_writer(directory / "a.csv", [make_row(run_id="a1"), make_row(run_id="a2")])
    (directory / "notes.csv").write_text("name,value\nx,1\n", encoding="utf-8")
    return directory


def run_ids(store: HistoryStore) -> set[str]:
    return set(store.history().runs["run_id"])


def test_a_new_file_in_a_directory_is_loaded(runs_dir, make_row, csv_writer) -> None:
    store = HistoryStore.from_arguments([str(runs_dir)], disk_cache=False)
    first = store.history()
    assert set(first.runs["run_id"]) == {"a1", "a2"}
    assert [os.path.basename(f.path) for f in first.files] == ["a.csv"]

    csv_writer(runs_dir / "b.csv", [make_row(run_id="b1")])
    history = store.history()
    assert set(history.runs["run_id"]) == {"a1", "a2", "b1"}
    assert history.version == first.version + 1
    assert [os.path.basename(f.path) for f in history.files] == ["a.csv", "b.csv"]


def test_a_deleted_file_leaves_the_totals(runs_dir, make_row, csv_writer) -> None:
    csv_writer(runs_dir / "b.csv", [make_row(run_id="b1", emissions=2.0)])
    store = HistoryStore.from_arguments([str(runs_dir)], disk_cache=False)
    before = store.history()
    assert len(before.runs) == 3
    (runs_dir / "b.csv").unlink()
    history = store.history()
    assert set(history.runs["run_id"]) == {"a1", "a2"}
    assert history.runs["emissions"].sum() == pytest.approx(before.runs["emissions"].sum() - 2.0)
    assert [os.path.basename(f.path) for f in history.files] == ["a.csv"]
    assert all(f.error == "" for f in history.files)
    assert history.version == before.version + 1


def test_a_new_tasks_csv_is_read_as_tasks(runs_dir, make_row, csv_writer) -> None:
    store = HistoryStore.from_arguments([str(runs_dir)], disk_cache=False)
    assert store.history().tasks.empty
    tasks = [{**make_row(run_id="a1"), "task_name": name} for name in ("load", "train")]
    csv_writer(runs_dir / "a_tasks.csv", tasks, fieldnames=TASK_FIELDNAMES)
    history = store.history()
    assert list(history.tasks["task_name"].astype(str)) == ["load", "train"]
    assert {f.kind for f in history.files} == {"runs", "tasks"}
    assert set(history.runs["run_id"]) == {"a1", "a2"}


def test_a_glob_follows_new_matches_only(tmp_path, make_row, csv_writer) -> None:
    csv_writer(tmp_path / "job-1.csv", [make_row(run_id="j1")])
    store = HistoryStore.from_arguments([str(tmp_path / "job-*.csv")], disk_cache=False)
    assert run_ids(store) == {"j1"}
    csv_writer(tmp_path / "job-2.csv", [make_row(run_id="j2")])
    csv_writer(tmp_path / "other.csv", [make_row(run_id="o1")])
    assert run_ids(store) == {"j1", "j2"}
    (tmp_path / "job-1.csv").unlink()
    assert run_ids(store) == {"j2"}


def test_known_files_are_not_read_again(runs_dir, monkeypatch) -> None:
    store = HistoryStore.from_arguments([str(runs_dir)], disk_cache=False)
    first = store.history()
    checked = []
    real_check = store_module.read_header

    def recording_check(path):
        checked.append(path.name)
        return real_check(path)

    monkeypatch.setattr(store_module, "read_header", recording_check)
    assert store.history() is first
    assert checked == []  # neither the loaded file nor the foreign CSV: only listed and stat'ed
    (runs_dir / "notes.csv").write_text("name,value\nx,1\ny,2\n", encoding="utf-8")
    assert store.history() is first
    assert checked == ["notes.csv"]  # it changed, so it is looked at again, and still ignored


def test_a_file_caught_mid_header_is_loaded_once_complete(runs_dir, make_row, csv_writer) -> None:
    store = HistoryStore.from_arguments([str(runs_dir)], disk_cache=False)
    store.history()
    partial = runs_dir / "c.csv"
    partial.write_text("timestamp,project_na", encoding="utf-8")
    assert run_ids(store) == {"a1", "a2"}
    csv_writer(partial, [make_row(run_id="c1")])
    assert run_ids(store) == {"a1", "a2", "c1"}


def test_a_file_in_both_a_directory_and_the_arguments_loads_once(runs_dir) -> None:
    store = HistoryStore.from_arguments([str(runs_dir / "a.csv"), str(runs_dir)], disk_cache=False)
    history = store.history()
    assert len(history.files) == 1
    assert sorted(history.runs["run_id"]) == ["a1", "a2"]


def test_a_vanished_explicit_file_is_kept_and_warned_once(
    tmp_path, runs_dir, make_row, csv_writer, caplog
) -> None:
    single = csv_writer(tmp_path / "single.csv", [make_row(run_id="s1")])
    store = HistoryStore.from_arguments([str(single), str(runs_dir)], disk_cache=False)
    assert run_ids(store) == {"s1", "a1", "a2"}
    single.unlink()
    with caplog.at_level(logging.WARNING, logger=store_module.__name__):
        history = store.history()
        store.history()
    assert set(history.runs["run_id"]) == {"a1", "a2"}
    assert [f.path for f in history.files if f.error] == [str(single.resolve())]
    assert len([r for r in caplog.records if "single.csv" in r.getMessage()]) == 1


def test_a_vanished_directory_empties_without_error(runs_dir) -> None:
    store = HistoryStore.from_arguments([str(runs_dir)], disk_cache=False)
    assert run_ids(store) == {"a1", "a2"}
    for path in runs_dir.iterdir():
        path.unlink()
    runs_dir.rmdir()
    history = store.history()
    assert history.is_empty
    assert history.files == []


@pytest.mark.parametrize(
    ("argument", "message"),
    [("missing.csv", "does not exist"), ("empty", "no emissions CSV in directory")],
)
def test_arguments_are_checked_at_start(tmp_path, argument, message) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PathError, match=message):
        HistoryStore.from_arguments([str(tmp_path / argument)], disk_cache=False)


def test_the_dashboard_watches_the_directory_it_was_given(runs_dir, make_row, csv_writer) -> None:
    store = HistoryStore.from_arguments([str(runs_dir)], disk_cache=False)
    client = create_app(store, refresh_interval_s=0).server.test_client()
    assert run_ids(store) == {"a1", "a2"}
    first = shown_version(client.get("/_dash-layout").get_json())
    csv_writer(runs_dir / "b.csv", [make_row(run_id="b1")])
    assert shown_version(client.get("/_dash-layout").get_json()) == first + 1  # a new page sees it
    assert run_ids(store) == {"a1", "a2", "b1"}


def shown_version(layout: object) -> int | None:
    """The data version a page layout starts from (the ``ids.DATA_VERSION`` store's data)."""
    if isinstance(layout, list):
        found = (shown_version(item) for item in layout)
        return next((version for version in found if version is not None), None)
    if not isinstance(layout, dict):
        return None
    props = layout.get("props", {})
    if props.get("id") == ids.DATA_VERSION:
        return props["data"]
    return shown_version(props.get("children"))


def test_a_link_in_a_watched_folder_pointed_elsewhere_is_followed(tmp_path, make_row, csv_writer):
    """``ln -sfn runs/b.csv current.csv``: the board shows b's runs, not a's forever."""
    runs = tmp_path / "runs"
    runs.mkdir()
    csv_writer(runs / "a.csv", [make_row(run_id="a1")])
    csv_writer(runs / "b.csv", [make_row(run_id="b1"), make_row(run_id="b2")])
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "current.csv").symlink_to(runs / "a.csv")
    store = HistoryStore.from_arguments([str(watched)], disk_cache=False)
    assert run_ids(store) == {"a1"}
    (watched / "current.csv").unlink()
    (watched / "current.csv").symlink_to(runs / "b.csv")
    assert run_ids(store) == {"b1", "b2"}
