"""CSV/JSON exports: the contract header, formula neutralisation on text only, file names."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from carbonboard import export
from tracker import schema


def make_runs(rows: list[dict]) -> pd.DataFrame:
    """A runs frame in the tracker contract; unspecified cells are missing."""
    frame = pd.DataFrame(rows)
    for name in schema.FIELDNAMES:
        if name not in frame.columns:
            frame[name] = None
    return frame[list(schema.FIELDNAMES)]


RUNS = make_runs(
    [
        {
            "timestamp": pd.Timestamp("2026-06-01T12:30:59+00:00"),
            "project_name": '=HYPERLINK("x")',
            "run_id": "r1",
            "experiment_id": "+cmd",
            "duration": 12.5,
            "emissions": 0.25,
            "longitude": -122.4,
            "latitude": 37.77,
            "cpu_model": "@SUM(A1)",
            "gpu_model": "-2+3",
            "os": "\tLinux",
            "python_version": "\r3.11",
            "cpu_count": 8,
            "gpu_count": 0,
            "status": "finished",
            "schema_version": 1,
        },
        {
            "timestamp": pd.Timestamp("2026-06-02T08:00:00+00:00"),
            "project_name": "nlp bert",
            "run_id": "r2",
            "duration": 3.0,
            "emissions": 1e-9,
            "longitude": float("nan"),
            "cpu_count": 4.0,
            "status": "crashed",
        },
    ]
)


def parse(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise_formula_prefixes_only_leading_triggers(text, expected):
    assert export.neutralise_formula(text) == expected


def test_csv_header_is_the_contract_whatever_extra_columns_the_frame_has():
    frame = RUNS.assign(source_file="a.csv", day=pd.Timestamp("2026-06-01"))
    header, rows = parse(export.runs_to_csv(frame))
    assert header == list(schema.FIELDNAMES)
    assert [r["run_id"] for r in rows] == ["r1", "r2"]


def test_csv_neutralises_text_cells_and_keeps_negative_numbers_numeric():
    _, (first, second) = parse(export.runs_to_csv(RUNS))
    assert first["project_name"] == '\'=HYPERLINK("x")'
    assert first["experiment_id"] == "'+cmd"
    assert first["cpu_model"] == "'@SUM(A1)"
    assert first["gpu_model"] == "'-2+3"
    assert first["os"] == "'\tLinux"
    assert first["python_version"] == "'\r3.11"
    assert first["longitude"] == "-122.4"
    assert float(first["longitude"]) == -122.4
    assert first["timestamp"] == "2026-06-01T12:30:59+00:00"
    assert second["project_name"] == "nlp bert"
    assert second["longitude"] == ""
    assert second["experiment_id"] == ""


def test_csv_numbers_round_trip_exactly_and_ints_stay_ints():
    _, (first, second) = parse(export.runs_to_csv(RUNS))
    assert float(second["emissions"]) == 1e-9
    assert first["cpu_count"] == "8"
    assert second["cpu_count"] == "4"  # a float column (NaN elsewhere) holding a whole count
    assert first["schema_version"] == "1"


def test_text_in_a_numeric_column_is_neutralised_not_trusted():
    assert export.csv_cell("=cmd()", "float") == "'=cmd()"
    assert export.csv_cell(-3.5, "float") == "-3.5"
    assert export.csv_cell(float("inf"), "float") == ""


def test_empty_frame_gives_the_header_only():
    text = export.runs_to_csv(RUNS.iloc[0:0])
    assert text == ",".join(schema.FIELDNAMES) + "\r\n"


def test_json_keeps_types_and_documents_units():
    document = json.loads(export.runs_to_json(RUNS))
    assert document["schema_version"] == schema.SCHEMA_VERSION
    assert document["units"]["emissions"] == "kg CO2eq"
    first, second = document["runs"]
    assert list(first) == list(schema.FIELDNAMES)
    assert first["project_name"] == '=HYPERLINK("x")'  # JSON is data, not a spreadsheet
    assert first["longitude"] == -122.4
    assert first["cpu_count"] == 8
    assert first["timestamp"] == "2026-06-01T12:30:59+00:00"
    assert second["longitude"] is None
    assert second["cpu_count"] == 4
    assert isinstance(second["cpu_count"], int)


@pytest.mark.parametrize(
    ("project", "parts", "extension", "expected"),
    [
        ("nlp-bert", ["emissions over time"], "png", "nlp-bert_emissions-over-time.png"),
        (None, ["runs"], "csv", "all-projects_runs.csv"),
        ("../../etc/passwd", ["Energy/Source"], "svg", "etc-passwd_energy-source.svg"),
        ("Ünïcode  名前", ["report"], "html", "n-code_report.html"),
        ("名前", ["x"], "json", "untitled_x.json"),
    ],
)
def test_export_filename_is_meaningful_and_safe(project, parts, extension, expected):
    assert export.export_filename(project, parts, extension) == expected


def test_download_names_say_which_view_they_came_from():
    from carbonboard.sections import export as section
    from carbonboard.selection import Selection

    view = Selection(project="NLP bert", experiment="bert/base")
    assert section.filename(view, "runs", "csv") == "nlp-bert_bert-base_runs.csv"
    assert section.filename(Selection(), "report", "html") == "all-projects_report.html"
    assert export.file_stem(view.project, section.view_parts(view)) == "nlp-bert_bert-base"


def test_loaded_history_round_trips_with_formulas_neutralised(tmp_path):
    """Through the real loader (categorical text, float numbers) and back."""
    from carbonboard.data.store import HistoryStore

    source = tmp_path / "emissions.csv"
    rows = [
        {"timestamp": "2026-06-01T12:00:00+00:00", "project_name": "=cmd|'/c calc'!A0",
         "run_id": "a", "duration": "10", "emissions": "0.5", "longitude": "-122.4",
         "cpu_count": "8", "status": "finished"},
        {"timestamp": "2026-06-02T12:00:00+00:00", "project_name": "ok", "run_id": "@b",
         "duration": "20", "emissions": "1e-09", "longitude": "", "status": "finished"},
    ]  # fmt: skip
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=schema.FIELDNAMES)
        writer.writeheader()
        writer.writerows(rows)
    runs = HistoryStore([source], disk_cache=False).history().runs
    header, (first, second) = parse(export.runs_to_csv(runs))
    assert header == list(schema.FIELDNAMES)
    assert first["project_name"] == "'=cmd|'/c calc'!A0"
    assert second["run_id"] == "'@b"
    assert (first["longitude"], first["cpu_count"], first["emissions"]) == ("-122.4", "8", "0.5")
    assert float(second["emissions"]) == 1e-9 and second["longitude"] == ""
    assert first["timestamp"] == "2026-06-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("carbonboard-world-map", "carbonboard-world-map"),
        ("carbonboard_emissions-over-time", "carbonboard-emissions-over-time"),
        ("NLP bert_run-1a2b3c4d_energy", "nlp-bert-run-1a2b3c4d-energy"),
        ("nlp bert/../x_emissions", "nlp-bert-..-x-emissions"),
        ("***", "untitled"),
    ],
)
def test_chart_image_names_follow_the_download_names_rule(given, expected):
    """The plotly tool bar's image name follows the download names' rule, whatever it is given."""
    from dash import Dash

    from carbonboard.assets_path import assets_dir
    from carbonboard.components import graph

    Dash(__name__, assets_folder=str(assets_dir()))  # graph() reads the app's asset URL
    options = graph("chart", filename=given).config["toImageButtonOptions"]
    assert options["filename"] == expected == export.slugify(given)
    assert export.export_filename(None, [given], "png") == f"all-projects_{expected}.png"


def test_a_long_name_gives_a_file_name_every_file_system_takes():
    """A 10 KB project name: the download's name stays short (255 bytes is the usual limit)."""
    name = export.export_filename("p" * 10_240, ["e" * 10_240, "runs"], "csv")
    assert len(name.encode()) < 255
    assert name == f"{'p' * export.SLUG_MAX_CHARS}_{'e' * export.SLUG_MAX_CHARS}_runs.csv"
    assert export.slugify("a-" * 100) == ("a-" * 30).rstrip("-")
