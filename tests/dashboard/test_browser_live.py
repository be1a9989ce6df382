"""A live file: runs appended while the page is open appear without a reload."""

from __future__ import annotations

import datetime as dt

import pytest

from carbonboard import ids

from .conftest import run_row, write_csv

pytestmark = pytest.mark.browser


def test_appended_runs_appear_and_empty_state_goes(serve_app, page, tmp_path) -> None:
    path = tmp_path / "emissions.csv"
    path.touch()  # the tracker has not written anything yet
    base_url = serve_app([path], refresh_interval_s=0.5, disk_cache=False)
    page.goto(base_url)
    page.wait_for_selector(f"#{ids.EMPTY_STATE}")
    assert "No runs yet" in page.inner_text(f"#{ids.EMPTY_STATE}")
    now = dt.datetime.now(dt.timezone.utc)
    write_csv(path, [run_row(run_id="live-1", status="running", when=now)])
    page.wait_for_function(
        f"() => document.querySelector('#{ids.HEADER_RUNS}')?.innerText === '1 run'",
        timeout=15_000,
    )
    page.wait_for_selector(f"#{ids.EMPTY_STATE}", state="detached")
    write_csv(path, [run_row(run_id="live-2", when=now)], mode="a")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.HEADER_RUNS}')?.innerText === '2 runs'",
        timeout=15_000,
    )
    # the open view redraws with the new run too
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0]?.y.length === 2",
        timeout=15_000,
    )
    page.click(f"#{ids.VIEW_TABS}-{ids.TAB_RUNS}")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.RUNS_COUNT}')?.innerText === '2 of 2 runs'"
    )
    # The grid asks for its rows once the count is known: wait for both rows to be drawn.
    page.wait_for_selector(f"#{ids.RUNS_TABLE} .ag-row[row-id='live-2']")
    page.wait_for_selector(f"#{ids.RUNS_TABLE} .ag-row[row-id='live-1']")
    assert "running" in page.inner_text(f"#{ids.RUNS_TABLE}")
    assert page.console_errors == []
    assert page.failed_requests == []
