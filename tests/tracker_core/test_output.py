"""Appending rows: header migration, concurrent writers, fallback location, crash recovery."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tracker import schema
from tracker.output import (
    Checkpoint,
    append_row,
    append_with_fallback,
    read_header,
    recover_crashed,
    runs_dir,
)

CODECARBON = [c.name for c in schema.CODECARBON_COLUMNS]
# Headers CodeCarbon has written over time, built from the contract.
HISTORICAL_HEADERS = {
    "codecarbon-2.x": [
        n
        for n in CODECARBON
        if n not in schema.ADDED_IN_CODECARBON_2_4 + schema.ADDED_IN_CODECARBON_3
    ],
    "codecarbon-2.4+": [n for n in CODECARBON if n not in schema.ADDED_IN_CODECARBON_3],
    "codecarbon-3.x": CODECARBON,
}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "codecarbon"


def old_cells(header: list[str], index: int) -> list[str]:
    """A row as another writer formatted it: the exact text must survive a migration."""
    special = {
        "emissions": "1.2300000000e-05",
        "duration": f"{index}.50",
        "project_name": 'old, "quoted" project',
        "cpu_model": "line one\nline two",
        "run_id": f"old-{index}",
    }
    return [special.get(name, f"{name}-{index}") for name in header]


def write_csv(path: Path, header: list[str], rows: list[list[str]], newline: str = "\n") -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator=newline).writerows([header, *rows])


def parse(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


NEW_ROW = {"run_id": "new", "emissions": 4.5e-06, "duration": 12.0, "status": "finished"}


@pytest.mark.parametrize("version", sorted(HISTORICAL_HEADERS))
def test_historical_header_is_migrated_keeping_every_old_cell(tmp_path, version, caplog):
    path = tmp_path / "emissions.csv"
    header = HISTORICAL_HEADERS[version]
    old_rows = [old_cells(header, i) for i in range(3)]
    write_csv(path, header, old_rows)
    with caplog.at_level(logging.INFO, logger="tracker"):
        append_row(path, NEW_ROW, schema.FIELDNAMES)

    records = parse(path)
    merged = schema.merged_fieldnames(header, schema.FIELDNAMES)
    assert records[0] == merged and set(merged) == set(schema.FIELDNAMES)
    added = len(merged) - len(header)
    for old, now in zip(old_rows, records[1:4], strict=True):
        assert now == old + [""] * added
    new = dict(zip(merged, records[4], strict=True))
    assert (new["run_id"], new["emissions"], new["duration"]) == ("new", "4.5e-06", "12.0")
    assert new["timestamp"] == "" and len(records) == 5
    assert "1.2300000000e-05" in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emissions.csv"]  # no lock left
    assert f"added {merged[len(header)]}" in caplog.text


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("codecarbon-*.csv")))
def test_real_codecarbon_files_keep_their_bytes_as_a_prefix_of_each_line(tmp_path, fixture):
    path = tmp_path / fixture
    shutil.copy(FIXTURES / fixture, path)
    before = path.read_text(encoding="utf-8").splitlines()
    append_row(path, NEW_ROW, schema.FIELDNAMES)
    after = path.read_text(encoding="utf-8").splitlines()
    added = len(schema.FIELDNAMES) - before[0].count(",") - 1
    assert after[0].split(",") == schema.merged_fieldnames(before[0].split(","), schema.FIELDNAMES)
    # Every old line is byte-identical, with only empty cells for the new columns after it.
    assert after[1 : len(before)] == [line + "," * added for line in before[1:]]
    assert len(after) == len(before) + 1


def test_same_header_appends_without_rewriting(tmp_path):
    path = tmp_path / "emissions.csv"
    append_row(path, NEW_ROW, schema.FIELDNAMES)
    inode = path.stat().st_ino
    append_row(path, {**NEW_ROW, "run_id": "second"}, schema.FIELDNAMES)
    assert path.stat().st_ino == inode
    records = parse(path)
    assert records[0] == list(schema.FIELDNAMES)
    assert [r[schema.FIELDNAMES.index("run_id")] for r in records[1:]] == ["new", "second"]


def test_a_wider_header_is_kept_and_the_row_aligned_by_name(tmp_path):
    path = tmp_path / "emissions.csv"
    header = ["extra_column", *reversed(schema.FIELDNAMES)]
    write_csv(path, header, [["keep me", *[""] * len(schema.FIELDNAMES)]])
    append_row(path, NEW_ROW, schema.FIELDNAMES)
    records = parse(path)
    assert records[0] == header and records[1][0] == "keep me"
    new = dict(zip(header, records[2], strict=True))
    assert (new["extra_column"], new["run_id"], new["emissions"]) == ("", "new", "4.5e-06")


def test_a_missing_final_newline_and_crlf_endings_are_respected(tmp_path):
    path = tmp_path / "emissions.csv"
    write_csv(path, list(schema.FIELDNAMES), [["x"] * len(schema.FIELDNAMES)], newline="\r\n")
    path.write_bytes(path.read_bytes().rstrip(b"\r\n"))  # a last line cut short
    assert read_header(path) == (list(schema.FIELDNAMES), "\r\n", False)
    append_row(path, NEW_ROW, schema.FIELDNAMES)
    lines = path.read_bytes().split(b"\r\n")
    assert lines[-1] == b"" and len(lines) == 4
    assert parse(path)[2][schema.FIELDNAMES.index("run_id")] == "new"


def test_missing_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "emissions.csv"
    append_row(path, NEW_ROW, schema.FIELDNAMES)
    assert parse(path)[0] == list(schema.FIELDNAMES)


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tracker import schema
    from tracker.output import append_row

    path, writer, rows = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for i in range(rows):
        row = {"run_id": f"{writer}-{i}", "project_name": "x, \\"y\\"\\nz", "emissions": i * 1e-9}
        append_row(path, row, schema.FIELDNAMES)
    """
)


@pytest.mark.slow
def test_sixteen_concurrent_writers_leave_every_row_intact(tmp_path, kit):
    path = tmp_path / "emissions.csv"
    old_header = HISTORICAL_HEADERS["codecarbon-2.x"]
    write_csv(path, old_header, [old_cells(old_header, 0)])  # the first writer must migrate it
    writers, rows = 16, 25
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"w{n}", str(rows)],
            env=kit.subprocess_env(tmp_path),
        )
        for n in range(writers)
    ]
    assert [p.wait(timeout=120) for p in processes] == [0] * writers

    records = parse(path)
    header = records[0]
    assert header == schema.merged_fieldnames(old_header, schema.FIELDNAMES)
    assert records[1] == old_cells(old_header, 0) + [""] * (len(header) - len(old_header))
    body = [dict(zip(header, r, strict=True)) for r in records[2:]]
    assert sorted(r["run_id"] for r in body) == sorted(
        f"w{n}-{i}" for n in range(writers) for i in range(rows)
    )
    assert {r["project_name"] for r in body} == {'x, "y"\nz'}
    assert {float(r["emissions"]) for r in body} == {i * 1e-9 for i in range(rows)}


def test_fallback_when_the_folder_cannot_exist(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    target = append_with_fallback(
        blocker / "emissions.csv", NEW_ROW, schema.FIELDNAMES, environ=environ
    )
    assert target == tmp_path / "state" / "carbonboard" / "emissions-fallback.csv"
    assert parse(target)[1][schema.FIELDNAMES.index("run_id")] == "new"
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "Not a directory" in record.getMessage() and str(target) in record.getMessage()


DEAD_RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tracker.output import Checkpoint

    checkpoint = Checkpoint(Path(sys.argv[1]), "dead-run")
    checkpoint.write({"run_id": "dead-run", "status": "running", "emissions": "1.5e-06"})
    """
)


def test_checkpoints_of_dead_processes_become_crashed_rows(tmp_path, kit, caplog):
    path = tmp_path / "emissions.csv"
    subprocess.run(
        [sys.executable, "-c", DEAD_RUN, str(path)], env=kit.subprocess_env(tmp_path), check=True
    )
    live = Checkpoint(path, "live-run")  # this process: alive
    live.write({"run_id": "live-run", "status": "running"})
    elsewhere = runs_dir(path) / "other-host.json"
    record = json.loads((runs_dir(path) / "dead-run.json").read_text())
    elsewhere.write_text(json.dumps({**record, "hostname": "another-host", "run_id": "other"}))
    (runs_dir(path) / "garbled.json").write_text("{not json")

    assert recover_crashed(path, schema.FIELDNAMES) == 1
    _, rows = kit.read_rows(path)
    assert [(r["run_id"], r["status"], r["emissions"]) for r in rows] == [
        ("dead-run", "crashed", "1.5e-06")
    ]
    remaining = sorted(p.name for p in runs_dir(path).iterdir())
    assert remaining == ["live-run.json", "other-host.json"]
    assert "garbled.json" in caplog.text
    assert recover_crashed(path, schema.FIELDNAMES) == 0
