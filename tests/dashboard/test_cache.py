"""The on-disk cache: plain arrays that cannot run code, one entry per file, a private folder
(#12, #17). Any bad entry means the CSV is parsed again, never an error."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from carbonboard.data import cache as cache_module
from carbonboard.data import store as store_module
from carbonboard.data.cache import ParsedCache, folder_problem
from carbonboard.data.store import HistoryStore, read_bounded

from .conftest import CODECARBON_FIXTURES


@pytest.fixture(autouse=True)
def cache_every_file(monkeypatch) -> None:
    monkeypatch.setattr(store_module, "DISK_CACHE_MIN_BYTES", 1)


@pytest.fixture
def history_file(tmp_path, make_row, csv_writer) -> Path:
    rows = [make_row(run_id=f"r{i}", project=f"p{i % 3}") for i in range(30)]
    rows.append(make_row(run_id="neg", duration_s=-1.0))  # a skipped row, kept in the entry
    return csv_writer(tmp_path / "h.csv", rows)


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The files parsed from their CSV (not from the cache), by name."""
    calls: list[str] = []
    real_parse = store_module.parse

    def parse(path, **kwargs):
        calls.append(Path(path).name)
        return real_parse(path, **kwargs)

    monkeypatch.setattr(store_module, "parse", parse)
    return calls


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    "name", ["h.csv", "codecarbon-2.2.7.csv", "codecarbon-2.8.4.csv", "codecarbon-3.3.2.csv"]
)
def test_an_entry_gives_back_exactly_what_was_parsed(tmp_path, history_file, name) -> None:
    path = history_file if name == "h.csv" else CODECARBON_FIXTURES / name
    read = read_bounded(path)
    cache = ParsedCache(tmp_path / "cache")
    info = path.stat()
    cache.save(path, info, read.parsed, 7)
    loaded, unlisted = cache.load(path, info)
    assert unlisted == 7
    assert loaded.frame.equals(read.parsed.frame)
    assert list(loaded.frame.dtypes.astype(str)) == list(read.parsed.frame.dtypes.astype(str))
    for column in loaded.frame.select_dtypes("category"):
        categories = loaded.frame[column].cat.categories
        assert categories.equals(read.parsed.frame[column].cat.categories)
        assert categories.dtype == read.parsed.frame[column].cat.categories.dtype
    assert loaded.frame.index.equals(read.parsed.frame.index)
    assert loaded.skipped == read.parsed.skipped
    assert (loaded.kind, loaded.header, loaded.end_offset, loaded.next_line) == (
        read.parsed.kind,
        read.parsed.header,
        read.parsed.end_offset,
        read.parsed.next_line,
    )


def test_a_restart_reads_the_entry_not_the_csv(tmp_path, history_file, parses) -> None:
    folder = tmp_path / "cache"
    first = HistoryStore([history_file], cache_dir=folder).history()
    assert parses == ["h.csv"]
    again = HistoryStore([history_file], cache_dir=folder).history()
    assert parses == ["h.csv"]  # no second parse
    assert again.runs.equals(first.runs)
    assert again.skipped == first.skipped and again.skipped_rows == 1


def test_restarts_keep_one_entry_per_file_and_prune_old_pickles(
    tmp_path, history_file, make_row, csv_writer, parses
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    (folder / "0123456789abcdef.pkl").write_bytes(b"left by an older version")
    (folder / "0123456789abcdef.pkl.tmp").write_bytes(b"")
    HistoryStore([history_file], cache_dir=folder).history()
    [entry] = entries(folder)
    assert entry.endswith(".npz")
    csv_writer(history_file, [make_row(run_id="late")], mode="a")  # new size and mtime
    history = HistoryStore([history_file], cache_dir=folder).history()
    assert "late" in set(history.runs["run_id"])
    assert entries(folder) == [entry]  # replaced, not added
    assert parses == ["h.csv", "h.csv"]  # the stale entry was not used


def test_a_tampered_entry_is_ignored_and_the_csv_parsed(
    tmp_path, history_file, parses, caplog
) -> None:
    folder = tmp_path / "cache"
    expected = HistoryStore([history_file], cache_dir=folder).history().runs
    [entry] = folder.iterdir()
    entry.write_bytes(entry.read_bytes()[:200] + b"\x00garbage" * 100)
    with caplog.at_level(logging.WARNING, logger=cache_module.__name__):
        history = HistoryStore([history_file], cache_dir=folder).history()
    assert history.runs.equals(expected)
    assert parses == ["h.csv", "h.csv"]
    assert any("unreadable cache entry" in r.getMessage() for r in caplog.records)


class _Planted:
    """What an attacker would pickle: loading it with pickle would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_an_entry_holding_a_pickle_never_runs_it(tmp_path, history_file, parses) -> None:
    folder = tmp_path / "cache"
    expected = HistoryStore([history_file], cache_dir=folder).history().runs
    [entry] = folder.iterdir()
    marker = tmp_path / "code-ran"
    with np.load(entry, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["description"] = np.array([_Planted(marker)], dtype=object)  # pickled by savez
    with entry.open("wb") as handle:
        np.savez(handle, **arrays)
    history = HistoryStore([history_file], cache_dir=folder).history()
    assert not marker.exists()
    assert history.runs.equals(expected)
    assert parses == ["h.csv", "h.csv"]


def test_the_folder_is_created_private(tmp_path, history_file) -> None:
    folder = tmp_path / "new" / "cache"
    HistoryStore([history_file], cache_dir=folder).history()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert len(entries(folder)) == 1


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="owner and mode are POSIX")
def test_a_folder_others_can_enter_is_refused_once(tmp_path, history_file, parses, caplog) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger=cache_module.__name__):
        store = HistoryStore([history_file], cache_dir=folder)
        assert len(store.history().runs) == 30  # and the one skipped row
        os.utime(history_file, ns=(0, history_file.stat().st_mtime_ns + 10**9))
        store.history()
    assert entries(folder) == []  # nothing written
    refusals = [r.getMessage() for r in caplog.records if "not using the cache" in r.getMessage()]
    assert len(refusals) == 1
    assert "mode 0755" in refusals[0] and "chmod 700" in refusals[0]
    folder.chmod(0o700)
    assert folder_problem(folder) is None


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a folder to another user takes root",
)
def test_a_folder_owned_by_someone_else_is_refused(tmp_path, history_file) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    os.chown(folder, 12345, -1)
    assert "owned by user id 12345" in folder_problem(folder)
    HistoryStore([history_file], cache_dir=folder).history()
    assert entries(folder) == []


def test_a_symlink_to_a_folder_is_refused(tmp_path, history_file) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    link = tmp_path / "cache"
    link.symlink_to(real, target_is_directory=True)
    assert "not a directory" in folder_problem(link)
    HistoryStore([history_file], cache_dir=link).history()
    assert entries(real) == []
