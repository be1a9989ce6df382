"""Whole processes: kill -9 and signals around a live run, and the ``python -m tracker`` CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tracker import OfflineEmissionsTracker
from tracker.output import runs_dir
from tracker.power.base import JOULES_PER_KWH

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

RUN = textwrap.dedent(
    """
    import csv, signal, sys, time
    from pathlib import Path
    from tracker import OfflineEmissionsTracker

    out, mode = Path(sys.argv[1]), sys.argv[2]

    def users_handler(number, frame):
        written = (out / "emissions.csv").exists()
        (out / "handler.txt").write_text("row written" if written else "run going")
        sys.exit(3)

    def notes_and_goes_on(number, frame):
        (out / "handler.txt").write_text("noted")

    if mode == "user-handler":
        signal.signal(signal.SIGTERM, users_handler)
    if mode == "goes-on":
        signal.signal(signal.SIGTERM, notes_and_goes_on)
    tracker = OfflineEmissionsTracker(
        project_name=mode, output_dir=str(out), measure_power_secs=0.05,
        force_cpu_power=10.0, force_ram_power=1.0, country_iso_code="FRA",
    )
    tracker.start()
    print(tracker.run_id, flush=True)
    if mode == "forgets-stop":
        sys.exit(0)
    if mode == "goes-on":  # until the signal is noted, then the run goes on a while
        while not (out / "handler.txt").exists():
            time.sleep(0.01)
        time.sleep(0.5)
        tracker.stop()
        sys.exit(0)
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        sys.exit(7)
    """
)


def start_run(tmp_path: Path, kit, mode: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, str(tmp_path), mode],
        env=kit.subprocess_env(tmp_path),
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def wait_for(predicate, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_kill_9_loses_at_most_one_interval(tmp_path, kit, environ):
    process, run_id = start_run(tmp_path, kit, "doomed")
    checkpoint = runs_dir(tmp_path / "emissions.csv") / f"{run_id}.json"

    def progressed() -> dict | None:
        try:
            row = json.loads(checkpoint.read_text())["row"]
        except (OSError, ValueError):
            return None
        return row if float(row["duration"]) >= 0.3 else None

    seen = wait_for(progressed)
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()
    assert not (tmp_path / "emissions.csv").exists()  # it never wrote its row

    # The next tracker on the file records the dead run as crashed, with its energy so far.
    with OfflineEmissionsTracker(
        output_dir=str(tmp_path), power_sources=kit.steady_sources(), environ=environ
    ):
        pass
    crashed, finished = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert (crashed["run_id"], crashed["status"], crashed["project_name"]) == (
        run_id,
        "crashed",
        "doomed",
    )
    assert float(crashed["duration"]) >= float(seen["duration"])
    assert float(crashed["cpu_energy"]) == pytest.approx(
        10.0 * float(crashed["duration"]) / JOULES_PER_KWH, rel=1e-3
    )
    assert finished["status"] == "finished"
    assert not checkpoint.exists()


@pytest.mark.parametrize(
    ("mode", "signal_number", "returncode"),
    [
        ("user-handler", signal.SIGTERM, 3),
        ("default", signal.SIGTERM, -signal.SIGTERM),
        ("default", signal.SIGINT, 7),  # KeyboardInterrupt reached the program
    ],
)
def test_signals_write_an_interrupted_row_then_behave_as_before(
    tmp_path, kit, mode, signal_number, returncode
):
    process, run_id = start_run(tmp_path, kit, mode)
    time.sleep(0.2)
    process.send_signal(signal_number)
    assert process.wait(timeout=20) == returncode
    process.stdout.close()
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert (row["run_id"], row["status"]) == (run_id, "interrupted")
    assert float(row["duration"]) >= 0.2
    if mode == "user-handler":  # the program's own handler ran first; its exit ended the run
        assert (tmp_path / "handler.txt").read_text() == "run going"
    assert not runs_dir(tmp_path / "emissions.csv").exists()


def test_a_program_that_handles_a_signal_and_goes_on_keeps_its_run(tmp_path, kit):
    process, run_id = start_run(tmp_path, kit, "goes-on")
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    process.stdout.close()
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert (row["run_id"], row["status"]) == (run_id, "finished")
    assert float(row["duration"]) >= 0.7  # the half second after the signal is measured too


def test_a_run_left_open_at_exit_is_still_written(tmp_path, kit):
    process, run_id = start_run(tmp_path, kit, "forgets-stop")
    assert process.wait(timeout=20) == 0
    process.stdout.close()
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert (row["run_id"], row["status"]) == (run_id, "finished")


def cli(tmp_path: Path, kit, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "run", *args],
        env=kit.subprocess_env(tmp_path),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


OPTIONS = ("--project", "cli", "--offline", "--country", "FRA", "--measure-power-secs", "0.05")


def test_cli_runs_the_command_and_passes_its_exit_code(tmp_path, kit):
    code = "import sys, time; time.sleep(0.2); sys.exit(3)"
    out = tmp_path / "runs" / "cli.csv"
    process = cli(tmp_path, kit, *OPTIONS, "--output", str(out), "--", sys.executable, "-c", code)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3
    (row,) = kit.read_rows(out)[1]
    assert (row["project_name"], row["status"], row["country_iso_code"]) == (
        "cli",
        "finished",
        "FRA",
    )
    assert float(row["duration"]) >= 0.2
    lines = stderr.strip().splitlines()
    summary = lines[-1]
    assert summary.startswith("carbonboard: ") and "exited with 3" in summary
    assert "kWh" in summary and "kg CO2eq" in summary and str(out) in summary
    assert not any("cli finished:" in line for line in lines)  # no second summary, logged


def test_cli_forwards_sigterm_to_the_command(tmp_path, kit):
    code = textwrap.dedent(
        """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda n, f: sys.exit(5))
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    process = cli(tmp_path, kit, *OPTIONS, "--", sys.executable, "-c", code, stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 5
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert row["status"] == "interrupted"


def ended(process: psutil.Process) -> bool:
    """Gone, or dead and waiting to be reaped (its parent died: a container's first process
    may never reap it)."""
    try:
        process.wait(timeout=10)
    except psutil.TimeoutExpired:
        return process.status() == psutil.STATUS_ZOMBIE
    return True


def test_cli_forwards_sigterm_to_the_processes_the_command_started(tmp_path, kit):
    """A wrapper dies of SIGTERM without passing it on (``sh`` does not): the job it started
    must not run on, unmeasured, once the run is written."""
    code = "sleep 60 & echo $! > job.pid; echo ready; wait"
    process = cli(tmp_path, kit, *OPTIONS, "--", "sh", "-c", code, stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == "ready"
    job = psutil.Process(int((tmp_path / "job.pid").read_text()))
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert ended(job)
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert row["status"] == "interrupted"


def test_cli_usage_errors(tmp_path, kit):
    process = cli(tmp_path, kit, "--offline")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "no command given" in stderr
    process = cli(tmp_path, kit, "--pue", "0.2", "--", "true")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "pue must be between 1 and 5" in stderr
    process = cli(tmp_path, kit, "--offline", "--", "no-such-program-here")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 127 and "cannot run no-such-program-here" in stderr
    assert not (tmp_path / "emissions.csv").exists()


TRACKER = """
import multiprocessing, os, signal, sys, time
from pathlib import Path
from tracker import OfflineEmissionsTracker
from tracker.output.base import BaseOutput

out = Path.cwd()

def tracker(project, **settings):
    return OfflineEmissionsTracker(
        project_name=project, output_dir=str(out), measure_power_secs=0.05,
        force_cpu_power=10.0, force_ram_power=1.0, country_iso_code="FRA", **settings,
    )
"""

FORKS = TRACKER + textwrap.dedent(
    """
    def work(index):
        time.sleep(60)

    run = tracker("forks", allow_multiple_runs=False)
    run.start()
    pool = multiprocessing.get_context("fork").Pool(2)
    pool.map_async(work, range(2))
    time.sleep(0.3)
    pool.terminate()  # SIGTERM to each busy worker, a fork of the running tracker
    pool.join()
    child = os.fork()
    if child == 0:
        sys.exit(0)  # a child ending normally runs the atexit hooks it inherited
    os.waitpid(child, 0)
    other = tracker("other", allow_multiple_runs=False)
    other.start()
    print("other refused" if other.stop() is None else "other ran", flush=True)
    run.stop()
    """
)


def test_forked_children_never_write_end_or_unlock_the_parents_run(tmp_path, kit):
    done = kit.run_python(FORKS, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "other refused"  # the children left the run lock alone
    rows = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert [(row["project_name"], row["status"]) for row in rows] == [("forks", "finished")]


METRICS_LOCK = TRACKER + textwrap.dedent(
    """
    run = tracker("metrics")
    run.start()
    run.log_metrics(accuracy=0.5)

    class Key(str):
        def __eq__(self, other):  # compared under the metrics log's lock: Ctrl+C arrives then
            if run._metrics._lock.locked():
                signal.raise_signal(signal.SIGINT)
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    try:
        run.log_metrics(**{Key("accuracy"): 0.9})
        print("not interrupted", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


def test_ctrl_c_inside_log_metrics_ends_the_run_after_the_call(tmp_path, kit):
    done = kit.run_python(METRICS_LOCK, tmp_path)  # a hang times out
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted"
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert row["status"] == "interrupted"
    assert json.loads(row["metrics"]) == {"accuracy": 0.9}


NESTED = TRACKER + textwrap.dedent(
    """
    class InterruptsWhileWriting(BaseOutput):
        def finished(self, data):
            signal.raise_signal(signal.SIGINT)  # Ctrl+C while the inner run's row is written

    outer = tracker("outer")
    outer.start()
    inner = tracker("inner", output_handlers=[InterruptsWhileWriting()])
    inner.start()
    try:
        inner.stop()
        print("not interrupted", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


NESTED_SIGTERM = TRACKER + textwrap.dedent(
    """
    outer = tracker("outer")
    outer.start()
    inner = tracker("inner")
    inner.start()
    os.kill(os.getpid(), signal.SIGTERM)  # a pre-emption, the process has no handler of its own
    time.sleep(30)
    """
)


def test_sigterm_with_nested_runs_writes_both_before_the_process_ends(tmp_path, kit):
    done = kit.run_python(NESTED_SIGTERM, tmp_path)
    assert done.returncode == -signal.SIGTERM, done.stderr
    rows = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert [(row["project_name"], row["status"]) for row in rows] == [
        ("inner", "interrupted"),
        ("outer", "interrupted"),
    ]


def test_a_signal_during_an_inner_runs_write_waits_for_the_write(tmp_path, kit):
    done = kit.run_python(NESTED, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted"
    rows = kit.read_rows(tmp_path / "emissions.csv")[1]
    statuses = {row["project_name"]: row["status"] for row in rows}
    assert statuses == {"inner": "finished", "outer": "interrupted"}
