"""End to end in headless Chromium: every section renders, nothing fails, filters and URL work."""

from __future__ import annotations

import pytest
from plotly.offline import get_plotlyjs_version

from carbonboard import ids, page_scripts
from carbonboard.sections.runs import PAGE_SIZE

from .conftest import run_row, write_csv

pytestmark = pytest.mark.browser

SECTIONS = (ids.HEADER, ids.TOTALS_SECTION, ids.FILTERS_SECTION)  # above the tabs
TAB_SECTIONS = {
    ids.TAB_OVERVIEW: (ids.PROJECT_SECTION, ids.EQUIVALENTS_SECTION),
    ids.TAB_RUNS: (ids.RUNS_SECTION, ids.COMPARISON_SECTION),
    ids.TAB_REGIONAL: (ids.REGIONAL_SECTION,),
}
GRAPHS = (ids.TIMELINE_GRAPH, ids.EXPERIMENTS_GRAPH, ids.ENERGY_SPLIT_GRAPH)


@pytest.fixture(scope="module")
def base_url(serve_app, module_history) -> str:
    return serve_app(module_history, refresh_interval_s=1.0, disk_cache=False)


def points(page, graph_id: str) -> int:
    return page.evaluate(
        f"() => document.querySelector('#{graph_id} .js-plotly-plot')._fullData[0].y.length"
    )


def wait_rendered(page) -> None:
    """The overview tab, drawn."""
    for graph_id in GRAPHS:  # a figure from the server, not the empty placeholder
        page.wait_for_function(
            f"() => document.querySelector('#{graph_id} .js-plotly-plot')?.data?.length > 0",
            timeout=20_000,
        )
    page.wait_for_selector(f"#{ids.EQUIVALENTS_LIST} li")


def open_runs_tab(page) -> None:
    """Open the runs tab and wait until its grid has drawn rows and nothing is loading: a click
    before that can land on a row the grid is about to redraw with its first page."""
    page.click(f"#{ids.VIEW_TABS}-{ids.TAB_RUNS}")
    page.wait_for_function(
        f"""() => document.querySelectorAll('#{ids.RUNS_TABLE} .ag-row .ag-cell').length > 0
            && !document.querySelector('[data-dash-is-loading="true"]')"""
    )
    page.wait_for_load_state("networkidle")


def test_the_page_renders_every_section_offline(page, base_url, artifacts_dir) -> None:
    page.goto(base_url)
    wait_rendered(page)
    for section in SECTIONS + TAB_SECTIONS[ids.TAB_OVERVIEW]:
        assert page.locator(f"#{section}").is_visible(), section
    # dcc.Tabs draws only the open tab: the others are not on the page yet
    assert page.locator(f"#{ids.RUNS_SECTION}").count() == 0
    assert page.inner_text(f"#{ids.HEADER_RUNS}") == "42 runs"
    assert page.inner_text(f"#{ids.TOTAL_RUNS}") == "42"
    assert points(page, ids.TIMELINE_GRAPH) == 42
    overflow = page.evaluate(  # the template's: tick labels placed without measuring them again
        """ids => ids.map(id => {
            const layout = document.querySelector('#' + id + ' .js-plotly-plot')._fullLayout;
            return [layout.xaxis.ticklabeloverflow, layout.yaxis.ticklabeloverflow];
        })""",
        [ids.TIMELINE_GRAPH, ids.EXPERIMENTS_GRAPH],
    )
    assert overflow == [["allow", "allow"]] * 2
    # each chart's labels fit the margins it was given: plotly widened none (which it does by
    # drawing the chart again)
    widened = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => {
            const {margin, _size: size} = gd._fullLayout;
            return ['l', 'r', 't', 'b'].some(side => size[side] !== margin[side]);
        }).map(gd => gd.parentElement.id)"""
    )
    assert widened == []
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)
    open_runs_tab(page)
    for section in TAB_SECTIONS[ids.TAB_RUNS]:
        assert page.locator(f"#{section}").is_visible(), section
    assert page.url.endswith("/?tab=runs")
    page.click(f"#{ids.VIEW_TABS}-{ids.TAB_REGIONAL}")
    page.wait_for_selector(
        f"#{ids.REGIONAL_MAP} path.choroplethlocation", state="attached", timeout=20_000
    )
    assert page.locator(f"#{ids.REGIONAL_SECTION}").is_visible()
    requested = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(base_url) for url in requested), requested
    # the layout, preloaded with the page, is the one the renderer uses: asked for once
    assert [url for url in requested if url.endswith("/_dash-layout")] == [
        f"{base_url}/_dash-layout"
    ]
    # plotly.js is loaded by the first chart, from the app: the partial bundle from assets/ (only
    # the trace types carbonboard draws), of the version plotly.py writes figures for
    plotly_requests = [url for url in requested if "plotly" in url]
    assert plotly_requests == [base_url.rstrip("/") + page_scripts.GRAPH_PLOTLY_PATH]
    traces = page.evaluate("() => Object.keys(window.Plotly.PlotSchema.get().traces).sort()")
    assert traces == ["bar", "choropleth", "pie", "scatter", "scattergeo"]
    assert page.evaluate("() => window.Plotly.version") == get_plotlyjs_version()
    # Dash's lazy components need the generator runtime the page no longer takes from the
    # polyfill (page_scripts.UNUSED_SCRIPTS): a page script still defines it
    assert page.evaluate("() => typeof window.regeneratorRuntime.wrap") == "function"
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
    open_runs_tab(page)
    page.wait_for_function(
        f"() => document.querySelector('#{ids.RUNS_COUNT}')?.innerText === '20 of 20 runs'"
    )
    assert page.url.endswith("/?project=vision-resnet&tab=runs")
    page.go_back()  # back to the overview of the project
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0]?.y.length === 20"
    )
    page.go_back()  # back to all projects
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText === 'All projects'"
    )
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0].y.length === 42"
    )
    assert page.console_errors == []
    assert page.failed_requests == []


def test_a_project_switch_asks_for_the_views_without_waiting_for_the_server(page, base_url) -> None:
    """One round trip: the overview's figures are asked for before the server's selection
    callback has answered (Dash would hold them back were they downstream of its outputs)."""
    events: list[tuple[str, str]] = []

    def output_of(request) -> str:
        return (request.post_data_json or {}).get("output", "")

    page.on(
        "request",
        lambda r: "_dash-update-component" in r.url and events.append(("ask", output_of(r))),
    )
    page.on(
        "requestfinished",
        lambda r: "_dash-update-component" in r.url and events.append(("answer", output_of(r))),
    )
    page.goto(base_url)
    wait_rendered(page)
    page.wait_for_load_state("networkidle")
    events.clear()
    page.click(f"#{ids.PROJECT_SELECT}")
    page.get_by_role("option", name="vision-resnet").click()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0].y.length === 20"
    )
    page.wait_for_load_state("networkidle")
    asked = [output for kind, output in events if kind == "ask"]
    selection_answered = next(
        i
        for i, (kind, output) in enumerate(events)
        if kind == "answer" and ids.URL_NOTICE in output
    )
    timeline_asked = next(
        i
        for i, (kind, output) in enumerate(events)
        if kind == "ask" and ids.TIMELINE_GRAPH in output
    )
    assert timeline_asked < selection_answered, events
    assert sum(ids.URL_NOTICE in output for output in asked) == 1  # never handed back its own push
    assert not any("export" in output for output in asked)  # nothing asked for a later save


def test_the_first_page_draws_without_asking_for_its_figures(page, base_url) -> None:
    """At the default address the overview comes with the page: a first load asks for none of
    its figures, and for the server's check of the address once (setting the controls does not
    trigger a second one)."""
    asked: list[str] = []
    page.on(
        "request",
        lambda r: (
            "_dash-update-component" in r.url
            and asked.append((r.post_data_json or {}).get("output", ""))
        ),
    )
    page.goto(base_url)
    wait_rendered(page)
    page.wait_for_load_state("networkidle")
    assert points(page, ids.TIMELINE_GRAPH) == 42
    assert page.inner_text(f"#{ids.PROJECT_TITLE}") == "All projects"
    overview = [o for o in asked if ids.PROJECT_TITLE in o or ids.EQUIVALENTS_LIST in o]
    assert overview == [], asked  # (the page's periodic polls for new data may be asked)
    assert sum(ids.URL_NOTICE in output for output in asked) == 1, asked
    assert page.console_errors == []


def test_a_url_reproduces_the_view_and_unknown_values_warn(page, base_url) -> None:
    page.goto(
        f"{base_url}/?project=nlp-bert&experiment=bert-large&runs=large-000,large-001&tab=runs"
    )
    page.wait_for_selector(f"#{ids.COMPARISON_GRAPH} .main-svg")
    page.click(f"#{ids.VIEW_TABS}-{ids.TAB_OVERVIEW}")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText"
        " === 'nlp-bert · bert-large'"
    )
    # the overview's address is pushed once the server answers: going back before would leave
    page.wait_for_function("() => !window.location.search.includes('tab=')")
    page.go_back()
    page.wait_for_selector(f"#{ids.COMPARISON_GRAPH} .main-svg")
    assert "large-000"[:8] in page.inner_text(f"#{ids.COMPARISON_TABLE}")
    page.goto(f"{base_url}/?project=does-not-exist&tab=nowhere")
    page.wait_for_selector(f"#{ids.URL_NOTICE}")
    assert "Unknown project" in page.inner_text(f"#{ids.URL_NOTICE}")
    assert 'Unknown tab "nowhere"' in page.inner_text(f"#{ids.URL_NOTICE}")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText === 'All projects'"
    )
    assert page.console_errors == []


def test_the_date_range_filters_the_runs_and_clears(page, base_url) -> None:
    page.goto(f"{base_url}/?project=vision-resnet")
    wait_rendered(page)
    start, end = f"#{ids.DATE_RANGE}-start", f"#{ids.DATE_RANGE}-end"
    bounds = page.evaluate(
        f"() => [...document.querySelectorAll('#{ids.DATE_RANGE} input')].map(i => [i.min, i.max])"
    )
    first, last = bounds[0][0], bounds[1][1]
    assert first and last and first <= last  # the history's days bound both inputs
    page.fill(start, "2026-03-10")
    page.wait_for_function("() => location.search.includes('from=2026-03-10')")
    assert page.get_attribute(end, "min") == "2026-03-10"  # "to" cannot come before "from"
    page.focus(start)  # a part of the date rubbed out: not a date yet, and not a change
    page.keyboard.press("Backspace")
    assert page.evaluate(f"() => document.querySelector('{start}').validity.badInput")
    page.fill(end, "2026-03-12")
    page.wait_for_function("() => location.search.includes('to=2026-03-12')")
    assert "from=2026-03-10" in page.evaluate("() => location.search")
    assert page.get_attribute(start, "max") == "2026-03-12"
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0].y.length < 20"
    )
    page.click(f"#{ids.DATE_RANGE} .date-range-clear")
    page.wait_for_function("() => location.search === '?project=vision-resnet'")
    assert page.input_value(start) == page.input_value(end) == ""
    assert page.locator(f"#{ids.DATE_RANGE} .date-range-clear").count() == 0
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0].y.length === 20"
    )
    assert page.console_errors == []


def test_clicking_a_run_opens_its_detail(page, base_url) -> None:
    page.goto(base_url)
    wait_rendered(page)
    open_runs_tab(page)
    page.locator(f"#{ids.RUNS_TABLE} .ag-row .ag-cell[col-id=run_id]").first.click()
    page.wait_for_selector(f"#{ids.RUN_DETAIL_SPLIT} .main-svg")
    assert "Energy methods" in page.inner_text(f"#{ids.RUN_DETAIL}")
    assert page.console_errors == []


def test_every_overview_control_survives_a_reload(page, base_url) -> None:
    page.goto(f"{base_url}/?project=nlp-bert&from=2026-03-02&to=2026-03-20&distance=mi")
    wait_rendered(page)
    page.wait_for_function(
        f"() => document.querySelector('#{ids.EQUIVALENTS_LIST}')?.innerText.includes(' mi driven')"
    )
    page.click(f"label[for={ids.TIMELINE_CUMULATIVE}]")  # a toggle pushes a new address
    page.wait_for_function("() => location.search.endsWith('&cumulative=1')")
    page.reload()
    wait_rendered(page)
    assert page.is_checked(f"#{ids.TIMELINE_CUMULATIVE}")
    assert page.is_checked(f"#{ids.DISTANCE_UNIT} input[value=mi]")
    assert page.input_value(f"#{ids.DATE_RANGE}-start") == "2026-03-02"
    assert page.input_value(f"#{ids.DATE_RANGE}-end") == "2026-03-20"
    assert page.inner_text(f"#{ids.PROJECT_TITLE}") == "nlp-bert"
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullLayout.title.text === 'Cumulative emissions'"
    )
    assert page.console_errors == []


def test_the_tabs_work_from_the_keyboard(page, base_url) -> None:
    page.goto(base_url)
    wait_rendered(page)
    overview = f"#{ids.VIEW_TABS}-{ids.TAB_OVERVIEW}"
    assert page.get_attribute(f"#{ids.VIEW_TABS}", "role") == "tablist"
    assert page.get_attribute(overview, "aria-selected") == "true"
    page.focus(overview)
    page.keyboard.press("ArrowRight")  # to "Runs and comparison", which opens
    page.wait_for_function(
        f"() => document.querySelectorAll('#{ids.RUNS_TABLE} .ag-row .ag-cell').length > 0"
    )
    runs_tab = f"#{ids.VIEW_TABS}-{ids.TAB_RUNS}"
    assert page.get_attribute(runs_tab, "aria-selected") == "true"
    assert page.evaluate("() => document.activeElement.id") == f"{ids.VIEW_TABS}-{ids.TAB_RUNS}"
    page.focus(overview)
    page.keyboard.press("Enter")
    wait_rendered(page)
    assert page.get_attribute(runs_tab, "aria-selected") == "false"
    assert page.console_errors == []


def wait_runs_page(page, number: int, of: int) -> None:
    """The grid's pager says page ``number`` of ``of`` and that page's first row is drawn."""
    first_row = (number - 1) * PAGE_SIZE
    page.wait_for_function(
        f"""() => {{
            const grid = document.querySelector('#{ids.RUNS_TABLE}');
            const pager = grid?.querySelector('.ag-paging-page-summary-panel')?.innerText ?? '';
            return pager.replace(/\\s+/g, ' ').trim() === 'Page {number} of {of}'
                && grid.querySelector('.ag-row[row-index="{first_row}"] .ag-cell') !== null;
        }}"""
    )


def test_the_runs_table_keeps_its_page_and_filter_over_a_reload(page, base_url) -> None:
    page.goto(f"{base_url}/?tab=runs")
    wait_runs_page(page, 1, 3)  # 42 runs
    for number in (2, 3):
        page.click(f"#{ids.RUNS_TABLE} .ag-paging-button[aria-label='Next Page']")
        wait_runs_page(page, number, 3)
    page.reload()
    wait_runs_page(page, 3, 3)
    page.fill(f"#{ids.RUNS_TABLE} input[aria-label='Project Filter Input']", "ResNet")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.RUNS_COUNT}')?.innerText === '20 of 42 runs'"
    )
    wait_runs_page(page, 1, 2)  # a new filter starts on its first page
    page.reload()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.RUNS_COUNT}')?.innerText === '20 of 42 runs'"
    )
    wait_runs_page(page, 1, 2)
    assert page.console_errors == []


def test_a_chart_whose_height_changes_is_drawn_once(page, serve_app, tmp_path) -> None:
    """dcc.Graph asks plotly to fit a chart to its box whenever the box changes size, even when
    the change is the chart's own new height (the experiments chart is as tall as its bars):
    plotly would redraw it in full 100 ms later, to the same size. The page's plotly.js answers
    such a resize at once (``assets/src/plotly/entry.js``): each chart is drawn once a switch."""
    rows = [
        run_row(project="many", experiment=f"exp-{n:02d}", run_id=f"many-{n}", gpu_kwh=1 + n)
        for n in range(10)
    ]
    rows.append(run_row(project="few", experiment="only", run_id="few-0"))
    url = serve_app([write_csv(tmp_path / "emissions.csv", rows)], refresh_interval_s=0)
    page.goto(url)
    wait_rendered(page)
    page.wait_for_load_state("networkidle")
    chart = f"document.querySelector('#{ids.EXPERIMENTS_GRAPH} .js-plotly-plot')"
    height = f"() => {chart}._fullLayout.height"
    before = page.evaluate(height)
    page.evaluate(
        """() => { window.drawn = {};
            for (const gd of document.querySelectorAll('.js-plotly-plot')) {
                const id = gd.parentElement.id;
                gd.on('plotly_afterplot', () => {
                    window.drawn[id] = (window.drawn[id] || 0) + 1;
                });
            } }"""
    )
    page.click(f"#{ids.PROJECT_SELECT}")
    page.get_by_role("option", name="few", exact=True).click()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0].y.length === 1"
    )
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # plotly's own resize would redraw 100 ms after the switch
    assert page.evaluate(height) < before  # the box did change size
    assert page.evaluate("() => window.drawn") == {
        ids.TIMELINE_GRAPH: 1,
        ids.EXPERIMENTS_GRAPH: 1,
        ids.ENERGY_SPLIT_GRAPH: 1,
    }
    assert page.console_errors == []
