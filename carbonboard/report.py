"""A self-contained HTML report of one view: totals, equivalents, charts, the runs picked for
comparison, where the runs should have run, the runs table and the methodology.

The file is meant to travel (a USB stick, an email, a meeting-room laptop with no network):
plotly.js and the world map's geometry are inlined once, figures are interactive, and nothing in
it refers to another file or to the network. Every value that came from a CSV is cut short
(``formatting.short_label``: a report stays readable, and small, whatever the names) and
escaped on output: the page is Jinja2 templates (``templates/report/``, package data) with
autoescape on, so text from a CSV is never markup.
A print stylesheet makes "Print to PDF" from the browser give a clean document.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import jinja2
import pandas as pd
import plotly.graph_objects as go
import plotly.io
from markupsafe import Markup

from carbonboard import figures
from carbonboard import formatting as fmt
from carbonboard.assets_path import assets_dir, plotly_bundle_js
from carbonboard.data import aggregate
from carbonboard.data.source import RunSource
from carbonboard.efficiency import (
    Budget,
    BudgetStatus,
    budget_status,
    metric_names,
    metrics_table,
    pareto,
    per_unit_experiments,
)
from carbonboard.efficiency import figures as efficiency_figures
from carbonboard.efficiency import views as efficiency_views
from carbonboard.equivalents import equivalents
from carbonboard.regional.baseline import baseline
from carbonboard.regional.views import regional_views
from carbonboard.selection import Selection

# Interactive but self-contained: no "edit in Chart Studio" link, no logo link to the web.
FIGURE_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
METHOD_COLUMNS = {
    "cpu_energy_method": "CPU energy",
    "gpu_energy_method": "GPU energy",
    "ram_energy_method": "RAM energy",
}
# A report is read by people: past this many runs the table shows the most recent ones, and the
# CSV export holds them all.
MAX_TABLE_RUNS = 1000
RUN_ID_CHARS = 8
RUN_NUMERIC_COLUMNS = ("duration", "energy", "emissions", "intensity")
# The geometry plotly.js draws a world map with (scope "world", 110 m resolution). The dashboard
# serves it from assets/ (the graphs' ``topojsonURL``); the report sets it in
# ``window.PlotlyGeoAssets``, which plotly.js reads instead of fetching the file.
WORLD_TOPOJSON = "world_110m"


@dataclass(frozen=True)
class ReportView:
    """What every section of the report is built from."""

    selection: Selection
    runs: pd.DataFrame  # the view's runs (``source.selected_runs``)
    picked: pd.DataFrame  # the runs picked for comparison (``selection.run_ids``)
    budgets: tuple[BudgetStatus, ...] = ()  # ``--budget``s where the report was made


@dataclass(frozen=True)
class TableData:
    """A table's text, ready for the template (which escapes every header and cell)."""

    headers: list[str]
    numeric: list[bool]  # per column: right-aligned figures
    rows: list[list[str]]


@dataclass(frozen=True)
class ExplainedChart:
    """A regional chart under its title and one-line finding, its assumptions underneath."""

    title: str
    figure_html: Markup
    assumptions: str
    finding: str = ""


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report's templates (package data), every value escaped on output: text from a CSV
    is never markup. Undefined names fail loudly instead of printing nothing."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("carbonboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: object) -> Markup:
    """One template of ``templates/report/``, rendered."""
    return Markup(environment().get_template(f"report/{template}").render(**context))


def totals_section(runs: pd.DataFrame) -> Markup:
    """Energy, emissions, runs, compute time and effective intensity of the view."""
    total = aggregate.totals(runs)
    cards = [
        ("emissions", fmt.format_mass_kg(total.emissions_kg)),
        ("energy", fmt.format_energy_kwh(total.energy_kwh)),
        ("runs", fmt.format_count(total.runs)),
        ("compute time", fmt.format_duration_s(total.duration_s)),
        ("effective intensity", fmt.format_intensity(total.intensity_g_per_kwh)),
    ]
    return render("totals.html.j2", cards=cards)


def equivalents_section(runs: pd.DataFrame) -> Markup:
    """The view's emissions in everyday terms, each with its source and year (cited as text:
    the file links to nothing)."""
    items = equivalents(aggregate.totals(runs).emissions_kg)
    return render("equivalents.html.j2", items=items)


def report_figures(runs: pd.DataFrame, selection: Selection) -> dict[str, go.Figure]:
    """The dashboard's charts of the view, by slug (the slug names the chart's div)."""
    series = aggregate.emissions_series(runs)
    charts = {
        "emissions-over-time": figures.emissions_over_time_figure(series, cumulative=False),
        "cumulative-emissions": figures.emissions_over_time_figure(series, cumulative=True),
        "energy-by-component": figures.energy_split_figure(aggregate.energy_split(runs)),
        "emissions-per-experiment": figures.experiments_figure(aggregate.per_experiment(runs)),
    }
    if selection.project is None:
        charts["emissions-per-project"] = figures.projects_figure(aggregate.per_project(runs))
    return charts


def chart_captions(runs: pd.DataFrame, selection: Selection) -> dict[str, str]:
    """What the per-experiment and per-project charts leave out (they chart the largest
    ``figures.TOP_GROUPS``), by slug, as the dashboard says it under them."""
    top = figures.TOP_GROUPS
    captions = {
        "emissions-per-experiment": fmt.format_more(
            aggregate.per_experiment(runs), top, "experiments"
        )
    }
    if selection.project is None:
        captions["emissions-per-project"] = fmt.format_more(
            aggregate.per_project(runs), top, "projects"
        )
    return captions


def charts_section(runs: pd.DataFrame, selection: Selection) -> Markup:
    """Every chart, interactive (zoom, hover) like in the dashboard, with what it leaves out."""
    captions = chart_captions(runs, selection)
    charts = [
        (figure_div(figure, "chart-" + slug), captions.get(slug, ""))
        for slug, figure in report_figures(runs, selection).items()
    ]
    return render("charts.html.j2", charts=charts)


def comparison_section(picked: pd.DataFrame) -> Markup:
    """The runs picked for comparison (the selection's ``run_ids``) side by side, as the dashboard
    compares them; nothing when no run is picked."""
    if picked.empty:
        return Markup("")
    chart = figure_div(
        figures.comparison_figure(picked, fmt.run_labels(picked)), "chart-run-comparison"
    )
    table = table_data(runs_table_frame(picked), numeric=RUN_NUMERIC_COLUMNS)
    return render("comparison.html.j2", chart=chart, table=table)


@lru_cache(maxsize=1)
def geo_assets_script() -> Markup:
    """The world map's geometry inline, where plotly.js looks before fetching it from a URL."""
    path = assets_dir() / "topojson" / f"{WORLD_TOPOJSON}.json"
    topojson = json.dumps(json.loads(path.read_text(encoding="utf-8")), separators=(",", ":"))
    # "<" only occurs inside JSON strings, where "<\/" reads the same and cannot end the script.
    safe = topojson.replace("</", "<\\/")
    return Markup(
        "<script>(window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}})"
        f".topojson.{WORLD_TOPOJSON} = {safe};</script>"
    )


def regional_section(runs: pd.DataFrame) -> Markup:
    """Where should this have run? The view's energy on every country's grid and in every cloud
    region, the same views as the dashboard's regional tab, each chart with its assumptions."""
    views = regional_views(baseline(runs), parts=("map", "ranking", "cloud"))
    charts = [
        ExplainedChart(
            "Grid carbon intensity around the world",
            figure_div(views["map_figure"], "chart-world-map"),
            views["map_note"],
        ),
        ExplainedChart(
            "Cleanest and dirtiest grids",
            figure_div(views["ranking_figure"], "chart-country-ranking"),
            views["ranking_note"],
        ),
        ExplainedChart(
            "Cloud regions",
            figure_div(views["cloud_figure"], "chart-cloud-regions"),
            views["cloud_note"],
            finding=views["cloud_finding"],
        ),
    ]
    return render("regional.html.j2", geo_assets=geo_assets_script(), charts=charts)


def _text_table(table: efficiency_views.TextTable) -> TableData:
    numeric = [False, *([True] * (len(table.header) - 1))]
    return TableData(list(table.header), numeric, [list(row) for row in table.rows])


def efficiency_section(view: ReportView) -> Markup:
    """Was the CO2 worth it: per 1,000 units of work, emissions vs quality with the dominated
    runs named, and the budgets; the tab's default metrics (docs/efficiency.md). Nothing when no
    run logged metrics and no budget is set."""
    names = metric_names(view.runs)
    if not names and not view.budgets:
        return Markup("")
    choices = efficiency_views.resolve_choices(names)
    table = metrics_table(view.runs)
    context: dict[str, object] = {"per_unit": None, "pareto": None, "dominated": [], "budgets": []}
    if choices.unit is not None:
        per_unit = per_unit_experiments(view.runs, choices.unit, table)
        context["per_unit"] = _text_table(efficiency_views.per_unit_table(per_unit, choices.unit))
    if choices.quality is not None:
        result = pareto(view.runs, choices.quality, higher_is_better=choices.higher, table=table)
        context["pareto"] = figure_div(
            efficiency_figures.pareto_figure(result), "chart-efficiency-pareto"
        )
        context["dominated"] = efficiency_views.dominated_lines(result)
    for position, status in enumerate(view.budgets):
        level, line = efficiency_views.budget_message(status)
        chart = figure_div(efficiency_figures.burn_down_figure(status), f"chart-budget-{position}")
        context["budgets"].append((level, line, chart))
    return render("efficiency.html.j2", **context)


def describe_selection(selection: Selection) -> str:
    """The view in words, for the title block: what a reader needs to trust the numbers."""
    parts = [
        f"project {fmt.short_label(selection.project)}" if selection.project else "all projects",
        f"experiment {fmt.short_label(selection.experiment)}"
        if selection.experiment
        else "all experiments",
    ]
    if selection.date_from or selection.date_to:
        parts.append(
            f"from {selection.date_from or 'the first run'} to {selection.date_to or 'today'}"
        )
    else:
        parts.append("all dates")
    return ", ".join(parts)


def figure_div(figure: go.Figure, div_id: str) -> Markup:
    """One interactive chart, drawn by the plotly.js inlined once in the page head."""
    return Markup(
        plotly.io.to_html(
            figure,
            config=FIGURE_CONFIG,
            include_plotlyjs=False,
            full_html=False,
            div_id=div_id,
            default_height="420px",
        )
    )


def _cell(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    return fmt.short_label(value)


def table_data(frame: pd.DataFrame, numeric: Iterable[str] = ()) -> TableData:
    """A frame of already formatted values as the table's text, names cut short; the columns
    named in ``numeric`` are right-aligned."""
    right = set(numeric)
    return TableData(
        headers=[_cell(column) for column in frame.columns],
        numeric=[column in right for column in frame.columns],
        rows=[[_cell(v) for v in values] for values in frame.itertuples(index=False, name=None)],
    )


def html_table(frame: pd.DataFrame, numeric: Iterable[str] = ()) -> Markup:
    """A plain table of already formatted values; every header and cell is escaped."""
    macros = environment().get_template("report/macros.html.j2").module
    return Markup(macros.table(table_data(frame, numeric)))


def _counts(runs: pd.DataFrame, columns: list[str], label: str) -> pd.DataFrame:
    """How many runs used each distinct combination of ``columns`` (blank = not recorded)."""
    present = [c for c in columns if c in runs.columns]
    if not present or runs.empty:
        return pd.DataFrame(columns=[*columns, label])
    keys = runs[present].astype("string").fillna("").replace("", "not recorded")
    table = keys.value_counts(sort=True).rename(label).reset_index()
    return table.sort_values([label, *present], ascending=[False, *[True] * len(present)])


def _text(runs: pd.DataFrame, column: str) -> pd.Series:
    if column not in runs.columns:
        return pd.Series("", index=runs.index, dtype="string")
    return runs[column].astype("string").fillna("")


def _where(runs: pd.DataFrame) -> pd.Series:
    """Country, then region or cloud region, e.g. ``United States / california``."""
    detail = _text(runs, "region").where(_text(runs, "region") != "", _text(runs, "cloud_region"))
    country = _text(runs, "country_name")
    return (country + " / " + detail).where(detail != "", country).str.strip(" /")


def runs_table_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table as people read it: most recent first, in human units."""
    recent = runs.sort_values("timestamp", ascending=False).head(MAX_TABLE_RUNS)
    stamps = pd.to_datetime(recent["timestamp"], utc=True, errors="coerce")
    return pd.DataFrame(
        {
            "started": stamps.dt.strftime("%Y-%m-%d %H:%M").fillna(""),
            "project": _text(recent, "project_name"),
            "experiment": _text(recent, "experiment_id"),
            "run": _text(recent, "run_id").str.slice(0, RUN_ID_CHARS),
            "status": _text(recent, "status"),
            "duration": recent["duration"].map(fmt.format_duration_s),
            "energy": recent["energy_consumed"].map(fmt.format_energy_kwh),
            "emissions": recent["emissions"].map(fmt.format_mass_kg),
            "where": _where(recent),
            "intensity": recent["carbon_intensity_g_co2e_kwh"].map(fmt.format_intensity),
        }
    )


def runs_section(runs: pd.DataFrame) -> Markup:
    """Every run of the view (the most recent :data:`MAX_TABLE_RUNS` of a huge one)."""
    truncated = len(runs) > MAX_TABLE_RUNS
    return render(
        "runs.html.j2",
        shown=fmt.format_count(MAX_TABLE_RUNS) if truncated else "",
        total=fmt.format_count(len(runs)),
        table=table_data(runs_table_frame(runs), numeric=RUN_NUMERIC_COLUMNS),
    )


def methodology_section(runs: pd.DataFrame) -> Markup:
    """Which intensity figures, data years, energy estimates and PUE produced the numbers."""
    places = aggregate.locations(runs)
    intensity = pd.DataFrame(
        {
            "country": places["country"],
            "region": places["region"],
            "cloud": places["cloud"],
            "intensity source": places["intensity_source"],
            "data year": places["intensity_year"],
            "runs": places["runs"],
            "energy": places["energy_kwh"].map(fmt.format_energy_kwh),
            "intensity": places["intensity_g_per_kwh"].map(fmt.format_intensity),
        }
    )
    methods = [
        (
            title,
            table_data(
                _counts(runs, [column], "runs").rename(columns={column: "method"}), ["runs"]
            ),
        )
        for column, title in METHOD_COLUMNS.items()
    ]
    pue = _counts(runs, ["pue"], "runs").rename(columns={"pue": "PUE"})
    return render(
        "methodology.html.j2",
        intensity=table_data(intensity, numeric=["runs", "energy", "intensity"]),
        methods=methods,
        pue=table_data(pue, numeric=["PUE", "runs"]),
    )


def page(
    title: str, subtitle: str, body_sections: Iterable[Markup], generated_at: dt.datetime
) -> str:
    """The whole document: styles and plotly.js inline, so the file needs nothing else. The
    sections are rendered HTML (:class:`Markup`); plain text would be escaped."""
    document = render(
        "page.html.j2",
        title=title,
        subtitle=subtitle,
        plotly_js=Markup(plotly_bundle_js()),
        sections=list(body_sections),
        stamp=generated_at.isoformat(timespec="seconds"),
    )
    return str(document)


# The report's sections, in page order: adding one is a function from the view to its rendered
# template (``templates/report/``), listed here.
SECTIONS: tuple[Callable[[ReportView], Markup], ...] = (
    lambda view: totals_section(view.runs),
    lambda view: equivalents_section(view.runs),
    lambda view: charts_section(view.runs, view.selection),
    lambda view: comparison_section(view.picked),
    efficiency_section,
    lambda view: regional_section(view.runs),
    lambda view: runs_section(view.runs),
    lambda view: methodology_section(view.runs),
)


def build_report(
    source: RunSource,
    selection: Selection,
    generated_at: dt.datetime | None = None,
    budgets: Iterable[Budget] = (),
) -> str:
    """The report of one view, as the dashboard shows it, in one file. The picked runs
    (``selection.run_ids``) are compared side by side; every other section covers the view,
    whose runs it loads (``source.selected_runs``); each budget covers its project, as of
    ``generated_at``."""
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc)
    now = pd.Timestamp(generated_at)
    view = ReportView(
        selection=selection,
        runs=source.selected_runs(selection),
        picked=source.runs_by_id(selection.run_ids),
        budgets=tuple(
            budget_status(source.selected_runs(efficiency_views.budget_selection(b, now)), b, now)
            for b in budgets
        ),
    )
    title = f"Carbon footprint: {fmt.short_label(selection.project or 'all projects')}"
    subtitle = f"{describe_selection(selection)}; {len(view.runs)} runs"
    sections = [section(view) for section in SECTIONS]
    return page(title, subtitle, sections, generated_at)
