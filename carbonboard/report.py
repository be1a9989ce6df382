"""A self-contained HTML report of one view: totals, equivalents, charts, the runs picked for
comparison, where the runs should have run, the runs table and the methodology.

The file is meant to travel (a USB stick, an email, a meeting-room laptop with no network):
plotly.js and the world map's geometry are inlined once, figures are interactive, and nothing in
it refers to another file or to the network. Every value that came from a CSV is cut short
(``formatting.short_label``: a report stays readable, and small, whatever the names) and
HTML-escaped.
A print stylesheet makes "Print to PDF" from the browser give a clean document.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from functools import lru_cache
from html import escape

import pandas as pd
import plotly.graph_objects as go
import plotly.io

from carbonboard import comparisons as cmp
from carbonboard import figures
from carbonboard import formatting as fmt
from carbonboard.assets_path import assets_dir, plotly_bundle_js
from carbonboard.data import aggregate
from carbonboard.data.source import RunSource
from carbonboard.equivalents import equivalents
from carbonboard.sections.comparison import run_labels
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

STYLE = """
:root { color-scheme: light; --ink: #1d2733; --muted: #5b6673; --rule: #d5dbe1; --accent: #2e7d32; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px; color: var(--ink);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.8rem; margin: 0 0 4px; }
h2 { font-size: 1.25rem; margin: 28px 0 10px; border-bottom: 2px solid var(--rule); }
h3 { font-size: 1rem; margin: 16px 0 6px; }
.muted { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--rule); border-radius: 8px; padding: 10px 14px; }
.card .value { font-size: 1.4rem; font-weight: 600; }
.card .label { color: var(--muted); font-size: 0.85rem; }
figure.chart { margin: 0 0 18px; border: 1px solid var(--rule); border-radius: 8px; padding: 8px; }
figure.chart figcaption { color: var(--muted); font-size: 0.85rem; padding: 6px 4px 0; }
.recommendation { font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 6px; text-align: left;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; }
footer { margin-top: 32px; color: var(--muted); font-size: 0.8rem; }
@media print {
  @page { size: A4; margin: 14mm; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  figure.chart, .card, tr { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  .modebar-container { display: none !important; }
}
"""


def _card(label: str, value: str) -> str:
    return (
        f'<div class="card"><div class="value">{escape(value)}</div>'
        f'<div class="label">{escape(label)}</div></div>'
    )


def totals_section(runs: pd.DataFrame) -> str:
    """Energy, emissions, runs, compute time and effective intensity of the view."""
    total = aggregate.totals(runs)
    cards = [
        _card("emissions", fmt.format_mass_kg(total.emissions_kg)),
        _card("energy", fmt.format_energy_kwh(total.energy_kwh)),
        _card("runs", fmt.format_count(total.runs)),
        _card("compute time", fmt.format_duration_s(total.duration_s)),
        _card("effective intensity", fmt.format_intensity(total.intensity_g_per_kwh)),
    ]
    return (
        f'<section id="totals"><h2>Totals</h2><div class="cards">{"".join(cards)}</div></section>'
    )


def equivalents_section(runs: pd.DataFrame) -> str:
    """The view's emissions in everyday terms, each with its source and year (cited as text:
    the file links to nothing)."""
    items = "".join(
        f"<li><strong>{escape(item.text)}</strong> "
        f'<span class="muted">({escape(item.factor.source)}, {item.factor.year})</span></li>'
        for item in equivalents(aggregate.totals(runs).emissions_kg)
    )
    return f'<section id="equivalents"><h2>Equivalent to</h2><ul>{items}</ul></section>'


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


def charts_section(runs: pd.DataFrame, selection: Selection) -> str:
    """Every chart, interactive (zoom, hover) like in the dashboard."""
    divs = "".join(
        f'<figure class="chart">{figure_div(figure, "chart-" + slug)}</figure>'
        for slug, figure in report_figures(runs, selection).items()
    )
    return f'<section id="charts"><h2>Charts</h2>{divs}</section>'


def comparison_section(picked: pd.DataFrame) -> str:
    """The runs picked for comparison (the selection's ``run_ids``) side by side, as the dashboard
    compares them; nothing when no run is picked."""
    if picked.empty:
        return ""
    chart = figure_div(
        figures.comparison_figure(picked, run_labels(picked)), "chart-run-comparison"
    )
    table = html_table(runs_table_frame(picked), numeric=RUN_NUMERIC_COLUMNS)
    return (
        '<section id="comparison"><h2>Compared runs</h2>'
        f'<figure class="chart">{chart}</figure>{table}</section>'
    )


@lru_cache(maxsize=1)
def geo_assets_script() -> str:
    """The world map's geometry inline, where plotly.js looks before fetching it from a URL."""
    path = assets_dir() / "topojson" / f"{WORLD_TOPOJSON}.json"
    topojson = json.dumps(json.loads(path.read_text(encoding="utf-8")), separators=(",", ":"))
    # "<" only occurs inside JSON strings, where "<\/" reads the same and cannot end the script.
    safe = topojson.replace("</", "<\\/")
    return (
        "<script>(window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}})"
        f".topojson.{WORLD_TOPOJSON} = {safe};</script>"
    )


def _explained_chart(
    title: str, figure: go.Figure, slug: str, assumptions: str, lead: str = ""
) -> str:
    """A chart under its title (and a one-line finding), with its assumptions underneath."""
    finding = f'<p class="recommendation">{escape(lead)}</p>' if lead else ""
    return (
        f"<h3>{escape(title)}</h3>{finding}"
        f'<figure class="chart">{figure_div(figure, "chart-" + slug)}'
        f"<figcaption>{escape(assumptions)}</figcaption></figure>"
    )


def regional_section(runs: pd.DataFrame) -> str:
    """Where should this have run? The view's energy on every country's grid and in every cloud
    region, as the dashboard's regional tab compares it, each chart with its assumptions."""
    base, countries, cloud = cmp.baseline(runs), cmp.country_table(), cmp.cloud_table()
    grid_assumptions = cmp.grid_assumptions(base, countries, countries)
    compared = cmp.cloud_comparison(base, cloud)
    recommendation = cmp.cloud_finding(base, cloud, compared)
    return (
        '<section id="regional"><h2>Where should this have run?</h2>'
        + geo_assets_script()
        + _explained_chart(
            "Grid carbon intensity around the world",
            cmp.world_map_figure(base, countries, "intensity"),
            "world-map",
            grid_assumptions,
        )
        + _explained_chart(
            "Cleanest and dirtiest grids",
            cmp.ranking_figure(cmp.country_ranking(base, countries, cmp.RANKING_SIZE)),
            "country-ranking",
            grid_assumptions,
        )
        + _explained_chart(
            "Cloud regions",
            cmp.cloud_figure(compared, base),
            "cloud-regions",
            cmp.cloud_assumptions(base, countries, cloud),
            lead=recommendation,
        )
        + "</section>"
    )


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


def figure_div(figure: go.Figure, div_id: str) -> str:
    """One interactive chart, drawn by the plotly.js inlined once in the page head."""
    return plotly.io.to_html(
        figure,
        config=FIGURE_CONFIG,
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        default_height="420px",
    )


def _cell(value: object) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    return escape(fmt.short_label(value))


def html_table(frame: pd.DataFrame, numeric: Iterable[str] = ()) -> str:
    """A plain table of already formatted values; every header and cell is escaped."""
    right = set(numeric)
    head = "".join(
        f'<th class="num">{_cell(c)}</th>' if c in right else f"<th>{_cell(c)}</th>"
        for c in frame.columns
    )
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = "".join(
            f'<td class="num">{_cell(v)}</td>' if c in right else f"<td>{_cell(v)}</td>"
            for c, v in zip(frame.columns, values, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


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


def runs_section(runs: pd.DataFrame) -> str:
    """Every run of the view (the most recent :data:`MAX_TABLE_RUNS` of a huge one)."""
    note = (
        f'<p class="muted">The {fmt.format_count(MAX_TABLE_RUNS)} most recent of '
        f"{fmt.format_count(len(runs))} runs; the CSV export holds them all.</p>"
        if len(runs) > MAX_TABLE_RUNS
        else ""
    )
    table = html_table(runs_table_frame(runs), numeric=RUN_NUMERIC_COLUMNS)
    return f'<section id="runs"><h2>Runs</h2>{note}{table}</section>'


def methodology_section(runs: pd.DataFrame) -> str:
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
    methods = "".join(
        f"<h3>{escape(title)}: how it was obtained</h3>"
        + html_table(_counts(runs, [column], "runs").rename(columns={column: "method"}), ["runs"])
        for column, title in METHOD_COLUMNS.items()
    )
    pue = _counts(runs, ["pue"], "runs").rename(columns={"pue": "PUE"})
    return (
        '<section id="methodology"><h2>Methodology</h2>'
        "<p>Each run's energy (CPU + GPU + RAM, in kWh) is measured by hardware counters where the "
        "machine has them and estimated otherwise; it is multiplied by the facility's power usage "
        "effectiveness (PUE), then by the carbon intensity of the local grid (gCO2e/kWh) to give "
        "its emissions. The tables below list what the runs in this report used.</p>"
        "<h3>Where the runs ran: carbon intensity sources and data years</h3>"
        + html_table(intensity, numeric=["runs", "energy", "intensity"])
        + methods
        + "<h3>Power usage effectiveness</h3>"
        + html_table(pue, numeric=["PUE", "runs"])
        + "</section>"
    )


def page(title: str, subtitle: str, body_sections: Iterable[str], generated_at: dt.datetime) -> str:
    """The whole document: styles and plotly.js inline, so the file needs nothing else."""
    stamp = generated_at.isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style>"
        f"<script>{plotly_bundle_js()}</script></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="muted">{escape(subtitle)}</p></header>'
        + "".join(body_sections)
        + f"<footer>Generated by carbonboard on {escape(stamp)}.</footer></body></html>\n"
    )


def build_report(
    source: RunSource, selection: Selection, generated_at: dt.datetime | None = None
) -> str:
    """The report of one view, as the dashboard shows it, in one file. The picked runs
    (``selection.run_ids``) are compared side by side; every other section covers the view,
    whose runs it loads (``source.selected_runs``)."""
    runs = source.selected_runs(selection)
    title = f"Carbon footprint: {fmt.short_label(selection.project or 'all projects')}"
    subtitle = f"{describe_selection(selection)}; {len(runs)} runs"
    sections = [
        totals_section(runs),
        equivalents_section(runs),
        charts_section(runs, selection),
        comparison_section(source.runs_by_id(selection.run_ids)),
        regional_section(runs),
        runs_section(runs),
        methodology_section(runs),
    ]
    return page(title, subtitle, sections, generated_at or dt.datetime.now(dt.timezone.utc))
