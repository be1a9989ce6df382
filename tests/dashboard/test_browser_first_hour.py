"""In headless Chromium: what a new user saw in the first hour, fixed."""

from __future__ import annotations

import pytest

from carbonboard import ids

pytestmark = pytest.mark.browser

# How wide each date input's text is at its own font, next to the room it has
TEXT_AND_ROOM = """() => [...document.querySelectorAll('.dash-datepicker-input')].map(input => {
    const context = document.createElement('canvas').getContext('2d');
    context.font = getComputedStyle(input).font;
    const text = input.value || input.placeholder;
    return [text, context.measureText(text).width, input.clientWidth];
})"""


@pytest.fixture(scope="module")
def base_url(serve_app, module_history) -> str:
    return serve_app(module_history, refresh_interval_s=0, disk_cache=False)


def test_presentation_mode_leaves_the_date_placeholders_whole(page, base_url) -> None:
    page.goto(base_url)
    page.wait_for_selector(".dash-datepicker-start-date")
    page.click(f"label[for={ids.PRESENTATION_MODE}]")
    page.wait_for_function("() => document.documentElement.classList.contains('presentation')")
    shown = page.evaluate(TEXT_AND_ROOM)
    assert [text for text, _, _ in shown] == ["from", "to"]
    for text, width, room in shown:
        assert width <= room, (text, width, room)
    page.fill(".dash-datepicker-start-date", "2026-03-02")
    text, width, room = page.evaluate(TEXT_AND_ROOM)[0]
    assert text == "2026-03-02" and width <= room
    assert page.console_errors == []
