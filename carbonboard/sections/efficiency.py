"""Was the CO2 worth it? Per unit of work, emissions vs quality, ranking, trend and budgets.

Thin: the callback reads the selection's runs from the source and hands them to the pure
functions of :mod:`carbonboard.efficiency` (rules in docs/efficiency.md) and to the figure
builders of :mod:`carbonboard.efficiency.figures`. Metric and run names come from files: they are
shown as text (Dash escapes it) and cut with ``short_label``.

Budgets (``carbonboard --budget``) reach the view through the Flask config key
``BUDGETS_CONFIG`` that ``create_app`` sets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, ctx, html, no_update

from carbonboard import ids
from carbonboard.components import graph, section_card
from carbonboard.data.source import RunSource
from carbonboard.efficiency import (
    Budget,
    BudgetStatus,
    budget_status,
    change_points,
    emissions_by_period,
    metric_names,
    metrics_table,
    pareto,
    per_unit_experiments,
    quality_ranking,
    sweep_waste,
)
from carbonboard.efficiency.figures import (
    burn_down_figure,
    group_label,
    pareto_figure,
    per_unit_figure,
    trend_figure,
)
from carbonboard.formatting import format_count, format_mass_kg, short_label
from carbonboard.selection import Selection
from carbonboard.theme import placeholder_figure

BUDGETS_CONFIG = "CARBONBOARD_BUDGETS"  # app.server.config: the budgets to draw
LOG_METRICS_LINE = "tracker.log_metrics(accuracy=..., tokens=...)"
UNIT_HINTS = ("tokens", "samples", "requests", "images", "steps")
QUALITY_HINTS = ("accuracy", "f1", "wer", "loss", "score")
# A quality whose name holds one of these is better lower (the direction picker overrides it).
LOWER_IS_BETTER_HINTS = ("loss", "error", "wer", "cer", "perplexity", "latency", "mse", "mae")
TABLE_ROWS_MAX = 20
DOMINATED_SHOWN = 10


def layout() -> html.Section:
    """The controls, then one card per question."""
    return html.Section(
        id=ids.EFFICIENCY_SECTION,
        children=[
            html.H2("Was the CO₂ worth it?", className="h4"),
            dbc.Alert(
                [
                    html.P("No run of this selection logged metrics. One line adds them:"),
                    html.Pre(html.Code(LOG_METRICS_LINE), className="mb-1"),
                    html.P(
                        "Any numbers: units of work (tokens, samples, images) and qualities "
                        "(accuracy, loss).",
                        className="small mb-0",
                    ),
                ],
                id=ids.EFFICIENCY_EMPTY,
                color="info",
                is_open=False,
            ),
            dbc.Row(
                [
                    _picker("Unit of work", ids.EFFICIENCY_UNIT),
                    _picker("Quality", ids.EFFICIENCY_QUALITY),
                    _radio(
                        "Better is",
                        ids.EFFICIENCY_BETTER,
                        [("higher", "higher"), ("lower", "lower")],
                        None,  # from the address, or guessed from the quality's name
                    ),
                    _radio(
                        "Trend per", ids.EFFICIENCY_PERIOD, [("week", "week"), ("month", "month")]
                    ),
                ],
                className="g-3 mb-3",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section_card(
                            "Per unit of work",
                            graph(ids.EFFICIENCY_PER_UNIT, filename="carbonboard-per-unit"),
                            html.Div(id=ids.EFFICIENCY_PER_UNIT_TABLE),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section_card(
                            "Emissions vs quality",
                            graph(ids.EFFICIENCY_PARETO, filename="carbonboard-pareto"),
                            html.Ul(id=ids.EFFICIENCY_DOMINATED, className="small mb-0"),
                        ),
                        lg=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        section_card(
                            "Experiments by CO₂ per unit of quality",
                            html.Div(id=ids.EFFICIENCY_RANKING),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        section_card(
                            "Sweep waste: emissions spent on dominated runs",
                            html.Div(id=ids.EFFICIENCY_WASTE),
                        ),
                        lg=6,
                    ),
                ]
            ),
            section_card(
                "Trend", graph(ids.EFFICIENCY_TREND, filename="carbonboard-efficiency-trend")
            ),
            section_card("Budgets", html.Div(id=ids.EFFICIENCY_BUDGETS)),
        ],
    )


def _picker(label: str, component_id: str) -> dbc.Col:
    """A native select: unlike a dcc.Dropdown it keeps a value from the address that its
    options (filled from the data once the tab opens) do not hold yet."""
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id, className="small mb-1"),
            dbc.Select(id=component_id, options=[], size="sm"),
        ],
        md=3,
    )


def _radio(label: str, component_id: str, choices: list, value: str | None = "week") -> dbc.Col:
    return dbc.Col(
        [
            dbc.Label(label, className="small mb-1 d-block"),
            dbc.RadioItems(
                id=component_id,
                options=[{"label": text, "value": v} for v, text in choices],
                value=value,
                inline=True,
            ),
        ],
        md=3,
    )


def default_metric(names: Sequence[str], wanted: str | None, hints: Sequence[str]) -> str | None:
    """``wanted`` when the data has it, else the first name matching a hint, else the first."""
    if wanted in names:
        return wanted
    return next((h for h in hints if h in names), names[0] if names else None)


def lower_is_better(quality: str) -> bool:
    """A guess from the name, until the user says otherwise: loss, error, WER..."""
    name = quality.lower()
    return any(hint in name for hint in LOWER_IS_BETTER_HINTS)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> dbc.Table:
    """A small table of plain text cells (names from files are never markup)."""
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in header])),
            html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
        ],
        size="sm",
        hover=True,
        className="mb-0 mt-2",
    )


def _muted(text: str) -> html.P:
    return html.P(text, className="text-body-secondary small mb-0")


def _experiment(row) -> str:
    return short_label(group_label(row.project_name, row.experiment_id))


def per_unit_views(runs: pd.DataFrame, unit: str | None, table) -> tuple:
    """Chart and table of energy and CO2 per 1,000 units per experiment."""
    if unit is None:
        return per_unit_figure(pd.DataFrame(), "units"), _muted("")
    frame = per_unit_experiments(runs, unit, table)
    rows = [
        (
            _experiment(r),
            format_count(r.runs),
            r.energy_per_1k_text,
            r.emissions_per_1k_text,
        )
        for r in frame.head(TABLE_ROWS_MAX).itertuples(index=False)
    ]
    name = short_label(unit)
    header = ("Experiment", "Runs", f"Energy / 1,000 {name}", f"CO₂ / 1,000 {name}")
    return per_unit_figure(frame, unit), text_table(header, rows) if rows else _muted("")


def quality_views(runs: pd.DataFrame, quality: str | None, higher: bool, table) -> tuple:
    """The Pareto chart, the dominated runs named, the ranking and the sweep waste."""
    if quality is None:
        empty = _muted("")
        return placeholder_figure("No quality metric logged"), [], empty, empty
    result = pareto(runs, quality, higher_is_better=higher, table=table)
    sentences = [html.Li(short_label(s, 200)) for s in result.sentences[:DOMINATED_SHOWN]]
    if len(result.sentences) > DOMINATED_SHOWN:
        sentences.append(html.Li(f"and {len(result.sentences) - DOMINATED_SHOWN} more"))
    if not sentences and not result.points.empty:
        sentences = [html.Li("No run is dominated: every run is on the front.")]
    ranking = quality_ranking(runs, quality, higher_is_better=higher, table=table)
    per = f"kg CO₂eq per unit of {short_label(quality)}" if higher else "kg CO₂eq x best"
    ranked = [
        (str(r.rank), _experiment(r), f"{r.best_quality:.4g}", f"{r.kg_per_quality:.3g} {per}")
        for r in ranking.head(TABLE_ROWS_MAX).itertuples(index=False)
    ]
    waste = sweep_waste(runs, quality, higher_is_better=higher, table=table)
    wasted = [
        (
            _experiment(r),
            f"{r.dominated_runs} of {r.runs}",
            format_mass_kg(r.wasted_kg),
            "–" if pd.isna(r.waste_share) else f"{r.waste_share:.0%}",
        )
        for r in waste.head(TABLE_ROWS_MAX).itertuples(index=False)
    ]
    best = f"Best {short_label(quality)}"
    return (
        pareto_figure(result),
        sentences,
        text_table(("#", "Experiment", best, "CO₂ per quality"), ranked)
        if ranked
        else _muted("No experiment reached a positive quality."),
        text_table(("Experiment", "Dominated runs", "Wasted", "Share"), wasted)
        if wasted
        else _muted("No experiment logged this quality."),
    )


def budget_view(status: BudgetStatus, position: int) -> html.Div:
    """One budget: a warning line (over budget, or forecast over) and its burn-down."""
    budget = status.budget
    name = short_label(budget.project_name)
    spent = f"{format_mass_kg(status.spent_kg)} of {format_mass_kg(budget.limit_kg)}"
    if status.over_budget:
        color, text = "danger", f"{name} is over budget: {spent} spent this {budget.period}."
    elif status.forecast_over:
        when = status.exhausted_at
        by = f" by {when:%Y-%m-%d}" if when is not None else ""
        color, text = (
            "warning",
            f"{name}: {spent} spent; at the recent rate the budget runs out{by} "
            f"(forecast {format_mass_kg(status.forecast_kg)}).",
        )
    else:
        color, text = (
            "success",
            f"{name}: {spent} spent; forecast {format_mass_kg(status.forecast_kg)} "
            f"by the {budget.period}'s end.",
        )
    return html.Div(
        [
            dbc.Alert(text, color=color, className="py-2 mb-1 budget-status"),
            graph(f"{ids.EFFICIENCY_BUDGETS}-{position}", burn_down_figure(status)),
        ],
        className="mb-3",
    )


def budget_views(
    source: RunSource, budgets: Sequence[Budget], now: pd.Timestamp
) -> list[html.Div] | html.P:
    """Each budget's status over its project's runs (the filters play no part: a budget is the
    project's)."""
    if not budgets:
        return _muted(
            "No budget set. Start the board with --budget PROJECT=50kg[/month] "
            "(or budgets in .carbonboard.config) to see a burn-down and a forecast."
        )
    return [
        budget_view(
            budget_status(
                source.selected_runs(Selection(project=budget.project_name)), budget, now
            ),
            position,
        )
        for position, budget in enumerate(budgets)
    ]


@dataclass(frozen=True)
class Choices:
    """The pickers' resolved values: what the data offers, what the view shows."""

    names: list[str]
    unit: str | None
    quality: str | None
    higher: bool


def resolve_choices(
    names: list[str], unit: str | None, quality: str | None, better: str | None, guess: bool
) -> Choices:
    """The unit and quality asked for when the data has them, else defaults; the direction as
    asked, or guessed from the quality's name when ``guess`` (a new quality, nothing asked)."""
    quality = default_metric(names, quality, QUALITY_HINTS)
    if unit not in names:  # by default, another metric than the quality
        unit = default_metric([n for n in names if n != quality] or names, None, UNIT_HINTS)
    if guess or better not in ("higher", "lower"):
        higher = quality is None or not lower_is_better(quality)
    else:
        higher = better == "higher"
    return Choices(names, unit, quality, higher)


OUTPUTS = (
    (ids.EFFICIENCY_EMPTY, "is_open"),
    (ids.EFFICIENCY_PER_UNIT, "figure"),
    (ids.EFFICIENCY_PER_UNIT_TABLE, "children"),
    (ids.EFFICIENCY_PARETO, "figure"),
    (ids.EFFICIENCY_DOMINATED, "children"),
    (ids.EFFICIENCY_RANKING, "children"),
    (ids.EFFICIENCY_WASTE, "children"),
    (ids.EFFICIENCY_TREND, "figure"),
    (ids.EFFICIENCY_BUDGETS, "children"),
)
PICKERS = (ids.EFFICIENCY_UNIT, ids.EFFICIENCY_QUALITY, ids.EFFICIENCY_BETTER)


def register_callbacks(
    app: Dash,
    source: RunSource,
    clock: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC"),
) -> None:
    """One callback: the selection or a picker changes, the view is drawn again."""

    @app.callback(
        *(Output(component, prop) for component, prop in OUTPUTS),
        Output(ids.EFFICIENCY_UNIT, "options"),
        Output(ids.EFFICIENCY_QUALITY, "options"),
        *(Output(picker, "value", allow_duplicate=True) for picker in PICKERS),
        Input(ids.EFFICIENCY_TAB_SELECTION, "data"),
        Input(ids.EFFICIENCY_UNIT, "value"),
        Input(ids.EFFICIENCY_QUALITY, "value"),
        Input(ids.EFFICIENCY_BETTER, "value"),
        Input(ids.EFFICIENCY_PERIOD, "value"),
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update(selection, unit, quality, better, period):
        runs = source.selected_runs(Selection.from_dict(selection))
        choices = resolve_choices(
            metric_names(runs),
            unit,
            quality,
            better,
            guess=ctx.triggered_id == ids.EFFICIENCY_QUALITY,
        )
        table = metrics_table(runs)
        period = period if period in ("week", "month") else "week"
        series = emissions_by_period(runs, period)
        budgets = app.server.config.get(BUDGETS_CONFIG, ())
        options = [{"label": short_label(n), "value": n} for n in choices.names]
        values = (choices.unit, choices.quality, "higher" if choices.higher else "lower")
        return (
            not choices.names,
            *per_unit_views(runs, choices.unit, table),
            *quality_views(runs, choices.quality, choices.higher, table),
            trend_figure(series, change_points(series), period),
            budget_views(source, budgets, clock()),
            options,
            options,
            *(
                new if new != old else no_update
                for new, old in zip(values, (unit, quality, better), strict=True)
            ),
        )
