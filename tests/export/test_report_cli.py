"""``carbonboard report``: a report file from the command line, and clear one-line errors."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonboard.report_cli import report

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "emissions.csv"


def invoke(*args: str):
    return CliRunner().invoke(report, list(args))


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def example_rows() -> list[dict[str, str]]:
    with EXAMPLE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def project(example_rows) -> str:
    """A project of the example history (read from the file, not assumed)."""
    return example_rows[0]["project_name"]


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
        (["--to", "9999-12-31"], "--to '9999-12-31' is not a date from 1677 to 2262"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], "--from 2026-03-01 is after --to"),
    ],
)
def test_bad_selection_is_one_clear_line(tmp_path, args, message):
    result = invoke(f"--filepath={EXAMPLE}", f"--out={tmp_path / 'r.html'}", *args)
    assert message in one_line_error(result)
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--filepath=EXAMPLE"],
            "--out is required: the HTML file to write, e.g. --out=report.html",
        ),
        (["--out=OUT"], "--filepath is required: the emissions CSV, directory or glob to read"),
        (["--filepath=EXAMPLE", "--out"], "Option '--out' requires an argument."),
        (["--filepath=EXAMPLE", "--out=OUT", "--colour"], "No such option '--colour'."),
        (["--filepath=EXAMPLE", "--out=TMP"], "Invalid value for '--out': File"),
        (["--filepath=EXAMPLE", "--out=OUT", "--run", "nope"], "unknown run 'nope'"),
    ],
)
def test_bad_arguments_are_one_clear_line_not_a_usage_block(tmp_path, args, message):
    paths = {"EXAMPLE": str(EXAMPLE), "OUT": str(tmp_path / "r.html"), "TMP": str(tmp_path)}
    result = invoke(*(re.sub("EXAMPLE|OUT|TMP", lambda m: paths[m.group(0)], a) for a in args))
    line = one_line_error(result)
    assert line.startswith("carbonboard report: ") and message in line
    assert "Usage:" not in result.output
    assert not (tmp_path / "r.html").exists()


def test_missing_out_through_the_installed_command_is_one_line(tmp_path):
    """The real entry point (``carbonboard report``, a subcommand of the dashboard's group)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "carbonboard", "report", f"--filepath={EXAMPLE}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "carbonboard report: --out is required: the HTML file to write, e.g. --out=report.html\n"
    )


def test_picked_runs_are_compared_in_the_report(tmp_path, example_rows):
    first, second = (row["run_id"] for row in example_rows[:2])
    out = tmp_path / "r.html"
    result = invoke(f"--filepath={EXAMPLE}", f"--out={out}", "--run", first, "--run", second)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<h2>Compared runs</h2>" in html and 'id="chart-run-comparison"' in html
    assert first[:8] in html and second[:8] in html


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


@pytest.mark.browser
def test_report_draws_its_charts_and_world_map_with_no_network(offline_page, tmp_path):
    """Opened from disk with every request refused: plotly.js and the map geometry are inline."""
    out = tmp_path / "report.html"
    assert invoke(f"--filepath={EXAMPLE}", f"--out={out}").exit_code == 0
    page = offline_page
    page.goto(out.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('#chart-world-map path.choroplethlocation').length > 150",
        timeout=30_000,
    )
    assert page.locator("#chart-world-map path.choroplethlocation").count() > 150
    page.wait_for_function(
        "document.querySelectorAll('#chart-cloud-regions .bars path').length > 15", timeout=30_000
    )
    ranking = page.evaluate("document.getElementById('chart-country-ranking').data[0].y")
    assert "Your runs" in ranking
    charts = page.locator(".plotly-graph-div").count()
    assert page.locator(".js-plotly-plot .main-svg").count() >= charts
    assert page.console_errors == []
    assert page.refused == []


def _copy_of_example(folder: Path) -> Path:
    folder.mkdir()
    copy = folder / "emissions.csv"
    copy.write_bytes(EXAMPLE.read_bytes())
    return copy


@pytest.mark.parametrize(
    ("filepath", "out"),
    [
        ("data/emissions.csv", "data/emissions.csv"),  # the file given
        ("data", "data/emissions.csv"),  # a file a directory names
        ("data/*.csv", "data/../data/emissions.csv"),  # a glob's match, another spelling
        ("data/emissions.csv", "link.csv"),  # a symbolic link to the input
        ("data/emissions.csv", "hard.csv"),  # the same file under another name
    ],
)
def test_out_never_overwrites_an_input(tmp_path, filepath, out):
    data = _copy_of_example(tmp_path / "data")
    (tmp_path / "link.csv").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    before = data.read_bytes()
    result = invoke(f"--filepath={tmp_path / filepath}", f"--out={tmp_path / out}")
    line = one_line_error(result)
    assert f"--out {tmp_path / out} is the input file {data}" in line
    assert data.read_bytes() == before


def test_out_beside_the_inputs_is_written(tmp_path):
    data = _copy_of_example(tmp_path / "data")
    result = invoke(f"--filepath={data.parent}", f"--out={data.parent / 'report.html'}")
    assert result.exit_code == 0, result.output
    assert (data.parent / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")
