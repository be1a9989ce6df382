"""Efficiency insights over a runs frame: was the CO2 worth it, are we on budget, what runs now.

Pure functions (pandas, no Dash), each taking the runs frame the store serves (one row per run,
its latest) and returning a small frame or dataclass for the view to draw:

- :mod:`.units`: the ``metrics`` column as numbers, energy and CO2 per 1,000 units of work;
- :mod:`.pareto`: emissions vs a quality metric, the front, dominated runs named, experiments
  ranked by CO2 per unit of quality, the share of a sweep's emissions spent on dominated runs;
- :mod:`.trend`: emissions per week or month per project and where the rate moved;
- :mod:`.budget`: ``project=50kg`` budgets, burn-down and forecast to the period's end;
- :mod:`.live`: runs in progress.

Every rule and its arithmetic is in ``docs/efficiency.md``.
"""

from __future__ import annotations

from carbonboard.efficiency.budget import (
    Budget,
    BudgetStatus,
    budget_status,
    parse_budget,
    period_bounds,
)
from carbonboard.efficiency.live import live_runs
from carbonboard.efficiency.pareto import Pareto, pareto, quality_ranking, run_label, sweep_waste
from carbonboard.efficiency.trend import (
    ChangePoint,
    best_split,
    change_points,
    emissions_by_period,
)
from carbonboard.efficiency.units import (
    MetricsTable,
    metric_names,
    metrics_table,
    per_unit_experiments,
    per_unit_runs,
)

__all__ = [
    "Budget",
    "BudgetStatus",
    "ChangePoint",
    "MetricsTable",
    "Pareto",
    "best_split",
    "budget_status",
    "change_points",
    "emissions_by_period",
    "live_runs",
    "metric_names",
    "metrics_table",
    "pareto",
    "parse_budget",
    "per_unit_experiments",
    "per_unit_runs",
    "period_bounds",
    "quality_ranking",
    "run_label",
    "sweep_waste",
]
