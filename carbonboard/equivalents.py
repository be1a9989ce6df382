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


@dataclass(frozen=True)
class Equivalent:
    """An amount of something that emits (or absorbs) the same CO2eq."""

    factor: Factor
    amount: float
    unit: str

    @property
    def text(self) -> str:
        """e.g. ``12.3 km driven by an average new car``."""
        if self.factor.key == "household_electricity_years":
            return f"{significant(self.amount * 100)} % {self.factor.label}"
        return f"{significant(self.amount)} {self.unit} {self.factor.label}"


@cache
def factors() -> tuple[Factor, ...]:
    """The bundled factors, in display order."""
    raw = json.loads(files("carbonboard.data").joinpath("equivalents.json").read_text("utf-8"))
    return tuple(Factor(key=key, **values) for key, values in raw.items())


def equivalents(emissions_kg: float, distance_unit: str = "km") -> list[Equivalent]:
    """What ``emissions_kg`` of CO2eq amounts to; car distance in ``km`` or ``mi``."""
    result = []
    for factor in factors():
        amount = emissions_kg / factor.kg_co2e_per_unit
        unit = factor.unit
        if factor.unit == "km" and distance_unit == "mi":
            amount, unit = amount / KM_PER_MILE, "mi"
        result.append(Equivalent(factor, amount, unit))
    return result
