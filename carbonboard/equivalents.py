"""Real-world equivalents of an amount of CO2eq: car distance, phone charges, streaming, ...

Each factor lives in ``data/equivalents.json`` with its source and year, so the page can cite it
and a reviewer can check it; nothing here hard-codes a number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from carbonboard.formatting import significant

KM_PER_MILE = 1.609344  # international mile, exact


@dataclass(frozen=True)
class Factor:
    key: str
    kg_co2e_per_unit: float
    unit: str
    label: str
    source: str
    url: str
    year: int


# Smaller units an amount steps down to before it reads as a long decimal: (size in the
# factor's unit, name). Exact: 1 mi = 5,280 ft; 1 h = 60 min = 3,600 s.
SMALLER_UNITS = {
    "km": ((1.0, "km"), (1e-3, "m")),
    "mi": ((1.0, "mi"), (1 / 5280, "ft")),
    "hours": ((1.0, "hours"), (1 / 60, "minutes"), (1 / 3600, "seconds")),
}
READABLE_MIN = 0.1  # a shown number below this reads badly ("0.00105 km"): the item is left out
PERCENT_KEYS = ("household_electricity_years",)  # shown as a percentage of the unit


@dataclass(frozen=True)
class Equivalent:
    """An amount of something that emits (or absorbs) the same CO2eq."""

    factor: Factor
    amount: float
    unit: str

    @property
    def shown(self) -> tuple[float, str]:
        """The number and unit as shown: the largest unit it is at least 1 of (``1.05 m``, not
        ``0.00105 km``), a percentage for shares of a year."""
        if self.factor.key in PERCENT_KEYS:
            return self.amount * 100, "%"
        steps = SMALLER_UNITS.get(self.unit, ((1.0, self.unit),))
        size, name = next(((s, n) for s, n in steps if self.amount >= s), steps[-1])
        return self.amount / size, name

    @property
    def reads_well(self) -> bool:
        """Whether the shown number is a plain one (at least ``READABLE_MIN``)."""
        return self.shown[0] >= READABLE_MIN

    @property
    def text(self) -> str:
        """e.g. ``12.3 km driven by an average new car``; under one of the smallest unit,
        ``less than 1 m driven by an average new car``."""
        number, unit = self.shown
        if self.unit in SMALLER_UNITS and number < 1:  # under one of the smallest unit
            return f"less than 1 {singular(unit)} {self.factor.label}"
        return f"{significant(number)} {unit} {self.factor.label}"


def singular(unit: str) -> str:
    """``seconds`` → ``second`` (after "less than 1"); symbols stay as they are."""
    return unit[:-1] if unit.endswith("s") and len(unit) > 2 else unit


@cache
def factors() -> tuple[Factor, ...]:
    """The bundled factors, in display order."""
    raw = json.loads(files("carbonboard.data").joinpath("equivalents.json").read_text("utf-8"))
    return tuple(Factor(key=key, **values) for key, values in raw.items())


def equivalents(emissions_kg: float, distance_unit: str = "km") -> list[Equivalent]:
    """What ``emissions_kg`` of CO2eq amounts to, only the equivalents whose number reads well
    (car distance in ``km`` or ``mi``); when none does, the car distance alone, which then
    says "less than 1 m" (or ft)."""
    result = []
    for factor in factors():
        amount = emissions_kg / factor.kg_co2e_per_unit
        unit = factor.unit
        if factor.unit == "km" and distance_unit == "mi":
            amount, unit = amount / KM_PER_MILE, "mi"
        result.append(Equivalent(factor, amount, unit))
    readable = [e for e in result if e.reads_well]
    return readable or [e for e in result if e.factor.unit == "km"]
