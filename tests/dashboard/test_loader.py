"""The loader: every CodeCarbon header, flush rows, and bad input skipped with line numbers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carbonboard.data import loader
from carbonboard.data.loader import (
    as_column_dtype,
    column_dtype,
    has_column_dtype,
    parse,
    set_text_where,
)
from carbonboard.data.store import HistoryStore, read_bounded
from tracker import schema
from tracker.schema import FIELDNAMES, TASK_FIELDNAMES

from .conftest import CODECARBON_FIXTURES

HEADER = ",".join(FIELDNAMES)


def load(path: Path):
    return HistoryStore([path], disk_cache=False).history()


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
    # what CodeCarbon does not record is filled in as ours: a status, the intensity its own
    # emissions and energy imply (labelled "derived"), the RAM rounded as our tracker writes it
    assert runs["status"].eq("finished").all()
    assert runs["carbon_intensity_source"].eq("derived").all()
    assert runs["carbon_intensity_year"].eq("").all()
    derived = latest["emissions"] * 1000 / latest["energy_consumed"]
    assert list(runs["carbon_intensity_g_co2e_kwh"]) == pytest.approx(list(derived))
    assert list(runs["ram_total_size"]) == [23.541, 23.541]  # written as 23.540576934814453
    if name == "codecarbon-2.2.7.csv":
        assert runs["experiment_id"].astype(str).eq("").all()
        assert runs["water_consumed"].isna().all()


def test_our_rows_keep_source_and_line(history_files) -> None:
    emissions, tasks = history_files
    history = HistoryStore([emissions, tasks], disk_cache=False).history()
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


def test_a_count_that_is_not_a_whole_number_or_beyond_64_bits_is_skipped(tmp_path, make_row):
    """As the team database's import skips it: the board and the database show the same runs."""
    lines = [
        HEADER,
        good_row(make_row, run_id="ok", cpu_count=8.0, rank=2**62),
        good_row(make_row, run_id="half", cpu_count=2.5),
        good_row(make_row, run_id="huge", rank=1e20),
        good_row(make_row, run_id="edge", world_size=2.0**63),
    ]
    path = tmp_path / "counts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = load(path)
    assert list(history.runs["run_id"]) == ["ok"]
    assert [s.reason for s in history.skipped] == [
        "cpu_count is not a whole number",
        "rank absurdly large",
        "world_size absurdly large",
    ]


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


def test_column_dtype_follows_the_schema_kinds() -> None:
    assert column_dtype("duration") == np.dtype("float64")
    assert column_dtype("cpu_count") == np.dtype("float64")  # an int column: NaN when missing
    assert column_dtype("timestamp") == pd.DatetimeTZDtype("ns", "UTC")
    assert column_dtype("run_id") == np.dtype("object")
    assert column_dtype("line_number") == np.dtype("int64")
    for name in ("project_name", "carbon_intensity_year", "task_name", "source_file", "foreign"):
        assert column_dtype(name) == "category"
    kinds = {schema.column_kind(name) for name in TASK_FIELDNAMES}
    assert kinds == {"datetime", "str", "float", "int"}  # every kind the contract uses is mapped


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["3.10", None, "3.11"], dtype=object),
        pd.Series(["3.10", None, "3.11"], dtype="string"),
        pd.Series(pd.Categorical(["3.10", None, "3.11"])),
        pd.Series(pd.Categorical([3.1, None, 3.11])),  # what read_csv infers on pandas 3
    ],
)
def test_text_of_any_dtype_becomes_a_category_of_python_str(values: pd.Series) -> None:
    converted = as_column_dtype(values, "python_version")
    assert has_column_dtype(converted, "python_version")
    assert converted.cat.categories.dtype == np.dtype("object")
    assert all(type(category) is str for category in converted.cat.categories)
    assert converted.iloc[1] == ""
    assert as_column_dtype(converted, "python_version") is converted  # already converted


def test_a_category_added_later_keeps_object_categories() -> None:
    status = as_column_dtype(pd.Series(["running", "finished"]), "status")
    crashed = set_text_where(status, status.eq("running"), "crashed")
    assert list(crashed) == ["crashed", "finished"]
    assert has_column_dtype(crashed, "status")


def test_text_that_looks_like_numbers_is_kept_as_written(tmp_path, make_row) -> None:
    """read_csv's categories would turn "3.10" into 3.1 and "007" into 7 on pandas 3."""
    path = tmp_path / "h.csv"
    rows = [
        good_row(make_row, run_id=f"r{i}", python_version="3.10", carbon_intensity_year="2016")
        for i in range(2)
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    runs = load(path).runs
    assert list(runs["python_version"]) == ["3.10", "3.10"]
    assert list(runs["carbon_intensity_year"]) == ["2016", "2016"]
    for name in runs.columns:
        assert has_column_dtype(runs[name], name), name


def test_our_history_and_a_codecarbon_file_load_together(history_files) -> None:
    """The crash of #11: object categories in one file, ``str`` categories in the other."""
    emissions, _ = history_files
    codecarbon = CODECARBON_FIXTURES / "codecarbon-3.3.2.csv"
    runs = HistoryStore([emissions, codecarbon], disk_cache=False).history().runs
    assert len(runs) == 42 + 2
    assert set(runs["source_file"]) == {str(emissions), str(codecarbon)}
    for name in runs.columns:
        assert has_column_dtype(runs[name], name), name


def rows_text(make_row, *run_ids: str) -> list[str]:
    return [good_row(make_row, run_id=run_id) for run_id in run_ids]


def test_a_row_cut_inside_a_quoted_cell_costs_that_row_only(tmp_path, make_row) -> None:
    """A writer killed inside a quoted cell, then a normal append on the next line: the C
    parser fails ("EOF inside string"); the row is skipped, every other row loads."""
    cut = good_row(make_row, run_id="cut").replace(",1 x NVIDIA", ',"1 x NVIDIA')
    path = tmp_path / "cut.csv"
    lines = [HEADER, *rows_text(make_row, "a", "b"), cut, *rows_text(make_row, "c", "d")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = load(path)
    assert list(history.runs["run_id"]) == ["a", "b", "c", "d"]
    assert list(history.runs["line_number"]) == [2, 3, 5, 6]
    assert [(s.line, s.reason) for s in history.skipped] == [
        (4, "malformed row: unterminated quoted field")
    ]


def test_a_cut_quote_closed_by_a_later_row_does_not_swallow_it(tmp_path, make_row) -> None:
    """The quote opened by the cut row closes in a later quoted cell: the C parser would merge
    the rows in between into one bad row and misnumber every row after it."""
    cut = good_row(make_row, run_id="cut").replace(",1 x NVIDIA", ',"1 x NVIDIA')
    quoted = good_row(make_row, run_id="q").replace(
        ",1 x NVIDIA A100-SXM4-80GB,", ',"1 x NVIDIA, SXM4",'
    )
    path = tmp_path / "cut.csv"
    lines = [HEADER, *rows_text(make_row, "a"), cut, *rows_text(make_row, "b"), quoted]
    lines += rows_text(make_row, "c")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = load(path)
    assert list(history.runs["run_id"]) == ["a", "b", "q", "c"]
    assert list(history.runs["line_number"]) == [2, 4, 5, 6]
    assert history.runs.set_index("run_id").loc["q", "gpu_model"] == "1 x NVIDIA, SXM4"
    assert [s.line for s in history.skipped] == [3]


def test_a_cut_row_glued_to_the_next_append_is_one_skipped_line(tmp_path, make_row) -> None:
    """CodeCarbon appends without checking the last newline: the cut row and the next row share
    a line, which is skipped whole; the rows before and after load."""
    cut = good_row(make_row, run_id="cut").replace(",1 x NVIDIA", ',"1 x NVIDIA')
    glued = cut + good_row(make_row, run_id="glued")
    path = tmp_path / "glued.csv"
    lines = [HEADER, *rows_text(make_row, "a"), glued, *rows_text(make_row, "b", "c")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = load(path)
    assert list(history.runs["run_id"]) == ["a", "b", "c"]
    assert [s.line for s in history.skipped] == [3]


def test_a_quoted_cell_holding_a_newline_is_one_row(tmp_path, make_row) -> None:
    row = good_row(make_row, run_id="two-lines").replace(",nlp-bert,", ',"nlp\nbert",')
    path = tmp_path / "multi.csv"
    lines = [HEADER, row, *rows_text(make_row, "after")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = load(path)
    assert history.skipped == []
    assert list(history.runs["project_name"]) == ["nlp\nbert", "nlp-bert"]
    assert list(history.runs["line_number"]) == [2, 4]


def test_a_junk_line_without_commas_is_counted_as_skipped(tmp_path, make_row) -> None:
    path = tmp_path / "junk.csv"
    lines = [HEADER, *rows_text(make_row, "a"), "some junk", "   ", "", *rows_text(make_row, "b")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = load(path)
    assert list(history.runs["run_id"]) == ["a", "b"]
    assert [(s.line, s.reason) for s in history.skipped] == [
        (3, "malformed row: a single value (not a CSV row of this file)")
    ]  # the line of spaces and the empty line are blank, not reported


def test_any_error_of_the_fast_parser_falls_back_to_the_exact_one(
    tmp_path, make_row, monkeypatch
) -> None:
    """Whatever pandas raises on a body (here an error no version raises today), the file is
    read record by record by the csv module instead, with the same rows and line numbers."""
    path = tmp_path / "h.csv"
    lines = [HEADER, *rows_text(make_row, "a"), "junk", *rows_text(make_row, "b")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = load(path)

    def failing_read_csv(*args, **kwargs):
        raise RuntimeError("a parser failure of a future pandas")

    monkeypatch.setattr(loader.pd, "read_csv", failing_read_csv)
    history = load(path)
    assert list(history.runs["run_id"]) == ["a", "b"]
    assert history.skipped == expected.skipped
    pd.testing.assert_frame_equal(history.runs, expected.runs)


def readers(body: bytes, names: list[str]) -> dict:
    """Each way the loader can read a body: the C parser on the whole body (when it can), the
    C parser on the records found line by line, Python's csv module on those records."""
    lines = body.split(b"\n")[:-1]
    return {
        "whole": loader._parse_body(body, names, len(lines)),
        "records": loader._read_records(body, names),
        "csv": loader._read_exact(lines, *loader._split_records(lines, len(names))[:2], names),
    }


def cut(make_row, run_id: str) -> str:
    return good_row(make_row, run_id=run_id).replace(",1 x NVIDIA", ',"1 x NVIDIA')


BODIES = {
    "too many fields, short, wrong type": (
        lambda make_row: [
            good_row(make_row, run_id="ok-1"),
            good_row(make_row, run_id="wide") + ",extra,fields",
            good_row(make_row, run_id="words").replace(",3600.0,", ",one hour,", 1),
            ",".join(good_row(make_row, run_id="short").split(",")[:6]),
            good_row(make_row, run_id="ok-2"),
        ],
        [(2, f"expected {len(FIELDNAMES)} fields, saw {len(FIELDNAMES) + 2}")],
        [1, 3, 4, 5],
    ),
    "a cut row, then rows": (
        lambda make_row: [*rows_text(make_row, "a"), cut(make_row, "x"), *rows_text(make_row, "b")],
        [(2, "unterminated quoted field")],
        [1, 3],
    ),
    "a cut row glued to the next": (  # a whole row after it: cut, not still being written
        lambda make_row: [
            cut(make_row, "x") + good_row(make_row, run_id="y"),
            "",
            "a,b",
            good_row(make_row, run_id="z"),
        ],
        [(1, "unterminated quoted field")],
        [2, 3, 4],
    ),
    "a quoted line break, a stray quote": (
        lambda make_row: [
            good_row(make_row, run_id="two").replace(",nlp-bert,", ',"nlp\nbert",'),
            good_row(make_row, run_id="stray").replace(",nlp-bert,", ',nlp"bert,'),
        ],
        [],
        [1, 3],
    ),
}


@pytest.mark.parametrize("case", list(BODIES))
def test_every_reader_finds_the_same_rows_and_bad_lines(make_row, case) -> None:
    make_lines, bad, rows = BODIES[case]
    body = ("\n".join(make_lines(make_row)) + "\n").encode()
    names = HEADER.split(",")
    read = readers(body, names)
    for name, parsed in read.items():
        assert parsed.bad == bad, name
        assert list(parsed.lines) == rows, name
    texts = {name: parsed.frame["run_id"].fillna("").tolist() for name, parsed in read.items()}
    assert texts["whole"] == texts["records"] == texts["csv"]


def test_the_exact_reader_sets_aside_a_record_wider_than_the_header() -> None:
    """A record more fields wide than the header (a line the splitter took whole while a writer
    was appending) is a bad row with read_csv's reason, never an exception for the whole read."""
    names = ["a", "b"]
    lines = [b"1,2", b'3,"4",5', b"6"]
    body = loader._read_exact(lines, [(0, 1), (1, 1), (2, 1)], [], names)
    assert body.frame.to_dict("list") == {"a": ["1", "6"], "b": ["2", None]}
    assert body.bad == [(2, "expected 2 fields, saw 3")]


def multi_line_row(make_row, run_id: str) -> str:
    return good_row(make_row, run_id=run_id).replace(",nlp-bert,", ',"nlp\nbert",')


def test_a_quoted_line_break_still_being_written_is_read_once_it_is(tmp_path, make_row):
    """A writer that has written a cell's line break and not yet the rest of its row: the row
    is left for the next read, as an unfinished last line is (not skipped as a cut row, with
    its second line read as junk)."""
    path = tmp_path / "live.csv"
    whole = multi_line_row(make_row, "two")
    first, rest = whole.split("\n")
    path.write_text(f"{HEADER}\n{good_row(make_row, run_id='one')}\n{first}\n", encoding="utf-8")
    parsed = parse(path)
    assert list(parsed.frame["run_id"]) == ["one"]
    assert [(s.line, s.reason) for s in parsed.skipped] == [(3, loader.UNFINISHED)]
    assert parsed.next_line == 3
    with path.open("a", encoding="utf-8") as handle:
        handle.write(rest + "\n")
    later = parse(path, start_offset=parsed.end_offset, header=parsed.header, first_line=3)
    assert list(later.frame["run_id"]) == ["two"] and later.skipped == []
    assert list(later.frame["project_name"]) == ["nlp\nbert"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_read_cut_inside_a_quoted_line_break_loses_no_row(tmp_path, make_row, workers):
    """Every chunk size, so that chunks end inside a cell's line break: the rows are the
    same, none skipped, in one process or parsed ahead by workers."""
    path = tmp_path / "multi.csv"
    rows = [multi_line_row(make_row, f"r{index}") for index in range(120)]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    width = len(rows[0]) + 1
    for chunk_bytes in range(width * 3, width * 3 + width, 37):
        read = read_bounded(path, chunk_bytes=chunk_bytes, min_part_bytes=1, workers=workers)
        assert read.parsed.skipped == [] and read.error == ""
        assert list(read.parsed.frame["run_id"]) == [f"r{index}" for index in range(120)]
        assert set(read.parsed.frame["project_name"].astype(str)) == {"nlp\nbert"}
