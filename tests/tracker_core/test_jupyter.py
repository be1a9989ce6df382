"""Notebook magics, driven through a real IPython shell: ``%load_ext tracker`` then cells run with
``run_cell`` as a notebook runs them; rows are read back from the CSV files they write."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest

pytest.importorskip("IPython")

from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from tracker.emissions_data import EmissionsData
from tracker.units import co2_text, duration_text, energy_text

SUMMARY = re.compile(
    r"^carbon: [\d.]+ (s|min|h), [\d.e+-]+ (mWh|Wh|kWh|MWh), [\d.e+-]+ (mg|g|kg|t) CO2eq"
    r" \(country:FRA\)$"
)


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """One IPython shell for the module, its history in memory and its folder private."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config)
        shell.run_cell("%load_ext tracker")
        yield shell
        shell.run_cell("%unload_ext tracker")


@pytest.fixture
def notebook(shell, tmp_path, monkeypatch):
    """The shell, working in a private folder with a private home and no tracker settings."""
    for name in list(__import__("os").environ):
        if name.startswith(("CARBONBOARD_", "CODECARBON_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    return shell


def run(shell, cell: str):
    return shell.run_cell(cell, store_history=True)


def summary_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("carbon:")]


def test_carbon_cell_prints_one_line_writes_the_row_and_keeps_the_value(
    notebook, kit, capsys, caplog
):
    caplog.set_level(logging.INFO, logger="tracker")
    result = run(
        notebook,
        "%%carbon --project nb --experiment e1 --offline --country FRA\n"
        "total = sum(range(200_000))\n"
        "total * 2\n",
    )
    assert result.success
    assert result.result == 2 * sum(range(200_000))  # the last expression is the cell's value
    assert notebook.user_ns["total"] == sum(range(200_000))
    (line,) = summary_lines(capsys.readouterr().out)
    assert SUMMARY.match(line), line
    assert not [r for r in caplog.records if "nb finished:" in r.getMessage()]  # not twice
    _, rows = kit.read_rows(notebook_path("emissions.csv"))
    (row,) = rows
    assert (row["project_name"], row["experiment_id"], row["status"]) == ("nb", "e1", "finished")
    assert row["carbon_intensity_source"] == "country:FRA" and float(row["energy_consumed"]) > 0


def notebook_path(name: str):
    from pathlib import Path

    return Path.cwd() / name


def test_a_raising_cell_writes_its_row_prints_and_raises_the_same_exception(notebook, kit, capsys):
    error = ValueError("boom")
    notebook.user_ns["error"] = error
    result = run(notebook, "%%carbon --offline --country FRA\nraise error\n")
    assert result.error_in_exec is error
    out = capsys.readouterr().out
    (line,) = summary_lines(out)
    assert SUMMARY.match(line), line
    _, rows = kit.read_rows(notebook_path("emissions.csv"))
    assert [r["status"] for r in rows] == ["crashed"]  # an exception: the tracker's rule


def test_an_interrupted_cell_is_written_as_interrupted(notebook, kit, capsys):
    result = run(notebook, "%%carbon --offline --country FRA\nraise KeyboardInterrupt\n")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert len(summary_lines(capsys.readouterr().out)) == 1
    _, rows = kit.read_rows(notebook_path("emissions.csv"))
    assert [r["status"] for r in rows] == ["interrupted"]


def test_quiet_prints_nothing_but_still_writes(notebook, kit, capsys):
    assert run(notebook, "%%carbon --quiet --offline --country FRA\nx = 1\n").success
    assert summary_lines(capsys.readouterr().out) == []
    assert len(kit.read_rows(notebook_path("emissions.csv"))[1]) == 1


def test_a_bad_option_is_a_usage_error_and_the_cell_does_not_run(notebook, capsys):
    notebook.user_ns.pop("ran", None)
    result = run(notebook, "%%carbon --offline --country FRA --nonsense\nran = True\n")
    assert not result.success and "ran" not in notebook.user_ns
    assert not notebook_path("emissions.csv").exists()


def test_a_syntax_error_is_raised_before_anything_is_measured(notebook, capsys):
    result = run(notebook, "%%carbon --offline --country FRA\nx = (\n")
    assert isinstance(result.error_in_exec, SyntaxError)
    assert summary_lines(capsys.readouterr().out) == []
    assert not notebook_path("emissions.csv").exists()


def test_session_is_one_run_and_each_cell_a_task_named_after_its_count(notebook, kit, capsys):
    assert run(notebook, "%carbon_start --project session --offline --country FRA").success
    counts = []
    for cell in ("a = 1", "b = sum(range(10_000))", "raise RuntimeError('in a cell')"):
        counts.append(run(notebook, cell).execution_count)
    stopped = run(notebook, "%carbon_stop")
    counts.append(stopped.execution_count)
    assert isinstance(stopped.result, EmissionsData) and stopped.result.status == "finished"
    (line,) = summary_lines(capsys.readouterr().out)
    assert SUMMARY.match(line), line
    _, runs = kit.read_rows(notebook_path("emissions.csv"))
    (session,) = runs
    assert session["project_name"] == "session"
    _, tasks = kit.read_rows(notebook_path("emissions_tasks.csv"))
    assert [t["task_name"] for t in tasks] == [f"In[{n}]" for n in counts]
    assert {t["run_id"] for t in tasks} == {session["run_id"]}
    # after the stop, cells are no longer measured
    run(notebook, "c = 3")
    assert len(kit.read_rows(notebook_path("emissions_tasks.csv"))[1]) == len(counts)


def test_session_magics_refuse_to_nest_or_stop_nothing(notebook, capsys):
    assert not run(notebook, "%carbon_stop").success
    assert run(notebook, "%carbon_start --quiet --offline --country FRA").success
    assert not run(notebook, "%carbon_start --offline --country FRA").success
    assert run(notebook, "%carbon_stop").success


def test_emissions_data_html_escapes_every_text_value(notebook):
    run(notebook, "%%carbon --quiet --offline --country FRA\nx = 1\n")
    run(notebook, "%carbon_start --quiet --offline --country FRA")
    data = run(notebook, "%carbon_stop").result
    hostile = "<script>alert('x')</script>"
    data.project_name = hostile
    data.task_name = "<img src=x onerror=alert(1)>"
    page = data._repr_html_()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert energy_text(data.energy_consumed) in page and "country:FRA" in page


@pytest.mark.parametrize(
    ("kwh", "text"),
    [
        (0.00041, "0.41 Wh"),
        (0.00005, "50 mWh"),
        (2.5, "2.5 kWh"),
        (3e-8, "0.03 mWh"),
        (0.002, "2 Wh"),
        (1500, "1.5 MWh"),
    ],
)
def test_energy_text_picks_the_unit(kwh, text):
    assert energy_text(kwh) == text


@pytest.mark.parametrize(
    ("kg", "text"),
    [(0.00018, "0.18 g CO2eq"), (12.0, "12 kg CO2eq"), (2e-6, "2 mg CO2eq"), (3e3, "3 t CO2eq")],
)
def test_co2_text_picks_the_unit(kg, text):
    assert co2_text(kg) == text


@pytest.mark.parametrize(("s", "text"), [(12.34, "12.3 s"), (754.0, "12.6 min"), (7200.0, "2 h")])
def test_duration_text_picks_the_unit(s, text):
    assert duration_text(s) == text


def test_importing_tracker_imports_neither_ipython_nor_prometheus_client(kit, tmp_path):
    code = (
        "import sys, tracker\n"
        "tracker.EmissionsTracker, tracker.load_ipython_extension\n"
        "print(sorted(m for m in ('IPython', 'prometheus_client') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=kit.subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
