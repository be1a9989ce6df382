"""What the efficiency tab and the report both show, as plain text: the metrics picked by
default, the tables' rows and each budget's status line. Pure (no Dash, no HTML): the tab wraps
the text in components, the report in escaped templates. Names from files are cut with
``short_label``; neither caller ever reads them as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from carbonboard.efficiency.budget import Budget, BudgetStatus, period_bounds
from carbonboard.efficiency.pareto import Pareto
from carbonboard.formatting import format_count, format_mass_kg, short_label
from carbonboard.selection import Selection

UNIT_HINTS = ("tokens", "samples", "requests", "images", "steps")
QUALITY_HINTS = ("accuracy", "f1", "wer", "loss", "score")
# A quality whose name holds one of these is better lower (the direction picker overrides it).
LOWER_IS_BETTER_HINTS = ("loss", "error", "wer", "cer", "perplexity", "latency", "mse", "mae")
TABLE_ROWS_MAX = 20
DOMINATED_SHOWN = 10
SENTENCE_MAX_CHARS = 200


@dataclass(frozen=True)
class Choices:
    """The metrics shown: what the data offers, the unit, the quality and its direction."""

    names: list[str]
    unit: str | None
    quality: str | None
    higher: bool


@dataclass(frozen=True)
class TextTable:
    """A table's header and rows, every cell plain text."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


def default_metric(names: Sequence[str], wanted: str | None, hints: Sequence[str]) -> str | None:
    """``wanted`` when the data has it, else the first name matching a hint, else the first."""
    if wanted in names:
        return wanted
    return next((h for h in hints if h in names), names[0] if names else None)


def lower_is_better(quality: str) -> bool:
    """A guess from the name, until the user says otherwise: loss, error, WER..."""
    name = quality.lower()
    return any(hint in name for hint in LOWER_IS_BETTER_HINTS)


def resolve_choices(
    names: list[str],
    unit: str | None = None,
    quality: str | None = None,
    better: str | None = None,
    *,
    guess: bool = False,
) -> Choices:
    """The unit and quality asked for when the data has them, else defaults (by default the
    unit is another metric than the quality); the direction as asked, or guessed from the
    quality's name when nothing valid is asked or ``guess`` (a quality just picked)."""
    quality = default_metric(names, quality, QUALITY_HINTS)
    if unit not in names:
        unit = default_metric([n for n in names if n != quality] or names, None, UNIT_HINTS)
    if guess or better not in ("higher", "lower"):
        higher = quality is None or not lower_is_better(quality)
    else:
        higher = better == "higher"
    return Choices(names, unit, quality, higher)


def experiment_label(project: str, experiment: str) -> str:
    """An experiment named with its project, cut short."""
    return short_label(f"{project} / {experiment or '–'}")


def per_unit_table(per_experiment: pd.DataFrame, unit: str) -> TextTable:
    """``per_unit_experiments`` as text, most efficient first."""
    name = short_label(unit)
    return TextTable(
        ("Experiment", "Runs", f"Energy / 1,000 {name}", f"CO₂ / 1,000 {name}"),
        [
            (
                experiment_label(r.project_name, r.experiment_id),
                format_count(r.runs),
                r.energy_per_1k_text,
                r.emissions_per_1k_text,
            )
            for r in per_experiment.head(TABLE_ROWS_MAX).itertuples(index=False)
        ],
    )


def dominated_lines(result: Pareto) -> list[str]:
    """The dominated runs named, largest CO2 ratio first, the first few of them."""
    sentences = result.sentences
    lines = [short_label(s, SENTENCE_MAX_CHARS) for s in sentences[:DOMINATED_SHOWN]]
    if len(sentences) > DOMINATED_SHOWN:
        lines.append(f"and {len(sentences) - DOMINATED_SHOWN} more")
    if not sentences and not result.points.empty:
        lines.append("No run is dominated: every run is on the front.")
    return lines


def ranking_table(ranking: pd.DataFrame, quality: str, higher: bool) -> TextTable:
    """``quality_ranking`` as text, most efficient first."""
    name = short_label(quality)
    per = f"kg CO₂eq per unit of {name}" if higher else f"kg CO₂eq x {name}"
    return TextTable(
        ("#", "Experiment", f"Best {name}", "CO₂ per quality"),
        [
            (
                str(r.rank),
                experiment_label(r.project_name, r.experiment_id),
                f"{r.best_quality:.4g}",
                f"{r.kg_per_quality:.3g} {per}",
            )
            for r in ranking.head(TABLE_ROWS_MAX).itertuples(index=False)
        ],
    )


def waste_table(waste: pd.DataFrame) -> TextTable:
    """``sweep_waste`` as text, largest share first."""
    return TextTable(
        ("Experiment", "Dominated runs", "Wasted", "Share"),
        [
            (
                experiment_label(r.project_name, r.experiment_id),
                f"{r.dominated_runs} of {r.runs}",
                format_mass_kg(r.wasted_kg),
                "–" if pd.isna(r.waste_share) else f"{r.waste_share:.0%}",
            )
            for r in waste.head(TABLE_ROWS_MAX).itertuples(index=False)
        ],
    )


def budget_message(status: BudgetStatus) -> tuple[str, str]:
    """(level, line): ``danger`` when over budget, ``warning`` when the forecast is over,
    ``success`` otherwise, with the line that says so."""
    budget = status.budget
    name = short_label(budget.project_name)
    spent = f"{format_mass_kg(status.spent_kg)} of {format_mass_kg(budget.limit_kg)}"
    if status.over_budget:
        return "danger", f"{name} is over budget: {spent} spent this {budget.period}."
    forecast = format_mass_kg(status.forecast_kg)
    if status.forecast_over:
        when = status.exhausted_at
        by = f" by {when:%Y-%m-%d}" if when is not None else ""
        return (
            "warning",
            f"{name}: {spent} spent; at the recent rate the budget runs out{by} "
            f"(forecast {forecast}).",
        )
    return "success", f"{name}: {spent} spent; forecast {forecast} by the {budget.period}'s end."


def budget_selection(budget: Budget, now: pd.Timestamp) -> Selection:
    """The runs a budget's status needs: its project's, from the first day (UTC) of the period
    holding ``now`` (the filters on the page play no part: a budget is the project's)."""
    start, _ = period_bounds(now, budget.period)
    return Selection(project=budget.project_name, date_from=f"{start:%Y-%m-%d}")
