"""The selection callback's pure answer (``filters.selection_update``): from the address, from a
filter, from a view toggle and from new data, with what stays as it is left untouched; and the
selection the page picks itself (``filters.page_selection``), which the server only corrects."""

from __future__ import annotations

import pytest
from dash import no_update

from carbonboard import ids
from carbonboard.data.store import HistoryStore
from carbonboard.sections.filters import (
    DECLARED_OUTPUTS,
    OUTPUTS,
    PAGE_OUTPUTS,
    VIEW_FIELDS,
    Controls,
    main_trigger,
    option_value,
    page_selection,
    selection_update,
)
from carbonboard.selection import Selection


@pytest.fixture(scope="module")
def source(module_history) -> HistoryStore:
    return HistoryStore.from_arguments([str(p) for p in module_history], disk_cache=False)


def sent(answer: dict) -> set[str]:
    """The names of the outputs that change (``view`` counts when any view control does)."""
    names = {name for name, value in answer.items() if name != "view" and value is not no_update}
    if any(value is not no_update for value in answer["view"].values()):
        names.add("view")
    return names


def test_every_output_is_answered_by_name(source) -> None:
    answer = selection_update(source, None, Controls(search=""), None)
    assert set(answer) == {*OUTPUTS, "view"}
    assert set(answer["view"]) == set(VIEW_FIELDS)


def test_the_address_sets_the_selection_the_controls_and_says_what_it_left_out(source) -> None:
    search = "?project=nlp-bert&experiment=bert-large&runs=large-000,ghost&tab=regional"
    answer = selection_update(source, ids.URL, Controls(search=search), None)
    assert answer["selection"] == {
        "project": "nlp-bert",
        "experiment": "bert-large",
        "date_from": None,
        "date_to": None,
        "run_ids": ["large-000"],
    }
    assert answer["search"] is no_update  # the address is where this came from
    assert answer["project"] == "nlp-bert" and answer["experiment"] == "bert-large"
    assert [o["value"] for o in answer["project_options"]] == [
        ids.ALL,
        "nlp-bert",
        "vision-resnet",
    ]
    assert [o["value"] for o in answer["experiment_options"]] == [
        ids.ALL,
        "bert-base",
        "bert-large",
    ]
    assert answer["compare"] == ["large-000"]
    assert answer["notice_open"] is True
    assert "1 unknown run id left out." in str(answer["notice"])
    assert (answer["min_date"], answer["max_date"]) == ("2026-03-01", "2026-03-23")
    assert answer["view"]["tab"] == ids.TAB_REGIONAL
    assert answer["view"]["map_mode"] is no_update  # already the default


def test_a_new_project_starts_on_all_experiments_and_pushes_the_address(source) -> None:
    shown = {"project": "nlp-bert", "experiment": "bert-base"}
    controls = Controls(
        search="?project=nlp-bert&experiment=bert-base",
        project="vision-resnet",
        experiment="bert-base",  # stale: belongs to the old project
        start="2026-03-02T00:00:00",
    )
    answer = selection_update(source, ids.PROJECT_SELECT, controls, shown)
    assert answer["search"] == "?project=vision-resnet&from=2026-03-02"
    picked = page_selection(ids.PROJECT_SELECT, controls, source.filter_options(Selection()))
    assert picked == Selection(project="vision-resnet", date_from="2026-03-02")
    assert answer["selection"] is no_update  # the page has already put it in the store
    assert answer["experiment"] == ids.ALL
    assert [o["value"] for o in answer["experiment_options"]] == [ids.ALL, "resnet50"]
    assert answer["start"] == "2026-03-02"  # the picker's time of day dropped
    # Unchanged controls are not sent back; the notice and the project list stay as they are.
    assert answer["project"] is no_update and answer["end"] is no_update
    assert {"notice", "notice_open", "project_options", "min_date"}.isdisjoint(sent(answer))


def test_a_view_toggle_only_pushes_the_address(source) -> None:
    controls = Controls(
        search="?project=nlp-bert",
        project="nlp-bert",
        view={"tab": ids.TAB_REGIONAL, "map_mode": "low_carbon"},
    )
    answer = selection_update(source, ids.REGIONAL_MAP_MODE, controls, {"project": "nlp-bert"})
    assert sent(answer) == {"search", "pushed"}  # pushed: the page will not hand it back
    assert answer["pushed"] == answer["search"]
    assert answer["search"] == "?project=nlp-bert&tab=regional&map=low_carbon"


def test_new_data_refreshes_the_options_but_not_the_notice(source) -> None:
    controls = Controls(search="?project=nlp-bert", project="nlp-bert", experiment=ids.ALL)
    answer = selection_update(source, ids.DATA_VERSION, controls, {"project": "nlp-bert"})
    assert {"project_options", "experiment_options", "min_date"} <= sent(answer)
    assert answer["selection"] == {  # the same selection again: its views redraw
        "project": "nlp-bert",
        "experiment": None,
        "date_from": None,
        "date_to": None,
        "run_ids": [],
    }
    assert answer["notice"] is no_update and answer["notice_open"] is no_update
    assert answer["search"] is no_update  # the address already says this


def test_a_long_name_is_chosen_by_its_option_value(tmp_path, make_row, csv_writer) -> None:
    long_name = "p" * 500
    path = csv_writer(tmp_path / "emissions.csv", [make_row(project=long_name)])
    store = HistoryStore.from_arguments([str(path)], disk_cache=False)
    controls = Controls(search="", project=option_value(long_name))
    answer = selection_update(store, ids.PROJECT_SELECT, controls, {})
    assert page_selection(ids.PROJECT_SELECT, controls, store.filter_options(Selection())) == (
        Selection(project=long_name)
    )
    assert answer["selection"] is no_update and answer["project"] is no_update


def test_a_run_id_the_dropdown_holds_by_digest_is_corrected_by_the_server(
    tmp_path, make_row, csv_writer
) -> None:
    long_id = "r" * 500
    path = csv_writer(tmp_path / "emissions.csv", [make_row(run_id=long_id)])
    store = HistoryStore.from_arguments([str(path)], disk_cache=False)
    controls = Controls(search="", run_ids=[option_value(long_id)])
    answer = selection_update(store, ids.COMPARE_SELECT, controls, {})
    assert answer["selection"]["run_ids"] == [long_id]  # the page could not name it


def test_what_is_declared_is_what_no_view_waits_for() -> None:
    assert set(DECLARED_OUTPUTS).isdisjoint(PAGE_OUTPUTS)
    assert PAGE_OUTPUTS["selection"] == (ids.SELECTION, "data")
    assert {component for component, _ in DECLARED_OUTPUTS.values()}.isdisjoint(
        {ids.SELECTION, ids.URL}
    )


def test_project_and_experiment_set_together_keep_the_experiment() -> None:
    both = [f"{ids.PROJECT_SELECT}.value", f"{ids.EXPERIMENT_SELECT}.value"]
    assert main_trigger(both) == ids.EXPERIMENT_SELECT
    assert main_trigger([f"{ids.PROJECT_SELECT}.value"]) == ids.PROJECT_SELECT
    assert main_trigger([]) is None and main_trigger(["."]) is None


def test_the_compare_options_are_worked_out_only_for_the_runs_tab_or_picked_runs(source) -> None:
    overview = selection_update(source, None, Controls(search="?project=nlp-bert"), None)
    assert overview["compare_options"] is no_update  # its dropdown is in the runs tab
    opened = selection_update(
        source,
        ids.VIEW_TABS,
        Controls(search="?project=nlp-bert", project="nlp-bert", view={"tab": ids.TAB_RUNS}),
        {"project": "nlp-bert"},
    )
    assert opened["compare_options"] and opened["search"] == "?project=nlp-bert&tab=runs"
    picked = selection_update(source, None, Controls(search="?runs=large-000"), None)
    assert picked["compare_options"][0]["value"] == "large-000"
