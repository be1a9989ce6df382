"""Shared fixtures: a headless Chromium driven by Playwright, and free ports.

Browser tests skip with a reason when no Chromium is installed, except under CI (CI=true), where a
missing browser is a failure: CI must prove the page works.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Keep Chromium from calling home: this machine may have no network at all.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts"


def find_chromium() -> str | None:
    env = os.environ.get("CARBONBOARD_CHROMIUM")
    candidates = [env] if env else [*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""]
    return next((c for c in candidates if c and Path(c).exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium shared by the session's browser tests."""
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no Chromium found: install Debian's chromium (see .ci/run)")
        pytest.skip("no Chromium installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh page that records console errors and failed requests for the test to assert on."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.failed_requests = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.on("requestfailed", lambda r: page.failed_requests.append(r.url))
    page.on(
        "response",
        lambda r: r.status >= 400 and page.failed_requests.append(f"{r.status} {r.url}"),
    )
    yield page
    context.close()


@pytest.fixture
def offline_page(browser) -> Iterator:
    """A page with the network off, for files opened from disk: every request for anything but a
    file is refused and recorded in ``page.refused``; console errors in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.refused = []
    page.console_errors = []

    def only_files(route) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            page.refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    context.set_offline(True)
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    context.close()


@pytest.fixture(scope="module")
def serve_app():
    """Serve ``carbonboard.app.create_app`` over the files, directories or globs given (a
    ``HistoryStore``, as the CLI builds it) with waitress on a free port.

    Returns a function ``serve(filepaths, disk_cache=True, **app_options) -> base_url``; every
    server started is closed when the test module ends.
    """
    import threading

    from waitress import create_server

    from carbonboard.app import create_app
    from carbonboard.data.store import HistoryStore

    servers = []

    def serve(filepaths, disk_cache: bool = True, **app_options) -> str:
        source = HistoryStore.from_arguments([str(p) for p in filepaths], disk_cache=disk_cache)
        app = create_app(source, **app_options)
        server = create_server(app.server, host="127.0.0.1", port=free_port(), threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.effective_port}"

    yield serve
    for server in servers:
        server.close()
