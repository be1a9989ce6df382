"""Scripts written as for CodeCarbon 3.3 (``scripts/``, modelled on its examples, the import line
swapped) run in a child Python: each must exit 0 and its rows must land.

The child's environment makes every run offline in France (``CARBONBOARD_OFFLINE``,
``CODECARBON_COUNTRY_ISO_CODE``), so no script touches the network, and its home, state folder
and temp folder are the test's.
"""

from __future__ import annotations

import csv
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from tracker import schema

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def run_script(name: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARBONBOARD_", "CODECARBON_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        HOME=str(folder),
        XDG_STATE_HOME=str(folder / "state"),
        TMPDIR=str(folder),
        CARBONBOARD_OFFLINE="true",
        CODECARBON_COUNTRY_ISO_CODE="FRA",
    )
    process = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    return process


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames[-len(schema.FIELDNAMES) :] == list(schema.FIELDNAMES)
        return list(reader)


def finished(row: dict[str, str]) -> bool:
    return row["status"] == "finished" and float(row["energy_consumed"]) > 0


def test_threads_each_write_their_run(tmp_path):
    run_script("threads.py", tmp_path)
    runs = rows(tmp_path / "emissions.csv")
    assert len(runs) == 3 and len({r["run_id"] for r in runs}) == 3
    assert all(finished(r) and r["project_name"] == "threads" for r in runs)
    assert {r["country_iso_code"] for r in runs} == {"FRA"}


def test_a_multiprocessing_pool_writes_the_run_and_each_worker_call(tmp_path):
    run_script("pool.py", tmp_path)
    runs = rows(tmp_path / "emissions.csv")
    projects = sorted(r["project_name"] for r in runs)
    assert projects == ["pool", *["pool-worker"] * 4]
    assert all(finished(r) for r in runs)
    (main,) = (r for r in runs if r["project_name"] == "pool")
    assert main["tracking_mode"] == "process"


def test_a_task_loop_reads_emissions_data_and_writes_each_task(tmp_path):
    process = run_script("task_loop.py", tmp_path)
    (run,) = rows(tmp_path / "emissions.csv")
    tasks = rows(tmp_path / "emissions_tasks.csv")
    assert [t["task_name"] for t in tasks] == [f"round_{i}_task" for i in (1, 2, 3)]
    assert {t["run_id"] for t in tasks} == {run["run_id"]} and finished(run)
    printed = [line for line in process.stdout.splitlines() if line.startswith("round_")]
    assert [float(line.split()[1]) for line in printed] == [float(t["emissions"]) for t in tasks]


def test_the_decorator_applies_pue_wue_and_the_forced_intensity(tmp_path):
    run_script("decorator.py", tmp_path)
    runs = rows(tmp_path / "emissions.csv")
    assert len(runs) == 2 and all(finished(r) for r in runs)
    for row in runs:
        energy_kwh = float(row["energy_consumed"])
        assert (row["pue"], row["wue"]) == ("1.2", "1.5")
        assert float(row["water_consumed"]) == pytest.approx(energy_kwh * 1.5)
        assert float(row["emissions"]) == pytest.approx(energy_kwh * 300.0 / 1000)
        assert row["carbon_intensity_source"] == "forced"


def test_the_context_manager_and_codecarbon_logging_to_a_file(tmp_path):
    run_script("context_manager.py", tmp_path)
    (row,) = rows(tmp_path / "emissions.csv")
    assert finished(row) and row["project_name"] == "context"
    log_text = (tmp_path / "codecarbon.log").read_text()
    assert "stop_task(): no running task" in log_text


class _Collector(http.server.BaseHTTPRequestHandler):
    """Plays the emissions endpoint (POST /emissions) and a Prometheus push gateway (PUT)."""

    bodies: ClassVar[list[dict]] = []
    pushes: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(201)
        self.end_headers()

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).pushes.append(f"{self.path}\n{self.rfile.read(length).decode()}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_every_parameter_at_once(tmp_path):
    _Collector.bodies, _Collector.pushes = [], []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        process = run_script("all_parameters.py", tmp_path, f"{base}/emissions", base)
    finally:
        server.shutdown()
        server.server_close()
    run_id = process.stdout.split()[-1]
    (row,) = rows(tmp_path / "emissions.csv")  # on_csv_write="update": the flush was replaced
    assert (row["run_id"], row["status"], row["pue"]) == (run_id, "finished", "1.1")
    assert row["cpu_energy_method"] == "tdp-model"  # force_mode_cpu_load
    assert row["tracking_mode"] == "process" and float(row["emissions"]) > 0
    (task,) = rows(tmp_path / "emissions_tasks.csv")
    assert task["task_name"] == "warm-up"
    logged = [json.loads(line) for line in (tmp_path / "emissions.jsonl").read_text().splitlines()]
    assert logged[-1]["run_id"] == run_id and logged[-1]["status"] == "finished"
    assert [b["status"] for b in _Collector.bodies] == ["running", "finished"]
    assert _Collector.pushes and "/metrics/job/carbonboard" in _Collector.pushes[-1]
    assert "carbonboard_emissions_grams_total" in _Collector.pushes[-1]
    calls = [json.loads(line) for line in (tmp_path / "handler.log").read_text().splitlines()]
    kinds = [c["kind"] for c in calls]
    assert "live_out" in kinds and kinds[-3:] == ["out", "task_out", "exit"]
    assert calls[-2]["experiment_name"] == "everything"
    assert "ignored: api_endpoint, api_key, save_to_api" in process.stderr
    assert "[all-params]" in process.stderr  # logger_preamble
    for secret in ("secret-api-key-0123", "secret-token-4567"):
        assert secret not in process.stderr + process.stdout


def test_the_task_helpers_write_task_rows_with_and_without_a_tracker(tmp_path):
    process = run_script("task_helpers.py", tmp_path)
    runs = rows(tmp_path / "emissions.csv")
    tasks = rows(tmp_path / "emissions_tasks.csv")
    assert len(runs) == 4 and all(finished(r) for r in runs)  # the program's, 2 calls, 1 block
    (main,) = (r for r in runs if r["project_name"] == "task-helpers")
    names = [t["task_name"] for t in tasks if t["run_id"] == main["run_id"]]
    assert names == ["grid search", "predict", "predict"]
    own = [t for t in tasks if t["run_id"] != main["run_id"]]
    assert [t["task_name"] for t in own] == ["alone", "alone", "block"]
    assert len({t["run_id"] for t in own}) == 3  # one tracker per call and per block
    assert all(float(t["energy_consumed"]) > 0 for t in tasks)
    assert "detected" in process.stdout and int(process.stdout.split()[1]) >= 1
