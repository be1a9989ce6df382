"""The schema on a real server: migrations (empty database, previous version, a column added to
the contract, many writers at once), upserts that never go back in time, exact rollups."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from rollups import assert_exact, scanned, stored

from tracker import schema
from tracker.db import ddl, migrations, writes

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)


def row(run_id: str, **values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "timestamp": "2026-03-01T10:00:00+00:00",
        "project_name": "nlp",
        "run_id": run_id,
        "experiment_id": "exp-1",
        "duration": 10.0,
        "emissions": 0.001,
        "energy_consumed": 0.01,
        "cpu_energy": 0.006,
        "gpu_energy": 0.003,
        "ram_energy": 0.001,
        "water_consumed": 0.0,
        "cpu_count": 8,
        "status": "running",
    }
    base.update(values)
    return base


def write(conn, rows: list[dict[str, object]], target=None) -> int:
    target = target or writes.runs_target()
    with conn.transaction(), conn.cursor() as cur:
        return writes.upsert(cur, target, [writes.db_values(r, target.columns) for r in rows])


def test_an_empty_database_gets_every_step_and_every_contract_column(database):
    with psycopg.connect(database.url) as conn:
        assert migrations.migrate(conn) == [m.version for m in migrations.MIGRATIONS]
        assert migrations.migrate(conn) == []
        state = migrations.state(conn)
        assert state.version == migrations.LATEST and state.missing == ()
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'carbonboard' AND table_name = 'runs'"
            ).fetchall()
        )
    assert types["timestamp"] == "timestamp with time zone"
    assert types["duration"] == "double precision"
    assert types["cpu_count"] == "bigint"
    assert types["project_name"] == "text"
    assert set(schema.FIELDNAMES) <= set(types)


def test_a_column_added_to_the_contract_is_added_to_the_tables(database):
    older = [c for c in schema.COLUMNS if c.name != "carbon_intensity_basis"]
    with psycopg.connect(database.url) as conn:
        migrations.migrate(conn, columns=older)
        write(conn, [row("r1")], writes.runs_target(older))
        state = migrations.state(conn)
        assert state.missing == ("runs.carbon_intensity_basis", "tasks.carbon_intensity_basis")
        assert migrations.migrate(conn) == []  # no version step: the column set is the version
        assert migrations.state(conn).missing == ()
        write(conn, [row("r2", carbon_intensity_basis="lifecycle")])
        got = conn.execute(
            f"SELECT run_id, carbon_intensity_basis FROM {ddl.RUNS} ORDER BY run_id"
        ).fetchall()
    assert got == [("r1", None), ("r2", "lifecycle")]


def test_upgrade_from_version_1_fills_the_rollup_from_the_runs_already_there(database):
    with psycopg.connect(database.url) as conn:
        assert migrations.migrate(conn, target=1) == [1]
        write(
            conn,
            [
                row("a"),
                row("b", experiment_id=None, emissions=0.5),
                row("c", timestamp="2026-03-02T01:00:00Z"),
            ],
        )
        assert conn.execute("SELECT to_regclass('carbonboard.daily_rollup')").fetchone()[0] is None
        assert migrations.migrate(conn, target=2) == [2]
        assert stored(conn) == scanned(conn)
        assert stored(conn)[("nlp", "", datetime(2026, 3, 1).date())][:2] == (1, Decimal("10"))
        versions = conn.execute(f"SELECT version FROM {ddl.VERSIONS} ORDER BY 1").fetchall()
    assert versions == [(1,), (2,)]


def test_upgrade_from_version_3_fills_the_place_rollup_and_keeps_both_exact(database):
    with psycopg.connect(database.url) as conn:
        assert migrations.migrate(conn, target=3) == [1, 2, 3]
        write(conn, [row("a", country_name="France", pue=1.5), row("b", region="bretagne")])
        assert migrations.migrate(conn, target=4) == [4]
        assert_exact(conn)
        places = stored(conn, ddl.PLACE_ROLLUP)
        france = ("nlp", "exp-1", datetime(2026, 3, 1).date(), "France", "", "", "", "", "", "")
        assert places[france] == (
            1,
            Decimal("0.01"),
            Decimal("0.006666666667"),  # 0.01 / 1.5 kWh in whole 1e-12 kWh, rounded
            Decimal("0.001"),
        )
        write(conn, [row("a", duration=20.0, energy_consumed=0.03, country_name="Chile")])
        assert_exact(conn)  # the replaced row moved to another place


def test_upgrade_from_version_4_makes_the_rollups_again_from_the_runs(database):
    with psycopg.connect(database.url) as conn:
        assert migrations.migrate(conn, target=4) == [1, 2, 3, 4]
        write(conn, [row("a", pue=1.5), row("b", duration=2e7, emissions=1 / 3)])
        # Version 4 counted each value as its numeric (15 significant digits): sums that differ
        # from today's in the last digits.
        for kept in ddl.KEPT:
            conn.execute(f"UPDATE {kept.table} SET emissions_kg = emissions_kg + 1e-15")
        conn.commit()
        assert stored(conn) != scanned(conn)
        assert migrations.migrate(conn) == [5]
        assert_exact(conn)
        write(conn, [row("b", duration=3e7, emissions=2 / 3, status="finished")])
        assert_exact(conn)


def _migrate_in_process(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return migrations.migrate(conn)


def test_many_writers_starting_at_once_migrate_once(database):
    context = multiprocessing.get_context("spawn")
    with context.Pool(8) as pool:
        results = pool.map(_migrate_in_process, [database.url] * 8)
    applied = [version for result in results for version in result]
    assert sorted(applied) == [m.version for m in migrations.MIGRATIONS]
    with psycopg.connect(database.url) as conn:
        count = conn.execute(f"SELECT count(*) FROM {ddl.VERSIONS}").fetchone()[0]
    assert count == len(migrations.MIGRATIONS)


def test_upsert_is_idempotent_and_an_older_checkpoint_never_overwrites_a_newer_one(database):
    with psycopg.connect(database.url) as conn:
        migrations.migrate(conn)
        first = row("run", timestamp="2026-03-01T10:00:00Z", duration=10.0, emissions=0.1)
        later = row("run", timestamp="2026-03-01T10:00:15Z", duration=25.0, emissions=0.25)
        final = row(
            "run",
            timestamp="2026-03-01T10:00:15Z",
            duration=25.0,
            emissions=0.25,
            status="finished",
        )
        assert write(conn, [first]) == 1
        assert write(conn, [first]) == 0  # the same row again: nothing written
        assert write(conn, [later]) == 1
        assert write(conn, [first]) == 0  # delivered late: ignored
        assert write(conn, [final]) == 1  # same moment, final status wins
        assert write(conn, [later]) == 0
        got = conn.execute(f"SELECT duration, emissions, status FROM {ddl.RUNS}").fetchall()
        assert got == [(25.0, 0.25, "finished")]
        assert_exact(conn)


def test_rollups_stay_exact_through_inserts_updates_day_changes_and_deletes(database):
    start = datetime(2026, 3, 1, 23, 0, tzinfo=timezone.utc)
    with psycopg.connect(database.url) as conn:
        migrations.migrate(conn)
        rows = [
            row(
                f"r{i}",
                timestamp=(start + timedelta(minutes=7 * i)).isoformat(),
                duration=0.1 * i + 1 / 3 + (2e7 if i % 5 == 0 else 0),  # some over the limit
                emissions=0.1 + i / 7,
                energy_consumed=0.3 * i,
                experiment_id=("e1", "e2", None)[i % 3],
                country_name=("France", "Chile", None)[i % 3],
                cloud_provider=("gcp", None)[i % 2],
                pue=(None, 1.2, 0.0, 1 / 3)[i % 4],
            )
            for i in range(30)
        ]
        write(conn, rows)
        assert_exact(conn)
        # each run moves on: a later row (some past midnight), then a final one
        moved = [
            {
                **r,
                "timestamp": (start + timedelta(hours=2, minutes=i)).isoformat(),
                "duration": float(r["duration"]) + 0.7,
                "emissions": float(r["emissions"]) * 1.1,
                "country_name": "Iceland" if i % 4 == 0 else r["country_name"],
            }
            for i, r in enumerate(rows)
        ]
        write(conn, moved)
        assert_exact(conn)
        total_runs = sum(v[0] for v in stored(conn).values())
        assert total_runs == 30
        conn.execute(f"DELETE FROM {ddl.RUNS} WHERE run_id IN ('r1', 'r2', 'r3')")
        conn.commit()
        assert_exact(conn)
        conn.execute(f"DELETE FROM {ddl.RUNS}")
        conn.commit()
        assert all(stored(conn, kept) == {} for kept in ddl.KEPT)
        write(conn, rows[:3])
        assert_exact(conn)
        conn.execute(f"TRUNCATE {ddl.RUNS}")
        conn.commit()
        assert all(stored(conn, kept) == {} for kept in ddl.KEPT)


def test_tasks_are_keyed_by_run_and_task_name(database):
    target = writes.tasks_target()
    with psycopg.connect(database.url) as conn:
        migrations.migrate(conn)
        write(conn, [row("run", task_name="train"), row("run", task_name="eval")], target)
        write(
            conn,
            [row("run", task_name="train", duration=30.0, timestamp="2026-03-01T11:00:00Z")],
            target,
        )
        got = conn.execute(f"SELECT task_name, duration FROM {ddl.TASKS} ORDER BY 1").fetchall()
    assert got == [("eval", 10.0), ("train", 30.0)]


def test_a_row_without_a_run_id_or_timestamp_is_refused_before_the_database():
    with pytest.raises(writes.RowError, match="run_id missing"):
        writes.db_values(row(""), schema.COLUMNS)
    with pytest.raises(writes.RowError, match="not a whole number"):
        writes.db_values(row("x", cpu_count=2.5), schema.COLUMNS)
    values = writes.db_values(row("x", timestamp="2026-03-01T10:00:00"), schema.COLUMNS)
    assert values[0] == datetime(2026, 3, 1, 10, tzinfo=timezone.utc)  # naive is UTC


def test_concurrent_writers_on_the_same_runs_keep_the_newest_rows_and_exact_rollups(database):
    with psycopg.connect(database.url) as conn:
        migrations.migrate(conn)
    context = multiprocessing.get_context("spawn")
    jobs = [(database.url, worker) for worker in range(4)]
    with context.Pool(4) as pool:
        pool.starmap(_write_checkpoints, jobs)
    with psycopg.connect(database.url) as conn:
        got = dict(conn.execute(f"SELECT run_id, duration FROM {ddl.RUNS}").fetchall())
        assert got == {f"shared-{i}": 39.0 for i in range(10)} | {
            f"own-{w}-{i}": 39.0 for w in range(4) for i in range(10)
        }
        assert_exact(conn)


def _write_checkpoints(url: str, worker: int) -> None:
    """40 checkpoints of 10 shared runs and 10 own runs, in a shuffled order per worker."""
    import random

    rng = random.Random(worker)
    steps = [(run, step) for run in range(10) for step in range(40)]
    rng.shuffle(steps)
    target = writes.runs_target()
    with psycopg.connect(url) as conn:
        for run, step in steps:
            for run_id in (f"shared-{run}", f"own-{worker}-{run}"):
                r = row(
                    run_id,
                    timestamp=f"2026-03-01T10:{step:02d}:00Z",
                    duration=float(step),
                    emissions=step / 1000,
                    project_name=f"p{run % 3}",
                )
                for attempt in range(5):
                    try:
                        write(conn, [r], target)
                        break
                    except psycopg.errors.DeadlockDetected:
                        if attempt == 4:
                            raise
