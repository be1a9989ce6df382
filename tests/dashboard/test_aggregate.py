"""The pure aggregations behind every number and chart."""

from __future__ import annotations

import pandas as pd
import pytest

from carbonboard.data import aggregate
from carbonboard.data.store import HistoryStore
from carbonboard.selection import Selection, ViewOptions, from_query, to_query, view_from_query


@pytest.fixture
def runs(history_files) -> pd.DataFrame:
    return HistoryStore(list(history_files), disk_cache=False).history().runs


def test_filter_by_project_experiment_and_inclusive_dates(runs) -> None:
    assert len(aggregate.filter_runs(runs, Selection())) == 42
    bert = aggregate.filter_runs(runs, Selection(project="nlp-bert"))
    assert set(bert["project_name"]) == {"nlp-bert"} and len(bert) == 22
    large = aggregate.filter_runs(runs, Selection(project="nlp-bert", experiment="bert-large"))
    assert sorted(large["run_id"]) == ["large-000", "large-001"]
    days = aggregate.filter_runs(runs, Selection(date_from="2026-03-02", date_to="2026-03-03"))
    assert sorted(set(days["timestamp"].dt.day)) == [2, 3]


@pytest.mark.parametrize(
    "dates", [("2026-03-02", "2026-03-03"), ("2026-03-02", None), (None, "2026-03-02")]
)
def test_a_date_range_is_the_same_sliced_from_sorted_runs_or_masked(runs, dates) -> None:
    selection = Selection(project="nlp-bert", date_from=dates[0], date_to=dates[1])
    assert runs["timestamp"].is_monotonic_increasing  # the store's order: a binary search
    sliced = aggregate.filter_runs(runs, selection)
    shuffled = runs.sample(frac=1.0, random_state=3)  # any order: a mask
    masked = aggregate.filter_runs(shuffled, selection)
    assert 0 < len(sliced) < len(runs)
    assert sorted(sliced["run_id"]) == sorted(masked["run_id"])
    assert set(sliced["project_name"]) == {"nlp-bert"}


def test_totals_and_breakdowns(runs) -> None:
    bert = aggregate.filter_runs(runs, Selection(project="nlp-bert"))
    total = aggregate.totals(bert)
    assert total.runs == 22
    assert total.energy_kwh == pytest.approx(bert["energy_consumed"].sum())
    assert total.intensity_g_per_kwh == pytest.approx(56.0)
    per = aggregate.per_experiment(bert)
    assert list(per["experiment"]) == ["bert-base", "bert-large"]
    assert per["runs"].tolist() == [20, 2]
    assert per["emissions_kg"].sum() == pytest.approx(total.emissions_kg)
    split = aggregate.energy_split(bert).set_index("component")["energy_kwh"]
    assert split.sum() == pytest.approx(total.energy_kwh)
    places = aggregate.locations(runs)
    assert list(places["country"]) == ["Poland", "France"]
    assert places.loc[1, "intensity_source"] == "country:FRA"
    assert aggregate.last_run(runs)["run_id"] == "large-001"


def test_series_per_run_then_per_day(runs) -> None:
    per_run = aggregate.emissions_series(runs)
    assert len(per_run) == 42 and (per_run["bucket"] == "run").all()
    assert per_run["cumulative_kg"].iloc[-1] == pytest.approx(runs["emissions"].sum())
    per_day = aggregate.emissions_series(runs, daily_above=10)
    assert (per_day["bucket"] == "day").all()
    assert len(per_day) == 22
    assert per_day["runs"].sum() == 42
    assert per_day["emissions_kg"].sum() == pytest.approx(runs["emissions"].sum())


def test_server_side_paging_sorting_and_filtering(runs) -> None:
    page, pages, matching = aggregate.page_runs(runs, page=0, page_size=10)
    assert (pages, matching, len(page)) == (5, 42, 10)
    assert page["run_id"].iloc[0] == "large-001"  # newest first by default
    page, _, _ = aggregate.page_runs(
        runs, page=0, page_size=5, sort_by=[{"column_id": "emissions", "direction": "desc"}]
    )
    assert page["emissions"].is_monotonic_decreasing
    page, pages, matching = aggregate.page_runs(
        runs, page=9, page_size=5, filter_query="{project_name} contains vision && {gpu_energy} > 1"
    )
    assert matching == 20 and pages == 4 and len(page) == 5  # page clamped to the last
    _, _, matching = aggregate.page_runs(
        runs,
        page=0,
        page_size=5,
        filter_query="{emissions} > 0.1 && {timestamp} datestartswith 2026-03-0",
    )
    assert matching == 9
    # unknown columns and malformed terms are ignored, never raised
    _, _, matching = aggregate.page_runs(
        runs,
        page=0,
        page_size=5,
        filter_query="{nope} = 1 && garbage",
        sort_by=[{"column_id": "x"}],
    )
    assert matching == 42


def test_filter_query_parsing() -> None:
    assert aggregate.parse_filter_query('{a} contains "x y" && {b} >= 3 && {c} eq z') == [
        ("a", "contains", "x y", False),
        ("b", "ge", "3", False),
        ("c", "eq", "z", False),
    ]
    # the table's own case variants: s = case-sensitive, i = insensitive
    assert aggregate.parse_filter_query("{a} scontains X && {b} ieq Y && {c} s< 2") == [
        ("a", "contains", "X", True),
        ("b", "eq", "Y", False),
        ("c", "lt", "2", True),
    ]
    assert aggregate.parse_filter_query("{a} xcontains X && {b} bogus 1") == []
    assert aggregate.parse_filter_query(None) == []


def test_the_tables_case_variants_filter_runs(runs) -> None:
    def matching(query: str) -> int:
        return aggregate.page_runs(runs, page=0, page_size=5, filter_query=query)[2]

    assert matching("{project_name} icontains RESNET") == 20
    assert matching("{project_name} scontains RESNET") == 0
    assert matching("{project_name} scontains resnet") == 20
    assert matching("{project_name} ieq VISION-RESNET") == 20


def test_runs_by_id_keeps_the_order(runs) -> None:
    picked = aggregate.runs_by_id(runs, ["resnet-003", "bert-001", "unknown"])
    assert list(picked["run_id"]) == ["resnet-003", "bert-001"]


def test_validate_selection_drops_unknown_values_with_notices(runs) -> None:
    fine = Selection(
        project="nlp-bert", experiment="bert-base", date_from="2026-03-01", run_ids=("bert-001",)
    )
    assert aggregate.validate_selection(fine, runs) == (fine, [])
    bad = Selection(
        project="nope",
        experiment="resnet50",
        date_from="2026-13-45",
        date_to="2026-01-01",
        run_ids=("bert-001", "ghost"),
    )
    valid, notices = aggregate.validate_selection(bad, runs)
    assert valid == Selection(experiment="resnet50", date_to="2026-01-01", run_ids=("bert-001",))
    assert len(notices) == 3
    assert "Unknown project “nope”" in notices[0]
    reversed_range = Selection(date_from="2026-03-05", date_to="2026-03-01")
    valid, notices = aggregate.validate_selection(reversed_range, runs)
    assert valid == Selection() and "reversed" in notices[0]
    # an experiment of another project is unknown within the chosen one
    valid, _ = aggregate.validate_selection(Selection("nlp-bert", "resnet50"), runs)
    assert valid == Selection("nlp-bert")


def test_query_string_round_trip() -> None:
    selection = Selection("nlp bert", "base&large", "2026-01-01", "2026-02-01", ("id1", "id2"))
    query = to_query(selection)
    assert query.startswith("?project=nlp+bert&experiment=base%26large&from=2026-01-01")
    assert query.endswith("&runs=id1,id2")
    assert from_query(query) == selection
    assert to_query(Selection()) == ""
    assert from_query("?runs=a,,a,b&bogus=1&project=") == Selection(run_ids=("a", "b"))
    assert from_query(None) == Selection()


def test_view_options_round_trip_and_unknown_values_fall_back() -> None:
    view = ViewOptions("regional", True, "emissions", "gcp", "mi")
    query = to_query(Selection("nlp-bert"), view)
    assert query == (
        "?project=nlp-bert&tab=regional&map=emissions&cloud=gcp&distance=mi&cumulative=1"
    )
    assert view_from_query(query) == (view, [])
    assert from_query(query) == Selection("nlp-bert")
    assert to_query(Selection(), ViewOptions()) == ""
    fallback, notices = view_from_query("?tab=nowhere&map=regional&cloud=aws")
    assert fallback == ViewOptions(cloud_provider="aws")
    assert notices == [
        'Unknown tab "nowhere" in the address: showing the default.',
        'Unknown map "regional" in the address: showing the default.',
    ]
