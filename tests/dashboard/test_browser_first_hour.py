"""In headless Chromium: what a new user saw in the first hour, fixed."""

from __future__ import annotations

import pytest

from carbonboard import ids

pytestmark = pytest.mark.browser

# How wide each date input's content is, next to the room it has
CONTENT_AND_ROOM = f"""() => [...document.querySelectorAll('#{ids.DATE_RANGE} input')]
    .map(input => [input.value, input.scrollWidth, input.clientWidth])"""


@pytest.fixture(scope="module")
def base_url(serve_app, module_history) -> str:
    return serve_app(module_history, refresh_interval_s=0, disk_cache=False)


def test_presentation_mode_leaves_the_dates_whole(page, base_url) -> None:
    page.goto(base_url)
    page.wait_for_selector(f"#{ids.DATE_RANGE}-start")
    page.click(f"label[for={ids.PRESENTATION_MODE}]")
    page.wait_for_function("() => document.documentElement.classList.contains('presentation')")
    shown = page.evaluate(CONTENT_AND_ROOM)
    assert [value for value, _, _ in shown] == ["", ""]
    for value, width, room in shown:
        assert width <= room, (value, width, room)
    page.fill(f"#{ids.DATE_RANGE}-start", "2026-03-02")
    page.wait_for_function("() => location.search.includes('from=2026-03-02')")
    value, width, room = page.evaluate(CONTENT_AND_ROOM)[0]
    assert value == "2026-03-02" and width <= room
    assert page.console_errors == []
