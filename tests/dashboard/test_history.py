"""Building the history from parsed frames: pure, so every rule is checked on frames made in
memory, with no file and no clock (#12)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from carbonboard.data.history import (
    FileInfo,
    build_history,
    latest_per_key,
    mark_crashed,
    next_crash_check,
)
from carbonboard.data.loader import Skipped, empty_frame, normalise

from .conftest import START, run_row

STALE_S = 1800.0


def frame(rows: list[dict], source: str = "a.csv", kind: str = "runs") -> pd.DataFrame:
    """Rows as the loader types them (blank cells are missing values)."""
    if not rows:
        return empty_frame(kind)
    present = [{name: value for name, value in row.items() if value != ""} for row in rows]
    typed = normalise(pd.DataFrame(present), kind, source)
    typed["line_number"] = range(2, 2 + len(rows))
    return typed


def at(hours: float) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


def build(runs_parts, task_parts=(), now=None, **kwargs):
    return build_history(
        runs_parts,
        task_parts,
        skipped=kwargs.pop("skipped", []),
        files=kwargs.pop("files", []),
        now=now or at(1000),
        stale_after_s=STALE_S,
        **kwargs,
    )


def test_flush_rows_count_once_as_their_last_row() -> None:
    rows = [
        run_row(run_id="r", when=at(0), cpu_kwh=0.1, status="running"),
        run_row(run_id="r", when=at(1), cpu_kwh=0.5),
        run_row(run_id="s", when=at(2)),
    ]
    latest = latest_per_key(frame(rows), ["run_id"])
    assert list(latest["run_id"]) == ["r", "s"]
    assert latest.iloc[0]["cpu_energy"] == 0.5 and latest.iloc[0]["status"] == "finished"
    assert latest_per_key(empty_frame("runs"), ["run_id"]).empty


def test_nothing_is_copied_when_no_run_repeats() -> None:
    distinct = frame([run_row(run_id=name, when=at(0)) for name in "abc"])
    assert latest_per_key(distinct, ["run_id"]) is distinct


def test_a_run_in_two_files_counts_once_as_its_newest_row() -> None:
    """A copy of a file, a fallback file: the newest row wins whichever file is read last, as
    in the team database (later time, then longer duration, then a final row over a
    checkpoint)."""
    first = frame([run_row(run_id="late", when=at(5)), run_row(run_id="same", when=at(3))])
    second = frame([run_row(run_id="same", when=at(1)), run_row(run_id="early", when=at(0))], "b")
    for parts in ([first, second], [second, first]):
        history = build(parts, version=7)
        assert list(history.runs["run_id"]) == ["early", "same", "late"]
        same = history.runs.set_index("run_id").loc["same"]
        assert (str(same["source_file"]), same["timestamp"]) == ("a.csv", at(3))
        assert history.version == 7
        assert history.rows_read == 4
        assert list(history.runs.index) == [0, 1, 2]
    checkpoint = frame([run_row(run_id="r", when=at(2), status="running")])
    final = frame([run_row(run_id="r", when=at(2))], "b")
    (status,) = build([final, checkpoint]).runs["status"]
    assert status == "finished"


def test_equal_times_keep_the_order_the_files_were_given() -> None:
    rows = [run_row(run_id=name, when=at(2)) for name in ("c", "a", "b")]
    history = build([frame(rows[:2]), frame(rows[2:], "b")])
    assert list(history.runs["run_id"]) == ["c", "a", "b"]


def test_tasks_keep_the_last_row_of_each_task() -> None:
    tasks = [
        {**run_row(run_id="r", gpu_kwh=0.1), "task_name": "train"},
        {**run_row(run_id="r", gpu_kwh=0.7), "task_name": "train"},
        {**run_row(run_id="r"), "task_name": "evaluate"},
    ]
    history = build([frame([run_row(run_id="r")])], [frame(tasks, kind="tasks")])
    assert list(history.tasks["task_name"].astype(str)) == ["train", "evaluate"]
    assert history.tasks.iloc[0]["gpu_energy"] == 0.7
    assert history.rows_read == 4


def test_a_silent_running_run_is_crashed_as_of_now_and_a_recent_one_is_not() -> None:
    rows = [
        run_row(run_id="silent", when=at(0), status="running"),
        run_row(run_id="recent", when=at(10), status="running"),
    ]
    history = build([frame(rows)], now=at(10.25))
    assert dict(zip(history.runs["run_id"], history.runs["status"].astype(str), strict=True)) == {
        "silent": "crashed",
        "recent": "running",
    }
    # the recent one turns crashed half an hour after its last row, unless it writes again
    assert next_crash_check(history, STALE_S) == pd.Timestamp(at(10.5))


def test_nothing_stale_returns_the_same_frame() -> None:
    runs = frame([run_row(run_id="r", when=at(0), status="running")])
    assert mark_crashed(runs, at(0.1), STALE_S) is runs
    finished = frame([run_row(run_id="f", when=at(0))])
    assert mark_crashed(finished, at(100), STALE_S) is finished
    assert next_crash_check(build([finished]), STALE_S) is None


def test_rank_rows_of_one_node_are_set_apart_and_still_watched_for_crashes() -> None:
    ranks = [
        run_row(run_id=f"rank-{rank}", when=at(1), duration_s=3000 - rank, status="running")
        | {"job_id": "77", "hostname": "node-x", "rank": rank, "measurement_scope": "node"}
        for rank in (0, 1)
    ]
    history = build([frame(ranks)], now=at(1.1))
    assert list(history.runs["run_id"]) == ["rank-0"]  # the longest counts
    assert list(history.duplicates["run_id"]) == ["rank-1"]
    assert next_crash_check(history, STALE_S) == pd.Timestamp(at(1.5))


def test_files_and_skipped_rows_are_carried_as_given() -> None:
    files = [FileInfo("a.csv", "runs", 1, 3, 100), FileInfo("b.csv", "unreadable", 0, 0, 5, "x")]
    skipped = [Skipped("a.csv", 3, "run_id missing")]
    history = build([frame([run_row(run_id="r")])], files=files, skipped=skipped)
    assert history.files == files and history.skipped == skipped
    assert history.skipped_rows == 3
    assert history.unreadable == files[1:]
    assert not history.is_empty
    assert build([]).is_empty


@pytest.mark.parametrize("kind", ["runs", "tasks"])
def test_no_frames_give_empty_tables_with_the_contract_columns(kind) -> None:
    history = build([])
    table = history.runs if kind == "runs" else history.tasks
    assert table.empty
    assert list(table.columns) == list(empty_frame(kind).columns)
