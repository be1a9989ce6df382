"""Carbon budgets: ``nlp-bert=50kg`` per month, a burn-down and a forecast to the period's end.

A budget caps a project's emissions over a calendar period (UTC): a month by default, or a week
(Monday to Monday) or a year with ``/week`` or ``/year`` after the amount. A run counts in the
period of its row's timestamp (when it ended), all of it.

Forecast (see ``docs/efficiency.md``): the recent rate is the emissions of the runs in the last
``RECENT_DAYS`` days (or since the period began, when it began less long ago) divided by that
window's length; the forecast at the period's end is what is spent so far plus that rate times
the time left. Over budget: spent > limit; forecast over: forecast > limit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from carbonboard.efficiency.units import text_column

UNITS_KG = {"g": 1e-3, "kg": 1.0, "t": 1000.0}
PERIODS = ("week", "month", "year")
DEFAULT_PERIOD = "month"
RECENT_DAYS = 7.0
SECONDS_PER_DAY = 86400.0
_AMOUNT = re.compile(r"^\s*(?P<number>[0-9][0-9_.eE+-]*)\s*(?P<unit>[A-Za-z]*)\s*$")


@dataclass(frozen=True)
class Budget:
    project_name: str
    limit_kg: float
    period: str = DEFAULT_PERIOD


def parse_budget(spec: str) -> Budget:
    """``project=AMOUNTUNIT[/period]``, e.g. ``nlp-bert=50kg``, ``vision=1.5t/year``,
    ``demo=800g/week``. The project is everything before the last ``=`` (names may hold one).
    Raises ``ValueError`` saying what is wrong and what is expected."""
    example = "expected PROJECT=AMOUNT with a unit g, kg or t, e.g. nlp-bert=50kg"
    project, equals, amount = spec.rpartition("=")
    if not equals:
        raise ValueError(f"budget {spec!r}: no '='; {example}")
    if not project.strip():
        raise ValueError(f"budget {spec!r}: no project before '='; {example}")
    amount, slash, period = amount.partition("/")
    period = period.strip().lower() if slash else DEFAULT_PERIOD
    if period not in PERIODS:
        raise ValueError(f"budget {spec!r}: period {period!r} is not one of {', '.join(PERIODS)}")
    match = _AMOUNT.match(amount)
    if match is None:
        raise ValueError(f"budget {spec!r}: {amount.strip()!r} is not an amount; {example}")
    unit = match["unit"].lower()
    if not unit:
        raise ValueError(f"budget {spec!r}: the amount needs a unit (g, kg or t); {example}")
    if unit not in UNITS_KG:
        raise ValueError(f"budget {spec!r}: unknown unit {match['unit']!r}; {example}")
    try:
        number = float(match["number"])
    except ValueError:
        raise ValueError(f"budget {spec!r}: {match['number']!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"budget {spec!r}: the amount must be a positive number")
    return Budget(project.strip(), number * UNITS_KG[unit], period)


def period_bounds(now: pd.Timestamp, period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of the calendar period (UTC) holding ``now``."""
    now = _utc(now)
    if period == "week":
        start = now.normalize() - pd.Timedelta(days=now.weekday())
        return start, start + pd.Timedelta(days=7)
    if period == "month":
        start = now.normalize().replace(day=1)
        return start, start + pd.DateOffset(months=1)
    if period == "year":
        start = now.normalize().replace(month=1, day=1)
        return start, start + pd.DateOffset(years=1)
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


@dataclass(frozen=True)
class BudgetStatus:
    """Where a budget stands at ``now``. ``burn_down``: columns ``at`` (the period's start, each
    run's end in order, then ``now``), ``spent_kg`` (cumulative), ``remaining_kg`` (limit -
    spent, negative once over). ``forecast``: two points, (now, spent) and (end, forecast)."""

    budget: Budget
    start: pd.Timestamp
    end: pd.Timestamp
    now: pd.Timestamp
    spent_kg: float
    recent_rate_kg_per_day: float
    forecast_kg: float
    burn_down: pd.DataFrame

    @property
    def remaining_kg(self) -> float:
        return self.budget.limit_kg - self.spent_kg

    @property
    def over_budget(self) -> bool:
        return self.spent_kg > self.budget.limit_kg

    @property
    def forecast_over(self) -> bool:
        return self.forecast_kg > self.budget.limit_kg

    @property
    def exhausted_at(self) -> pd.Timestamp | None:
        """When the recent rate uses up what remains, if before the period's end (None
        otherwise, and now when it already is)."""
        if self.over_budget:
            return self.now
        if self.recent_rate_kg_per_day <= 0:
            return None
        days = self.remaining_kg / self.recent_rate_kg_per_day
        when = self.now + pd.Timedelta(seconds=days * SECONDS_PER_DAY)
        return when if when < self.end else None

    @property
    def forecast(self) -> pd.DataFrame:
        return pd.DataFrame({"at": [self.now, self.end], "kg": [self.spent_kg, self.forecast_kg]})


def budget_status(runs: pd.DataFrame, budget: Budget, now: pd.Timestamp) -> BudgetStatus:
    """The budget's period holding ``now``: spent, burn-down, recent rate and forecast.

    ``recent_rate = emissions of the runs ending in (now - window, now] / window`` where
    ``window = min(RECENT_DAYS, now - start)`` in days; ``forecast = spent + recent_rate x (end -
    now)`` in days. Runs after ``now`` are not counted (a clock skew, or a replayed history)."""
    now = _utc(now)
    start, end = period_bounds(now, budget.period)
    mine = runs[text_column(runs, "project_name").eq(budget.project_name)]
    stamps = mine["timestamp"]
    in_period = stamps.ge(start) & stamps.le(now) & mine["emissions"].notna()
    spent_runs = mine[in_period].sort_values("timestamp", kind="stable")
    emissions = spent_runs["emissions"].to_numpy(dtype="float64")
    spent = float(emissions.sum())
    window_days = min(RECENT_DAYS, (now - start).total_seconds() / SECONDS_PER_DAY)
    if window_days > 0:
        window_start = now - pd.Timedelta(seconds=window_days * SECONDS_PER_DAY)
        recent = float(emissions[spent_runs["timestamp"].gt(window_start).to_numpy()].sum())
        rate = recent / window_days
    else:
        rate = 0.0
    days_left = (end - now).total_seconds() / SECONDS_PER_DAY
    cumulative = emissions.cumsum()
    at = [start, *spent_runs["timestamp"], now]
    spent_series = [0.0, *cumulative, spent]
    burn_down = pd.DataFrame(
        {
            "at": pd.to_datetime(at, utc=True),
            "spent_kg": spent_series,
            "remaining_kg": [budget.limit_kg - s for s in spent_series],
        }
    )
    return BudgetStatus(budget, start, end, now, spent, rate, spent + rate * days_left, burn_down)


def _utc(when: pd.Timestamp) -> pd.Timestamp:
    when = pd.Timestamp(when)
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
