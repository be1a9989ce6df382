"""``carbonboard report``: a report file from the command line, and clear one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonboard.report_cli import report

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "emissions.csv"


def invoke(*args: str):
    return CliRunner().invoke(report, list(args))


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def project() -> str:
    """A project of the example history (read from the file, not assumed)."""
    header, first = EXAMPLE.read_text(encoding="utf-8").splitlines()[:2]
    return first.split(",")[header.split(",").index("project_name")]


def test_report_for_one_project_is_written_and_self_contained(tmp_path, project, external_refs):
    out = tmp_path / "report.html"
    result = invoke(f"--filepath={EXAMPLE}", f"--out={out}", "--project", project)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert f"project {project}" in html
    assert html.count('class="plotly-graph-div"') >= 2
    assert "<h2>Methodology</h2>" in html
    assert external_refs(html) == []


def test_date_range_narrows_the_report(tmp_path):
    out = tmp_path / "r.html"
    result = invoke(f"--filepath={EXAMPLE}", f"--out={out}", "--from", "2030-01-01")
    assert result.exit_code == 0, result.output
    assert re.search(r"; 0 runs</p>", out.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "no-such-project"], "unknown project 'no-such-project'; known projects: "),
        (["--experiment", "nope"], "unknown experiment 'nope'; known experiments: "),
        (["--from", "2026-13-01"], "--from '2026-13-01' is not a date"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], "--from 2026-03-01 is after --to"),
    ],
)
def test_bad_selection_is_one_clear_line(tmp_path, args, message):
    result = invoke(f"--filepath={EXAMPLE}", f"--out={tmp_path / 'r.html'}", *args)
    assert message in one_line_error(result)
    assert not (tmp_path / "r.html").exists()


def test_unknown_project_lists_the_known_ones(tmp_path, project):
    result = invoke(f"--filepath={EXAMPLE}", f"--out={tmp_path / 'r.html'}", "--project", "x")
    assert project in one_line_error(result)


def test_missing_file_is_one_clear_line(tmp_path):
    result = invoke(f"--filepath={tmp_path / 'missing.csv'}", f"--out={tmp_path / 'r.html'}")
    assert "missing.csv" in one_line_error(result)


def test_unwritable_output_is_one_clear_line(tmp_path):
    result = invoke(f"--filepath={EXAMPLE}", f"--out={tmp_path / 'no-such-dir' / 'r.html'}")
    assert "cannot write" in one_line_error(result)


def test_report_is_a_subcommand_next_to_the_dashboards_own_options():
    from carbonboard.cli import main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "--filepath" in result.output and "report" in result.output
