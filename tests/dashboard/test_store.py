"""HistoryStore: cached until a file changes, incremental when it grows, cached on disk."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from carbonboard.data import store as store_module
from carbonboard.data.aggregate import filter_runs
from carbonboard.data.selections import SelectionRows
from carbonboard.data.store import HistoryStore
from carbonboard.selection import Selection


def test_unchanged_files_return_the_same_snapshot(history_files) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    first = store.history()
    assert store.history() is first
    assert store.version() == first.version == 1


def test_a_growing_file_is_read_incrementally(tmp_path, make_row, csv_writer, monkeypatch) -> None:
    path = csv_writer(tmp_path / "live.csv", [make_row(run_id="a"), make_row(run_id="b")])
    store = HistoryStore([path], disk_cache=False)
    assert len(store.history().runs) == 2
    offsets = []
    real_parse = store_module.parse

    def recording_parse(file, **kwargs):
        offsets.append(kwargs.get("start_offset", 0))
        return real_parse(file, **kwargs)

    monkeypatch.setattr(store_module, "parse", recording_parse)
    size = path.stat().st_size
    csv_writer(path, [make_row(run_id="c", status="running")], mode="a")
    history = store.history()
    assert offsets == [size]  # only the new bytes were parsed
    assert list(history.runs["run_id"]) == ["a", "b", "c"]
    assert history.version == 2
    assert list(history.runs["line_number"]) == [2, 3, 4]


def test_a_rewritten_file_is_parsed_again(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(5)])
    store = HistoryStore([path], disk_cache=False)
    assert len(store.history().runs) == 5
    csv_writer(path, [make_row(run_id="only")])
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))
    assert list(store.history().runs["run_id"]) == ["only"]


def test_a_half_written_line_is_picked_up_once_complete(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="a")])
    text = ",".join(str(v) for v in make_row(run_id="b").values())
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text[:50])
    store = HistoryStore([path], disk_cache=False)
    first = store.history()
    assert len(first.runs) == 1 and len(first.skipped) == 1
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text[50:] + "\n")
    history = store.history()
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
    runs = HistoryStore([path], disk_cache=False, stale_after_s=3600).history().runs
    status = dict(zip(runs["run_id"], runs["status"].astype(str), strict=True))
    assert status == {"old": "crashed", "live": "running"}


def test_large_files_are_cached_on_disk(tmp_path, make_row, csv_writer, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "DISK_CACHE_MIN_BYTES", 1)
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(50)])
    cache = tmp_path / "cache"
    first = HistoryStore([path], cache_dir=cache).history()
    assert len(list(cache.glob("*.npz"))) == 1
    calls = []
    monkeypatch.setattr(store_module, "parse", lambda *a, **k: calls.append(a))
    again = HistoryStore([path], cache_dir=cache).history()  # a restart: no CSV parsing
    assert calls == []
    assert again.runs.equals(first.runs)


def test_a_first_start_says_what_it_reads_anew_and_a_restart_reads_nothing(
    tmp_path, make_row, csv_writer, monkeypatch
) -> None:
    """``load_ahead`` gives the bytes of the large files without a cache entry: the CLI says it
    is reading them; a restart, with the cache, reads nothing anew."""
    monkeypatch.setattr(store_module, "DISK_CACHE_MIN_BYTES", 1)
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(50)])
    cache = tmp_path / "cache"
    store = HistoryStore([path], cache_dir=cache, parse_workers=1)
    assert store.load_ahead() == path.stat().st_size
    store.history()
    assert HistoryStore([path], cache_dir=cache, parse_workers=1).load_ahead() == 0


def test_a_vanished_file_is_reported_not_raised(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="a")])
    store = HistoryStore([path], disk_cache=False)
    assert len(store.history().runs) == 1
    path.unlink()
    history = store.history()
    assert history.is_empty
    assert history.files[0].error


@pytest.mark.parametrize("project", ["nlp-bert", None])
def test_selected_runs_is_memoised(history_files, project) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    selection = Selection(project=project)
    runs = store.selected_runs(selection)
    assert store.selected_runs(Selection(project=project)) is runs
    # the runs picked for comparison do not change which runs are selected
    assert store.selected_runs(Selection(project=project, run_ids=("bert-001",))) is runs
    assert runs.equals(filter_runs(store.history().runs, selection))


def test_new_data_invalidates_the_selected_runs(tmp_path, make_row, csv_writer) -> None:
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="a"), make_row(run_id="x", project="x")])
    store = HistoryStore([path], disk_cache=False)
    selection = Selection(project="nlp-bert")
    first = store.selected_runs(selection)
    assert list(first["run_id"]) == ["a"]
    csv_writer(path, [make_row(run_id="b")], mode="a")
    again = store.selected_runs(selection)
    assert again is not first
    assert list(again["run_id"]) == ["a", "b"]
    assert store.selected_runs(selection) is again


def test_callers_asking_at_once_share_one_filtering(history_files, monkeypatch) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    store.history()
    calls = []
    real_rows = SelectionRows.rows

    def slow_rows(self, selection, columns=None):
        calls.append(selection)
        time.sleep(0.2)  # long enough for every caller to arrive while it runs
        return real_rows(self, selection, columns)

    monkeypatch.setattr(SelectionRows, "rows", slow_rows)
    callers = 6
    barrier = threading.Barrier(callers)

    def ask(_: int):
        barrier.wait()
        return store.selected_runs(Selection(project="vision-resnet"))

    with ThreadPoolExecutor(callers) as pool:
        results = list(pool.map(ask, range(callers)))
    assert calls == [Selection(project="vision-resnet")]
    assert all(runs is results[0] for runs in results)
    assert len(results[0]) == 20


def test_a_failing_selection_is_not_cached(history_files, monkeypatch) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    real_rows = SelectionRows.rows

    def failing_rows(self, selection):
        raise MemoryError("no room for this copy")

    monkeypatch.setattr(SelectionRows, "rows", failing_rows)
    for _ in range(2):
        with pytest.raises(MemoryError):
            store.selected_runs(Selection(project="nlp-bert"))
    monkeypatch.setattr(SelectionRows, "rows", real_rows)
    assert len(store.selected_runs(Selection(project="nlp-bert"))) == 22


def test_cached_copies_hold_at_most_the_table_s_rows(history_files) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    table = store.history().runs
    everything = store.selected_runs(Selection())
    assert everything is table  # not a copy: it costs nothing
    resnet = store.selected_runs(Selection(project="vision-resnet"))
    bert = store.selected_runs(Selection(project="nlp-bert"))
    assert len(bert) + len(resnet) == len(table)  # one table's worth of copies: both kept
    assert store.selected_runs(Selection(project="vision-resnet")) is resnet
    assert store.selected_runs(Selection(project="nlp-bert")) is bert
    late = store.selected_runs(Selection(date_from="2026-03-20"))
    assert 0 < len(late) < len(resnet)
    # over the bound: the least recently used copy (resnet) is dropped, the others stay
    assert store.selected_runs(Selection()) is everything
    assert store.selected_runs(Selection(project="nlp-bert")) is bert
    assert store.selected_runs(Selection(date_from="2026-03-20")) is late
    assert store.selected_runs(Selection(project="vision-resnet")) is not resnet


def test_a_file_rewritten_larger_is_not_taken_for_an_append(tmp_path, make_row, csv_writer):
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="old")])
    store = HistoryStore([path], disk_cache=False)
    assert list(store.history().runs["run_id"]) == ["old"]
    csv_writer(path, [make_row(run_id="new-1", project="x"), make_row(run_id="new-2")])
    assert list(store.history().runs["run_id"]) == ["new-1", "new-2"]


def test_a_file_read_in_many_appends_stays_a_few_parts(tmp_path, make_row, csv_writer) -> None:
    """A sweep of short runs while the board is open: each refresh joins a file's parts under
    the store's lock, so they must not pile up one per refresh (a refresh took seconds, and
    memory grew, after a few hundred)."""
    path = csv_writer(tmp_path / "live.csv", [make_row(run_id="r0")])
    store = HistoryStore([path], disk_cache=False)
    for index in range(1, 200):
        csv_writer(path, [make_row(run_id=f"r{index}")], mode="a")
        store.history()
    assert len(store._states[path].parsed) <= 8
    fresh = HistoryStore([path], disk_cache=False).history()
    assert list(store.history().runs["run_id"]) == list(fresh.runs["run_id"])
    assert list(store.history().runs["line_number"]) == list(range(2, 202))


def test_a_header_migration_during_an_incremental_read_loses_nothing(
    tmp_path, make_row, csv_writer, monkeypatch
) -> None:
    """A tracker swaps in the migrated file (os.replace: a new inode) between the board's check
    that the file only grew and its read of the new bytes: the read would go on in the new file
    at the old file's offset, under the old header."""
    from tracker.output.csv_file import append_row
    from tracker.schema import FIELDNAMES

    old_header = [name for name in FIELDNAMES if name not in ("metrics", "hostname")]
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=f"r{i}") for i in range(3)], old_header)
    store = HistoryStore([path], disk_cache=False)
    assert len(store.history().runs) == 3
    csv_writer(path, [make_row(run_id="r3")], old_header, mode="a")
    real_read = store_module.read_bounded

    def migrated_first(*args, **kwargs):  # the migration lands just before the read
        monkeypatch.setattr(store_module, "read_bounded", real_read)
        append_row(path, make_row(run_id="r4"), FIELDNAMES)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(store_module, "read_bounded", migrated_first)
    history = store.history()
    assert list(history.runs["run_id"]) == [f"r{i}" for i in range(5)]
    assert history.skipped == []
    csv_writer(path, [make_row(run_id="r5")], FIELDNAMES, mode="a")
    assert list(store.history().runs["run_id"]) == [f"r{i}" for i in range(6)]


def test_answers_are_computed_once_per_data_version(tmp_path, make_row, csv_writer) -> None:
    """#16: a project switch back and forth is a lookup, until the data changes."""
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id="a"), make_row(run_id="x", project="x")])
    store = HistoryStore([path], disk_cache=False)
    selection = Selection(project="nlp-bert")
    experiments = store.breakdown(selection, "experiment")
    series = store.emissions_series(selection)
    options = store.filter_options(selection)
    assert store.breakdown(Selection(project="nlp-bert", run_ids=("x",)), "experiment") is (
        experiments
    )
    assert store.emissions_series(selection) is series
    assert store.filter_options(selection) is options
    assert store.breakdown(selection, "project") is not experiments  # another question
    csv_writer(path, [make_row(run_id="b")], mode="a")
    again = store.breakdown(selection, "experiment")
    assert again is not experiments and list(again["runs"]) == [2]
    assert store.emissions_series(selection) is not series


def test_a_kept_answer_cannot_be_changed_by_its_caller(history_files) -> None:
    store = HistoryStore(list(history_files), disk_cache=False)
    selection = Selection(project="no-such-project")
    _, notices = store.validate(selection)
    notices.append("added by a caller")
    assert store.validate(selection)[1] == [
        "Unknown project “no-such-project”: showing all projects."
    ]
