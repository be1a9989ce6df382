"""The runs grid: its requests as the source's page queries, its columns, its rows as text."""

from __future__ import annotations

import json
import math
import re

import pandas as pd

from carbonboard import page_scripts
from carbonboard.app import create_app
from carbonboard.data.store import HistoryStore
from carbonboard.sections import runs
from carbonboard.sections.runs import PageStep, column_defs, page_step, runs_query, table_records


def test_a_grid_request_becomes_one_bounded_page_query() -> None:
    query = runs_query(
        {
            "startRow": 30,
            "endRow": 45,
            "sortModel": [
                {"colId": "emissions", "sort": "desc"},
                {"colId": "run_id", "sort": "asc"},
            ],
            "filterModel": {
                "project_name": {"filterType": "text", "type": "contains", "filter": "Res Net"},
                "duration": {
                    "filterType": "number",
                    "type": "inRange",
                    "filter": 60,
                    "filterTo": 90,
                },
                "emissions": {"filterType": "number", "type": "greaterThan", "filter": 0.5},
                "timestamp": {"filterType": "text", "type": "startsWith", "filter": "2026-03"},
            },
        }
    )
    assert query == {
        "offset": 30,
        "limit": 15,
        "sort_by": [
            {"column_id": "emissions", "direction": "desc"},
            {"column_id": "run_id", "direction": "asc"},
        ],
        "filter_query": "{project_name} icontains Res Net && {duration} >= 60 && "
        "{duration} <= 90 && {emissions} > 0.5 && {timestamp} datestartswith 2026-03",
    }


def test_a_request_cannot_reach_other_columns_or_ask_for_everything() -> None:
    query = runs_query(
        {
            "startRow": -5,
            "endRow": 10_000_000,
            "sortModel": [{"colId": "source_file", "sort": "asc"}],
            "filterModel": {
                "source_file": {"filterType": "text", "type": "contains", "filter": "x"},
                "run_id": {"filterType": "text", "type": "regex", "filter": ".*"},
                "status": {"filterType": "text", "type": "contains", "filter": "a && {x} > 1"},
                "region": {
                    "filterType": "text",
                    "operator": "OR",
                    "conditions": [{"filterType": "text", "type": "contains", "filter": "eu"}],
                },
            },
        }
    )
    assert query == {"offset": 0, "limit": runs.MAX_BLOCK_ROWS, "sort_by": [], "filter_query": None}
    assert runs_query(None)["limit"] == runs.PAGE_SIZE


def _info(current: int, pages: int, last_found: bool = True) -> dict:
    return {"currentPage": current, "totalPages": pages, "isLastPageFound": last_found}


def test_the_grid_page_is_put_back_once_its_first_rows_arrive_then_followed() -> None:
    # Reloaded on page 3: the new grid, still waiting for rows, says page 1: nothing changes.
    assert page_step(None, 2, False) == PageStep(keep=None, go_to=None, restored=False)
    assert page_step(_info(0, 1, False), 2, False) == PageStep(None, None, False)
    # Its rows arrive (the last page is known): back to page 3, once.
    assert page_step(_info(0, 3), 2, False) == PageStep(keep=2, go_to=2, restored=True)
    # From then on every page shown is kept, the first one too.
    assert page_step(_info(2, 3), 2, True) == PageStep(keep=2, go_to=None, restored=True)
    assert page_step(_info(0, 3), 2, True) == PageStep(keep=0, go_to=None, restored=True)


def test_a_kept_page_past_the_runs_there_now_goes_to_the_last_one() -> None:
    assert page_step(_info(0, 2), 5, False) == PageStep(keep=1, go_to=1, restored=True)
    assert page_step(_info(0, 0), 5, False) == PageStep(keep=0, go_to=None, restored=True)
    # Nothing kept yet (a first visit), or a hand-edited store: the first page stays.
    assert page_step(_info(0, 3), None, False) == PageStep(keep=0, go_to=None, restored=True)
    assert page_step(_info(0, 3), -4, False) == PageStep(keep=0, go_to=None, restored=True)


def test_columns_pin_the_run_show_text_and_hide_what_was_unpicked() -> None:
    defs = {d["field"]: d for d in column_defs(["project_name", "emissions"])}
    assert [f for f, d in defs.items() if not d["hide"]] == ["project_name", "run_id", "emissions"]
    assert defs["run_id"]["pinned"] == "left" and defs["run_id"]["lockVisible"] is True
    assert all("cellRenderer" not in d for d in defs.values())  # the default: text, never HTML
    assert defs["emissions"]["filterParams"]["maxNumConditions"] == 1
    assert set(defs["emissions"]["filterParams"]["filterOptions"]) <= set(runs.NUMBER_OPERATORS) | {
        "inRange"
    }
    assert all(not d["hide"] for d in column_defs())


def test_rows_read_in_the_cards_units_and_long_text_is_cut_with_its_whole_text_aside() -> None:
    long_name = "p" * 300
    page = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-03-01 10:30"], utc=True),
            "project_name": pd.Categorical([long_name]),
            "experiment_id": ["<b>bold</b>"],
            "run_id": ["run-1"],
            "status": ["finished"],
            "duration": [2910.0],
            "energy_consumed": [0.0042],
            "emissions": [9.05e-7],
            "country_name": [None],
            "region": [""],
            "cloud_provider": [""],
            "gpu_model": [math.nan],
        }
    )
    (row,) = table_records(page)
    assert row["duration"] == "48.5 min"
    assert row["energy_consumed"] == "4.2 Wh"
    assert row["emissions"] == "0.905 mg"
    assert row["timestamp"] == "2026-03-01 10:30" and row["id"] == "run-1"
    assert row["project_name"] == "p" * 120 + "…" and row["project_name__full"] == long_name
    assert row["experiment_id"] == "<b>bold</b>" and "experiment_id__full" not in row
    assert row["country_name"] is None and row["gpu_model"] is None


def test_the_grid_script_is_served_by_the_app_not_a_cdn(module_history) -> None:
    source = HistoryStore.from_arguments([str(p) for p in module_history], disk_cache=False)
    client = create_app(source, refresh_interval_s=0).server.test_client()
    page = client.get("/").get_data(as_text=True)
    # the grid's script is not a page script: the stand-in loads it when a grid is first drawn
    assert not re.findall(r'<script src="([^"]*dash_ag_grid[^"]*)"', page)
    deferred = re.search(
        rf'<script id="{page_scripts.DEFERRED_CONFIG_ID}" type="application/json">(.*?)</script>',
        page,
    )
    library = json.loads(deferred[1])["dash_ag_grid"]
    assert library["components"] == ["AgGrid"]
    scripts = library["scripts"]
    assert scripts and all(s.startswith("/_dash-component-suites/dash_ag_grid/") for s in scripts)
    assert "unpkg" not in page and "cdn" not in page.lower()
    for script in scripts:
        assert client.get(script).status_code == 200
    # the chunk the grid loads on demand comes from the same place
    base = scripts[0].rsplit("/", 1)[0]
    assert client.get(f"{base}/async-community.js").status_code == 200
