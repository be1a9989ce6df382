"""A cluster job's node counted once: rows of ranks that measured the same node of the same job at
the same time are set apart, in older files too, and the header says how many (#13)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from carbonboard import ids
from carbonboard.app import create_app
from carbonboard.data.cache import ParsedCache
from carbonboard.data.jobs import JobTotals, dedupe_job_rows, job_facts, job_totals
from carbonboard.data.loader import empty_frame, parse
from carbonboard.data.store import HistoryStore
from carbonboard.sections.header import runs_text
from tracker import schema
from tracker.schema import FIELDNAMES

from .test_callbacks import call

T0 = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.timezone.utc)
# Files written before the tracker recorded what its energy covers.
OLD_FIELDNAMES = [name for name in FIELDNAMES if name != "measurement_scope"]


def rank_row(make_row, rank: int, *, ended_s: float = 0.0, duration_s: float = 600.0, **more):
    """Rank ``rank`` of job 501 on node-a, ending ``ended_s`` after T0; 0.1 kWh unless told."""
    values = {
        "job_id": "501",
        "hostname": "node-a",
        "rank": rank,
        "local_rank": rank,
        "world_size": 4,
        "run_id": f"rank-{rank}-{ended_s}-{more.get('hostname', 'node-a')}",
        "cpu_kwh": 0.05,
        "gpu_kwh": 0.04,
        "ram_kwh": 0.01,
        **more,
    }
    return make_row(when=T0 + dt.timedelta(seconds=ended_s), duration_s=duration_s, **values)


def frame_of(tmp_path: Path, csv_writer, rows: list[dict], fieldnames=FIELDNAMES) -> pd.DataFrame:
    """The rows as the board loads them: written to a CSV, read by the loader."""
    path = csv_writer(tmp_path / "emissions.csv", rows, fieldnames)
    return parse(path).frame.reset_index(drop=True)


def test_old_rank_rows_of_one_node_count_once_the_longest(tmp_path, make_row, csv_writer):
    rows = [rank_row(make_row, r, ended_s=r, duration_s=600 - r) for r in (2, 0, 3, 1)]
    runs = frame_of(tmp_path, csv_writer, rows, OLD_FIELDNAMES)
    result = dedupe_job_rows(runs)
    assert list(result.counted["rank"]) == [0.0]  # the longest window
    assert sorted(result.duplicates["rank"]) == [1.0, 2.0, 3.0]
    assert result.counted["energy_consumed"].sum() == pytest.approx(0.1)
    assert len(result.counted) + len(result.duplicates) == len(runs)


def test_rows_of_ranks_that_measured_nothing_or_their_share_are_all_counted(
    tmp_path, make_row, csv_writer
):
    rows = [rank_row(make_row, 0, measurement_scope="node")]
    rows += [
        rank_row(make_row, r, measurement_scope="none", cpu_kwh=0, gpu_kwh=0, ram_kwh=0)
        for r in (1, 2, 3)
    ]
    rows += [
        rank_row(make_row, r, job_id="502", measurement_scope="process", tracking_mode="process")
        for r in (0, 1)
    ]
    runs = frame_of(tmp_path, csv_writer, rows)
    result = dedupe_job_rows(runs)
    assert result.counted is runs
    assert result.duplicates.empty


def test_each_node_of_a_job_counts_once(tmp_path, make_row, csv_writer):
    rows = [rank_row(make_row, r, hostname=host) for host in ("node-a", "node-b") for r in (0, 1)]
    runs = frame_of(tmp_path, csv_writer, rows, OLD_FIELDNAMES)
    result = dedupe_job_rows(runs)
    assert sorted(result.counted["hostname"]) == ["node-a", "node-b"]
    assert len(result.duplicates) == 2


def test_runs_of_a_job_on_a_node_one_after_the_other_all_count(tmp_path, make_row, csv_writer):
    # Two job steps on node-a: the second starts when the first has ended.
    rows = [rank_row(make_row, 0, ended_s=600), rank_row(make_row, 0, ended_s=1200)]
    result = dedupe_job_rows(frame_of(tmp_path, csv_writer, rows, OLD_FIELDNAMES))
    assert len(result.counted) == 2
    assert result.duplicates.empty


def test_a_chain_of_overlapping_windows_is_one_measurement(tmp_path, make_row, csv_writer):
    # 0-600 s, 500-1100 s, 1000-1600 s: each overlaps the next, so the node is counted once.
    rows = [rank_row(make_row, r, ended_s=600 + 500 * r) for r in range(3)]
    result = dedupe_job_rows(frame_of(tmp_path, csv_writer, rows, OLD_FIELDNAMES))
    assert len(result.counted) == 1
    assert len(result.duplicates) == 2


def test_a_row_that_says_it_measured_the_node_wins_over_an_older_kind(
    tmp_path, make_row, csv_writer
):
    rows = [
        rank_row(make_row, 0, duration_s=900),  # no scope recorded (a merged older file)
        rank_row(make_row, 2, duration_s=500, measurement_scope="node"),
        rank_row(make_row, 1, duration_s=500, measurement_scope="node"),
    ]
    result = dedupe_job_rows(frame_of(tmp_path, csv_writer, rows))
    assert list(result.counted["rank"]) == [1.0]  # scoped, then the lowest rank of equals


def test_rows_without_a_job_or_host_are_never_duplicates(tmp_path, make_row, csv_writer):
    # Two runs at the same time on unknown machines: nothing says they are one job's ranks.
    rows = [rank_row(make_row, 0, job_id=""), rank_row(make_row, 1, job_id="")]
    rows += [rank_row(make_row, r, hostname="") for r in (0, 1)]
    runs = frame_of(tmp_path, csv_writer, rows, OLD_FIELDNAMES)
    assert dedupe_job_rows(runs).duplicates.empty


def test_process_mode_rows_without_a_scope_are_shares(tmp_path, make_row, csv_writer):
    rows = [rank_row(make_row, r, tracking_mode="process") for r in range(4)]
    runs = frame_of(tmp_path, csv_writer, rows, OLD_FIELDNAMES)
    assert dedupe_job_rows(runs).duplicates.empty


def test_no_runs_no_duplicates():
    result = dedupe_job_rows(empty_frame("runs"))
    assert result.counted.empty and result.duplicates.empty


def test_the_history_counts_each_node_once_and_the_header_says_so(tmp_path, make_row, csv_writer):
    # Each rank wrote its own file, as an older tracker on every rank of a job did.
    for rank in range(4):
        folder = tmp_path / f"rank{rank}"
        folder.mkdir()
        csv_writer(folder / "emissions.csv", [rank_row(make_row, rank)], OLD_FIELDNAMES)
    csv_writer(tmp_path / "emissions.csv", [make_row(run_id="laptop")])
    files = [tmp_path / "emissions.csv", *sorted(tmp_path.glob("rank*/emissions.csv"))]
    store = HistoryStore.from_arguments([str(path) for path in files], disk_cache=False)
    history = store.history()
    assert sorted(history.runs["run_id"]) == ["laptop", "rank-0-0.0-node-a"]
    assert history.runs["energy_consumed"].sum() == pytest.approx(0.1 + 0.46)
    assert len(history.duplicates) == 3
    assert set(history.duplicates["job_id"]) == {"501"}
    assert runs_text(store.describe()) == "2 runs (3 duplicate rank rows not counted)"


def test_the_header_counts_runs_alone_when_nothing_was_set_apart(tmp_path, make_row, csv_writer):
    path = csv_writer(tmp_path / "emissions.csv", [make_row(run_id="laptop")])
    store = HistoryStore([path], disk_cache=False)
    assert store.history().duplicates.empty
    assert runs_text(store.describe()) == "1 run"


def test_a_cache_entry_from_before_the_job_columns_is_not_used(
    tmp_path, make_row, csv_writer, monkeypatch
):
    # A file parsed and cached by a board that did not know the job columns yet.
    path = csv_writer(tmp_path / "emissions.csv", [make_row(run_id="a")], OLD_FIELDNAMES)
    cache = ParsedCache(tmp_path / "cache")
    with monkeypatch.context() as before:
        before.setattr(schema, "FIELDNAMES", tuple(OLD_FIELDNAMES))
        cache.save(path, path.stat(), parse(path), 0)
        assert cache.load(path, path.stat()) is not None
    assert cache.load(path, path.stat()) is None  # parsed again, with every column


def test_a_runs_detail_shows_its_job_counted_once(tmp_path, make_row, csv_writer):
    rows = [
        rank_row(make_row, local + 2 * node, hostname=host, local_rank=local)
        for node, host in enumerate(("node-a", "node-b"))
        for local in (0, 1)
    ]
    path = csv_writer(tmp_path / "emissions.csv", rows, OLD_FIELDNAMES)
    history = HistoryStore([path], disk_cache=False).history()
    job = job_totals(history.runs, history.duplicates, "501")
    assert job == JobTotals(
        "501",
        nodes=2,
        runs=2,
        energy_kwh=pytest.approx(0.2),
        emissions_kg=pytest.approx(0.2 * 56 / 1000),
        duplicates=2,
    )
    run = history.runs.iloc[0]
    assert job_facts(run, job) == [
        ("Node", run["hostname"]),
        ("Job", f"501 · rank {int(run['rank'])} of 4"),
        ("Energy covers", "not recorded (older tracker)"),
        (
            "Job total",
            "2 runs on 2 nodes: 200 Wh, 11.2 g CO₂eq (2 duplicate rank rows not counted)",
        ),
    ]
    app = create_app(HistoryStore([path], disk_cache=False), refresh_interval_s=0)
    cell = {"rowIndex": 0, "colId": "run_id", "rowId": run["run_id"]}
    response = call(app, f"{ids.RUN_DETAIL}.children", {f"{ids.RUNS_TABLE}.cellClicked": cell})
    shown = str(response.get_json()["response"][ids.RUN_DETAIL]["children"])
    assert "Job total" in shown and "2 duplicate rank rows not counted" in shown


def test_a_run_outside_a_job_shows_only_its_node(tmp_path, make_row, csv_writer):
    path = csv_writer(tmp_path / "emissions.csv", [make_row(hostname="laptop")])
    run = HistoryStore([path], disk_cache=False).history().runs.iloc[0]
    assert job_facts(run, None) == [("Node", "laptop")]
    assert job_facts(run.copy().replace("laptop", ""), None) == []
