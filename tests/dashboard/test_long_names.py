"""Names of any length and content: cut for display everywhere (whole in the option value and
the tooltip), drawn as plain text in the charts; a 10 KB name leaves the page responsive."""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs, unquote

import pytest

from carbonboard import ids
from carbonboard.app import create_app
from carbonboard.data.store import HistoryStore
from carbonboard.formatting import LABEL_MAX_CHARS, short_label
from carbonboard.sections.filters import option_value

from .conftest import START, run_row, write_csv
from .test_callbacks import call, sync_answer

LINK = '<a href="https://attacker.example/">click</a>'
LONG_PROJECT = LINK + " " + "p" * (10 * 1024)  # a 10 KB name once froze the page for a minute
LONG_EXPERIMENT = "e" * (10 * 1024)
LINK_IN_SVG = "() => document.querySelectorAll('.js-plotly-plot .main-svg a').length"


@pytest.fixture(scope="module")
def long_history(tmp_path_factory):
    """A long-named project (markup in its name), a long-named experiment, a plain project."""
    folder = tmp_path_factory.mktemp("long-names")
    rows = [
        run_row(
            project=LONG_PROJECT if i % 2 else "nlp-bert",
            experiment=LONG_EXPERIMENT if i % 3 else "bert-base",
            run_id=f"run-{i:03d}",
            when=START + dt.timedelta(days=i),
        )
        for i in range(12)
    ]
    return [write_csv(folder / "emissions.csv", rows)]


@pytest.fixture(scope="module")
def app(long_history):
    source = HistoryStore.from_arguments([str(p) for p in long_history], disk_cache=False)
    return create_app(source, refresh_interval_s=0)


def test_dropdown_options_are_cut_and_keep_the_whole_name(app) -> None:
    """The label is cut, the tooltip whole; the value of a long name is its start and a digest
    (Dash's dropdown indexes values by all their substrings), which stands for the name."""
    out = sync_answer(app, {f"{ids.URL}.search": "?tab=runs"})
    options = {o["title"]: o for o in out[ids.PROJECT_SELECT]["options"] if "title" in o}
    long = options[LONG_PROJECT]
    assert long["value"] == option_value(LONG_PROJECT)
    assert len(long["value"]) < 2 * LABEL_MAX_CHARS
    assert long["label"] == short_label(LONG_PROJECT)
    assert len(long["label"]) == LABEL_MAX_CHARS + 1 and long["label"].endswith("…")
    assert long["title"] == LONG_PROJECT
    assert options["nlp-bert"]["label"] == "nlp-bert"
    assert options["nlp-bert"]["value"] == "nlp-bert"
    experiments = {o.get("title"): o for o in out[ids.EXPERIMENT_SELECT]["options"]}
    assert experiments[LONG_EXPERIMENT]["label"] == short_label(LONG_EXPERIMENT)
    runs = out[ids.COMPARE_SELECT]["options"]
    assert max(len(o["label"]) for o in runs) < 2 * LABEL_MAX_CHARS
    assert any(LONG_PROJECT in o["title"] for o in runs)


def test_a_long_names_option_value_selects_it_and_the_url_holds_the_name(app) -> None:
    """Picking the long-named project and experiment: the selection and the address hold the
    whole names, the dropdowns keep their short values."""
    out = sync_answer(
        app,
        {
            f"{ids.URL}.search": "",
            f"{ids.PROJECT_SELECT}.value": option_value(LONG_PROJECT),
            f"{ids.EXPERIMENT_SELECT}.value": option_value(LONG_EXPERIMENT),
            f"{ids.COMPARE_SELECT}.value": ["run-001", "run-003"],
        },
        changed=[f"{ids.EXPERIMENT_SELECT}.value"],
    )
    assert ids.SELECTION not in out  # the page picked the whole names itself (its options' titles)
    query = parse_qs(out[ids.URL]["search"][1:])
    assert query["project"] == [LONG_PROJECT] and query["experiment"] == [LONG_EXPERIMENT]
    assert query["runs"] == ["run-001,run-003"]
    back = sync_answer(app, {f"{ids.URL}.search": out[ids.URL]["search"]})
    assert back[ids.PROJECT_SELECT]["value"] == option_value(LONG_PROJECT)
    assert back[ids.EXPERIMENT_SELECT]["value"] == option_value(LONG_EXPERIMENT)


def test_the_runs_table_cuts_cells_and_gives_the_whole_text_as_tooltip(app) -> None:
    out = call(
        app,
        f"{ids.RUNS_TABLE}.getRowsResponse",
        {
            f"{ids.RUNS_TAB_SELECTION}.data": {},
            f"{ids.RUNS_TABLE}.getRowsRequest": {"startRow": 0, "endRow": 15},
        },
    ).get_json()["response"][ids.RUNS_TABLE]["getRowsResponse"]
    rows = out["rowData"]
    assert len(rows) == out["rowCount"] == 12
    for row in rows:
        shown = {k: v for k, v in row.items() if not k.endswith("__full")}
        assert all(len(str(value)) <= LABEL_MAX_CHARS + 1 for value in shown.values())
        if row["project_name"] == short_label(LONG_PROJECT):
            assert row["project_name__full"] == LONG_PROJECT  # the cell's tooltip
        else:
            assert "project_name__full" not in row


def test_the_project_title_and_run_detail_are_cut(app) -> None:
    out = call(
        app,
        f"{ids.PROJECT_TITLE}.children",
        {f"{ids.OVERVIEW_TAB_SELECTION}.data": {"project": LONG_PROJECT}},
    ).get_json()["response"]
    assert out[ids.PROJECT_TITLE] == {
        "children": short_label(LONG_PROJECT),
        "title": LONG_PROJECT,
    }
    last_run = str(out[ids.PROJECT_LAST_RUN]["lines"])
    assert short_label(LONG_PROJECT) in last_run
    assert last_run.count(LONG_PROJECT) == 1  # once, as the tooltip
    detail = call(
        app,
        f"{ids.RUN_DETAIL}.children",
        {f"{ids.RUNS_TABLE}.cellClicked": {"rowIndex": 0, "rowId": "run-001"}},
    ).get_json()["response"][ids.RUN_DETAIL]["children"]
    text = str(detail)
    assert short_label(LONG_PROJECT) in text
    assert text.count(LONG_PROJECT) == 1  # once, as the cell's tooltip


# ------------------------------------------------------------------------------------------
# In the browser


@pytest.fixture(scope="module")
def base_url(serve_app, long_history) -> str:
    return serve_app(long_history, refresh_interval_s=0, disk_cache=False)


def wait_drawn(page, graph_id: str) -> None:
    page.wait_for_function(
        f"() => document.querySelector('#{graph_id} .js-plotly-plot')?.data?.length > 0",
        timeout=20_000,
    )


@pytest.mark.browser
def test_a_10_kb_project_name_leaves_the_page_responsive(page, base_url) -> None:
    """The page draws, and switching to the long-named project and back works, within the usual
    timeouts (it once took over a minute to answer a click)."""
    page.set_default_timeout(20_000)
    page.goto(base_url)
    for graph_id in (ids.TOTALS_PROJECTS_GRAPH, ids.TIMELINE_GRAPH, ids.EXPERIMENTS_GRAPH):
        wait_drawn(page, graph_id)
    page.click(f"#{ids.PROJECT_SELECT}")
    option = page.get_by_role("option", name=short_label(LONG_PROJECT))
    assert option.get_attribute("title") == LONG_PROJECT or (
        option.locator("[title]").first.get_attribute("title") == LONG_PROJECT
    )
    option.click()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText.endsWith('…')"
    )
    assert page.inner_text(f"#{ids.PROJECT_TITLE}") == short_label(LONG_PROJECT)
    assert page.get_attribute(f"#{ids.PROJECT_TITLE}", "title") == LONG_PROJECT
    assert unquote(page.url.split("project=", 1)[1].replace("+", " ")) == LONG_PROJECT
    last_run = page.locator(f"#{ids.PROJECT_LAST_RUN}")
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_LAST_RUN}')?.innerText.includes('click')"
    )
    assert LINK in last_run.inner_text()  # the markup in the name, drawn as the text it is
    assert last_run.locator("a").count() == 0
    page.wait_for_function(
        f"() => document.querySelector('#{ids.TIMELINE_GRAPH} .js-plotly-plot')?"
        "._fullData[0]?.y.length === 6"
    )
    page.click(f"#{ids.PROJECT_SELECT}")
    page.get_by_role("option", name="nlp-bert").click()
    page.wait_for_function(
        f"() => document.querySelector('#{ids.PROJECT_TITLE}')?.innerText === 'nlp-bert'"
    )
    assert page.console_errors == []
    assert page.failed_requests == []


@pytest.mark.browser
def test_markup_in_a_name_is_never_a_link_in_a_chart_or_its_svg(page, base_url) -> None:
    page.goto(base_url)
    for graph_id in (ids.TOTALS_PROJECTS_GRAPH, ids.EXPERIMENTS_GRAPH):
        wait_drawn(page, graph_id)
    page.wait_for_selector(f"#{ids.TOTALS_PROJECTS_GRAPH} .main-svg .ytick text")
    ticks = page.locator(f"#{ids.TOTALS_PROJECTS_GRAPH} .main-svg .ytick text").all_text_contents()
    assert any(tick.startswith(LINK) for tick in ticks), ticks  # drawn as the text it is
    assert page.evaluate(LINK_IN_SVG) == 0
    svg = page.evaluate(
        "(id) => window.Plotly.toImage(document.querySelector(`#${id} .js-plotly-plot`),"
        " {format: 'svg'})",
        ids.TOTALS_PROJECTS_GRAPH,
    )
    header, _, data = svg.partition(",")
    markup = base64.b64decode(data).decode() if header.endswith(";base64") else unquote(data)
    assert "attacker.example" in markup and "<a " not in markup
