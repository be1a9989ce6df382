"""The spool on its own (no database): durable private files, one folder per database, rows set
aside with their reason, unsafe folders refused; and a killed run's last checkpoint delivered."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tracker.db import ddl
from tracker.db.spool import NAME_FILE, REJECTED, Spool, folder_name

ROOT = Path(__file__).resolve().parents[2]


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TMPDIR": str(tmp_path / "tmp"),
    }


def test_rows_are_private_files_in_one_folder_per_database(tmp_path):
    env = environment(tmp_path)
    first = Spool.for_database("postgresql://ana:secret@db.example:5433/team?sslmode=require", env)
    other = Spool.for_database("postgresql://ana:secret@db.example:5433/other", env)
    assert first.folder != other.folder
    assert first.folder.name.startswith("db.example-5433-team-")
    assert first.folder.parent == tmp_path / "state" / "carbonboard" / "spool"
    assert stat.S_IMODE(first.folder.stat().st_mode) == 0o700
    assert (first.folder / NAME_FILE).read_text() == "postgresql://db.example:5433/team"
    path = first.put("runs", {"run_id": "r1", "duration": 1.5})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.read(path).row == {"run_id": "r1", "duration": 1.5}
    later = first.put("tasks", {"run_id": "r1", "task_name": "t"})
    assert first.pending() == [path, later]  # oldest first, no temporary files
    assert not any("secret" in p.read_text() for p in first.folder.iterdir() if p.is_file())
    first.remove(path)
    first.remove(path)  # removed by another process meanwhile: fine
    assert first.pending() == [later]


def test_the_same_database_under_another_user_shares_the_folder():
    assert folder_name("postgresql://a:x@db/team") == folder_name("postgresql://b@db:5432/team")


def test_a_row_that_cannot_be_written_is_set_aside_with_its_reason(tmp_path):
    spool = Spool.for_database("postgresql://db/team", environment(tmp_path))
    path = spool.put("runs", {"duration": 1.0})
    moved = spool.set_aside(path, "run_id missing")
    assert spool.pending() == []
    assert moved.parent == spool.folder / REJECTED
    assert json.loads(moved.read_text())["row"] == {"duration": 1.0}
    assert moved.with_suffix(".reason.txt").read_text() == "run_id missing"


def test_a_spool_root_others_could_write_to_is_refused(tmp_path):
    env = environment(tmp_path)
    state = tmp_path / "state" / "carbonboard"
    state.mkdir(parents=True)
    os.chmod(state, 0o777)
    spool = Spool.for_database("postgresql://db/team", env)
    assert spool.folder.parent == tmp_path / "tmp" / "carbonboard" / "spool"


def test_an_interrupted_write_leaves_only_a_temporary_file_that_is_cleaned_later(tmp_path):
    spool = Spool.for_database("postgresql://db/team", environment(tmp_path))
    leftover = spool.folder / ".123-1-000001.runs.json.99.tmp"
    leftover.write_text('{"format": 1, "ta')
    assert spool.pending() == []
    spool.remove_stale_temporaries(now_s=time.time() + 2 * 3600)
    assert not leftover.exists()


KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    from tracker import OfflineEmissionsTracker
    tracker = OfflineEmissionsTracker(
        project_name="killed", output_dir=sys.argv[2], measure_power_secs=0.05,
        force_cpu_power=10.0, force_ram_power=1.0, country_iso_code="FRA",
        database_url=sys.argv[1],
    )
    tracker.start()
    print(tracker.run_id, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_run_leaves_its_last_checkpoint_which_sync_delivers(database, tmp_path):
    wrong = database.url.replace("throwaway-superuser-password", "wrong")  # same folder
    env = {**os.environ, **environment(tmp_path)}
    env.pop("CARBONBOARD_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, wrong, str(tmp_path)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    run_id = process.stdout.readline().strip()
    spool = Spool.for_database(database.url, environment(tmp_path))
    deadline = time.monotonic() + 20
    while not spool.pending():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    process.kill()
    process.wait()
    left = len(spool.pending())
    assert left == 1 or left == 2  # the newest checkpoint (and, killed mid-way, the one before)
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "sync", "--database", database.url],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert f"delivered {left} run row(s)" in result.stdout, result.stderr
    import psycopg  # the database fixture made sure it is installed

    with psycopg.connect(database.url) as conn:
        stored = conn.execute(f"SELECT run_id, status FROM {ddl.RUNS}").fetchall()
    assert stored == [(run_id, "running")]  # the board shows a stale running run as crashed


def test_sync_delivers_only_to_its_database_and_names_the_rows_waiting_for_another(
    database, tmp_path
):
    other = Spool.for_database("postgresql://ana:pw@elsewhere.example/team", environment(tmp_path))
    other.put("runs", {"run_id": "r", "timestamp": "2026-01-01T00:00:00Z"})
    env = {**os.environ, **environment(tmp_path)}
    env.pop("CARBONBOARD_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "sync", "--database", database.url],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "delivered 0 run row(s)" in result.stdout
    assert f"1 row(s) in {other.folder} wait for another database" in result.stdout
    assert "postgresql://elsewhere.example/team" in result.stdout
    assert len(other.pending()) == 1


def test_a_row_the_database_refuses_holds_back_no_other_row(database, tmp_path):
    """A row set aside, never retried: PostgreSQL refuses it (a rule of the team's database), or
    it holds what PostgreSQL cannot (a NUL character, a count beyond bigint). The other rows of
    its batch are delivered, and text whose bytes were not UTF-8 arrives with U+FFFD."""
    import psycopg

    from tracker.db import migrations
    from tracker.db.sync import sync_command

    with psycopg.connect(database.url) as conn:
        migrations.migrate(conn)
        rule = "ADD CONSTRAINT no_demo CHECK (project_name <> 'demo')"
        conn.execute(f"ALTER TABLE {ddl.RUNS} {rule}")
        conn.commit()
    env = environment(tmp_path)
    spool = Spool.for_database(database.url, env)
    when = {"timestamp": "2026-01-01T00:00:00Z"}
    spool.put("runs", {**when, "run_id": "good-1", "project_name": "nlp"})
    spool.put("runs", {**when, "run_id": "refused", "project_name": "demo"})
    spool.put("tasks", {**when, "run_id": "good-1", "task_name": "load\0data"})
    spool.put("runs", {**when, "run_id": "huge", "project_name": "nlp", "rank": 2**70})
    spool.put("runs", {**when, "run_id": "good-2", "project_name": "caf\udce9"})
    out, err = io.StringIO(), io.StringIO()
    assert sync_command(database.url, environ=env, out=out, err=err) == 1  # rows set aside
    assert "delivered 2 run row(s) and 0 task row(s)" in out.getvalue()
    assert err.getvalue().count("set aside, cannot be written") == 3
    with psycopg.connect(database.url) as conn:
        stored = conn.execute(f"SELECT run_id, project_name FROM {ddl.RUNS} ORDER BY 1").fetchall()
    assert stored == [("good-1", "nlp"), ("good-2", "caf\ufffd")]
    reasons = sorted(p.read_text() for p in (spool.folder / REJECTED).glob("*.reason.txt"))
    assert [reason.split(":")[0] for reason in reasons] == [
        "rank is out of range",
        "task_name holds a NUL character, which PostgreSQL text cannot",
        "the database refused it",
    ]
    assert "no_demo" in reasons[2]
    assert spool.pending() == []


@pytest.mark.parametrize(
    "url", ["postgresql://u:s3cret@127.0.0.1:99999/db", "postgresql://u@[::1/db"]
)
def test_sync_and_import_say_a_malformed_url_in_one_line(tmp_path, url):
    """Never a traceback, never the password: the URL is shown masked."""
    from tracker.config import shown_url

    assert "s3cret" not in shown_url(url) and "(malformed)" in shown_url(url)
    env = {**os.environ, **environment(tmp_path)}
    env.pop("CARBONBOARD_DATABASE_URL", None)
    for command in (
        [sys.executable, "-m", "tracker", "sync", "--database", url],
        [
            sys.executable,
            "-m",
            "carbonboard",
            "import",
            "--database",
            url,
            "--filepath",
            "examples",
        ],
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
        )
        assert done.returncode in (1, 2) and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "s3cret" not in done.stderr


def test_import_without_psycopg_says_which_extra_to_install(tmp_path):
    script = (
        "import sys; sys.modules['psycopg'] = None; sys.argv[0] = 'carbonboard'; "
        "from carbonboard.cli import main; main()"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "import",
            "--database",
            "postgresql://u@127.0.0.1:1/db",
            "--filepath",
            "examples",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    assert "pip install 'carbonboard[postgres]'" in done.stderr
