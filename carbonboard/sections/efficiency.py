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

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, ctx, html, no_update

from carbonboard import ids
from carbonboard.components import graph, section_card
from carbonboard.data.source import RunSource
from carbonboard.efficiency import (
    Budget,
    BudgetStatus,
    MetricsTable,
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
    pareto_figure,
    per_unit_figure,
    trend_figure,
)
from carbonboard.efficiency.views import (
    TextTable,
    budget_message,
    budget_selection,
    dominated_lines,
    per_unit_table,
    ranking_table,
    resolve_choices,
    waste_table,
)
from carbonboard.formatting import short_label
from carbonboard.selection import Selection
from carbonboard.theme import placeholder_figure

BUDGETS_CONFIG = "CARBONBOARD_BUDGETS"  # app.server.config: the budgets to draw
LOG_METRICS_LINE = "tracker.log_metrics(accuracy=..., tokens=...)"


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


def text_table(table: TextTable, empty: str = "") -> dbc.Table | html.P:
    """A small table of plain text cells (names from files are never markup)."""
    if not table.rows:
        return _muted(empty)
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in table.header])),
            html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in table.rows]),
        ],
        size="sm",
        hover=True,
        className="mb-0 mt-2",
    )


def _muted(text: str) -> html.P:
    return html.P(text, className="text-body-secondary small mb-0")


def per_unit_views(runs: pd.DataFrame, unit: str | None, table: MetricsTable) -> tuple:
    """Chart and table of energy and CO2 per 1,000 units per experiment."""
    if unit is None:
        return placeholder_figure("No metric logged"), _muted("")
    frame = per_unit_experiments(runs, unit, table)
    return per_unit_figure(frame, unit), text_table(per_unit_table(frame, unit))


def quality_views(
    runs: pd.DataFrame, quality: str | None, higher: bool, table: MetricsTable
) -> tuple:
    """The Pareto chart, the dominated runs named, the ranking and the sweep waste."""
    if quality is None:
        return placeholder_figure("No quality metric logged"), [], _muted(""), _muted("")
    result = pareto(runs, quality, higher_is_better=higher, table=table)
    ranking = quality_ranking(runs, quality, higher_is_better=higher, table=table)
    waste = sweep_waste(runs, quality, higher_is_better=higher, table=table)
    return (
        pareto_figure(result),
        [html.Li(line) for line in dominated_lines(result)],
        text_table(
            ranking_table(ranking, quality, higher), "No experiment reached a positive quality."
        ),
        text_table(waste_table(waste), "No experiment logged this quality."),
    )


def budget_view(status: BudgetStatus, position: int) -> html.Div:
    """One budget: its status line (over budget, forecast over, or on track) and burn-down."""
    color, text = budget_message(status)
    return html.Div(
        [
            dbc.Alert(text, color=color, className="py-2 mb-1 budget-status"),
            graph(f"{ids.EFFICIENCY_BUDGETS}-{position}", burn_down_figure(status)),
        ],
        className="mb-3",
    )


def budget_statuses(
    source: RunSource, budgets: Sequence[Budget], now: pd.Timestamp
) -> list[BudgetStatus]:
    """Each budget over its project's runs of the period."""
    return [budget_status(source.selected_runs(budget_selection(b, now)), b, now) for b in budgets]


def budget_views(statuses: Sequence[BudgetStatus]) -> list[html.Div] | html.P:
    if not statuses:
        return _muted(
            "No budget set. Start the board with --budget PROJECT=50kg[/month] "
            "(or budgets in .carbonboard.config) to see a burn-down and a forecast."
        )
    return [budget_view(status, position) for position, status in enumerate(statuses)]


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
            budget_views(budget_statuses(source, budgets, clock())),
            options,
            options,
            *(
                new if new != old else no_update
                for new, old in zip(values, (unit, quality, better), strict=True)
            ),
        )
