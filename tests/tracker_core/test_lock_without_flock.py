"""The CSV lock where ``fcntl`` is missing (Windows): ``filelock`` takes it, with the lifecycle of
the POSIX lock. Windows' own byte-range lock only runs on Windows; here a child Python started
without ``fcntl`` runs the same branch of :mod:`tracker.output.lock` on filelock's portable
backend, in real processes racing for the lock.
"""

from __future__ import annotations

import subprocess
import sys

# The child hides fcntl before anything imports it, as on Windows.
WITHOUT_FCNTL = """
import sys
sys.modules["fcntl"] = None
from pathlib import Path
from tracker.output import locked
"""

COUNTER = (
    WITHOUT_FCNTL
    + """
path = Path(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with locked(path):  # a read-modify-write that loses counts unless writers exclude each other
        path.write_text(str(int(path.read_text()) + 1))
print(type(locked(path)).__module__)
"""
)

UNUSABLE_FOLDER = (
    WITHOUT_FCNTL
    + """
try:
    with locked(Path(sys.argv[1]) / "emissions.csv"):
        pass
except OSError as error:
    print(type(error).__name__)
"""
)


def test_without_fcntl_filelock_excludes_writers_and_leaves_no_file_behind(tmp_path, kit):
    path = tmp_path / "counter.csv"
    path.write_text("0")
    writers, rounds = 4, 25
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", COUNTER, str(path), str(rounds)],
            env=kit.subprocess_env(tmp_path),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(writers)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0] * writers
    assert all(out.strip().startswith("filelock") for out in outputs), outputs
    assert path.read_text() == str(writers * rounds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter.csv"]


def test_without_fcntl_a_lock_that_cannot_be_made_raises_at_once(tmp_path, kit):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    done = subprocess.run(
        [sys.executable, "-c", UNUSABLE_FOLDER, str(not_a_folder)],
        env=kit.subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,  # the former Windows branch retried such an error forever
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("NotADirectoryError", "FileExistsError"), done.stdout
