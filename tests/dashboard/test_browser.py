"""End to end in headless Chromium: every section renders, nothing fails, filters and URL work."""

from __future__ import annotations

import pytest

from carbonboard import ids

pytestmark = pytest.mark.browser

SECTIONS = (
    ids.HEADER,
    ids.TOTALS_SECTION,
    ids.FILTERS_SECTION,
    ids.PROJECT_SECTION,
    ids.RUNS_SECTION,
    ids.COMPARISON_SECTION,
    ids.EQUIVALENTS_SECTION,
)
GRAPHS = (ids.TIMELINE_GRAPH, ids.EXPERIMENTS_GRAPH, ids.ENERGY_SPLIT_GRAPH)


@pytest.fixture(scope="module")
def base_url(serve_app, module_history) -> str:
    return serve_app(module_history, refresh_interval_s=1.0, disk_cache=False)


def points(page, graph_id: str) -> int:
    return page.evaluate(
        f"() => document.querySelector('#{graph_id} .js-plotly-plot')._fullData[0].y.length"
    )


def wait_rendered(page) -> None:
    for graph_id in GRAPHS:
        page.wait_for_selector(f"#{graph_id} .main-svg", timeout=20_000)
    page.wait_for_function(
        f"() => document.querySelectorAll('#{ids.RUNS_TABLE} tbody tr td').length > 0"
    )
    page.wait_for_selector(f"#{ids.EQUIVALENTS_LIST} li")


def test_the_page_renders_every_section_offline(page, base_url, artifacts_dir) -> None:
    page.goto(base_url)
    wait_rendered(page)
    for section in SECTIONS:
        assert page.locator(f"#{section}").is_visible(), section
    assert page.inner_text(f"#{ids.HEADER_RUNS}") == "42 runs"
    assert page.inner_text(f"#{ids.TOTAL_RUNS}") == "42"
    assert points(page, ids.TIMELINE_GRAPH) == 42
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)
    requested = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(base_url) for url in requested), requested
    assert page.console_errors == []
    assert page.failed_requests == []


def test_switching_project_updates_figures_url_and_history(page, base_url) -> None:
    page.goto(base_url)
    wait_rendered(page)
    page.click(f"#{ids.PROJECT_SELECT}")
    page.get_by_role("option", name="vision-resnet").click()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText === 'vision-resnet'"
    )
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0].y.length === 20"
    )
    assert page.url.endswith("/?project=vision-resnet")
    assert page.inner_text(f"#{ids.RUNS_COUNT}") == "20 of 20 runs"
    page.go_back()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText === 'All projects'"
    )
    assert points(page, ids.TIMELINE_GRAPH) == 42
    assert page.console_errors == []
    assert page.failed_requests == []


def test_a_url_reproduces_the_view_and_unknown_values_warn(page, base_url) -> None:
    page.goto(f"{base_url}/?project=nlp-bert&experiment=bert-large&runs=large-000,large-001")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText"
        " === 'nlp-bert · bert-large'"
    )
    page.wait_for_selector(f"#{ids.COMPARISON_GRAPH} .main-svg")
    assert "large-000"[:8] in page.inner_text(f"#{ids.COMPARISON_TABLE}")
    page.goto(f"{base_url}/?project=does-not-exist")
    page.wait_for_selector(f"#{ids.URL_NOTICE}")
    assert "Unknown project" in page.inner_text(f"#{ids.URL_NOTICE}")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText === 'All projects'"
    )
    assert page.console_errors == []


def test_clicking_a_run_opens_its_detail(page, base_url) -> None:
    page.goto(base_url)
    wait_rendered(page)
    page.locator(f"#{ids.RUNS_TABLE} tbody tr td").nth(3).click()
    page.wait_for_selector(f"#{ids.RUN_DETAIL_SPLIT} .main-svg")
    assert "Energy methods" in page.inner_text(f"#{ids.RUN_DETAIL}")
    assert page.console_errors == []
