"""The RAM model: 3 W per 8 GB of installed memory, or of the tracked tree's resident memory."""

from __future__ import annotations

import os

import psutil
import pytest

from tracker.power.ram import BYTES_PER_GB, RAM_W_PER_GB, RamModel


def test_machine_mode_counts_installed_memory():
    source = RamModel(16 * BYTES_PER_GB, now=0.0)
    assert RAM_W_PER_GB == 3 / 8
    assert source.read_energy_j(10.0) == pytest.approx(6.0 * 10.0)  # 16 GB -> 6 W
    assert source.read_energy_j(10.0) == 0.0
    assert source.info().extra == {"total_gb": "16.000"}


def test_probe_reads_the_machines_memory():
    source = RamModel.probe(now=0.0)
    assert source.method == "ram-model" and source.component == "ram"
    assert source.total_gb == pytest.approx(psutil.virtual_memory().total / 2**30)
    assert 0 < source.utilization_percent() <= 100
    assert 0 < source.used_gb() <= source.total_gb


def test_process_mode_counts_the_trees_resident_memory():
    source = RamModel.probe(pid=os.getpid(), now=0.0)
    me = psutil.Process()
    tree = [me, *me.children(recursive=True)]  # e.g. a browser other tests left running
    rss_gb = sum(p.memory_info().rss for p in tree) / 2**30
    # Resident sizes hardly move between these lines: a tenth is ample room.
    assert source.used_gb() == pytest.approx(rss_gb, rel=0.1)
    assert source.read_energy_j(4.0) == pytest.approx(RAM_W_PER_GB * rss_gb * 4.0, rel=0.1)
    assert source.utilization_percent() == pytest.approx(100 * rss_gb / source.total_gb, rel=0.1)
