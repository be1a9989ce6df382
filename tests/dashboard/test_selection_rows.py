"""A selection's answers found from row positions listed once per data version are exactly the
aggregates of the filtered runs table: same rows, order, labels and sums (#16)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from carbonboard.data import aggregate
from carbonboard.data.selections import SelectionRows
from carbonboard.data.source import BREAKDOWNS, FilterOptions
from carbonboard.data.store import BREAKDOWN_OF, HistoryStore
from carbonboard.regional.baseline import location_mix
from carbonboard.selection import Selection

from .conftest import START, run_row, sample_history, write_csv

SELECTIONS = [
    Selection(),
    Selection(project="nlp-bert"),
    Selection(project="vision-resnet"),
    Selection(project="other"),
    Selection(project="nlp-bert", experiment="shared"),
    Selection(project="other", experiment="shared"),
    Selection(experiment="shared"),
    Selection(project="nlp-bert", date_from="2026-03-05", date_to="2026-03-12"),
    Selection(date_from="2026-03-10"),
    Selection(date_to="2026-03-03"),
    Selection(project="nowhere"),
    Selection(project="nlp-bert", experiment="nowhere"),
    Selection(date_from="2027-01-01"),
]


PAGES = [  # (offset, sort_by, filter_query): newest, sorted, filtered, past the end, ignored
    (5, [], None),
    (0, [{"column_id": "emissions", "direction": "desc"}], None),
    (4, [], "{project_name} contains bert"),
    (10_000, [], None),
    (0, [{"column_id": "not-a-column"}], "{nothing} = 1"),
]


@pytest.fixture
def store(tmp_path) -> HistoryStore:
    """The sample history, and a second file whose project shares an experiment name with
    one of the first's, in two places."""
    runs, tasks = sample_history(tmp_path)
    other = [
        run_row(
            run_id=f"other-{index}",
            project="other" if index % 3 else "nlp-bert",
            experiment="shared",
            when=START + dt.timedelta(days=index, hours=5),
            country=("Poland", "POL") if index % 2 else ("France", "FRA"),
        )
        for index in range(15)
    ]
    second = write_csv(tmp_path / "second.csv", other)
    return HistoryStore([runs, tasks, second], disk_cache=False)


@pytest.mark.parametrize("selection", SELECTIONS, ids=str)
def test_every_answer_is_that_of_the_filtered_runs(store, selection) -> None:
    table = store.history().runs
    runs = aggregate.filter_runs(table, selection)
    assert store.totals(selection) == aggregate.totals(runs)
    for by in BREAKDOWNS:
        compute, _ = BREAKDOWN_OF[by]
        pd.testing.assert_frame_equal(store.breakdown(selection, by), compute(runs))
    pd.testing.assert_frame_equal(
        store.emissions_series(selection), aggregate.emissions_series(runs)
    )
    pd.testing.assert_frame_equal(store.location_mix(selection), location_mix(runs))
    last = store.last_run(selection)
    expected = aggregate.last_run(runs)
    if expected is None:
        assert last is None
    else:
        pd.testing.assert_series_equal(last, expected)
    assert store.filter_options(selection) == FilterOptions.of(table, selection.project)
    pd.testing.assert_frame_equal(store.selected_runs(selection), runs)
    for offset, sort_by, query in PAGES:
        page = store.runs_page(
            selection, offset=offset, limit=4, sort_by=sort_by, filter_query=query
        )
        rows, _, matching = aggregate.page_runs(
            runs, page=offset // 4, page_size=4, sort_by=sort_by, filter_query=query
        )
        pd.testing.assert_frame_equal(page.rows, rows)
        assert (page.matching, page.selected) == (matching, len(runs))


def test_rows_are_the_filtered_table_with_its_labels(store) -> None:
    table = store.history().runs
    rows = SelectionRows(table)
    for selection in SELECTIONS:
        expected = aggregate.filter_runs(table, selection)
        pd.testing.assert_frame_equal(rows.rows(selection), expected)
        narrow = rows.rows(selection, ["run_id", "emissions"])  # or the whole table: all runs
        assert list(narrow.columns) == ["run_id", "emissions"] or narrow is table
        pd.testing.assert_frame_equal(
            narrow[["run_id", "emissions"]], expected[["run_id", "emissions"]]
        )


def test_a_selection_of_every_run_is_the_table_itself(tmp_path) -> None:
    path = write_csv(tmp_path / "one.csv", [run_row(run_id=str(i)) for i in range(5)])
    table = HistoryStore([path], disk_cache=False).history().runs
    rows = SelectionRows(table)
    assert rows.rows(Selection()) is table
    assert rows.rows(Selection(project="nlp-bert"), ["emissions"]) is table  # its only project


def test_projects_and_experiments_are_listed_as_the_filters_list_them(store) -> None:
    table = store.history().runs
    rows = SelectionRows(table)
    assert rows.projects() == aggregate.projects(table)
    assert rows.experiments(None) == aggregate.experiments(table)
    assert rows.experiments("other") == ["shared"]
    assert rows.experiments("nowhere") == []
    assert rows.knows("nlp-bert", "shared") and rows.knows(None, "shared")
    assert not rows.knows("vision-resnet", "shared") and not rows.knows("nowhere", None)


def test_a_history_without_runs_has_no_rows_for_any_selection(tmp_path) -> None:
    path = write_csv(tmp_path / "header-only.csv", [])
    store = HistoryStore([path], disk_cache=False)
    rows = SelectionRows(store.history().runs)
    assert rows.projects() == [] and rows.experiments(None) == []
    assert rows.rows(Selection(project="x")).empty
    assert store.filter_options(Selection()).projects == ()
    assert store.runs_page(Selection(), offset=0, limit=10).matching == 0


def test_a_large_selection_s_daily_series_is_that_of_its_runs(tmp_path) -> None:
    """Past DAILY_ABOVE_RUNS runs the series has a point per day, read without the runs' ids."""
    rows = [
        run_row(
            run_id=f"r{index}",
            project="big" if index % 40 else "small",
            when=START + dt.timedelta(hours=index),
            emissions_kg=0.001 * (index % 7 + 1),
        )
        for index in range(aggregate.DAILY_ABOVE_RUNS + 200)
    ]
    store = HistoryStore([write_csv(tmp_path / "many.csv", rows)], disk_cache=False)
    table = store.history().runs
    for selection in (Selection(), Selection(project="big"), Selection(project="small")):
        expected = aggregate.emissions_series(aggregate.filter_runs(table, selection))
        pd.testing.assert_frame_equal(store.emissions_series(selection), expected)
    assert set(store.emissions_series(Selection(project="big"))["bucket"]) == {"day"}
    assert set(store.emissions_series(Selection(project="small"))["bucket"]) == {"run"}
