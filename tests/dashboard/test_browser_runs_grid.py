"""The runs grid in headless Chromium: CSV text stays text, long names are cut with a tooltip,
numbers read in the cards' units, and the grid fits a 1440 px window."""

from __future__ import annotations

import datetime as dt

import pytest

from carbonboard import ids

from .conftest import run_row, write_csv

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=window.pwned=1><b>bold</b>"
LONG_PROJECT = "p" * 200


@pytest.fixture(scope="module")
def base_url(serve_app, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("grid")
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    rows = [
        run_row(run_id=f"run-{i:02d}", when=start + dt.timedelta(hours=i), duration_s=2910.0)
        for i in range(20)
    ]
    rows.append(
        run_row(
            project=LONG_PROJECT,
            experiment=HOSTILE,
            run_id="run-hostile",
            when=start + dt.timedelta(days=2),
            duration_s=2910.0,
        )
    )
    path = write_csv(folder / "emissions.csv", rows)
    return serve_app([path], refresh_interval_s=0, disk_cache=False)


def test_grid_shows_text_as_text_cut_with_tooltip_in_card_units(page, base_url) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{base_url}/?tab=runs")
    newest = f"#{ids.RUNS_TABLE} .ag-row[row-id='run-hostile']"
    page.wait_for_selector(f"{newest} .ag-cell[col-id=experiment_id]")
    assert page.inner_text(f"{newest} .ag-cell[col-id=experiment_id]") == HOSTILE
    assert page.locator(f"#{ids.RUNS_TABLE} img, #{ids.RUNS_TABLE} .ag-cell b").count() == 0
    assert page.evaluate("() => window.pwned") is None
    assert page.inner_text(f"{newest} .ag-cell[col-id=duration]") == "48.5 min"
    assert page.inner_text(f"{newest} .ag-cell[col-id=project_name]") == "p" * 120 + "…"
    page.hover(f"{newest} .ag-cell[col-id=project_name]")
    page.wait_for_selector(".ag-tooltip")
    assert page.inner_text(".ag-tooltip") == LONG_PROJECT
    # a name cut by the column's width only shows whole as well
    page.hover(f"{newest} .ag-cell[col-id=gpu_model]")
    page.wait_for_function(
        "() => document.querySelector('.ag-tooltip')?.innerText === '1 x NVIDIA A100-SXM4-80GB'"
    )
    # the run column stays pinned on the left; the page never scrolls sideways
    assert page.locator(f"#{ids.RUNS_TABLE} .ag-pinned-left-cols-container [col-id=run_id]").count()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1440
    assert page.inner_text(f"#{ids.RUNS_COUNT}") == "21 of 21 runs"
    # the second page comes from the server, fifteen rows at a time
    page.click(f"#{ids.RUNS_TABLE} .ag-paging-button[aria-label='Next Page']")
    page.wait_for_function(
        f"() => document.querySelectorAll('#{ids.RUNS_TABLE} "
        ".ag-center-cols-container .ag-row').length === 6"
    )
    assert page.console_errors == []


def test_a_new_selection_or_column_choice_redraws_the_open_grid(page, base_url) -> None:
    page.goto(f"{base_url}/?tab=runs")
    region = f"#{ids.RUNS_TABLE} .ag-header-cell[col-id=region]"
    page.wait_for_selector(region)
    page.click(f"#{ids.PROJECT_SELECT}")
    page.get_by_role("option", name="nlp-bert").click()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.RUNS_COUNT}')?.innerText === '20 of 20 runs'"
    )
    page.wait_for_selector(f"#{ids.RUNS_TABLE} .ag-row[row-id='run-19']")
    assert page.locator(f"#{ids.RUNS_TABLE} .ag-row[row-id='run-hostile']").count() == 0
    page.click(f"#{ids.RUNS_COLUMNS}")
    page.get_by_role("option", name="Region").click()
    page.wait_for_selector(region, state="detached")
    assert page.console_errors == []
