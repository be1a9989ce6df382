"""The TDP model: table lookup by real model strings, the default, the formula and the build."""

from __future__ import annotations

import csv
import logging
import os
import time
from pathlib import Path

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
        ("Apple M1 Pro", "Apple M1"),
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
    out = tmp_path / "cpu_tdp.csv"
    assert build(tmp_path, out) == (2, 2)
    assert out.read_text().splitlines() == [
        "key,model,tdp_w",
        "amd phenom ii x4 945,AMD Phenom II X4 945 (125W),125",
        "intel core i5+8400 includes intel optane memory,"
        '"Intel Core i5+8400 (9M Cache, up to 4.00 GHz) includes Intel Optane Memory",65',
    ]


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
    assert source.info().extra == {"tdp_model": "AMD EPYC 7R13", "tdp_w": "450"}
    time.sleep(0.05)  # let the machine's CPU time advance
    energy_j = source.read_energy_j(2.0)
    load = source.utilization_percent() / 100
    assert 0 <= load <= 1
    assert energy_j == pytest.approx(450.0 * (IDLE_FRACTION + (1 - IDLE_FRACTION) * load) * 2.0)
    assert 450.0 * IDLE_FRACTION * 2.0 <= energy_j <= 450.0 * 2.0


def test_unknown_model_uses_the_per_cpu_default_and_logs_once(powercap, caplog):
    powercap.cpuinfo("Intel(R) Xeon(R) Processor")
    with caplog.at_level(logging.INFO, logger="tracker"):
        source = TdpModelCpu.probe(powercap.root)
    assert source.max_power_w == DEFAULT_W_PER_LOGICAL_CPU * os.cpu_count()
    (record,) = caplog.records
    assert "Intel(R) Xeon(R) Processor" in record.getMessage()


def test_process_mode_scales_by_the_trees_share(powercap):
    powercap.cpuinfo("AMD Ryzen 9 5950X 16-Core Processor")
    start = time.monotonic()
    source = TdpModelCpu.probe(powercap.root, pid=os.getpid(), now=start)
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        sum(range(1000))
    energy_j = source.read_energy_j(time.monotonic())
    share = source.utilization_percent() / 100
    assert 0 < share <= 1
    # Never more than the machine at full power times the share, never less than idle times it.
    elapsed_s = time.monotonic() - start
    assert energy_j <= 105.0 * elapsed_s * share
    assert energy_j > 0


def test_missing_cpuinfo_falls_back_to_the_platform_name(tmp_path):
    import platform

    assert TdpModelCpu.probe(tmp_path).info().model == platform.processor()


def test_build_script_cli(tmp_path, capsys):
    (tmp_path / "cpu_power.csv").write_text("Name,TDP\nAMD EPYC 7R13,225\n")
    out = tmp_path / "table.csv"
    main([str(tmp_path), "--out", str(out)])
    assert "wrote 1 CPU models" in capsys.readouterr().out
    assert out.read_text() == "key,model,tdp_w\namd epyc 7r13,AMD EPYC 7R13,225\n"
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
