"""Downloads, report and meeting mode in a real headless Chromium against the real app."""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from carbonboard import ids
from carbonboard.data.paths import resolve_paths
from carbonboard.data.store import HistoryStore
from tests.dashboard.test_theme import MEANINGFUL_CONTRAST, contrast

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "emissions.csv"
PROJECT, EXPERIMENT = "llm-finetune", "lora-7b"  # a project and one of its experiments in EXAMPLE


@pytest.fixture(scope="module")
def base_url(serve_app) -> str:
    return serve_app([EXAMPLE])


@pytest.fixture(scope="module")
def history():
    return HistoryStore(resolve_paths([str(EXAMPLE)]), disk_cache=False).history()


def open_page(page, url: str):
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    # assets/export.js has listed the page's charts in the picker and picked the first.
    page.wait_for_function("document.querySelector('[data-chart-picker]')._carbonboardValue")
    return page


def download(page, button_id: str, tmp_path: Path) -> Path:
    with page.expect_download(timeout=30_000) as info:
        page.click(f"#{button_id}")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_csv_download_loads_back_with_the_same_totals(page, base_url, history, tmp_path):
    open_page(page, base_url)
    path = download(page, ids.EXPORT_CSV, tmp_path)
    assert path.name == "all-projects_runs.csv"
    again = HistoryStore(resolve_paths([str(path)]), disk_cache=False).history()
    assert not again.skipped
    assert len(again.runs) == len(history.runs)
    for column in ("emissions", "energy_consumed", "duration"):
        assert math.isclose(again.runs[column].sum(), history.runs[column].sum(), rel_tol=1e-12)
    assert page.console_errors == []


def test_json_download_holds_every_run(page, base_url, history, tmp_path):
    open_page(page, base_url)
    document = json.loads(download(page, ids.EXPORT_JSON, tmp_path).read_text(encoding="utf-8"))
    assert len(document["runs"]) == len(history.runs)
    total = sum(run["emissions"] for run in document["runs"])
    assert math.isclose(total, history.runs["emissions"].sum(), rel_tol=1e-12)


def test_chart_png_has_the_charts_size_and_svg_parses(page, base_url, tmp_path):
    from PIL import Image

    open_page(page, f"{base_url}/?project={PROJECT}&experiment={EXPERIMENT}")
    chart_id = page.evaluate("document.querySelector('[data-chart-picker]')._carbonboardValue")
    size = page.evaluate(
        f"(() => {{ const gd = document.querySelector('#{chart_id} .js-plotly-plot');"
        " return [gd._fullLayout.width, gd._fullLayout.height]; })()"
    )
    png = download(page, ids.EXPORT_PNG, tmp_path)
    assert png.name.startswith(f"{PROJECT}_{EXPERIMENT}_") and png.suffix == ".png"
    assert page.inner_text(f"#{ids.EXPORT_STATUS}") == f"Saved {png.name}"
    with Image.open(io.BytesIO(png.read_bytes())) as image:
        image.load()
        assert list(image.size) == size
    svg = download(page, ids.EXPORT_SVG, tmp_path)
    assert svg.name == png.name.removesuffix(".png") + ".svg"
    root = ET.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg")
    assert page.console_errors == []


def test_project_view_exports_only_its_runs(page, base_url, history, tmp_path):
    open_page(page, f"{base_url}/?project={PROJECT}")
    path = download(page, ids.EXPORT_CSV, tmp_path)
    assert path.name == f"{PROJECT}_runs.csv"
    runs = HistoryStore(resolve_paths([str(path)]), disk_cache=False).history().runs
    expected = history.runs[history.runs["project_name"] == PROJECT]
    assert set(runs["project_name"].astype(str)) == {PROJECT}
    assert len(runs) == len(expected)
    assert math.isclose(runs["emissions"].sum(), expected["emissions"].sum(), rel_tol=1e-12)


def test_report_opens_offline_with_its_charts(
    offline_page, page, base_url, tmp_path, external_refs
):
    open_page(page, base_url)
    report = download(page, ids.EXPORT_REPORT, tmp_path)
    assert report.name == "all-projects_report.html"
    assert external_refs(report.read_text(encoding="utf-8")) == []

    offline = offline_page
    offline.goto(report.as_uri())
    offline.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    charts = offline.locator(".plotly-graph-div").count()
    assert charts >= 2
    assert offline.locator(".js-plotly-plot").count() == charts
    assert offline.locator("#methodology table").count() >= 4
    assert offline.console_errors == []
    assert offline.refused == []


def test_theme_and_presentation_survive_a_reload(page, base_url):
    open_page(page, base_url)
    page.click(f"label[for={ids.THEME_DARK}]")
    page.click(f"label[for={ids.PRESENTATION_MODE}]")
    page.wait_for_function("document.documentElement.dataset.bsTheme === 'dark'")
    paper = "() => document.querySelector('.js-plotly-plot')._fullLayout.paper_bgcolor"
    page.wait_for_function(f"({paper})() === '#212529'")

    page.reload()
    open_page(page, base_url.rstrip("/") + "/")
    page.wait_for_function("document.documentElement.dataset.bsTheme === 'dark'")
    assert page.evaluate("document.documentElement.classList.contains('presentation')")
    assert page.is_checked(f"#{ids.THEME_DARK}")
    assert page.is_checked(f"#{ids.PRESENTATION_MODE}")
    page.wait_for_function(f"({paper})() === '#212529'")

    page.click(f"label[for={ids.THEME_DARK}]")
    page.wait_for_function("document.documentElement.dataset.bsTheme === 'light'")
    page.wait_for_function(f"({paper})() !== '#212529'")
    assert page.console_errors == []


def _rgb_hex(css: str) -> str:
    """``rgb(214, 51, 132)`` as ``#d63384``."""
    return "#" + "".join(f"{int(part):02x}" for part in css[css.index("(") + 1 : -1].split(",")[:3])


def test_your_runs_stay_visible_in_the_dark_theme(page, base_url):
    """The "your runs" bar of the ranking, drawn on the dark chart background, keeps the 3:1
    contrast a mark identified by its colour needs (it once had the background's colour)."""
    open_page(page, base_url.rstrip("/") + "/?tab=regional")
    page.click(f"label[for={ids.THEME_DARK}]")
    chart = f"#{ids.REGIONAL_RANKING} .js-plotly-plot"
    page.wait_for_function(
        f"document.querySelector('{chart}')?._fullLayout?.paper_bgcolor === '#212529'",
        timeout=20_000,
    )
    labels = page.evaluate(f"document.querySelector('{chart}').data[0].y")
    yours = labels.index("Your runs")
    bar = page.locator(f"{chart} .bars .point path").nth(yours)
    fill = _rgb_hex(bar.evaluate("path => getComputedStyle(path).fill"))
    paper = page.evaluate(f"document.querySelector('{chart}')._fullLayout.paper_bgcolor")
    assert contrast(fill, paper) >= MEANINGFUL_CONTRAST, (fill, paper)
    page.click(f"label[for={ids.THEME_DARK}]")  # back to light for the other tests
    page.wait_for_function("document.documentElement.dataset.bsTheme === 'light'")
    assert page.console_errors == []
