"""The TDP model: table lookup by real model strings, the default, the formula and the build."""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tracker.data.build_cpu_table import DEFAULT_REFERENCE_DIR, build, main
from tracker.power.tdp import (
    DEFAULT_W_PER_LOGICAL_CPU,
    IDLE_FRACTION,
    TDP_TABLE,
    TdpModelCpu,
    lookup_tdp,
    normalise_model_name,
)


@pytest.mark.parametrize(
    ("reported", "table_model", "tdp_w"),
    [
        ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Intel Xeon Platinum 8375C", 300),
        ("AMD EPYC 7R13 Processor", "AMD EPYC 7R13", 225),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4", 145),
        ("11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", "Intel Core i7-1165G7", 28),
        ("AMD Ryzen 7 PRO 4750U with Radeon Graphics", "AMD Ryzen 7 PRO 4750U", 15),
        ("AMD Ryzen 7 7840U w/ Radeon 780M Graphics", "AMD Ryzen 7 7840U", 28),
        ("AMD Ryzen Threadripper PRO 3995WX 64-Cores", "AMD Ryzen Threadripper PRO 3995WX", 280),
        ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "Intel Core i7-8700K", 95),
    ],
)
def test_real_model_strings_match_exactly(reported, table_model, tdp_w):
    match = lookup_tdp(reported)
    assert (match.model, match.tdp_w, match.exact) == (table_model, tdp_w, True)


@pytest.mark.parametrize(
    ("reported", "table_model"),
    [
        ("Intel(R) Core(TM) i7 CPU         920  @ 2.67GHz", "Intel Core i7-920"),
    ],
)
def test_fuzzy_match_shares_the_model_number(reported, table_model):
    match = lookup_tdp(reported)
    assert (match.model, match.exact) == (table_model, False)


@pytest.mark.parametrize(
    "reported",
    [
        "Intel(R) Xeon(R) Processor",  # a cloud VM hiding the part: no model number
        "Intel Core Processor (Broadwell, IBRS)",
        "AMD EPYC 7B13 64-Core Processor",  # a number the table lacks: no neighbour's TDP
        "Apple M1 Pro",  # another chip than the M1 (10 W), drawing several times as much
        "Apple M1 Max",
        "Apple M1 Ultra",
        "",
    ],
)
def test_unknown_models_have_no_match(reported):
    assert lookup_tdp(reported) is None


def test_normalisation():
    assert normalise_model_name("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz") == (
        "intel xeon e5-2686 v4"
    )
    assert normalise_model_name("  AMD   EPYC 7R13 Processor ") == "amd epyc 7r13"


def test_table_keys_are_the_normalised_names():
    with TDP_TABLE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 4000
    assert all(row["key"] == normalise_model_name(row["model"]) for row in rows)
    assert all(float(row["tdp_w"]) > 0 for row in rows)
    assert [row["key"] for row in rows] == sorted(row["key"] for row in rows)


def test_build_cleans_the_reference_table(tmp_path):
    (tmp_path / "cpu_power.csv").write_text(
        "Name,TDP\n"
        "AMD Phenom II X4 945 (95W),95\n"
        "AMD Phenom II X4 945 (125W),125\n"
        "Intel Celeron 1000A,27.29.5\n"
        "Intel Quark Microcontroller D1000,0.0\n"
        '"Intel Core i5+8400  (9M Cache, up to 4.00 GHz) includes Intel Optane Memory",65.0\n'
    )
    threads = tmp_path / "threads.csv"
    threads.write_text("model,threads,source\nAMD Phenom II X4 945,4,amd-spec\n")
    out = tmp_path / "cpu_tdp.csv"
    assert build(tmp_path, out, threads, no_corrections(tmp_path)) == (2, 2)
    assert out.read_text().splitlines() == [
        "key,model,tdp_w,threads",
        "amd phenom ii x4 945,AMD Phenom II X4 945 (125W),125,4",
        "intel core i5+8400 includes intel optane memory,"
        '"Intel Core i5+8400 (9M Cache, up to 4.00 GHz) includes Intel Optane Memory",65,',
    ]


@pytest.mark.parametrize(
    ("threads_csv", "message"),
    [
        # The cloud rule is checked: the family's largest size is a whole two-socket host.
        ("AMD EPYC 7R13,48,aws:m6a.metal:192:2", "48 threads x 2 != 192"),
        ("AMD EPYC 7R13,96,a-blog-post", "unknown source"),
        # No thread count without a sourced TDP for the same part.
        ("AMD EPYC 7R32,96,aws:c5a.24xlarge:96:1", "without a TDP: amd epyc 7r32"),
    ],
)
def test_build_refuses_unsourced_thread_counts(tmp_path, threads_csv, message):
    (tmp_path / "cpu_power.csv").write_text("Name,TDP\nAMD EPYC 7R13,225\n")
    threads = tmp_path / "threads.csv"
    threads.write_text(f"model,threads,source\n{threads_csv}\n")
    with pytest.raises(ValueError, match=message):
        build(tmp_path, tmp_path / "out.csv", threads, no_corrections(tmp_path))


def no_corrections(folder: Path) -> Path:
    path = folder / "corrections.csv"
    path.write_text("model,tdp_w,source,note\n")
    return path


def test_a_corrected_figure_replaces_the_compilations(tmp_path):
    """Intel's 12th generation and later are listed at their base power: the compilation's 190 W
    for the i7-12700K is its maximum turbo power."""
    (tmp_path / "cpu_power.csv").write_text("Name,TDP\nIntel Core i7-12700K,190\n")
    threads = tmp_path / "threads.csv"
    threads.write_text("model,threads,source\n")
    corrections = tmp_path / "corrections.csv"
    corrections.write_text("model,tdp_w,source,note\nIntel Core i7-12700K,125,intel-ark,base\n")
    out = tmp_path / "cpu_tdp.csv"
    build(tmp_path, out, threads, corrections)
    assert out.read_text().splitlines()[1] == "intel core i7-12700k,Intel Core i7-12700K,125,"
    corrections.write_text("model,tdp_w,source,note\nIntel Core i7-12700K,125,a-forum,x\n")
    with pytest.raises(ValueError, match="unknown source"):
        build(tmp_path, out, threads, corrections)
    corrections.write_text("model,tdp_w,source,note\nIntel Core i9-99999K,125,intel-ark,x\n")
    with pytest.raises(ValueError, match="the reference lacks: intel core i9-99999k"):
        build(tmp_path, out, threads, corrections)
    match = lookup_tdp("12th Gen Intel(R) Core(TM) i7-12700K")
    assert (match.tdp_w, match.exact) == (125, True)  # the bundled table, corrected


def test_table_carries_the_curated_thread_counts():
    assert (lookup_tdp("AMD EPYC 7R13 Processor").threads, lookup_tdp("AMD EPYC 7763").threads) == (
        96,
        128,
    )
    assert lookup_tdp("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz").threads == 64
    assert lookup_tdp("AMD Ryzen 9 5950X 16-Core Processor").threads is None


@pytest.mark.skipif(not DEFAULT_REFERENCE_DIR.is_dir(), reason="reference data not present")
def test_committed_table_is_rebuilt_identically(tmp_path):
    out = tmp_path / "cpu_tdp.csv"
    build(DEFAULT_REFERENCE_DIR, out)
    assert out.read_bytes() == TDP_TABLE.read_bytes()


def test_model_power_is_tdp_times_packages_and_follows_the_formula(powercap):
    powercap.cpuinfo("AMD EPYC 7R13 Processor", packages=2)
    source = TdpModelCpu.probe(powercap.root, now=0.0)
    assert source.method == "tdp-model"
    assert source.max_power_w == 450.0
    assert source.info().model == "AMD EPYC 7R13 Processor"
    assert source.info().extra == {
        "tdp_model": "AMD EPYC 7R13",
        "part_tdp_w": "225",
        "tdp_w": "450",
    }
    time.sleep(0.05)  # let the machine's CPU time advance
    energy_j = source.read_energy_j(2.0)
    load = source.utilization_percent() / 100
    assert 0 <= load <= 1
    assert energy_j == pytest.approx(450.0 * (IDLE_FRACTION + (1 - IDLE_FRACTION) * load) * 2.0)
    assert 450.0 * IDLE_FRACTION * 2.0 <= energy_j <= 450.0 * 2.0


def test_unknown_model_uses_the_per_cpu_default_and_logs_once(powercap, caplog):
    powercap.cpuinfo("Intel(R) Xeon(R) Processor")
    with caplog.at_level(logging.DEBUG, logger="tracker"):
        source = TdpModelCpu.probe(powercap.root)
    assert source.max_power_w == DEFAULT_W_PER_LOGICAL_CPU * 2  # the two CPUs of the cpuinfo
    assert source.method == "tdp-model-default"
    (record,) = caplog.records
    assert "Intel(R) Xeon(R) Processor" in record.getMessage()


def tree_cpu_s() -> float:
    """This process's CPU seconds, its live children's and those of the children it reaped: the
    tree process mode charges (another test's subprocess may run or end meanwhile)."""
    total = 0.0
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def test_process_mode_charges_the_trees_own_cpu_seconds(powercap):
    powercap.cpuinfo("AMD Ryzen 9 5950X 16-Core Processor")  # 105 W, 2 logical CPUs here
    before = tree_cpu_s()
    start = time.monotonic()
    source = TdpModelCpu.probe(powercap.root, pid=os.getpid(), now=start)
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        sum(range(1000))
    energy_j = source.read_energy_j(time.monotonic())
    used_s = tree_cpu_s() - before
    active_w_per_cpu = 105.0 * (1 - IDLE_FRACTION) / 2
    assert source.model.active_w_per_cpu == pytest.approx(active_w_per_cpu)
    # The tree's CPU seconds between the reads, at most those measured around them.
    assert 0 < energy_j <= used_s * active_w_per_cpu + 1e-9
    assert energy_j >= 0.5 * used_s * active_w_per_cpu
    assert 0 < source.utilization_percent() <= 100


def test_a_neighbours_load_does_not_change_the_jobs_figure(powercap):
    """The job used 1.5 CPU seconds in 2 s: the same figure whether a neighbour spins or not
    (machine power x share would charge it more when the machine is busier)."""
    powercap.cpuinfo("AMD EPYC 7R13 Processor", threads_per_package=96)

    def job_energy_j() -> float:
        readings = iter([10.0, 11.5])  # the job's cumulative CPU seconds at start, then 2 s on
        source = TdpModelCpu.probe(powercap.root, now=0.0, process_cpu_s=lambda: next(readings))
        time.sleep(0.3)  # the machine's load, real, during the interval
        return source.read_energy_j(2.0)

    alone_j = job_energy_j()
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        with_neighbour_j = job_energy_j()
    finally:
        neighbour.kill()
        neighbour.wait()
    assert alone_j == with_neighbour_j == pytest.approx(1.5 * 225.0 * (1 - IDLE_FRACTION) / 96)


def test_missing_cpuinfo_falls_back_to_the_platform_name(tmp_path):
    import platform

    assert TdpModelCpu.probe(tmp_path).info().model == platform.processor()


def test_build_script_cli(tmp_path, capsys):
    (tmp_path / "cpu_power.csv").write_text("Name,TDP\nAMD EPYC 7R13,225\n")
    threads = tmp_path / "threads.csv"
    threads.write_text("model,threads,source\nAMD EPYC 7R13,96,aws:m6a.metal:192:2\n")
    out = tmp_path / "table.csv"
    corrections = str(no_corrections(tmp_path))
    main(
        [str(tmp_path), "--out", str(out), "--threads", str(threads), "--corrections", corrections]
    )
    assert "wrote 1 CPU models" in capsys.readouterr().out
    assert out.read_text() == "key,model,tdp_w,threads\namd epyc 7r13,AMD EPYC 7R13,225,96\n"
    repo_root = Path(__file__).resolve().parents[2]
    assert repo_root.parent / "shared" / "data" / "reference" == DEFAULT_REFERENCE_DIR


def test_build_script_without_the_reference_says_so_in_one_line(tmp_path):
    out = tmp_path / "table.csv"
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "reference"), "--out", str(out)])
    assert str(stopped.value) == (
        f"no cpu_power.csv in {tmp_path / 'reference'}: the bundled table stays as committed "
        "(pass REFERENCE_DIR to rebuild from elsewhere)"
    )
    assert not out.exists()
