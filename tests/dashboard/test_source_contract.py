"""The ``RunSource`` contract: every method of every source, on one small history whose answers
are worked out by hand below (#12).

Each implementation enters through ``IMPLEMENTATIONS``: a function that serves the history
written as CSV files in a folder (the file source reads them; a database source imports them
first) and can add runs later. A new source passes these tests unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from carbonboard.data.aggregate import RUN_TABLE_COLUMNS
from carbonboard.data.source import BREAKDOWNS, RunSource
from carbonboard.data.store import HistoryStore
from carbonboard.selection import Selection
from tracker.schema import TASK_FIELDNAMES

from .conftest import run_row, write_csv

T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.timezone.utc)
FRANCE, POLAND = ("France", "FRA"), ("Poland", "POL")
ALPHA = Selection(project="alpha")
EVERYTHING = Selection()


def day(n: int, hours: float = 0.0) -> dt.datetime:
    return T0 + dt.timedelta(days=n, hours=hours)


def known_runs() -> list[dict]:
    """Six runs counted, one duplicate rank row, one flushed run written twice.

    run  project/experiment  day  kWh (cpu gpu ram)   g/kWh  kg    s
    r1   alpha/a1            0    0.5 (.1 .3 .1)      100    0.05  100
    r2   alpha/a2            1    1.0 (.2 .6 .2)      100    0.10  200
    r3   beta/b1             2    2.0 (.5 1. .5)      500    1.00  300  Poland, two tasks
    r4   alpha/a1            3    1.5 (.5 .5 .5)      100    0.15  400  a running row first
    j0   gamma/g1            4    0.5 (.2 .2 .1)      200    0.10  500  job 77 rank 0 on node-x
    j1   gamma/g1            4    the same node, job and time: rank 1, set apart
    c1   gamma/g1            5    0.1 (.1 0 0)        200    0.02   60  silent "running": crashed
    """

    def run(run_id, project, experiment, when, kwh, intensity, duration_s, **more):
        cpu, gpu, ram = kwh
        return run_row(
            run_id=run_id,
            project=project,
            experiment=experiment,
            when=when,
            cpu_kwh=cpu,
            gpu_kwh=gpu,
            ram_kwh=ram,
            intensity_g_per_kwh=intensity,
            duration_s=duration_s,
            **more,
        )

    job = {"job_id": "77", "hostname": "node-x", "measurement_scope": "node"}
    return [
        run("r1", "alpha", "a1", day(0), (0.1, 0.3, 0.1), 100, 100),
        run("r2", "alpha", "a2", day(1), (0.2, 0.6, 0.2), 100, 200),
        run("r3", "beta", "b1", day(2), (0.5, 1.0, 0.5), 500, 300, country=POLAND),
        run("r4", "alpha", "a1", day(3, -1), (0.1, 0.0, 0.0), 100, 50, status="running"),
        run("r4", "alpha", "a1", day(3), (0.5, 0.5, 0.5), 100, 400),
        run("j0", "gamma", "g1", day(4), (0.2, 0.2, 0.1), 200, 500, rank=0, **job),
        run("j1", "gamma", "g1", day(4), (0.2, 0.2, 0.1), 200, 400, rank=1, **job),
        run("c1", "gamma", "g1", day(5), (0.1, 0.0, 0.0), 200, 60, status="running"),
    ]


def known_tasks() -> list[dict]:
    return [
        {**run_row(run_id="r3", project="beta", gpu_kwh=g), "task_name": name}
        for name, g in (("load", 0.1), ("train", 0.9))
    ]


@dataclass
class Served:
    """A source over the known history, and how to add runs to it afterwards."""

    source: RunSource
    add_runs: Callable[[list[dict]], None]


def file_source(folder: Path) -> Served:
    runs = folder / "emissions.csv"
    source = HistoryStore.from_arguments([str(folder)], disk_cache=False)
    return Served(source, lambda rows: write_csv(runs, rows, mode="a"))


IMPLEMENTATIONS: dict[str, Callable[[Path], Served]] = {"files": file_source}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def served(request, tmp_path: Path) -> Served:
    write_csv(tmp_path / "emissions.csv", known_runs())
    write_csv(tmp_path / "emissions_tasks.csv", known_tasks(), fieldnames=TASK_FIELDNAMES)
    return IMPLEMENTATIONS[request.param](tmp_path)


@pytest.fixture
def source(served: Served) -> RunSource:
    return served.source


def ids_of(frame: pd.DataFrame) -> list[str]:
    return [str(run_id) for run_id in frame["run_id"]]


def test_every_implementation_is_a_run_source(source) -> None:
    assert isinstance(source, RunSource)
    # the board's idle worker asks only a source that works its answers out ahead
    assert source.prepares_ahead is isinstance(source, HistoryStore)


def test_the_version_holds_still_until_runs_are_added(served) -> None:
    first = served.source.version()
    assert isinstance(first, int)
    assert served.source.version() == first
    served.add_runs([run_row(run_id="new", project="alpha", experiment="a1", when=day(6))])
    assert served.source.version() > first
    assert served.source.totals(ALPHA).runs == 4
    assert served.source.last_run(ALPHA)["run_id"] == "new"


def test_describe_counts_runs_and_the_rank_row_set_apart(source) -> None:
    described = source.describe()
    assert (described.runs, described.duplicates) == (6, 1)
    assert described.skipped_rows == 0 and described.unreadable == []


def test_filter_options(source) -> None:
    everything = source.filter_options(EVERYTHING)
    assert everything.projects == ("alpha", "beta", "gamma")
    assert everything.experiments == ("a1", "a2", "b1", "g1")
    assert (everything.first_run, everything.last_run) == (pd.Timestamp(day(0)), day(5))
    alpha = source.filter_options(ALPHA)
    assert alpha.experiments == ("a1", "a2")
    assert alpha.projects == everything.projects  # every project, whichever is chosen
    assert (alpha.first_run, alpha.last_run) == (everything.first_run, everything.last_run)


def test_validate_keeps_what_the_data_knows(source) -> None:
    good = Selection("alpha", "a2", "2026-03-01", "2026-03-02", ("r2", "r3"))
    assert source.validate(good) == (good, [])


def test_validate_drops_what_the_data_does_not_know(source) -> None:
    wanted = Selection("nope", "a1", "2026-03-09", "2026-03-01", ("r1", "zzz"))
    valid, notices = source.validate(wanted)
    assert valid == Selection(None, "a1", None, None, ("r1",))
    assert len(notices) == 3  # the project, the reversed dates, the unknown run
    in_other_project, notices = source.validate(Selection("beta", "a1"))
    assert in_other_project == Selection("beta") and len(notices) == 1
    _, notices = source.validate(Selection(date_from="March"))
    assert notices == ["“March” is not a date from 1677 to 2262 (YYYY-MM-DD): ignoring “from”."]
    beyond, notices = source.validate(Selection(date_from="0002-03-05", date_to="9999-12-31"))
    assert beyond == EVERYTHING and len(notices) == 2  # times the board cannot hold


def test_totals(source) -> None:
    everything = source.totals(EVERYTHING)
    assert everything.runs == 6
    assert everything.energy_kwh == pytest.approx(5.6)
    assert everything.emissions_kg == pytest.approx(1.42)
    assert everything.duration_s == pytest.approx(1560)
    alpha = source.totals(ALPHA)
    assert (alpha.runs, alpha.duration_s) == (3, pytest.approx(700))
    assert alpha.energy_kwh == pytest.approx(3.0) and alpha.emissions_kg == pytest.approx(0.3)
    days = source.totals(Selection(date_from="2026-03-02", date_to="2026-03-03"))
    assert (days.runs, days.emissions_kg) == (2, pytest.approx(1.1))
    assert source.totals(Selection(project="alpha", run_ids=("r3",))) == alpha  # picks: no part
    assert source.totals(Selection(date_from="2027-01-01")).runs == 0
    # A date not checked yet (a URL's, a year half typed) counts as no bound, never an error.
    unchecked = Selection(date_from="2026-13-45", date_to="9999-12-31")
    assert source.totals(unchecked) == everything
    assert source.runs_page(unchecked, offset=0, limit=10).matching == 6


def test_breakdown_per_project_and_experiment(source) -> None:
    projects = source.breakdown(EVERYTHING, "project")
    assert list(projects["project"]) == ["beta", "alpha", "gamma"]  # most emissions first
    assert list(projects["runs"]) == [1, 3, 2]
    assert list(projects["emissions_kg"]) == pytest.approx([1.0, 0.3, 0.12])
    assert list(projects["energy_kwh"]) == pytest.approx([2.0, 3.0, 0.6])
    assert list(projects["duration_s"]) == pytest.approx([300, 700, 560])
    experiments = source.breakdown(ALPHA, "experiment")
    assert list(experiments["experiment"]) == ["a1", "a2"]
    assert list(experiments["runs"]) == [2, 1]
    assert list(experiments["emissions_kg"]) == pytest.approx([0.2, 0.1])


def test_breakdown_per_place_and_component(source) -> None:
    places = source.breakdown(EVERYTHING, "place")
    assert list(places["country"]) == ["France", "Poland"]  # most energy first
    assert list(places["runs"]) == [5, 1]
    assert list(places["energy_kwh"]) == pytest.approx([3.6, 2.0])
    assert list(places["intensity_g_per_kwh"]) == pytest.approx([420 / 3.6, 500])
    components = source.breakdown(ALPHA, "component")
    assert list(components["component"]) == ["CPU", "GPU", "RAM"]
    assert list(components["energy_kwh"]) == pytest.approx([0.8, 1.4, 0.8])
    for by in BREAKDOWNS:
        assert source.breakdown(Selection(project="none-such"), by).empty


def test_location_mix(source) -> None:
    mix = source.location_mix(EVERYTHING)
    assert list(mix["country_iso_code"]) == ["FRA", "POL"]  # most energy first
    assert list(mix["runs"]) == [5, 1]
    assert list(mix["energy_kwh"]) == pytest.approx([3.6, 2.0])
    assert list(mix["recorded_emissions_kg"]) == pytest.approx([0.42, 1.0])
    alpha = source.location_mix(ALPHA)
    assert list(alpha["runs"]) == [3] and list(alpha["energy_kwh"]) == pytest.approx([3.0])
    assert source.location_mix(Selection(project="none-such")).empty


def test_emissions_series(source) -> None:
    series = source.emissions_series(ALPHA)
    assert list(series["timestamp"]) == [pd.Timestamp(day(n)) for n in (0, 1, 3)]
    assert list(series["emissions_kg"]) == pytest.approx([0.05, 0.1, 0.15])
    assert list(series["cumulative_kg"]) == pytest.approx([0.05, 0.15, 0.3])
    assert set(series["bucket"]) == {"run"}


def test_last_run_is_the_newest_row_of_the_newest_run(source) -> None:
    alpha = source.last_run(ALPHA)
    assert alpha["run_id"] == "r4"
    assert alpha["energy_consumed"] == pytest.approx(1.5)  # its final row, not the checkpoint
    assert str(alpha["status"]) == "finished"
    newest = source.last_run(EVERYTHING)
    assert newest["run_id"] == "c1" and str(newest["status"]) == "crashed"
    assert source.last_run(Selection(project="none-such")) is None


def test_runs_page_newest_first_with_counts(source) -> None:
    page = source.runs_page(EVERYTHING, offset=0, limit=4)
    assert ids_of(page.rows) == ["c1", "j0", "r4", "r3"]
    assert (page.offset, page.matching, page.selected) == (0, 6, 6)
    assert list(page.rows.columns) == list(RUN_TABLE_COLUMNS)
    second = source.runs_page(EVERYTHING, offset=4, limit=4)
    assert ids_of(second.rows) == ["r2", "r1"] and second.offset == 4
    past_the_end = source.runs_page(EVERYTHING, offset=400, limit=4)
    assert ids_of(past_the_end.rows) == ["r2", "r1"] and past_the_end.offset == 4
    alpha = source.runs_page(ALPHA, offset=0, limit=10)
    assert ids_of(alpha.rows) == ["r4", "r2", "r1"] and alpha.selected == 3


def test_runs_page_sorted_and_filtered(source) -> None:
    cheapest = source.runs_page(
        EVERYTHING, offset=0, limit=2, sort_by=[{"column_id": "emissions", "direction": "asc"}]
    )
    assert ids_of(cheapest.rows) == ["c1", "r1"]
    longest = source.runs_page(
        EVERYTHING, offset=0, limit=1, sort_by=[{"column_id": "duration", "direction": "desc"}]
    )
    assert ids_of(longest.rows) == ["j0"]
    heavy = source.runs_page(EVERYTHING, offset=0, limit=10, filter_query="{emissions} > 0.5")
    assert ids_of(heavy.rows) == ["r3"]
    assert (heavy.matching, heavy.selected) == (1, 6)
    named = source.runs_page(
        EVERYTHING, offset=0, limit=10, filter_query="{project_name} icontains ALP"
    )
    assert ids_of(named.rows) == ["r4", "r2", "r1"] and named.matching == 3
    nothing = source.runs_page(EVERYTHING, offset=0, limit=10, filter_query="{run_id} eq none")
    assert nothing.rows.empty and (nothing.offset, nothing.matching) == (0, 0)
    ignored = source.runs_page(
        EVERYTHING,
        offset=0,
        limit=10,
        sort_by=[{"column_id": "no_such_column", "direction": "asc"}],
        filter_query="{no_such_column} > 1",
    )
    assert ids_of(ignored.rows) == ["c1", "j0", "r4", "r3", "r2", "r1"]


def test_run_detail_with_its_job(source) -> None:
    detail = source.run_detail("j0")
    assert detail.run["run_id"] == "j0"
    assert detail.job is not None
    job = detail.job
    assert (job.job_id, job.nodes, job.runs, job.duplicates) == ("77", 1, 1, 1)
    assert (job.energy_kwh, job.emissions_kg) == (pytest.approx(0.5), pytest.approx(0.1))
    alone = source.run_detail("r4")
    assert alone.job is None
    assert alone.run["energy_consumed"] == pytest.approx(1.5)
    assert source.run_detail("zzz") is None


def test_tasks_of_a_run(source) -> None:
    tasks = source.tasks("r3")
    assert sorted(tasks["task_name"].astype(str)) == ["load", "train"]
    assert tasks.set_index("task_name")["gpu_energy"].to_dict() == pytest.approx(
        {"load": 0.1, "train": 0.9}
    )
    assert source.tasks("r1").empty


def test_runs_by_id_in_the_order_given(source) -> None:
    assert ids_of(source.runs_by_id(["r3", "r1", "zzz"])) == ["r3", "r1"]
    assert source.runs_by_id([]).empty
    assert {"run_id", "energy_consumed", "timestamp"} <= set(source.runs_by_id([]).columns)


def test_selected_runs_in_time_order(source) -> None:
    alpha = source.selected_runs(ALPHA)
    assert ids_of(alpha) == ["r1", "r2", "r4"]
    assert ids_of(source.selected_runs(Selection(project="alpha", run_ids=("r3",)))) == ids_of(
        alpha
    )
    assert ids_of(source.selected_runs(Selection(experiment="g1"))) == ["j0", "c1"]
    assert ids_of(source.selected_runs(Selection(date_to="2026-03-01"))) == ["r1"]


def test_running_runs_are_the_live_ones_only(served) -> None:
    source = served.source
    assert source.running_runs().empty  # r4 finished since; c1 went silent: crashed
    now = dt.datetime.now(dt.timezone.utc)
    served.add_runs([run_row(run_id="live", project="beta", status="running", when=now)])
    running = source.running_runs()
    assert ids_of(running) == ["live"]
    assert {"run_id", "status", "duration", "cpu_power", "emissions"} <= set(running.columns)


def test_preparing_a_selection_leaves_its_answers_as_they_are(served) -> None:
    fresh = served.source
    expected = (fresh.totals(ALPHA), fresh.breakdown(ALPHA, "place"), fresh.last_run(ALPHA))
    served.add_runs([run_row(run_id="later", project="alpha", experiment="a1", when=day(7))])
    assert served.source.prepare(ALPHA) is None
    totals, places, last = (
        served.source.totals(ALPHA),
        served.source.breakdown(ALPHA, "place"),
        served.source.last_run(ALPHA),
    )
    assert totals.runs == expected[0].runs + 1  # prepared for the new data, not the old
    assert last["run_id"] == "later"
    assert list(places.columns) == list(expected[1].columns)
