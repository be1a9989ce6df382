"""After a parse the store gives the freed heap back to the system (glibc keeps it otherwise,
and the server's RSS would count a million rows' parsing leftovers)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from carbonboard.data import store as store_module

STATM = Path("/proc/self/statm")


def resident_mb() -> float:
    return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(
    not STATM.exists() or store_module._malloc_trim() is None, reason="needs Linux with glibc"
)
def test_freed_heap_is_returned_to_the_system() -> None:
    # many heap-sized blocks (below malloc's mmap threshold), the last one kept: glibc cannot
    # shrink the heap past it, so freeing the others leaves their pages resident
    blocks = [np.ones(8 * 1024) for _ in range(4 * 1024)]  # 4096 x 64 KB = 256 MB
    kept = blocks[-1]
    del blocks
    before = resident_mb()
    store_module.return_freed_memory()
    assert before - resident_mb() > 150
    assert kept.sum() == 8 * 1024


def test_a_new_history_returns_freed_memory(tmp_path, make_row, csv_writer, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(store_module, "return_freed_memory", lambda: calls.append(1))
    path = csv_writer(tmp_path / "h.csv", [make_row(run_id=str(i)) for i in range(5)])
    store = store_module.HistoryStore([path], disk_cache=False)
    store.history()
    store.history()  # unchanged: nothing parsed, nothing to give back
    assert calls == [1]
