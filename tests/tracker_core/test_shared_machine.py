"""One machine, several users: a lock file, a checkpoint or an emissions CSV that another user
left never stops a run's row, and is never taken over.

Each case runs a tracker as the unprivileged user ``nobody``, in a process forked from this one
(the interpreter may live where ``nobody`` cannot read it: nothing is loaded again), against files
this root process made as another user would. Switching users needs root.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import stat
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker import OfflineEmissionsTracker, schema
from tracker.output import runs_dir

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="switching users needs root and fork",
)

NOBODY = 65534


def run_tracker(folder: Path, **settings: object) -> str:
    """One run in ``folder`` with ``nobody``'s home and temp folder; its run id."""
    tracker = OfflineEmissionsTracker(
        output_dir=str(folder),
        country_iso_code="FRA",
        force_cpu_power=10,
        force_ram_power=1,
        environ={"HOME": str(folder / "home"), "TMPDIR": str(folder / "tmp")},
        **settings,
    )
    tracker.start()
    tracker.stop()
    return tracker.run_id


def as_nobody(folder: Path, **settings: object) -> tuple[str, str]:
    """:func:`run_tracker` as user ``nobody`` in a forked process: its run id and the tracker's
    warnings. Fails the test with the child's traceback when it raised."""
    log, result = folder / "tracker.log", folder / "run_id.txt"
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            handler = logging.FileHandler(log)
            logging.getLogger("tracker").addHandler(handler)
            result.write_text(run_tracker(folder, **settings))
            handler.close()
            code = 0
        except BaseException:
            (folder / "traceback.txt").write_text(traceback.format_exc())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    failure = folder / "traceback.txt"
    assert os.waitstatus_to_exitcode(status) == 0, failure.read_text() if failure.exists() else ""
    return result.read_text(), log.read_text() if log.exists() else ""


@pytest.fixture
def shared(tmp_path) -> Iterator[Path]:
    """A folder every user may write to (a team's project folder), holding ``nobody``'s home
    and temp folder. Runs as root first load every module a run uses: one into a file whose
    header is migrated, one whose row goes to the fallback folder."""
    old_header = [n for n in schema.FIELDNAMES if n != "metrics"]
    (tmp_path / "emissions.csv").write_text(",".join(old_header) + "\n", encoding="utf-8")
    run_tracker(tmp_path)
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "emissions.csv").write_bytes(b"\x00 not a CSV")
    run_tracker(tmp_path / "blocked")
    folder = Path(tempfile.mkdtemp(prefix="carbonboard-shared-"))
    folder.chmod(0o777)
    for name in ("home", "tmp"):
        (folder / name).mkdir()
        os.chown(folder / name, NOBODY, NOBODY)
    yield folder
    for inside in sorted(folder.rglob("*"), reverse=True):
        inside.rmdir() if inside.is_dir() and not inside.is_symlink() else inside.unlink()
    folder.rmdir()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_run_lock_file_another_user_created_locks_nobody_out(shared):
    lock = shared / "tmp" / ".carbonboard-tracker.lock"
    lock.touch(mode=0o644)  # made by another user's tracker, long finished
    os.chown(lock, 0, 0)
    run_id, _ = as_nobody(shared, allow_multiple_runs=False)
    assert [row["run_id"] for row in rows(shared / "emissions.csv")] == [run_id]


def test_a_csv_lock_left_by_another_users_killed_writer_keeps_the_rows_in_the_file(shared):
    path = shared / "emissions.csv"
    path.write_text(",".join(schema.FIELDNAMES) + "\n", encoding="utf-8")
    path.chmod(0o666)  # the team's file, writable by all
    sidecar = shared / ".emissions.csv.lock"
    sidecar.touch(mode=0o644)  # its holder was killed: the sidecar stays, another user's
    run_id, _ = as_nobody(shared)
    assert [row["run_id"] for row in rows(path)] == [run_id]


def test_a_file_of_another_user_is_never_taken_over_by_a_rewrite(shared):
    """A migration would swap in a copy owned by ``nobody``: the row goes to the fallback file
    instead, and the team's file keeps its owner and its bytes."""
    path = shared / "emissions.csv"
    old_header = [n for n in schema.FIELDNAMES if n != "metrics"]
    path.write_text(",".join(old_header) + "\n", encoding="utf-8")
    path.chmod(0o666)
    before = path.read_bytes()
    run_id, warnings = as_nobody(shared)
    assert path.read_bytes() == before
    assert path.stat().st_uid == 0
    fallback = list((shared / "home").rglob("*.csv"))
    assert [row["run_id"] for found in fallback for row in rows(found)] == [run_id]
    assert "owned by another user" in warnings


def test_a_checkpoint_another_user_may_not_read_is_left_for_its_owner(shared):
    folder = runs_dir(shared / "emissions.csv")
    folder.mkdir()
    os.chown(folder, NOBODY, NOBODY)  # a folder nobody may delete from
    checkpoint = folder / "other-run.json"
    checkpoint.write_text(json.dumps({"row": {"run_id": "other-run"}, "pid": 1}))
    checkpoint.chmod(stat.S_IRUSR | stat.S_IWUSR)  # another user's, 0600
    as_nobody(shared)
    assert checkpoint.exists()
