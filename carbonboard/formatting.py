"""Human units for every number on the page, in one place.

Values are stored in the contract's units (kg CO2eq, kWh, seconds) and shown in the unit that
keeps them readable, with three significant figures: a real run never shows "0.0 kg".

Names (projects, experiments, tasks, places) come from CSVs and may be of any length and hold any
character: every place that shows one shows :func:`short_label` of it (charts :func:`plot_text`),
and keeps the full value where it can be read on demand (an option's value, a tooltip).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# (threshold in the base unit, factor to divide by, unit label), largest first.
MASS_UNITS_KG = ((1000.0, 1000.0, "t"), (1.0, 1.0, "kg"), (1e-3, 1e-3, "g"), (0.0, 1e-6, "mg"))
ENERGY_UNITS_KWH = (
    (1e6, 1e6, "GWh"),
    (1e3, 1e3, "MWh"),
    (1.0, 1.0, "kWh"),
    (1e-3, 1e-3, "Wh"),
    (0.0, 1e-6, "mWh"),
)
POWER_UNITS_W = ((1e6, 1e6, "MW"), (1e3, 1e3, "kW"), (0.0, 1.0, "W"))
MISSING = "–"
# Past this many characters a name is cut: a 10 KB label makes the page's dropdowns unresponsive
# for a minute, and a 1 MB one makes a report megabytes long.
LABEL_MAX_CHARS = 120
LABEL_PART_CHARS = 40  # a name inside a longer label, e.g. a run's "experiment · run id"
ELLIPSIS = "…"


def significant(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant figures, without exponent and trailing zeros."""
    if value == 0:
        return "0"
    decimals = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scaled(value: float | None, units: tuple[tuple[float, float, str], ...]) -> str:
    if value is None or not math.isfinite(value):
        return MISSING
    magnitude = abs(value)
    factor, label = next((f, name) for threshold, f, name in units if magnitude >= threshold)
    return f"{significant(value / factor)} {label}"


def format_mass_kg(mass_kg: float | None, suffix: str = " CO₂eq") -> str:
    """A mass of CO2-equivalent given in kg, e.g. ``12.3 g CO₂eq``."""
    text = _scaled(mass_kg, MASS_UNITS_KG)
    return text if text == MISSING else text + suffix


def format_energy_kwh(energy_kwh: float | None) -> str:
    """An energy given in kWh, e.g. ``340 Wh`` or ``1.2 MWh``."""
    return _scaled(energy_kwh, ENERGY_UNITS_KWH)


def format_power_w(power_w: float | None) -> str:
    """A power given in W."""
    return _scaled(power_w, POWER_UNITS_W)


def format_duration_s(duration_s: float | None) -> str:
    """A duration given in seconds: ``45 s``, ``12.5 min``, ``3.2 h``, ``4.1 days``."""
    if duration_s is None or not math.isfinite(duration_s):
        return MISSING
    for threshold, factor, label in ((86400.0, 86400.0, "days"), (3600.0, 3600.0, "h")):
        if duration_s >= threshold:
            return f"{significant(duration_s / factor)} {label}"
    if duration_s >= 60:
        return f"{significant(duration_s / 60)} min"
    return f"{significant(duration_s)} s"


def format_count(count: int) -> str:
    """An integer with thousands separators."""
    return f"{count:,}"


def format_intensity(g_per_kwh: float | None) -> str:
    """A carbon intensity in gCO2e/kWh."""
    if g_per_kwh is None or not math.isfinite(g_per_kwh):
        return MISSING
    return f"{significant(g_per_kwh)} gCO₂e/kWh"


def format_more(per_group: pd.DataFrame, top: int | None, noun: str) -> str:
    """What a chart of the ``top`` first groups of ``per_group`` (most emissions first, an
    ``emissions_kg`` column) leaves out, e.g. ``… and 985 more projects (1.2 t CO₂eq
    together)``; "" when it shows them all (``top`` None or not below their number)."""
    rest = per_group.iloc[len(per_group) if top is None else top :]
    if rest.empty:
        return ""
    together = format_mass_kg(float(rest["emissions_kg"].sum()))
    return f"… and {format_count(len(rest))} more {noun} ({together} together)"


def short_label(text: object, max_chars: int = LABEL_MAX_CHARS) -> str:
    """``text`` as shown: at most ``max_chars`` characters, then "…" when it was longer."""
    value = "" if text is None else str(text)
    return value if len(value) <= max_chars else value[:max_chars] + ELLIPSIS


def is_cut(text: object) -> bool:
    """Whether :func:`short_label` shortens ``text`` (so a tooltip should give it whole)."""
    return text is not None and len(str(text)) > LABEL_MAX_CHARS


def distinct_labels(values: Iterable[object]) -> list[str]:
    """:func:`short_label` of each value, where distinct values keep distinct labels (two long
    names that start alike would otherwise be drawn as one bar): a clash gets " (2)", " (3)"..."""
    given: dict[str, str] = {}
    taken: set[str] = set()
    labels = []
    for value in values:
        text = "" if value is None else str(value)
        if text not in given:
            label, count = short_label(text), 1
            while label in taken:
                count += 1
                label = f"{short_label(text)} ({count})"
            given[text] = label
            taken.add(label)
        labels.append(given[text])
    return labels


def plot_escape(text: object) -> str:
    """``text`` that plotly.js draws as written: it reads a subset of HTML in every text of a
    figure (``<a href>`` becomes a link, ``<br>`` a line break), and decodes ``&lt;``, ``&gt;``
    and ``&amp;`` back to the characters."""
    return escape("" if text is None else str(text), quote=False)


def plot_text(text: object) -> str:
    """A name in a figure: cut like everywhere else, then plain text for plotly.js."""
    return plot_escape(short_label(text))


def plot_labels(values: Iterable[object]) -> list[str]:
    """Names on a category axis: cut, distinct, plain text for plotly.js."""
    return [plot_escape(label) for label in distinct_labels(values)]


def run_labels(runs: pd.DataFrame) -> list[str]:
    """Short unique labels for runs: experiment (cut short) and the run id's first
    characters."""
    return [
        f"{short_label(experiment or project, LABEL_PART_CHARS)} · {run_id[:8]}"
        for project, experiment, run_id in zip(
            runs["project_name"].astype("str"),
            runs["experiment_id"].astype("str"),
            runs["run_id"],
            strict=True,
        )
    ]
