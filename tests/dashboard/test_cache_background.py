"""The server writes the on-disk cache in the background (a forked process, else a thread): a first
start does not wait for the write, yet what is written is what was parsed, and a later load in the
process waits for it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from carbonboard.data import store as store_module
from carbonboard.data.store import HistoryStore

from .conftest import REPO


def test_a_server_writes_the_cache_in_the_background_and_a_restart_reads_it(
    tmp_path, make_row, csv_writer, monkeypatch
) -> None:
    monkeypatch.setattr(store_module, "DISK_CACHE_MIN_BYTES", 1)
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(50)])
    folder = tmp_path / "cache"
    release = tmp_path / "release"  # a file: the writer may be a forked process
    real_save = store_module.ParsedCache.save

    def held_save(self, *args) -> None:  # the write waits until the test lets it go
        deadline = time.monotonic() + 30
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        real_save(self, *args)

    monkeypatch.setattr(store_module.ParsedCache, "save", held_save)
    server = HistoryStore.from_arguments([path], cache_dir=folder, cache_in_background=True)
    first = server.history()  # returned while the write is still held
    assert list(folder.glob("*.npz")) == []
    release.touch()
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


FORKED_WRITE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from carbonboard.data import store as store_module
    from carbonboard.data.store import HistoryStore
    store_module.DISK_CACHE_MIN_BYTES = 1
    path, folder = Path(sys.argv[1]), Path(sys.argv[2])
    server = HistoryStore([path], cache_dir=folder, cache_in_background=True)
    first = server.history()
    writer = server._cache._writers[server._cache.entry(path)]
    server._cache.wait(path)
    again = HistoryStore([path], cache_dir=folder).history()
    assert again.runs.equals(first.runs)
    print(type(writer).__name__, writer.exitcode, len(list(folder.glob("*.npz"))))
    """
)


def test_a_single_threaded_server_writes_the_cache_from_a_forked_copy(
    tmp_path, make_row, csv_writer
) -> None:
    """Where nothing else runs, the write leaves the board's interpreter to a forked copy."""
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(30)])
    done = subprocess.run(
        [sys.executable, "-c", FORKED_WRITE_SCRIPT, str(path), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ForkProcess", "0", "1"]


CTRL_C_DURING_WRITE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from carbonboard.data.cache import ParsedCache
    from carbonboard.data.store import read_bounded

    path, folder = Path(sys.argv[1]), Path(sys.argv[2])
    read = read_bounded(path)
    cache = ParsedCache(folder)
    cache.save_later(path, os.stat(path), read.parsed, read.unlisted)
    (writer,) = cache._writers.values()
    os.kill(writer.pid, signal.SIGINT)  # Ctrl+C reaches every process of the command
    writer.join()
    print(writer.exitcode, cache.load(path, os.stat(path)) is not None)
    """
)


def test_ctrl_c_lets_the_background_cache_write_finish_quietly(
    tmp_path, make_row, csv_writer
) -> None:
    """The forked writer leaves Ctrl+C to the board: no traceback, no temporary file left."""
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(2000)])
    folder = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_DURING_WRITE, str(path), str(folder)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.stdout.split() == ["0", "True"], done.stderr
    assert "Traceback" not in done.stderr
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
