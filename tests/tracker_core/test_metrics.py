"""Metrics on runs: log_metrics on the tracker, the module-level call, tasks, the CLI's file."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import tracker as tracker_package
from tracker import EmissionsTracker, emissions_tracker, log_metrics, schema, track_emissions
from tracker.emissions_tracker import current_tracker
from tracker.metrics import MetricsLog, clean_metrics, encode_metrics

FAST = {"measure_power_secs": 0.05, "offline": True, "country_iso_code": "FRA"}


@pytest.fixture
def make(tmp_path: Path, environ: dict[str, str], kit):
    def make(**kwargs) -> EmissionsTracker:
        settings = {"output_dir": str(tmp_path), "power_sources": kit.steady_sources(), **FAST}
        return EmissionsTracker(environ=environ, **{**settings, **kwargs})

    return make


def rows(kit, path: Path) -> list[dict[str, str]]:
    return kit.read_rows(path)[1]


# -- the pure rules ----------------------------------------------------------------------------


def test_clean_metrics_keeps_numbers_and_says_why_it_refuses_the_rest():
    accepted, refused = clean_metrics(
        {
            "tokens": 300000,
            "accuracy": 0.93,
            "np_int": np.int64(7),
            "np_float": np.float32(0.5),
            "ratio": Fraction(1, 4),
            "flag": True,
            "np_flag": np.bool_(True),
            "nan": float("nan"),
            "inf": float("-inf"),
            "text": "0.9",
            "none": None,
            "nested": {"a": 1},
            "complex": 1j,
        }
    )
    assert accepted == {
        "tokens": 300000,
        "accuracy": 0.93,
        "np_int": 7,
        "np_float": 0.5,
        "ratio": 0.25,
    }
    assert type(accepted["tokens"]) is int and type(accepted["np_int"]) is int
    assert type(accepted["np_float"]) is float
    assert set(refused) == {"flag", "np_flag", "nan", "inf", "text", "none", "nested", "complex"}
    assert refused["flag"] == "not a number (bool)"
    assert refused["nan"] == "not a finite number (nan)"
    assert refused["text"] == "not a number (str)"
    assert clean_metrics({"": 1}) == ({}, {"": "a metric needs a non-empty name"})


def test_encode_metrics_is_compact_with_sorted_keys():
    assert (
        encode_metrics({"tokens": 300000, "accuracy": 0.93}) == '{"accuracy":0.93,"tokens":300000}'
    )
    assert encode_metrics({}) == ""
    assert json.loads(encode_metrics({'a b,"c"': 1.5})) == {'a b,"c"': 1.5}


def test_metrics_log_gives_a_task_its_own_values_and_the_run_the_last_of_each():
    log = MetricsLog()
    log.record({"loss": 2.0})
    log.task_started()
    log.record({"loss": 0.5, "tokens": 10})
    assert log.task_ended() == {"loss": 0.5, "tokens": 10}
    log.record({"accuracy": 0.9})
    assert log.run() == {"loss": 0.5, "tokens": 10, "accuracy": 0.9}
    assert log.task_ended() == {}


# -- on the tracker ------------------------------------------------------------------------------


def test_a_run_that_logged_metrics_has_them_in_its_row(tmp_path, make, kit):
    tracker = make(project_name="m")
    tracker.log_metrics(accuracy=0.5)  # before start: kept
    tracker.start()
    tracker.log_metrics(accuracy=0.93, tokens=300000)
    tracker.stop()
    header, (row,) = kit.read_rows(tmp_path / "emissions.csv")
    assert header == list(schema.FIELDNAMES) and header[-1] == "metrics"
    assert row["metrics"] == '{"accuracy":0.93,"tokens":300000}'
    assert row["schema_version"] == str(schema.SCHEMA_VERSION) == "2"
    assert tracker.final_emissions_data.metrics == row["metrics"]


def test_any_name_is_a_metric_name_even_self(tmp_path, make, kit):
    with make() as tracker:
        tracker.log_metrics(**{"self": 1, "values": 2, "a b": 3})
        log_metrics(**{"self": 4})
    (row,) = rows(kit, tmp_path / "emissions.csv")
    assert row["metrics"] == '{"a b":3,"self":4,"values":2}'


def test_a_run_without_metrics_has_an_empty_cell(tmp_path, make, kit):
    with make():
        pass
    (row,) = rows(kit, tmp_path / "emissions.csv")
    assert row["metrics"] == ""


def test_refused_values_are_named_in_one_warning_and_never_raise(tmp_path, make, kit, caplog):
    tracker = make()
    with caplog.at_level(logging.DEBUG, logger="tracker"), tracker:
        for step in range(3):
            tracker.log_metrics(loss=float("nan"), done=True, step=step)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'done': not a number (bool)" in warnings[0].getMessage()
    assert "'loss': not a finite number (nan)" in warnings[0].getMessage()
    (row,) = rows(kit, tmp_path / "emissions.csv")
    assert row["metrics"] == '{"step":2}'


def test_values_logged_after_the_row_is_written_are_reported(make, caplog):
    tracker = make()
    with tracker:
        tracker.log_metrics(a=1)
    with caplog.at_level(logging.WARNING, logger="tracker"):
        tracker.log_metrics(a=2)
        tracker.log_metrics(a=3)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "log_metrics() after the run ended: its row is written, these values are not in it"
    ]
    assert tracker.final_emissions_data.metrics == '{"a":1}'


def test_a_flush_row_holds_the_metrics_so_far(tmp_path, make, kit):
    with make() as tracker:
        tracker.log_metrics(tokens=100)
        tracker.flush()
        tracker.log_metrics(tokens=250)
    running, final = rows(kit, tmp_path / "emissions.csv")
    assert (running["status"], running["metrics"]) == ("running", '{"tokens":100}')
    assert (final["status"], final["metrics"]) == ("finished", '{"tokens":250}')


def test_tasks_carry_what_was_logged_while_they_ran(tmp_path, make, kit):
    with make() as tracker:
        tracker.log_metrics(epochs=3)
        tracker.start_task("train")
        tracker.log_metrics(loss=0.7)
        tracker.log_metrics(loss=0.5, tokens=1000)
        tracker.start_task("eval")  # ends "train"
        tracker.log_metrics(accuracy=0.93)
        evaluated = tracker.stop_task()
        tracker.start_task("idle")
    assert evaluated.metrics == '{"accuracy":0.93}'
    tasks = {r["task_name"]: r["metrics"] for r in rows(kit, tmp_path / "emissions_tasks.csv")}
    assert tasks == {
        "train": '{"loss":0.5,"tokens":1000}',
        "eval": '{"accuracy":0.93}',
        "idle": "",
    }
    (run,) = rows(kit, tmp_path / "emissions.csv")
    assert run["metrics"] == '{"accuracy":0.93,"epochs":3,"loss":0.5,"tokens":1000}'


# -- without a handle on the tracker -------------------------------------------------------------


def test_the_decorated_function_logs_with_the_module_level_call(tmp_path, environ, kit):
    @track_emissions(
        output_dir=str(tmp_path), power_sources=kit.steady_sources(), environ=environ, **FAST
    )
    def train(steps: int) -> int:
        for step in range(steps):
            log_metrics(step=step, tokens=(step + 1) * 512)
        return steps

    assert train(4) == 4
    assert tracker_package.log_metrics is log_metrics
    (row,) = rows(kit, tmp_path / "emissions.csv")
    assert row["metrics"] == '{"step":3,"tokens":2048}'
    assert current_tracker() is None


def test_the_innermost_tracker_of_this_thread_receives_the_values(tmp_path, make, kit):
    outer = make(project_name="outer", output_file="outer.csv")
    inner = make(project_name="inner", output_file="inner.csv")
    with outer:
        log_metrics(level=1)
        with inner:
            log_metrics(level=2)
            worker = threading.Thread(target=lambda: log_metrics(from_worker=1))
            worker.start()
            worker.join()
        log_metrics(after_inner=1)
    assert rows(kit, tmp_path / "inner.csv")[0]["metrics"] == '{"from_worker":1,"level":2}'
    assert rows(kit, tmp_path / "outer.csv")[0]["metrics"] == '{"after_inner":1,"level":1}'


def test_a_tracker_started_in_another_thread_is_preferred_by_its_own_thread(make):
    main = make()
    mine: list[EmissionsTracker | None] = []
    other = make()

    def run_other() -> None:
        other.start()
        mine.append(current_tracker())
        other.stop()

    with main:
        thread = threading.Thread(target=run_other)
        thread.start()
        thread.join()
        assert current_tracker() is main
    assert mine == [other]


def test_with_no_tracker_running_the_values_are_dropped_with_one_warning(caplog, monkeypatch):
    monkeypatch.setattr(emissions_tracker, "_PROCESS_LOGGED", set())
    with caplog.at_level(logging.WARNING, logger="tracker"):
        log_metrics(accuracy=0.9)
        log_metrics(accuracy=0.9)
    assert [r.getMessage() for r in caplog.records] == [
        "log_metrics(): no tracker is running in this process; values dropped"
    ]


# -- python -m tracker run --metrics-file --------------------------------------------------------

OPTIONS = ("--project", "cli", "--offline", "--country", "FRA", "--measure-power-secs", "0.05")


def cli(tmp_path: Path, kit, *args: str) -> tuple[int, str]:
    process = subprocess.run(
        [sys.executable, "-m", "tracker", "run", *OPTIONS, *args],
        env=kit.subprocess_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return process.returncode, process.stderr


WRITES_METRICS = (
    "import json, os; "
    "open(os.environ['CARBONBOARD_METRICS_FILE'], 'w').write("
    "json.dumps({'accuracy': 0.93, 'tokens': 300000, 'note': 'x'}))"
)


def test_the_cli_records_the_metrics_file_the_command_wrote(tmp_path, kit):
    metrics = tmp_path / "out" / "metrics.json"
    metrics.parent.mkdir()
    code, stderr = cli(
        tmp_path, kit, "--metrics-file", "out/metrics.json", "--", sys.executable, "-c",
        WRITES_METRICS,
    )  # fmt: skip
    assert code == 0, stderr
    (row,) = rows(kit, tmp_path / "emissions.csv")
    assert row["metrics"] == '{"accuracy":0.93,"tokens":300000}'
    assert "'note': not a number (str)" in stderr
    assert json.loads(metrics.read_text())["note"] == "x"  # the command's file is left as it is


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "the command did not write it"),
        ("{not json", "not readable as JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ("[" * 100_000, "not readable as JSON"),
    ],
)
def test_a_missing_or_invalid_metrics_file_warns_and_the_row_is_still_written(
    tmp_path, kit, content, problem
):
    write = "" if content is None else f"open('m.json', 'w').write({content!r})"
    code, stderr = cli(
        tmp_path, kit, "--metrics-file", "m.json", "--", sys.executable, "-c", write or "pass"
    )
    assert code == 0
    warnings = [line for line in stderr.splitlines() if "--metrics-file m.json" in line]
    assert len(warnings) == 1 and problem in warnings[0], stderr
    (row,) = rows(kit, tmp_path / "emissions.csv")
    assert (row["status"], row["metrics"]) == ("finished", "")


def test_a_metrics_file_left_by_an_earlier_run_is_not_this_runs(tmp_path, kit):
    (tmp_path / "m.json").write_text('{"accuracy": 0.5}')
    time.sleep(0.01)
    code, stderr = cli(tmp_path, kit, "--metrics-file", "m.json", "--", sys.executable, "-c", "0")
    assert code == 0
    assert "unchanged since before the command started" in stderr
    (row,) = rows(kit, tmp_path / "emissions.csv")
    assert row["metrics"] == ""
