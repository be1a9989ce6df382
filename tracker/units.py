"""Figures as people read them: a run's duration, energy and CO2 in the unit that suits their size.

Pure functions shared by the notebook summary line and ``EmissionsData``'s HTML view, so both
show ``0.41 Wh`` rather than ``0.00041 kWh`` and never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
WH_PER_KWH = 1000.0
GRAMS_PER_KG = 1000.0
SMALLEST_SHOWN = 0.1  # in its unit: 0.41 Wh reads better than 410 mWh, 0.05 Wh worse than 50 mWh

# (factor from the base unit, name), smallest first: the base unit is Wh for energy, g for CO2.
_ENERGY_UNITS = ((1e3, "mWh"), (1.0, "Wh"), (1e-3, "kWh"), (1e-6, "MWh"))
_MASS_UNITS = ((1e3, "mg"), (1.0, "g"), (1e-3, "kg"), (1e-6, "t"))


def _scaled(value: float, units: Sequence[tuple[float, str]]) -> str:
    """``value`` (in the unit whose factor is 1) in the largest unit where it is at least 0.1
    (``0.41 Wh``, not ``410 mWh``), three significant digits; tinier values in the smallest."""
    chosen = units[0]
    for factor, name in units:
        if abs(value * factor) >= SMALLEST_SHOWN:
            chosen = (factor, name)
    factor, name = chosen
    return f"{value * factor:.3g} {name}"


def energy_text(energy_kwh: float) -> str:
    """``0.00041`` kWh -> ``0.41 Wh``; ``2.5`` kWh -> ``2.5 kWh``."""
    return _scaled(energy_kwh * WH_PER_KWH, _ENERGY_UNITS)


def co2_text(emissions_kg: float) -> str:
    """``0.00018`` kg -> ``0.18 g CO2eq``; ``12`` kg -> ``12 kg CO2eq``."""
    return f"{_scaled(emissions_kg * GRAMS_PER_KG, _MASS_UNITS)} CO2eq"


def duration_text(duration_s: float) -> str:
    """``12.34`` -> ``12.3 s``; ``754`` -> ``12.6 min``; ``7200`` -> ``2 h``."""
    if duration_s >= SECONDS_PER_HOUR:
        return f"{duration_s / SECONDS_PER_HOUR:.3g} h"
    if duration_s >= SECONDS_PER_MINUTE:
        return f"{duration_s / SECONDS_PER_MINUTE:.3g} min"
    return f"{duration_s:.3g} s"
