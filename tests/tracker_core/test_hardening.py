"""A full disk, a file that is not ours, odd bytes and a hostile shared folder never cost a row
nor touch anything that is not the tracker's (#17)."""

from __future__ import annotations

import contextlib
import csv
import errno
import logging
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tracker import EmissionsTracker, OfflineEmissionsTracker, schema
from tracker.config import SECRET_MASK, resolve
from tracker.intensity.live import ElectricityMapsClient
from tracker.notices import Notices
from tracker.output import Checkpoint, append_row, append_with_fallback, recover_crashed, runs_dir
from tracker.output.checkpoint import prepare_runs_dir
from tracker.output.fallback import UnsafeFolderError, ensure_private_dir

NEW_ROW = {"run_id": "new", "emissions": 4.5e-06, "duration": 12.0, "status": "finished"}
OLD_HEADER = [
    n
    for n in (c.name for c in schema.CODECARBON_COLUMNS)
    if n not in schema.ADDED_IN_CODECARBON_2_4 + schema.ADDED_IN_CODECARBON_3
]


class FullDisk:
    """``os.write`` on a disk with ``free_bytes`` left under ``folder``: what fits is written (a
    short count, as the kernel answers), the next write fails with ENOSPC. Elsewhere: ``os.write``.
    """

    def __init__(self, folder: Path, free_bytes: int) -> None:
        self.folder = folder.resolve()
        self.free_bytes = free_bytes
        self.short_writes = 0

    def __call__(self, fd: int, data: bytes) -> int:
        if not Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(self.folder):
            return os.write(fd, data)
        if self.free_bytes <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(fd, bytes(data[: self.free_bytes]))
        self.free_bytes -= written
        self.short_writes += written < len(data)
        return written


def ours(path: Path, rows: int = 2) -> bytes:
    """An emissions CSV of ``rows`` rows written by the tracker; its bytes."""
    for i in range(rows):
        append_row(path, {**NEW_ROW, "run_id": f"old-{i}"}, schema.FIELDNAMES)
    return path.read_bytes()


def run_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row["run_id"] for row in csv.DictReader(handle)]


@pytest.fixture
def private_env(tmp_path: Path) -> dict[str, str]:
    """Fallback folders under the test's folder: a state folder, and a sticky world-writable
    folder standing in for the machine's shared temp folder."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TMPDIR": str(shared),
    }


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# --- full disk ----------------------------------------------------------------------------------


def test_a_short_write_is_undone_and_the_row_goes_to_the_fallback(tmp_path, private_env, caplog):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "emissions.csv"
    before = ours(path)
    disk = FullDisk(out, free_bytes=40)  # the row is longer: the kernel takes 40 bytes of it

    target = append_with_fallback(path, NEW_ROW, schema.FIELDNAMES, environ=private_env, write=disk)

    assert disk.short_writes == 1
    assert path.read_bytes() == before  # no cut-short row
    assert target == tmp_path / "state" / "carbonboard" / "emissions-fallback.csv"
    assert run_ids(target) == ["new"]
    (message,) = errors(caplog)
    assert str(path) in message and str(target) in message and "No space left" in message


def test_a_new_file_on_a_full_disk_is_left_empty_not_half_written(tmp_path, private_env):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "emissions.csv"
    target = append_with_fallback(
        path, NEW_ROW, schema.FIELDNAMES, environ=private_env, write=FullDisk(out, 100)
    )
    assert path.read_bytes() == b""
    assert run_ids(target) == ["new"]


def test_a_migration_on_a_full_disk_leaves_the_file_and_no_temporary_file(tmp_path, private_env):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "emissions.csv"
    path.write_text(",".join(OLD_HEADER) + "\n" + ",".join(["x"] * len(OLD_HEADER)) + "\n")
    before = path.read_bytes()
    target = append_with_fallback(
        path, NEW_ROW, schema.FIELDNAMES, environ=private_env, write=FullDisk(out, 300)
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["emissions.csv"]
    assert run_ids(target) == ["new"]


def test_a_failed_checkpoint_keeps_the_previous_one_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "emissions.csv"
    Checkpoint(path, "run").write({"run_id": "run", "emissions": "1e-06"})
    previous = (runs_dir(path) / "run.json").read_bytes()
    failing = Checkpoint(path, "run", write=FullDisk(tmp_path, free_bytes=20))
    with pytest.raises(OSError, match="No space left"):
        failing.write({"run_id": "run", "emissions": "2e-06"})
    assert [p.name for p in runs_dir(path).iterdir()] == ["run.json"]
    assert (runs_dir(path) / "run.json").read_bytes() == previous


def test_any_exception_while_writing_falls_back(tmp_path, private_env):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "emissions.csv"
    before = ours(path)

    def broken(fd: int, data: bytes) -> int:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(out.resolve()):
            raise RuntimeError("a bug in the write path")
        return os.write(fd, data)

    target = append_with_fallback(
        path, NEW_ROW, schema.FIELDNAMES, environ=private_env, write=broken
    )
    assert path.read_bytes() == before
    assert run_ids(target) == ["new"]


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real file system of ``size`` mounted on ``folder`` (needs the right to mount)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_real_full_disk_never_leaves_a_cut_short_row(tmp_path, private_env, caplog):
    with small_tmpfs(tmp_path / "disk", "64k") as disk:
        path = disk / "emissions.csv"
        before = ours(path)
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 512):  # fill the disk to the last block
                pass
        os.close(fd)
        big = {**NEW_ROW, "project_name": "p" * 20_000}  # more than one free block, if any

        target = append_with_fallback(path, big, schema.FIELDNAMES, environ=private_env)

        assert path.read_bytes() == before
        assert target == tmp_path / "state" / "carbonboard" / "emissions-fallback.csv"
        assert run_ids(target) == ["new"]
        assert str(path) in errors(caplog)[0]
        checkpoint = Checkpoint(path, "run")
        with pytest.raises(OSError):
            checkpoint.write({"run_id": "run", "project_name": "p" * 20_000})
        assert [p.name for p in runs_dir(path).iterdir()] == []


# --- bytes that are not UTF-8 -------------------------------------------------------------------


def test_a_row_in_another_encoding_survives_a_migration_byte_for_byte(tmp_path):
    path = tmp_path / "emissions.csv"
    header = ",".join(OLD_HEADER).encode()
    cells = [b"caf\xe9 latin-1", b"\xff\xfe not UTF-8", b'"quoted, \xe9\nsecond line"']
    latin = b",".join([*cells, *[b"1"] * (len(OLD_HEADER) - len(cells))])
    path.write_bytes(header + b"\n" + latin + b"\n")

    append_row(path, NEW_ROW, schema.FIELDNAMES)

    added = len(schema.merged_fieldnames(OLD_HEADER, schema.FIELDNAMES)) - len(OLD_HEADER)
    lines = path.read_bytes().split(b"\n")
    assert b"\n".join(lines[1:3]) == latin + b"," * added
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        records = list(csv.DictReader(handle))
    assert [r["run_id"] for r in records][-1] == "new" and len(records) == 2


# --- a file that is not ours --------------------------------------------------------------------

FOREIGN = {
    "a dataset": b"name,age\nalice,3\nbob,4\n",
    "no header": b"1.5,2.5,3.5\n4,5,6\n",
    "a binary": bytes(range(256)) * 300,  # no newline in the first 64 KiB, NUL bytes
    "a shell profile": b"export PATH=$HOME/bin:$PATH\nalias ll='ls -l'\n",
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_file_that_is_not_an_emissions_csv_is_never_written(tmp_path, private_env, caplog, kind):
    path = tmp_path / "emissions.csv"
    path.write_bytes(FOREIGN[kind])
    target = append_with_fallback(path, NEW_ROW, schema.FIELDNAMES, environ=private_env)
    assert path.read_bytes() == FOREIGN[kind]
    assert target == tmp_path / "emissions.carbonboard.csv"
    assert run_ids(target) == ["new"]
    (message,) = errors(caplog)
    assert str(path) in message and str(target) in message and "not an emissions CSV" in message
    # The next run goes to the same file beside it.
    append_with_fallback(
        path, {**NEW_ROW, "run_id": "next"}, schema.FIELDNAMES, environ=private_env
    )
    assert run_ids(target) == ["new", "next"] and path.read_bytes() == FOREIGN[kind]


def test_when_the_file_beside_is_foreign_too_the_row_goes_to_the_fallback(tmp_path, private_env):
    path = tmp_path / "emissions.csv"
    path.write_bytes(FOREIGN["a dataset"])
    (tmp_path / "emissions.carbonboard.csv").write_bytes(FOREIGN["no header"])
    target = append_with_fallback(path, NEW_ROW, schema.FIELDNAMES, environ=private_env)
    assert target == tmp_path / "state" / "carbonboard" / "emissions-fallback.csv"
    assert (tmp_path / "emissions.carbonboard.csv").read_bytes() == FOREIGN["no header"]


def test_a_crashed_run_of_a_foreign_file_is_recorded_beside_it(tmp_path, kit):
    path = tmp_path / "emissions.csv"
    dead = "import sys; from pathlib import Path; from tracker.output import Checkpoint; "
    dead += "Checkpoint(Path(sys.argv[1]), 'dead').write({'run_id': 'dead'})"
    subprocess.run(
        [sys.executable, "-c", dead, str(path)], env=kit.subprocess_env(tmp_path), check=True
    )
    path.write_bytes(FOREIGN["a dataset"])
    assert recover_crashed(path, schema.FIELDNAMES) == 1
    assert path.read_bytes() == FOREIGN["a dataset"]
    assert run_ids(tmp_path / "emissions.carbonboard.csv") == ["dead"]


# --- shared folders -----------------------------------------------------------------------------


def blocked_state(private_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment with the state folder unusable, so the shared temp folder is tried."""
    (tmp_path / "not-a-folder").write_text("")
    return {**private_env, "XDG_STATE_HOME": str(tmp_path / "not-a-folder")}


def test_the_shared_fallback_folder_is_created_private(tmp_path, private_env):
    environ = blocked_state(private_env, tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    target = append_with_fallback(
        blocker / "emissions.csv", NEW_ROW, schema.FIELDNAMES, environ=environ
    )
    folder = Path(private_env["TMPDIR"]) / "carbonboard"
    assert target == folder / "emissions-fallback.csv"
    info = folder.lstat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.geteuid()


def planted_symlink(shared: Path, tmp_path: Path) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    (shared / "carbonboard").symlink_to(victim)
    return victim


def planted_foreign_owner(shared: Path, tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    folder = shared / "carbonboard"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    return folder


def planted_open_folder(shared: Path, tmp_path: Path) -> Path:
    folder = shared / "carbonboard"
    folder.mkdir()
    folder.chmod(0o777)
    return folder


@pytest.mark.parametrize(
    ("plant", "why"),
    [
        (planted_symlink, "symbolic link"),
        (planted_foreign_owner, "belongs to user id 65534"),
        (planted_open_folder, "others can write into it (mode 0777)"),
    ],
)
def test_a_planted_shared_fallback_folder_is_refused(tmp_path, private_env, caplog, plant, why):
    environ = blocked_state(private_env, tmp_path)
    planted = plant(Path(private_env["TMPDIR"]), tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    target = append_with_fallback(
        blocker / "emissions.csv", NEW_ROW, schema.FIELDNAMES, environ=environ
    )
    assert target is None
    assert list(planted.iterdir()) == []  # nothing written through it
    assert why in caplog.text and "the row is lost" in errors(caplog)[0]


def test_checkpoints_in_a_shared_folder_are_private_and_refuse_a_planted_link(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    folder = prepare_runs_dir(shared / "emissions.csv")
    assert stat.S_IMODE(folder.lstat().st_mode) == 0o700

    victim = tmp_path / "victim"
    victim.mkdir()
    (shared / ".other.csv.runs").symlink_to(victim)
    with pytest.raises(UnsafeFolderError, match="symbolic link"):
        Checkpoint(shared / "other.csv", "run").write({"run_id": "run"})
    with pytest.raises(UnsafeFolderError):
        recover_crashed(shared / "other.csv", schema.FIELDNAMES)
    assert list(victim.iterdir()) == []


def test_a_private_folder_of_ours_is_accepted(tmp_path):
    folder = tmp_path / "mine"
    ensure_private_dir(folder)
    ensure_private_dir(folder)  # the second time it exists
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --- secrets ------------------------------------------------------------------------------------

TOKEN = "em-token-5ecret-0123456789"


def test_the_api_token_is_masked_in_the_settings_repr_and_errors(workdir, environ):
    settings = resolve({"electricitymaps_api_token": TOKEN}, environ=environ)
    assert settings.electricitymaps_api_token == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert f"electricitymaps_api_token={SECRET_MASK}" in repr(settings)
    assert "electricitymaps_api_token=None" in repr(resolve({}, environ=environ))
    (workdir / ".carbonboard.config").write_text(
        f"[carbonboard]\nelectricitymaps_api_token = {TOKEN}\npue = 9\n", encoding="utf-8"
    )
    with pytest.raises(ValueError) as raised:
        EmissionsTracker(environ=environ)
    assert TOKEN not in str(raised.value) and "pue" in str(raised.value)


def test_credentials_in_an_endpoint_url_are_not_shown_in_the_settings_repr(environ):
    url = "https://collector:s3cret-pass@example.org:8443/rows?token=abc123"
    settings = resolve({"emissions_endpoint": url}, environ=environ)
    assert settings.emissions_endpoint == url
    shown = repr(settings)
    assert "s3cret-pass" not in shown and "abc123" not in shown and "collector" not in shown
    assert "emissions_endpoint='https://example.org:8443/rows'" in shown


class RejectingApi(BaseHTTPRequestHandler):
    """Electricity Maps answering every request with ``status``; records the tokens it got."""

    status = 401
    tokens: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        RejectingApi.tokens.append(self.headers.get("auth-token", ""))
        body = b"{not json" if self.status == 200 else b'{"error": "denied"}'
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.mark.parametrize("status", [401, 500, 200])
def test_the_api_token_is_in_no_log_line_when_the_api_fails(tmp_path, caplog, status):
    RejectingApi.status, RejectingApi.tokens = status, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RejectingApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        live = ElectricityMapsClient(
            TOKEN,
            url=f"http://127.0.0.1:{server.server_port}",
            cache_dir=tmp_path / "cache",
            notices=Notices(),  # its own: the failure is logged as a first, at WARNING
        )
        with caplog.at_level(logging.DEBUG):
            assert live.latest({"zone": "FR"}) is None
    finally:
        server.shutdown()
        server.server_close()
    assert RejectingApi.tokens == [TOKEN]  # the token was used...
    assert "Electricity Maps lookup" in caplog.text
    assert TOKEN not in caplog.text  # ...and never logged


def test_the_api_token_is_in_no_log_line_of_a_run(tmp_path, environ, kit, caplog):
    with caplog.at_level(logging.DEBUG):
        tracker = OfflineEmissionsTracker(
            electricitymaps_api_token=TOKEN,
            output_dir=str(tmp_path / "out"),
            log_level="debug",
            measure_power_secs=0.05,
            environ=environ,
            power_sources=kit.steady_sources(),
        )
        tracker.start()
        tracker.stop()
    assert caplog.records and TOKEN not in caplog.text
    assert TOKEN not in (tmp_path / "out" / "emissions.csv").read_text(encoding="utf-8")


# --- config files in the working folder ---------------------------------------------------------


def project_config(workdir: Path, text: str, name: str = ".carbonboard.config") -> None:
    section = "carbonboard" if name == ".carbonboard.config" else "codecarbon"
    (workdir / name).write_text(f"[{section}]\n{text}", encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("output_dir = {home}\noutput_file = .bashrc\n", "hidden file"),
        ("output_file = ../../../outside.csv\n", "outside the working folder"),
        ("output_dir = {elsewhere}\n", "outside the working folder"),
        ("output_dir = {home}/.config/autostart\n", "hidden folder"),
        ("output_dir = .git\n", "hidden folder"),
        ("output_dir = linked\n", "hidden folder"),  # ./linked -> ~/.ssh
        ("output_file = run.sh\n", "not a .csv file"),
    ],
)
@pytest.mark.parametrize("name", [".carbonboard.config", ".codecarbon.config"])
def test_a_working_folder_config_cannot_aim_the_output_elsewhere(
    workdir, environ, tmp_path, text, problem, name
):
    home = Path(environ["HOME"])
    (home / ".ssh").mkdir()
    (workdir / "linked").symlink_to(home / ".ssh")
    project_config(workdir, text.format(home=home, elsewhere=tmp_path / "elsewhere"), name)
    with pytest.raises(ValueError, match=problem) as raised:
        EmissionsTracker(environ=environ)
    assert f"config file {workdir / name}" in str(raised.value)
    assert sorted(p.name for p in home.iterdir()) == [".ssh"]  # nothing written
    assert list((home / ".ssh").iterdir()) == []


def test_a_working_folder_config_may_write_inside_it_or_the_home_folder(workdir, environ):
    home = Path(environ["HOME"])
    project_config(workdir, "output_dir = results/today\noutput_file = runs.csv\n")
    assert resolve({}, environ=environ).output_path == Path("results/today/runs.csv")
    project_config(workdir, f"output_dir = {home}/experiments\n")
    assert resolve({}, environ=environ).output_dir == f"{home}/experiments"


def test_an_explicit_choice_may_write_anywhere(workdir, environ, tmp_path):
    home = Path(environ["HOME"])
    elsewhere = str(tmp_path / "elsewhere")
    project_config(workdir, "output_file = .bashrc\n")
    argued = resolve({"output_dir": elsewhere, "output_file": ".hidden.csv"}, environ=environ)
    assert argued.output_path == Path(elsewhere) / ".hidden.csv"
    env = resolve({}, environ={**environ, "CARBONBOARD_OUTPUT_FILE": ".h.csv"})
    assert env.output_file == ".h.csv"
    (home / ".carbonboard.config").write_text(f"[carbonboard]\noutput_dir = {elsewhere}\n")
    (workdir / ".carbonboard.config").unlink()
    assert resolve({}, environ=environ).output_dir == elsewhere  # the user's own file
    # A config file in the home folder, when that is the working folder, is the user's own too.
    (home / ".carbonboard.config").write_text("[carbonboard]\noutput_file = .in-home.csv\n")
    assert resolve({}, environ=environ, cwd=home).output_file == ".in-home.csv"


@pytest.mark.parametrize(
    "text",
    [
        "database_url = postgresql://writer:pw@db.example.org/runs\n",
        "emissions_endpoint = https://collector.example.org/rows\n",
        "save_to_prometheus = true\nprometheus_url = gateway.example.org:9091\n",
        "prometheus_port = 9100\nprometheus_host = 0.0.0.0\n",
    ],
)
def test_a_working_folder_config_cannot_send_the_runs_anywhere(workdir, environ, text):
    project_config(workdir, text)
    with pytest.raises(ValueError, match="may not choose where runs are sent") as raised:
        EmissionsTracker(environ=environ)
    assert f"config file {workdir / '.carbonboard.config'}" in str(raised.value)
    assert "pw@" not in str(raised.value)
    # The user's own config file, an argument or the environment may.
    home = Path(environ["HOME"])
    (home / ".carbonboard.config").write_text(f"[carbonboard]\n{text}", encoding="utf-8")
    (workdir / ".carbonboard.config").unlink()
    key, value = text.splitlines()[-1].split(" = ")  # the destination itself
    assert str(getattr(resolve({}, environ=environ), key)) == value


def test_text_from_a_config_file_is_data_never_shell(workdir, environ, kit):
    project_config(
        workdir,
        "project_name = $(touch pwned-1)\nexperiment_id = `touch pwned-2`; touch pwned-3\n"
        "region = %(home)s ${HOME}\noutput_dir = $HOME\n",
    )
    with OfflineEmissionsTracker(environ=environ, power_sources=kit.steady_sources()) as tracker:
        pass
    assert tracker.settings.project_name == "$(touch pwned-1)"
    assert tracker.settings.region == "%(home)s ${HOME}"
    (row,) = kit.read_rows(workdir / "$HOME" / "emissions.csv")[1]  # a folder named "$HOME"
    assert row["project_name"] == "$(touch pwned-1)"
    assert row["experiment_id"] == "`touch pwned-2`; touch pwned-3"
    assert not list(workdir.rglob("pwned*")) and not list(Path(environ["HOME"]).rglob("pwned*"))


# --- the lock sidecar ---------------------------------------------------------------------------

COUNTER = """
import sys
from pathlib import Path
from tracker.output import locked

path = Path(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with locked(path):  # a read-modify-write that loses counts unless writers exclude each other
        path.write_text(str(int(path.read_text()) + 1))
"""


def test_the_lock_excludes_writers_and_leaves_no_file_behind(tmp_path, kit):
    path = tmp_path / "counter.csv"
    path.write_text("0")
    writers, rounds = 8, 150
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER, str(path), str(rounds)],
            env=kit.subprocess_env(tmp_path),
        )
        for _ in range(writers)
    ]
    assert [p.wait(timeout=120) for p in processes] == [0] * writers
    assert path.read_text() == str(writers * rounds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter.csv"]


def test_a_lock_sidecar_of_an_older_version_is_removed_at_the_next_write(tmp_path):
    path = tmp_path / "emissions.csv"
    (tmp_path / ".emissions.csv.lock").write_bytes(b"")
    append_row(path, NEW_ROW, schema.FIELDNAMES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emissions.csv"]


def test_a_rewrite_removes_the_copies_left_by_a_writer_killed_mid_rewrite(tmp_path, private_env):
    """A migration killed with -9 leaves its temporary copy (as large as the file); the next
    rewrite, under the same lock, removes it: no live writer has one."""
    path = tmp_path / "emissions.csv"
    path.write_text(",".join(OLD_HEADER) + "\n" + ",".join(["x"] * len(OLD_HEADER)) + "\n")
    left = tmp_path / ".emissions.csv.k1ll3d.tmp"
    left.write_bytes(path.read_bytes())
    append_row(path, NEW_ROW, schema.FIELDNAMES)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    assert run_ids(path) == ["x", "new"]
