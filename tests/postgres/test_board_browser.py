"""``carbonboard --database URL`` in headless Chromium: every tab renders from PostgreSQL, with no
console error and no failed request (#12)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from carbonboard import ids
from carbonboard.app import TABS
from carbonboard.cli import main

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
helpers = importlib.import_module("tests.dashboard.conftest")
browser_tests = importlib.import_module("tests.dashboard.test_browser")
SERVER_START_S = 60.0
# What shows that a tab is drawn from the server's answers, not a placeholder.
TAB_DRAWN = {
    ids.TAB_OVERVIEW: f"#{ids.EQUIVALENTS_LIST} li",
    ids.TAB_RUNS: f"#{ids.RUNS_TABLE} .ag-row .ag-cell",
    ids.TAB_REGIONAL: f"#{ids.REGIONAL_MAP} path.choroplethlocation",
}
TAB_SECTIONS = {
    ids.TAB_OVERVIEW: (ids.PROJECT_SECTION, ids.EQUIVALENTS_SECTION),
    ids.TAB_RUNS: (ids.RUNS_SECTION, ids.COMPARISON_SECTION),
    ids.TAB_REGIONAL: (ids.REGIONAL_SECTION,),
    ids.TAB_EFFICIENCY: (ids.EFFICIENCY_SECTION,),
}


@pytest.fixture
def board_url(database, tmp_path: Path) -> Iterator[str]:
    """The sample history imported into the database, served by the real command."""
    history = helpers.sample_history(tmp_path)
    arguments = ["import", "--database", database.url]
    for path in history:
        arguments += ["--filepath", str(path)]
    imported = CliRunner().invoke(main, arguments)
    assert imported.exit_code == 0, imported.output
    port = importlib.import_module("tests.conftest").free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "carbonboard", "--database", database.url, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the board exited: {server.stdout.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail("the board did not answer in time")


def test_every_tab_renders_from_the_database(page, board_url) -> None:
    page.goto(board_url)
    browser_tests.wait_rendered(page)
    assert page.inner_text(f"#{ids.HEADER_RUNS}") == "42 runs"
    assert page.inner_text(f"#{ids.HEADER_FILES}").startswith("database: postgresql://")
    assert browser_tests.points(page, ids.TIMELINE_GRAPH) == 42
    assert [tab for tab, *_ in TABS] == list(TAB_SECTIONS)  # every tab of the page
    for tab, sections in TAB_SECTIONS.items():
        page.click(f"#{ids.VIEW_TABS}-{tab}")
        if tab in TAB_DRAWN:
            page.wait_for_selector(TAB_DRAWN[tab], state="attached", timeout=30_000)
        for section in sections:
            page.locator(f"#{section}").wait_for(state="visible", timeout=30_000)
    assert page.console_errors == []
    assert page.failed_requests == []
