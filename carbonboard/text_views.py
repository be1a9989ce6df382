"""Small page components of carbonboard's own: text drawn from data (a table, a block of lines,
a row of cards), a titled card around other components, and the date range control.

A callback that answers with new Dash components (``children``) costs the page far more than
their text: Dash mounts each new component and then resets its state with a store update that
every component on the page re-reads (a location table of 40 cells made a project switch spend
a quarter of a second on that). These components take plain data props instead, so a switch
updates one prop. They draw every value as text (React escapes it): CSV text never becomes markup.

The browser side is ``assets/text-views.js``. A cell or span is a string or
``{"text": ..., "title": ..., "className": ...}`` (:func:`span`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dash.development.base_component import Component

NAMESPACE = "carbonboard_views"


def span(text: str, class_name: str | None = None, title: str | None = None) -> dict[str, str]:
    """A piece of text with an optional CSS class and tooltip, for a table cell or a line."""
    piece = {"text": text}
    if class_name:
        piece["className"] = class_name
    if title:
        piece["title"] = title
    return piece


class _TextView(Component):
    """A component of :data:`NAMESPACE`; its props are listed by each subclass."""

    _namespace = NAMESPACE
    _children_props: ClassVar[list[str]] = []  # no prop but ``children`` holds components
    _base_nodes: ClassVar[list[str]] = ["children"]
    _props: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **props: Any) -> None:
        unknown = set(props) - set(self._props)
        if unknown:
            raise TypeError(f"{self._type} has no prop {sorted(unknown)}")
        self._prop_names = list(self._props)
        self._valid_wildcard_attributes = []
        self.available_properties = list(self._props)
        self.available_wildcard_properties = []
        super().__init__(**props)


class TextTable(_TextView):
    """A table: ``columns`` (header texts), ``rows`` (lists of cells), ``empty`` (shown instead
    when there are no rows) and ``note`` (a line under the table)."""

    _type = "TextTable"
    _props = ("id", "columns", "rows", "empty", "note", "className")


def stat(label: str, value_id: str, value: str = "–") -> dict[str, str]:
    """One card of a :class:`StatCards` row: a big number with its label; ``value_id`` is the
    value's element id on the page."""
    return {"label": label, "id": value_id, "value": value}


class StatCards(_TextView):
    """A row of headline numbers, one card each: ``cards`` is a list of :func:`stat`. One
    component for the row (it was 21: a row, and a column, card, body, label and value per
    card), so the page mounts and re-reads fewer."""

    _type = "StatCards"
    _props = ("id", "cards", "className")


class TextLines(_TextView):
    """Lines of spans: ``lines`` is a list of ``{"spans": [...], "className": ...}`` (or plain
    strings); ``as_list`` draws them as a list (``ul``/``li``) with ``heading`` above it;
    ``empty`` is shown when there are no lines."""

    _type = "TextLines"
    _props = ("id", "lines", "heading", "as_list", "empty", "className")


class SectionCard(_TextView):
    """A card with a ``title`` over its ``children`` (Bootstrap's card, header and body): one
    component where it took four (card, header, heading, body)."""

    _type = "SectionCard"
    _props = ("children", "id", "title", "className")

    def __init__(self, children: Any = None, **props: Any) -> None:
        super().__init__(children=children, **props)


class DateRange(_TextView):
    """The date filter: two native date inputs (``start_date``, ``end_date``: "YYYY-MM-DD" or
    None), each bounded by ``min_date_allowed`` / ``max_date_allowed`` and by the other, and a
    button that clears both. The browser's own date input: dcc.DatePickerRange's calendar
    library took about 60 ms of a first page load's main thread to mount."""

    _type = "DateRange"
    _props = ("id", "start_date", "end_date", "min_date_allowed", "max_date_allowed", "className")
