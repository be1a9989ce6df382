"""The server writes the on-disk cache in a background thread: a first start does not wait for
the write, yet what is written is what was parsed, and a later load in the process waits for it."""

from __future__ import annotations

import threading

from carbonboard.data import store as store_module
from carbonboard.data.store import HistoryStore


def test_a_server_writes_the_cache_in_the_background_and_a_restart_reads_it(
    tmp_path, make_row, csv_writer, monkeypatch
) -> None:
    monkeypatch.setattr(store_module, "DISK_CACHE_MIN_BYTES", 1)
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(50)])
    folder = tmp_path / "cache"
    release = threading.Event()
    real_save = store_module.ParsedCache.save

    def held_save(self, *args) -> None:  # the write waits until the test lets it go
        release.wait(timeout=30)
        real_save(self, *args)

    monkeypatch.setattr(store_module.ParsedCache, "save", held_save)
    server = HistoryStore.from_arguments([path], cache_dir=folder, cache_in_background=True)
    first = server.history()  # returned while the write is still held
    assert list(folder.glob("*.npz")) == []
    release.set()
    server._cache.wait(path)
    assert len(list(folder.glob("*.npz"))) == 1

    parses = []
    monkeypatch.setattr(store_module, "parse", lambda *a, **k: parses.append(a))
    again = HistoryStore([path], cache_dir=folder).history()  # a restart: no CSV parsing
    assert parses == []
    assert again.runs.equals(first.runs)


def test_a_load_in_the_same_process_waits_for_the_write(
    tmp_path, make_row, csv_writer, monkeypatch
) -> None:
    monkeypatch.setattr(store_module, "DISK_CACHE_MIN_BYTES", 1)
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(20)])
    store = HistoryStore([path], cache_dir=tmp_path / "cache", cache_in_background=True)
    expected = store.history().runs
    loaded = store._cache.load(path, path.stat())  # joins the writer, then reads its entry
    assert loaded is not None
    parsed, unlisted = loaded
    assert unlisted == 0
    assert len(parsed.frame) == len(expected) == 20
