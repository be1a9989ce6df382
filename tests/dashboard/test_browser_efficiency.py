"""The efficiency tab and the live runs list in headless Chromium: pickers, the Pareto front on a
known sweep, a budget's burn-down, and a run appearing then finishing while the page is open."""

from __future__ import annotations

import datetime as dt

import pytest

from carbonboard import ids
from carbonboard.efficiency import parse_budget

from .conftest import run_row, write_csv
from .test_efficiency_view import sweep_rows

pytestmark = pytest.mark.browser


def text_of(element_id: str) -> str:
    return f"document.querySelector('#{element_id}')?.innerText || ''"


@pytest.fixture(scope="module")
def base_url(serve_app, tmp_path_factory) -> str:
    path = write_csv(tmp_path_factory.mktemp("sweep") / "emissions.csv", sweep_rows())
    return serve_app(
        [path], refresh_interval_s=1.0, disk_cache=False, budgets=[parse_budget("nlp=500g/year")]
    )


def test_pareto_names_the_dominated_runs_and_the_pickers_keep_the_url(page, base_url) -> None:
    page.goto(f"{base_url}/?project=nlp&tab=efficiency")
    page.wait_for_function(f"() => ({text_of(ids.EFFICIENCY_DOMINATED)}).includes('run d')")
    assert page.inner_text(f"#{ids.EFFICIENCY_DOMINATED}").splitlines() == [
        "run c: same accuracy as a for 3.2x the CO2",
        "run d: worse accuracy than a for 2.5x the CO2",
    ]
    front = page.evaluate(
        f"() => document.querySelector('#{ids.EFFICIENCY_PARETO} .js-plotly-plot')"
        "._fullData.find(t => t.name === 'Pareto front').y"
    )
    assert front == [0.9, 0.95]
    assert "CO₂ / 1,000 tokens" in page.inner_text(f"#{ids.EFFICIENCY_PER_UNIT_TABLE}")

    page.select_option(f"#{ids.EFFICIENCY_UNIT}", "accuracy")
    page.wait_for_function(
        f"() => ({text_of(ids.EFFICIENCY_PER_UNIT_TABLE)}).includes('CO₂ / 1,000 accuracy')"
    )
    page.wait_for_function("() => window.location.search.includes('unit=accuracy')")

    page.select_option(f"#{ids.EFFICIENCY_QUALITY}", "tokens")
    page.wait_for_function(f"() => ({text_of(ids.EFFICIENCY_DOMINATED)}).includes('tokens')")
    assert "quality=tokens" in page.url
    assert page.failed_requests == []
    page.reload()  # (cancels the requests in flight)  # the pickers come back from the address
    page.wait_for_function(f"() => ({text_of(ids.EFFICIENCY_DOMINATED)}).includes('tokens')")
    assert "CO₂ / 1,000 accuracy" in page.inner_text(f"#{ids.EFFICIENCY_PER_UNIT_TABLE}")
    assert page.console_errors == []


def test_a_budget_shows_its_burn_down_and_the_warning(page, base_url) -> None:
    page.goto(f"{base_url}/?tab=efficiency")
    page.wait_for_selector(f"#{ids.EFFICIENCY_BUDGETS}-0 .main-svg")
    assert "nlp is over budget" in page.inner_text(f"#{ids.EFFICIENCY_BUDGETS}")
    names = page.evaluate(
        f"() => document.querySelector('#{ids.EFFICIENCY_BUDGETS}-0 .js-plotly-plot')"
        "._fullData.map(t => t.name)"
    )
    assert names == ["spent", "forecast", "budget"]
    assert page.console_errors == []


def test_a_live_run_appears_then_finishes_while_the_page_is_open(serve_app, page, tmp_path) -> None:
    path = write_csv(tmp_path / "emissions.csv", [run_row(run_id="old", status="finished")])
    base_url = serve_app([path], refresh_interval_s=0.5, disk_cache=False)
    page.goto(base_url)
    page.wait_for_selector(f"#{ids.PROJECT_TITLE}")
    assert page.inner_text(f"#{ids.LIVE_LIST}") == ""
    now = dt.datetime.now(dt.timezone.utc)
    write_csv(path, [run_row(run_id="live-run", status="running", when=now)], mode="a")
    page.wait_for_function(f"() => ({text_of(ids.LIVE_LIST)}).includes('Running now: 1 run')")
    assert "run live-run" in page.inner_text(f"#{ids.LIVE_LIST}")
    later = now + dt.timedelta(seconds=5)
    write_csv(path, [run_row(run_id="live-run", when=later, duration_s=3605.0)], mode="a")
    page.wait_for_function(f"() => ({text_of(ids.LIVE_LIST)}) === ''", timeout=15_000)
    assert page.console_errors == []
    assert page.failed_requests == []
