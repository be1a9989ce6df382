"""The runs table (paged, sorted and filtered on the server) and the detail of a clicked run."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, dash_table, html
from dash.dash_table.Format import Format, Scheme

from carbonboard import ids
from carbonboard.components import graph, section_card
from carbonboard.data import aggregate
from carbonboard.data.jobs import JobTotals, job_facts
from carbonboard.data.source import RunSource
from carbonboard.figures import energy_split_figure, tasks_figure
from carbonboard.formatting import (
    format_count,
    format_duration_s,
    format_energy_kwh,
    format_intensity,
    format_mass_kg,
    format_power_w,
    is_cut,
    short_label,
)
from carbonboard.selection import Selection
from carbonboard.theme import STATUS_BADGE

PAGE_SIZE = 15
NUMBER = Format(precision=3, scheme=Scheme.decimal_or_exponent)
COLUMNS = [
    {"id": "timestamp", "name": "Time (UTC)", "type": "text"},
    {"id": "project_name", "name": "Project", "type": "text"},
    {"id": "experiment_id", "name": "Experiment", "type": "text"},
    {"id": "run_id", "name": "Run", "type": "text"},
    {"id": "status", "name": "Status", "type": "text"},
    {"id": "duration", "name": "Duration (s)", "type": "numeric", "format": NUMBER},
    {"id": "energy_consumed", "name": "Energy (kWh)", "type": "numeric", "format": NUMBER},
    {"id": "emissions", "name": "Emissions (kg CO₂eq)", "type": "numeric", "format": NUMBER},
    {"id": "country_name", "name": "Country", "type": "text"},
    {"id": "region", "name": "Region", "type": "text"},
    {"id": "cloud_provider", "name": "Cloud", "type": "text"},
    {"id": "gpu_model", "name": "GPU", "type": "text"},
]


def layout() -> html.Section:
    """The table, then the detail panel it feeds."""
    return html.Section(
        id=ids.RUNS_SECTION,
        children=[
            section_card(
                "Runs",
                html.Div(id=ids.RUNS_COUNT, className="small text-body-secondary mb-2"),
                dash_table.DataTable(
                    id=ids.RUNS_TABLE,
                    columns=COLUMNS,
                    data=[],
                    page_action="custom",
                    page_current=0,
                    page_size=PAGE_SIZE,
                    sort_action="custom",
                    sort_mode="multi",
                    sort_by=[],
                    filter_action="custom",
                    filter_options={"case": "insensitive"},
                    # sorting, filter and page survive a reload (kept in this browser tab)
                    persistence=True,
                    persisted_props=["sort_by", "filter_query", "page_current"],
                    persistence_type="session",
                    filter_query="",
                    cell_selectable=True,
                    style_table={"overflowX": "auto"},
                    style_cell={
                        "fontFamily": "inherit",
                        "fontSize": "0.85rem",
                        "padding": "4px 8px",
                        "maxWidth": "16rem",
                        "overflow": "hidden",
                        "textOverflow": "ellipsis",
                    },
                    style_header={"fontWeight": "600", "backgroundColor": "#f8f9fa"},
                    style_data_conditional=[
                        {
                            "if": {"state": "active"},
                            "backgroundColor": "#e7f1ff",
                            "border": "1px solid #0d6efd",
                        },
                    ],
                    tooltip_delay=300,
                ),
                html.Div(
                    "Click a run for its details. Filter with e.g. “> 0.5” or “bert”.",
                    className="small text-body-secondary mt-2",
                ),
            ),
            section_card(
                "Run detail",
                html.Div(
                    "Click a run in the table to see its details.",
                    id=ids.RUN_DETAIL,
                    className="text-body-secondary",
                ),
            ),
        ],
    )


TEXT_COLUMNS = [c["id"] for c in COLUMNS if c["type"] == "text" and c["id"] != "timestamp"]


def table_records(page: pd.DataFrame) -> list[dict]:
    """A page of runs as DataTable rows: text and numbers only, NaN as empty cells, the shown
    columns' text cut short (the row's ``id`` is the whole run id)."""
    out = page.copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%d %H:%M")
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("str")
    out = out.astype(object).where(out.notna(), None)
    records = out.to_dict("records")
    for record in records:
        record["id"] = record["run_id"]
        for column in TEXT_COLUMNS:
            if is_cut(record.get(column)):
                record[column] = short_label(record[column])
    return records


def table_tooltips(page: pd.DataFrame) -> list[dict]:
    """The whole text of each cell :func:`table_records` cut, as the cell's tooltip."""
    return [
        {
            column: {"value": str(row[column]), "type": "text"}
            for column in TEXT_COLUMNS
            if column in row and is_cut(row[column])
        }
        for _, row in page.iterrows()
    ]


def _fact(label: str, value: object) -> html.Tr:
    text = str(value) if pd.notna(value) and value != "" else "not recorded"
    cell = html.Td(short_label(text), title=text) if is_cut(text) else html.Td(text)
    return html.Tr([html.Th(label, className="fw-normal text-body-secondary"), cell])


def run_detail(run: pd.Series, tasks: pd.DataFrame, job: JobTotals | None = None) -> list:
    """Everything recorded about one run (plain text: values come from CSVs); ``job``: the
    totals of its cluster job, when it ran in one."""
    status = str(run["status"]) or "finished"
    cpu = f"{run['cpu_model'] or 'unknown CPU'}" + (
        f" · {int(run['cpu_count'])} threads" if pd.notna(run["cpu_count"]) else ""
    )
    gpu = run["gpu_model"] or ("none" if run["gpu_count"] == 0 else "")
    split = aggregate.energy_split(
        run.to_frame().T.astype({c: "float64" for c, _ in aggregate.ENERGY_COMPONENTS})
    )
    place = ", ".join(
        str(p)
        for p in (run["country_name"], run["region"], run["cloud_provider"], run["cloud_region"])
        if p
    )
    started = run["timestamp"] - pd.Timedelta(seconds=run["duration"])
    source = str(run["carbon_intensity_source"] or "")
    if run["carbon_intensity_year"]:
        source += f" ({run['carbon_intensity_year']})"
    facts = dbc.Table(
        html.Tbody(
            [
                _fact("Project", run["project_name"]),
                _fact("Experiment", run["experiment_id"]),
                _fact("Started", f"{started:%Y-%m-%d %H:%M:%S} UTC"),
                _fact("Duration", format_duration_s(run["duration"])),
                _fact("Emissions", format_mass_kg(run["emissions"])),
                _fact("Energy", format_energy_kwh(run["energy_consumed"])),
                _fact("Location", place),
                *(_fact(label, text) for label, text in job_facts(run, job)),
                _fact("Carbon intensity", format_intensity(run["carbon_intensity_g_co2e_kwh"])),
                _fact("Intensity source", source),
                _fact("PUE", run["pue"]),
                _fact("CPU", cpu),
                _fact("GPU", gpu),
                _fact(
                    "RAM",
                    f"{run['ram_total_size']:g} GB" if pd.notna(run["ram_total_size"]) else "",
                ),
                _fact(
                    "Mean power CPU / GPU / RAM",
                    " / ".join(
                        format_power_w(run[c]) for c in ("cpu_power", "gpu_power", "ram_power")
                    ),
                ),
                _fact(
                    "Energy methods CPU / GPU / RAM",
                    " / ".join(
                        str(run[c]) or "–"
                        for c in ("cpu_energy_method", "gpu_energy_method", "ram_energy_method")
                    ),
                ),
                _fact("OS / Python", f"{run['os']} / {run['python_version']}"),
                _fact("File", f"{run['source_file']}, line {run['line_number']}"),
            ]
        ),
        size="sm",
        className="mb-0",
    )
    stem = f"{short_label(run['project_name'])}_run-{str(run['run_id'])[:8]}"  # chart images
    figures = [
        dbc.Col(
            graph(ids.RUN_DETAIL_SPLIT, energy_split_figure(split), filename=f"{stem}_energy"),
            lg=6,
        )
    ]
    if not tasks.empty:
        figures.append(
            dbc.Col(
                graph(ids.RUN_DETAIL_TASKS, tasks_figure(tasks), filename=f"{stem}_tasks"),
                lg=6,
            )
        )
    return [
        html.Div(
            [
                html.Span(short_label(run["run_id"]), className="font-monospace me-2"),
                dbc.Badge(short_label(status), color=STATUS_BADGE.get(status, "secondary")),
                html.Span(
                    f" {format_count(len(tasks))} tasks" if len(tasks) else "",
                    className="small text-body-secondary ms-2",
                ),
            ],
            className="mb-2",
        ),
        dbc.Row([dbc.Col(facts, lg=6), *figures], className="g-3"),
    ]


def register_callbacks(app: Dash, source: RunSource) -> None:
    """Page the table on the server; render the detail of the clicked run."""

    @app.callback(
        Output(ids.RUNS_TABLE, "data"),
        Output(ids.RUNS_TABLE, "tooltip_data"),
        Output(ids.RUNS_TABLE, "page_count"),
        Output(ids.RUNS_COUNT, "children"),
        Input(ids.RUNS_TAB_SELECTION, "data"),
        Input(ids.RUNS_TABLE, "page_current"),
        Input(ids.RUNS_TABLE, "page_size"),
        Input(ids.RUNS_TABLE, "sort_by"),
        Input(ids.RUNS_TABLE, "filter_query"),
        prevent_initial_call=True,  # filled when the tab opens
    )
    def update_table(selection_data, page_current, page_size, sort_by, filter_query):
        size = page_size or PAGE_SIZE
        page = source.runs_page(
            Selection.from_dict(selection_data),
            offset=(page_current or 0) * size,
            limit=size,
            sort_by=sort_by or (),
            filter_query=filter_query,
        )
        pages = max(-(-page.matching // size), 1)
        count = f"{format_count(page.matching)} of {format_count(page.selected)} runs"
        return table_records(page.rows), table_tooltips(page.rows), pages, count

    @app.callback(
        Output(ids.RUN_DETAIL, "children"),
        Input(ids.RUNS_TABLE, "active_cell"),
        prevent_initial_call=True,
    )
    def show_run(active_cell: dict | None):
        run_id = (active_cell or {}).get("row_id")
        detail = source.run_detail(run_id) if run_id else None
        if detail is None:
            return html.Div("Click a run in the table to see its details.")
        return run_detail(detail.run, source.tasks(run_id), detail.job)
