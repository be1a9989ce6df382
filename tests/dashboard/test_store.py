"""HistoryStore: cached until a file changes, incremental when it grows, cached on disk."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from carbonboard.data import store as store_module
from carbonboard.data.store import HistoryStore
from carbonboard.selection import Selection


def test_unchanged_files_return_the_same_snapshot(history_files) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    first = store.current()
    assert store.current() is first
    assert store.version == first.version == 1


def test_a_growing_file_is_read_incrementally(tmp_path, make_row, csv_writer, monkeypatch) -> None:
    path = csv_writer(tmp_path / "live.csv", [make_row(run_id="a"), make_row(run_id="b")])
    store = HistoryStore([path], disk_cache=False)
    assert len(store.current().runs) == 2
    offsets = []
    real_parse = store_module.parse

    def recording_parse(file, **kwargs):
        offsets.append(kwargs.get("start_offset", 0))
        return real_parse(file, **kwargs)

    monkeypatch.setattr(store_module, "parse", recording_parse)
    size = path.stat().st_size
    csv_writer(path, [make_row(run_id="c", status="running")], mode="a")
    history = store.current()
    assert offsets == [size]  # only the new bytes were parsed
    assert list(history.runs["run_id"]) == ["a", "b", "c"]
    assert history.version == 2
    assert list(history.runs["line_number"]) == [2, 3, 4]


def test_a_rewritten_file_is_parsed_again(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(5)])
    store = HistoryStore([path], disk_cache=False)
    assert len(store.current().runs) == 5
    csv_writer(path, [make_row(run_id="only")])
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))
    assert list(store.current().runs["run_id"]) == ["only"]


def test_a_half_written_line_is_picked_up_once_complete(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="a")])
    text = ",".join(str(v) for v in make_row(run_id="b").values())
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text[:50])
    store = HistoryStore([path], disk_cache=False)
    first = store.current()
    assert len(first.runs) == 1 and len(first.skipped) == 1
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text[50:] + "\n")
    history = store.current()
    assert list(history.runs["run_id"]) == ["a", "b"]
    assert history.skipped == []


def test_a_silent_running_run_shows_as_crashed(tmp_path, make_row, csv_writer) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    path = csv_writer(
        tmp_path / "h.csv",
        [
            make_row(run_id="old", status="running", when=now - dt.timedelta(hours=3)),
            make_row(run_id="live", status="running", when=now - dt.timedelta(seconds=5)),
        ],
    )
    runs = HistoryStore([path], disk_cache=False, stale_after_s=3600).current().runs
    status = dict(zip(runs["run_id"], runs["status"].astype(str), strict=True))
    assert status == {"old": "crashed", "live": "running"}


def test_large_files_are_cached_on_disk(tmp_path, make_row, csv_writer, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "DISK_CACHE_MIN_BYTES", 1)
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(50)])
    cache = tmp_path / "cache"
    first = HistoryStore([path], cache_dir=cache).current()
    assert len(list(cache.glob("*.pkl"))) == 1
    calls = []
    monkeypatch.setattr(store_module, "parse", lambda *a, **k: calls.append(a))
    again = HistoryStore([path], cache_dir=cache).current()  # a restart: no CSV parsing
    assert calls == []
    assert again.runs.equals(first.runs)


def test_a_vanished_file_is_reported_not_raised(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="a")])
    store = HistoryStore([path], disk_cache=False)
    assert len(store.current().runs) == 1
    path.unlink()
    history = store.current()
    assert history.is_empty
    assert history.files[0].error


@pytest.mark.parametrize("project", ["nlp-bert", None])
def test_selected_runs_is_memoised(history_files, project) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    selection = Selection(project=project)
    assert store.selected_runs(selection) is store.selected_runs(Selection(project=project))


def test_a_file_rewritten_larger_is_not_taken_for_an_append(tmp_path, make_row, csv_writer):
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="old")])
    store = HistoryStore([path], disk_cache=False)
    assert list(store.current().runs["run_id"]) == ["old"]
    csv_writer(path, [make_row(run_id="new-1", project="x"), make_row(run_id="new-2")])
    assert list(store.current().runs["run_id"]) == ["new-1", "new-2"]
