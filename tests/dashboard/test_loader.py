"""The loader: every CodeCarbon header, flush rows, and bad input skipped with line numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from carbonboard.data.loader import parse
from carbonboard.data.store import HistoryStore
from tracker.schema import FIELDNAMES

from .conftest import CODECARBON_FIXTURES

HEADER = ",".join(FIELDNAMES)


def load(path: Path):
    return HistoryStore([path], disk_cache=False).current()


@pytest.mark.parametrize(
    "name", ["codecarbon-2.2.7.csv", "codecarbon-2.8.4.csv", "codecarbon-3.3.2.csv"]
)
def test_every_codecarbon_header_loads_with_the_contract_dtypes(name: str) -> None:
    history = load(CODECARBON_FIXTURES / name)
    runs = history.runs
    assert history.skipped == []
    assert list(runs.columns)[: len(FIELDNAMES)] == list(FIELDNAMES)
    assert isinstance(runs["timestamp"].dtype, pd.DatetimeTZDtype)
    assert runs["emissions"].dtype == "float64"
    assert runs["cpu_count"].dtype == "float64"
    # flush() wrote two cumulative rows for one run: it counts once, with the latest values
    assert len(runs) == 2 and runs["run_id"].is_unique
    raw = pd.read_csv(CODECARBON_FIXTURES / name)
    latest = raw.drop_duplicates("run_id", keep="last")
    assert math.isclose(runs["emissions"].sum(), latest["emissions"].sum())
    # columns this version did not write are empty, with the contract's types
    assert runs["carbon_intensity_source"].astype(str).eq("").all()
    assert runs["carbon_intensity_g_co2e_kwh"].isna().all()
    if name == "codecarbon-2.2.7.csv":
        assert runs["experiment_id"].astype(str).eq("").all()
        assert runs["water_consumed"].isna().all()


def test_our_rows_keep_source_and_line(history_files) -> None:
    emissions, tasks = history_files
    history = HistoryStore([emissions, tasks], disk_cache=False).current()
    runs = history.runs
    assert len(runs) == 42  # 43 rows, one run flushed twice
    flushed = runs[runs["run_id"] == "large-001"].iloc[0]
    assert flushed["status"] == "finished"
    assert flushed["gpu_energy"] == pytest.approx(3.0)
    assert flushed["line_number"] == 44
    assert set(runs["source_file"].astype(str)) == {str(emissions)}
    assert list(history.tasks["task_name"].astype(str)) == ["load-data", "train", "evaluate"]
    assert [f.kind for f in history.files] == ["runs", "tasks"]


def good_row(make_row, **overrides) -> str:
    row = make_row(**overrides)
    return ",".join(str(row[name]) for name in FIELDNAMES)


def test_bad_rows_are_skipped_with_their_line_and_reason(tmp_path, make_row) -> None:
    lines = [
        HEADER,
        good_row(make_row, run_id="ok-1"),
        good_row(make_row, run_id="neg", duration_s=-5.0),
        good_row(make_row, run_id="huge", emissions=1e15),
        good_row(make_row, run_id="words").replace(",3600.0,", ",one hour,", 1),
        good_row(make_row, run_id="wide") + ",extra,fields",
        good_row(make_row, run_id="nodate", timestamp="yesterday"),
        good_row(make_row, run_id=""),
        "",
        good_row(make_row, run_id="ok-2"),
        good_row(make_row, run_id="cut")[:40],
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline: last line unfinished
    history = load(path)
    assert sorted(history.runs["run_id"]) == ["ok-1", "ok-2"]
    reasons = {s.line: s.reason for s in history.skipped}
    assert reasons[3] == "duration out of range (negative)"
    assert reasons[4] == "emissions absurdly large"
    assert reasons[5] == "duration is not a number: one hour"
    assert reasons[6].startswith("malformed row: expected")
    assert reasons[7] == "timestamp missing or not a date"
    assert reasons[8] == "run_id missing"
    assert reasons[11] == "incomplete last line (still being written?)"
    assert 9 not in reasons  # a blank line is harmless
    assert list(history.runs["line_number"]) == [2, 10]


@pytest.mark.parametrize(
    ("content", "runs"),
    [
        (b"", 0),  # 0-byte file
        ((HEADER + "\n").encode(), 0),  # header only
        (HEADER.encode(), 0),  # header still being written
        (b"\x00\x01\x02\xff\xfe garbage \x00" * 50, 0),  # binary
    ],
)
def test_empty_and_garbage_files_give_an_empty_history(tmp_path, content, runs) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    history = load(path)
    assert len(history.runs) == runs
    assert history.is_empty


def test_bom_crlf_and_quoted_commas(tmp_path, make_row) -> None:
    row = make_row(run_id="r1", gpu_model="1 x NVIDIA A100, SXM4")
    quoted = ",".join(
        f'"{row[name]}"' if name == "gpu_model" else str(row[name]) for name in FIELDNAMES
    )
    path = tmp_path / "windows.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\r\n" + quoted + "\r\n").encode())
    history = load(path)
    assert history.skipped == []
    run = history.runs.iloc[0]
    assert run["run_id"] == "r1"
    assert run["gpu_model"] == "1 x NVIDIA A100, SXM4"
    assert run["status"] == "finished"  # no stray "\r" in the last column


def test_missing_optional_columns_become_empty(tmp_path) -> None:
    path = tmp_path / "minimal.csv"
    path.write_text(
        "timestamp,project_name,run_id,duration,emissions\n"
        "2026-01-02T03:04:05+00:00,p,r,10,0.001\n",
        encoding="utf-8",
    )
    runs = load(path).runs
    assert len(runs) == 1
    assert math.isnan(runs["energy_consumed"].iloc[0])
    assert runs["country_name"].iloc[0] == ""


def test_parse_from_an_offset_reads_only_new_whole_lines(tmp_path, make_row) -> None:
    path = tmp_path / "live.csv"
    path.write_text(HEADER + "\n" + good_row(make_row, run_id="a") + "\n", encoding="utf-8")
    first = parse(path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(good_row(make_row, run_id="b") + "\n" + good_row(make_row, run_id="c")[:30])
    more = parse(
        path, start_offset=first.end_offset, header=first.header, first_line=first.next_line
    )
    assert list(more.frame["run_id"]) == ["b"]
    assert list(more.frame["line_number"]) == [3]
    assert more.skipped[0].line == 4
    assert more.end_offset < path.stat().st_size
