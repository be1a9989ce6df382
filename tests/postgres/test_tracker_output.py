"""The tracker writing to a real PostgreSQL: rows delivered in the background, outages spooled
with one warning, ``python -m tracker sync`` delivering exactly once, the user's program never
slowed down or broken."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tracker import OfflineEmissionsTracker
from tracker.db import ddl
from tracker.db.spool import Spool

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A private HOME and state folder: the spool lives there."""
    return {"HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "state"), **extra}


def make_tracker(tmp_path: Path, url: str | None, **settings) -> OfflineEmissionsTracker:
    (tmp_path / "home").mkdir(exist_ok=True)
    return OfflineEmissionsTracker(
        project_name="team",
        experiment_id="exp",
        output_dir=str(tmp_path),
        measure_power_secs=0.1,
        force_cpu_power=20.0,
        force_ram_power=5.0,
        country_iso_code="FRA",
        database_url=url,
        environ=environment(tmp_path),
        **settings,
    )


def stored_runs(url: str) -> list[tuple]:
    """The runs in the database ([] before the first delivery made the tables)."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (ddl.RUNS,)).fetchone()[0] is None:
            return []
        return conn.execute(
            f"SELECT run_id, status, duration, emissions FROM {ddl.RUNS} ORDER BY run_id"
        ).fetchall()


def rollup_runs(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT coalesce(sum(runs), 0) FROM {ddl.DAILY}").fetchone()[0]


def wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def spooled(tmp_path: Path) -> list[Path]:
    return [p for s in Spool.existing(environment(tmp_path)) for p in s.pending()]


def warnings_from(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def sync(tmp_path: Path, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **environment(tmp_path)}
    env.pop("CARBONBOARD_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "tracker", "sync", "--database", url],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_a_run_its_checkpoints_and_tasks_reach_the_database_and_the_csv(database, tmp_path):
    tracker = make_tracker(tmp_path, database.url)
    tracker.start()
    tracker.start_task("train")
    wait_for(lambda: stored_runs(database.url))  # a checkpoint, while the run goes on
    assert stored_runs(database.url)[0][1] == "running"
    tracker.stop_task()
    tracker.stop()
    ((run_id, status, duration, emissions),) = stored_runs(database.url)
    assert (run_id, status) == (tracker.run_id, "finished")
    assert duration == tracker.final_emissions_data.duration
    assert emissions == tracker.final_emissions
    with psycopg.connect(database.url) as conn:
        tasks = conn.execute(f"SELECT run_id, task_name FROM {ddl.TASKS}").fetchall()
    assert tasks == [(tracker.run_id, "train")]
    assert rollup_runs(database.url) == 1
    assert spooled(tmp_path) == []
    assert tracker.run_id in (tmp_path / "emissions.csv").read_text()


def test_the_url_comes_from_the_environment_and_its_password_is_never_shown(database, tmp_path):
    (tmp_path / "home").mkdir()
    tracker = OfflineEmissionsTracker(
        country_iso_code="FRA",
        output_dir=str(tmp_path),
        environ=environment(tmp_path, CARBONBOARD_DATABASE_URL=database.url),
    )
    assert tracker.settings.database_url == database.url
    assert "throwaway-superuser-password" not in repr(tracker.settings)
    assert f"127.0.0.1:{database.server.port}/{database.name}" in repr(tracker.settings)


def test_the_url_comes_from_the_config_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".carbonboard.config").write_text(
        "[carbonboard]\ndatabase_url = postgresql://writer:s3cret@db.internal/carbonboard\n"
    )
    tracker = OfflineEmissionsTracker(country_iso_code="FRA", environ=environment(tmp_path))
    assert tracker.settings.database_url == "postgresql://writer:s3cret@db.internal/carbonboard"
    assert "s3cret" not in repr(tracker.settings)
    with pytest.raises(ValueError, match="postgresql:// URL"):
        OfflineEmissionsTracker(database_url="mysql://db/x", environ=environment(tmp_path))


def test_an_outage_mid_run_spools_the_rows_then_sync_delivers_them_once(database, tmp_path, caplog):
    tracker = make_tracker(tmp_path, database.url)
    tracker.start()
    wait_for(lambda: stored_runs(database.url))
    database.server.stop()
    tracker.start_task("evaluate")
    time.sleep(0.3)
    tracker.stop_task()
    started = time.monotonic()
    emissions = tracker.stop()
    assert time.monotonic() - started < 3.0  # stop() waits at most ~2 s for the database
    assert emissions is not None and emissions > 0  # the program saw nothing
    waiting = warnings_from(caplog)
    assert len(waiting) == 1, waiting
    folder = Spool.for_database(database.url, environment(tmp_path)).folder
    assert str(folder) in waiting[0] and "python -m tracker sync" in waiting[0]
    assert "throwaway-superuser-password" not in waiting[0]
    assert {p.name.split(".")[1] for p in spooled(tmp_path)} == {"runs", "tasks"}
    assert tracker.run_id in (tmp_path / "emissions.csv").read_text()  # the CSV has it anyway

    database.server.start()
    assert stored_runs(database.url)[0][1] == "running"  # the checkpoint from before the outage
    result = sync(tmp_path, database.url)
    assert result.returncode == 0, result.stderr
    assert "delivered 1 run row(s) and 1 task row(s)" in result.stdout
    assert "throwaway-superuser-password" not in result.stdout + result.stderr
    ((run_id, status, duration, _),) = stored_runs(database.url)
    assert (run_id, status, duration) == (
        tracker.run_id,
        "finished",
        tracker.final_emissions_data.duration,
    )
    assert rollup_runs(database.url) == 1
    assert spooled(tmp_path) == []
    again = sync(tmp_path, database.url)
    assert "delivered 0 run row(s) and 0 task row(s)" in again.stdout
    assert stored_runs(database.url)[0][2] == tracker.final_emissions_data.duration
    assert rollup_runs(database.url) == 1


def test_a_refused_password_spools_with_one_warning_and_the_next_start_delivers(
    database, tmp_path, caplog
):
    wrong = database.url.replace("throwaway-superuser-password", "wrong-password")
    first = make_tracker(tmp_path, wrong)
    first.start()
    time.sleep(0.3)
    first.stop()
    waiting = warnings_from(caplog)
    assert len(waiting) == 1, waiting
    assert "password authentication failed" in waiting[0]
    assert "wrong-password" not in waiting[0]
    assert len(spooled(tmp_path)) == 1  # the final row; the checkpoints it superseded are gone
    assert first.run_id in (tmp_path / "emissions.csv").read_text()

    second = make_tracker(tmp_path, database.url)  # same database, right password
    second.start()
    second.stop()
    assert [r[0] for r in stored_runs(database.url)] == sorted([first.run_id, second.run_id])
    assert spooled(tmp_path) == []


def test_a_database_that_never_answers_delays_stop_by_about_two_seconds(tmp_path, caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # takes connections and never answers, as a hung server does
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except OSError:
                continue

    listener = threading.Thread(target=accept, daemon=True)
    listener.start()
    try:
        url = f"postgresql://writer:pw@127.0.0.1:{silent.getsockname()[1]}/carbonboard"
        tracker = make_tracker(tmp_path, url)
        tracker.start()
        started = time.monotonic()
        tracker.stop()
        elapsed_s = time.monotonic() - started
    finally:
        stop.set()
        listener.join()
        for connection in accepted:
            connection.close()
        silent.close()
    assert elapsed_s < 4.0
    assert len(spooled(tmp_path)) == 1
    assert len(warnings_from(caplog)) == 1


def test_importing_the_tracker_and_creating_one_does_not_import_psycopg(tmp_path):
    code = (
        "import sys\n"
        "from tracker import EmissionsTracker\n"
        "EmissionsTracker(database_url='postgresql://u:p@127.0.0.1:1/db', save_to_file=False)\n"
        "print('psycopg' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **environment(tmp_path)},
        check=True,
    )
    assert result.stdout.strip() == "False"


def test_without_psycopg_the_run_goes_on_and_one_warning_says_what_to_install(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # as if the postgres extra were not installed\n"
        "from tracker import OfflineEmissionsTracker\n"
        "t = OfflineEmissionsTracker(country_iso_code='FRA', output_dir=sys.argv[1],\n"
        "    database_url='postgresql://u:p@127.0.0.1:1/db')\n"
        "t.start()\n"
        "print(t.stop() > 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **environment(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, result.stderr
    assert "pip install 'carbonboard[postgres]'" in warnings[0]
    assert len(spooled(tmp_path)) == 1
