"""``carbonboard import`` against a real PostgreSQL: ours and CodeCarbon's files, folders and
globs; flush rows folded into the run's last row; bad rows skipped with their reason; importing
twice is importing once; a newer row in the database is never replaced by an older file."""

from __future__ import annotations

import csv
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rollups import assert_exact

from carbonboard.cli import main
from carbonboard.data.history import latest_per_key
from carbonboard.data.loader import parse
from tracker import schema
from tracker.db import ddl

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "codecarbon"
EXAMPLE = ROOT / "examples" / "emissions.csv"


def run_import(url: str, *paths: Path | str) -> str:
    arguments = ["import", "--database", url]
    for path in paths:
        arguments += ["--filepath", str(path)]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    return result.output


def table(url: str, name: str, order: str = "run_id") -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()


def write_history(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=schema.FIELDNAMES, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(run_id: str, timestamp: str, duration: object, status: str = "finished", **more):
    return {
        "timestamp": timestamp,
        "project_name": "imported",
        "run_id": run_id,
        "experiment_id": "e",
        "duration": duration,
        "emissions": 0.5,
        "energy_consumed": 1.0,
        "cpu_count": 4,
        "status": status,
        **more,
    }


def test_our_history_imports_with_the_values_the_board_shows(database):
    output = run_import(database.url, EXAMPLE)
    expected = latest_per_key(parse(EXAMPLE).frame, ["run_id"])
    assert f"{len(parse(EXAMPLE).frame):,} rows read from 1 file(s) into" in output
    assert f"runs written: {len(expected):,} ({len(expected):,} new, 0 updated" in output
    with psycopg.connect(database.url) as conn:
        count, emissions = conn.execute(
            f"SELECT count(*), sum(emissions) FROM {ddl.RUNS}"
        ).fetchone()
        daily = conn.execute(f"SELECT sum(runs), sum(emissions_kg) FROM {ddl.DAILY}").fetchone()
        first = conn.execute(
            f'SELECT "timestamp", project_name, cpu_count, carbon_intensity_source FROM {ddl.RUNS} '
            "WHERE run_id = %s",
            (expected["run_id"].iloc[0],),
        ).fetchone()
    assert count == len(expected)
    assert emissions == pytest.approx(expected["emissions"].sum(), rel=1e-12)
    assert daily[0] == count and float(daily[1]) == pytest.approx(emissions, rel=1e-12)
    source = expected.iloc[0]
    assert first[0] == source["timestamp"].to_pydatetime()
    assert first[1:] == (
        source["project_name"],
        int(source["cpu_count"]),
        source["carbon_intensity_source"] or None,
    )


def test_importing_twice_is_importing_once(database, tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "emissions.csv")
    for name in ("codecarbon-2.2.7.csv", "codecarbon-2.8.4.csv", "codecarbon-3.3.2.csv"):
        shutil.copy(FIXTURES / name, folder / name)
    run_import(database.url, folder, FIXTURES / "tasks-3.3.2" / "*.csv")
    runs, tasks = table(database.url, ddl.RUNS), table(database.url, ddl.TASKS, "1, 2")
    daily = table(database.url, ddl.DAILY, "1, 2, 3")
    assert tasks and len({r[0] for r in runs}) == len(runs)
    again = run_import(database.url, folder, FIXTURES / "tasks-3.3.2" / "*.csv")
    assert "runs written: 0 (0 new, 0 updated" in again
    assert "task rows written: 0" in again
    assert table(database.url, ddl.RUNS) == runs  # updated_at included: nothing touched
    assert table(database.url, ddl.TASKS, "1, 2") == tasks
    assert table(database.url, ddl.DAILY, "1, 2, 3") == daily


def test_flush_rows_fold_into_the_last_row_and_bad_rows_are_skipped_with_reasons(
    database, tmp_path
):
    path = write_history(
        tmp_path / "emissions.csv",
        [
            row("a", "2026-01-01T10:00:00", 10.0, "running"),
            row("a", "2026-01-01T10:05:00", 300.0, "running"),
            row("a", "2026-01-01T10:09:00", 540.0),
            row("b", "2026-01-02T10:00:00", "abc"),
            row("c", "", 10.0),
            row("d", "2026-01-02T10:00:00", 10.0, cpu_count=2.5),
            row("e", "2026-01-02T10:00:00", 10.0, rank=1e20),  # beyond bigint
        ],
    )
    output = run_import(database.url, path)
    assert "7 rows read" in output
    assert "runs written: 1 (1 new" in output
    assert "flush rows folded into their run's last row: 2" in output
    assert "rows skipped: 4" in output
    assert "rank absurdly large" in output
    assert "duration is not a number" in output
    assert "timestamp missing or not a date" in output
    assert "cpu_count is not a whole number" in output
    assert [(r[0], r[-1]) for r in _durations(database.url)] == [("a", 540.0)]


def _durations(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT run_id, status, duration FROM {ddl.RUNS}").fetchall()


def test_an_older_file_never_replaces_a_newer_row(database, tmp_path):
    newer = write_history(tmp_path / "new.csv", [row("a", "2026-01-01T10:09:00", 540.0)])
    older = write_history(tmp_path / "old.csv", [row("a", "2026-01-01T10:05:00", 300.0, "running")])
    run_import(database.url, newer)
    output = run_import(database.url, older)
    assert "runs written: 0" in output
    assert _durations(database.url) == [("a", "finished", 540.0)]


def test_a_database_that_cannot_be_reached_is_one_line_and_a_failure(tmp_path):
    result = CliRunner().invoke(
        main,
        ["import", "--database", "postgresql://u:pw@127.0.0.1:1/x", "--filepath", str(EXAMPLE)],
    )
    assert result.exit_code == 1
    assert "cannot connect to postgresql://127.0.0.1:1/x" in result.output
    assert "pw@" not in result.output


def test_text_with_commas_quotes_line_breaks_and_accents_arrives_intact(database, tmp_path):
    name = 'ré, "quoted"\nsecond line'
    path = write_history(
        tmp_path / "e.csv", [row("a", "2026-01-01T10:00:00", 1.0, project_name=name, region="")]
    )
    run_import(database.url, path)
    with psycopg.connect(database.url) as conn:
        stored = conn.execute(f"SELECT project_name, region FROM {ddl.RUNS}").fetchone()
    assert stored == (name, None)  # empty text is NULL


def test_a_run_another_writer_inserts_meanwhile_is_upserted_and_the_newer_row_kept(
    database, tmp_path
):
    """New runs go in with a plain INSERT; one another writer inserts meanwhile makes it fail
    on the key, and the import writes every row with the upsert instead: the newer row stays,
    the others arrive, the rollup is exact."""
    from carbonboard.import_cli import Importer
    from tracker.db import migrations, writes

    history = write_history(
        tmp_path / "runs.csv",
        [row("a", "2026-01-01T10:05:00", 300.0, "running"), row("b", "2026-01-01T11:00:00", 60.0)],
    )
    conn = writes.connect(database.url, statement_timeout_ms=0)
    migrations.migrate(conn)
    other = psycopg.connect(database.url)
    target = writes.runs_target()
    newer = writes.db_values(row("a", "2026-01-01T10:09:00", 540.0), target.columns)
    writes.upsert(other.cursor(), target, [newer])  # not committed yet: the import waits on it
    importer = Importer(conn)
    finished = {}

    def write() -> None:
        importer.add_file(history)  # waits for the other writer before writing in bulk
        finished.update(summary=importer.finish())

    writing = threading.Thread(target=write)
    writing.start()
    deadline = time.monotonic() + 30
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    while other.execute(waiting).fetchone()[0] == 0:
        assert time.monotonic() < deadline, "the import never met the other writer's row"
        time.sleep(0.05)
    other.commit()
    writing.join(30)
    other.close()
    conn.close()
    assert finished["summary"].inserted["runs"] == 1
    assert sorted(_durations(database.url)) == [("a", "finished", 540.0), ("b", "finished", 60.0)]
    daily = table(database.url, f"(SELECT sum(runs), sum(duration_s) FROM {ddl.DAILY}) d", "1")
    assert daily == [(2, 600)]


def _rollups_exact(url: str) -> None:
    with psycopg.connect(url) as conn:
        assert_exact(conn)


def _indexes(url: str) -> dict[str, tuple[str, int]]:
    """The indexes of the runs table and of its rollups: name -> (definition, oid)."""
    tables = [ddl.RUNS, *(kept.table for kept in ddl.KEPT)]
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid), indexrelid::int "
            "FROM pg_index WHERE indrelid::regclass::text = ANY(%s)",
            (tables,),
        ).fetchall()
    return {name: (definition, oid) for name, definition, oid in found}


def _places(i: int) -> dict[str, object]:
    return {
        "country_name": ("France", "Chile", "")[i % 3],
        "cloud_provider": ("gcp", "")[i % 2],
        "pue": ("", 1.2, 0.0)[i % 3],
    }


def test_an_empty_database_is_filled_in_bulk_with_its_indexes_rollups_and_triggers_intact(
    database, tmp_path
):
    """Into an empty runs table the owner's import builds the indexes (the runs' and the
    rollups') after the rows and fills the rollups from them: the same indexes, exact rollups,
    and the triggers on again after."""
    from tracker.db import migrations, writes

    with psycopg.connect(database.url) as conn:
        migrations.migrate(conn)
    indexes = _indexes(database.url)
    rows = [
        row(f"r{i}", f"2026-01-0{1 + i % 3}T10:0{i % 10}:00", 10.0 + i, **_places(i))
        for i in range(40)
    ]
    output = run_import(database.url, write_history(tmp_path / "e.csv", rows))
    assert "runs written: 40 (40 new, 0 updated" in output
    after = _indexes(database.url)
    assert "carbonboard.place_rollup_pkey" in after and "carbonboard.runs_pkey" in after
    assert {n: d for n, (d, _) in after.items()} == {n: d for n, (d, _) in indexes.items()}
    assert all(after[n][1] != indexes[n][1] for n in after)  # each built after the rows
    _rollups_exact(database.url)
    with psycopg.connect(database.url) as conn:  # a tracker's write after: the triggers run
        target = writes.runs_target()
        newer = row("r1", "2026-01-05T10:00:00", 99.0, country_name="Peru")
        writes.upsert(conn.cursor(), target, [writes.db_values(newer, target.columns)])
        writes.upsert(
            conn.cursor(),
            target,
            [writes.db_values(row("new", "2026-01-05T11:00:00", 1.0), target.columns)],
        )
        conn.commit()
    _rollups_exact(database.url)
    with psycopg.connect(database.url) as conn:
        assert conn.execute(f"SELECT sum(runs) FROM {ddl.PLACE}").fetchone()[0] == 41


def test_an_import_that_replaces_stored_runs_keeps_the_rollups_exact(database, tmp_path):
    """The second import moves runs to other days and places, adds new ones and repeats a run
    across two files (the newest of the files wins, out of the order read)."""
    first = [row(f"r{i}", "2026-01-01T10:00:00", 10.0 + i, **_places(i)) for i in range(12)]
    run_import(database.url, write_history(tmp_path / "first.csv", first))
    later = [
        row(f"r{i}", "2026-01-02T23:59:00", 20.0 + i, country_name="Peru", pue=1.5)
        for i in range(0, 12, 2)
    ] + [row(f"n{i}", "2026-01-03T10:00:00", 5.0, **_places(i)) for i in range(5)]
    newest_first = [
        row("r1", "2026-01-04T10:00:00", 50.0, "finished", country_name="Chad"),
        row("r1", "2026-01-04T09:00:00", 40.0, "running"),
    ]
    output = run_import(
        database.url,
        write_history(tmp_path / "later.csv", later),
        write_history(
            tmp_path / "again.csv", [*newest_first, row("n0", "2026-01-03T10:00:00", 4.0)]
        ),
    )
    assert "runs written: 12 (5 new, 7 updated" in output
    _rollups_exact(database.url)
    with psycopg.connect(database.url) as conn:
        got = dict(conn.execute(f"SELECT run_id, country_name FROM {ddl.RUNS}").fetchall())
    assert got["r1"] == "Chad" and got["r0"] == "Peru" and got["r3"] == "France"


def test_a_run_s_newest_row_wins_within_a_file_whatever_the_order_and_skipped_rows(
    database, tmp_path
):
    path = write_history(
        tmp_path / "e.csv",
        [
            row("a", "2026-01-01T10:09:00", 540.0),
            row("a", "2026-01-01T10:05:00", 300.0, "running"),  # older, read later
            row("b", "2026-01-01T10:00:00", 10.0, "running"),
            row("b", "2026-01-01T10:00:00", 10.0),  # same moment: the final status wins
            row("c", "2026-01-01T10:00:00", 10.0),
            row("c", "2026-01-01T11:00:00", 20.0, cpu_count=2.5),  # newest, but left out
        ],
    )
    output = run_import(database.url, path)
    assert "runs written: 3 (3 new" in output
    assert sorted(_durations(database.url)) == [
        ("a", "finished", 540.0),
        ("b", "finished", 10.0),
        ("c", "finished", 10.0),
    ]


def test_runs_met_again_in_later_parts_of_an_import_into_an_empty_database_keep_the_newest(
    database, tmp_path
):
    """Into an empty database each part of a file goes in as soon as it is read; a run whose
    rows lie in two parts, or in two files, keeps its newest row, and every run counts as new."""
    from carbonboard.data.parallel import MIN_PART_BYTES

    padding = {"cpu_model": "x" * 400}  # 40,000 rows: about 20 MB, read in three parts
    rows = [row(f"r{i}", "2026-01-01T10:00:00", 10.0, "running", **padding) for i in range(40_000)]
    rows.append(row("r0", "2026-01-02T10:00:00", 99.0, **padding))  # newer, in the last part
    rows.append(row("r1", "2025-12-31T10:00:00", 5.0, **padding))  # older, in the last part
    first = write_history(tmp_path / "a.csv", rows)
    assert first.stat().st_size > 2 * MIN_PART_BYTES
    second = write_history(
        tmp_path / "b.csv",
        [row("r2", "2026-01-03T10:00:00", 77.0), row("new", "2026-01-03T10:00:00", 1.0)],
    )
    output = run_import(database.url, first, second)
    assert "runs written: 40,001 (40,001 new, 0 updated; 0 unchanged)" in output
    assert "flush rows folded into their run's last row: 3" in output
    with psycopg.connect(database.url) as conn:
        found = conn.execute(
            f"SELECT run_id, status, duration FROM {ddl.RUNS} "
            "WHERE run_id IN ('r0', 'r1', 'r2', 'new') ORDER BY run_id"
        ).fetchall()
        assert found == [
            ("new", "finished", 1.0),
            ("r0", "finished", 99.0),
            ("r1", "running", 10.0),
            ("r2", "finished", 77.0),
        ]
        assert_exact(conn)
    assert "carbonboard.runs_pkey" in _indexes(database.url)


def test_the_part_writer_writes_in_order_and_a_failure_stops_it():
    """Parts are written in order by the writer's thread; after a failed write the next parts
    are dropped, and ``put`` and ``close`` raise what the write raised."""
    from carbonboard.import_cli import _PartWriter

    written: list[int] = []

    def write(number: int) -> None:
        if number == 3:
            raise OSError("disk full")
        written.append(number)

    writer = _PartWriter(write)
    assert not writer.started
    for number in (1, 2):
        writer.put(number)
    assert writer.started
    writer.close()
    assert written == [1, 2]
    writer = _PartWriter(write)
    with pytest.raises(OSError, match="disk full"):
        for number in range(3, 100):
            writer.put(number)
            time.sleep(0.01)
    with pytest.raises(OSError, match="disk full"):
        writer.close()
    assert written == [1, 2]


def test_an_abandoned_part_writer_does_not_wait_for_the_part_being_written():
    """Ctrl+C during an import: the writer is left at once, its thread ends when the write it
    is in ends (the connection closing), and the parts waiting are never written."""
    from carbonboard.import_cli import _PartWriter

    release = threading.Event()
    written: list[int] = []

    def write(number: int) -> None:
        release.wait(10)
        written.append(number)

    writer = _PartWriter(write)
    for number in (1, 2, 3):
        writer.put(number)
    started = time.monotonic()
    writer.abandon()
    assert time.monotonic() - started < 1
    release.set()
    writer._thread.join(10)
    assert not writer._thread.is_alive()
    assert written == [1]


def test_an_import_reports_its_progress_part_by_part(database, tmp_path):
    """A large file moves the progress bar as each part is read, up to the file's size."""
    from carbonboard.data.parallel import MIN_PART_BYTES
    from carbonboard.import_cli import Importer
    from tracker.db import migrations, writes

    padding = {"cpu_model": "x" * 400}
    rows = [row(f"r{i}", "2026-01-01T10:00:00", 10.0, **padding) for i in range(40_000)]
    path = write_history(tmp_path / "big.csv", rows)
    assert path.stat().st_size > 2 * MIN_PART_BYTES
    conn = writes.connect(database.url, statement_timeout_ms=0)
    try:
        migrations.migrate(conn)
        importer = Importer(conn)
        steps: list[int] = []
        importer.add_file(path, steps.append)
        summary = importer.finish()
    finally:
        conn.close()
    assert len([step for step in steps if step > 0]) >= 3
    assert sum(steps) == path.stat().st_size
    assert summary.inserted["runs"] == 40_000
