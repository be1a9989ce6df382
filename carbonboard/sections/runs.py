"""The runs table (paged, sorted and filtered on the server) and the detail of a clicked run.

The table is an AG Grid in its infinite row model: the browser asks for one block of rows at a
time (``getRowsRequest``) with the grid's sort and filter models, which :func:`runs_query`
turns into the source's ``runs_page`` arguments, so the runs never reach the browser whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update

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
GRID_HEIGHT_PX = 2 * 36 + PAGE_SIZE * 34 + 52  # header, filters, a page of rows, the pager
MAX_BLOCK_ROWS = 500  # the most rows one request may ask for, whatever the browser says
TEXT_FILTER = "agTextColumnFilter"
NUMBER_FILTER = "agNumberColumnFilter"
# column id, header, filter, the unit a number filter is typed in (the contract's)
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("timestamp", "Time (UTC)", TEXT_FILTER, ""),
    ("project_name", "Project", TEXT_FILTER, ""),
    ("experiment_id", "Experiment", TEXT_FILTER, ""),
    ("run_id", "Run", TEXT_FILTER, ""),
    ("status", "Status", TEXT_FILTER, ""),
    ("duration", "Duration", NUMBER_FILTER, "s"),
    ("energy_consumed", "Energy", NUMBER_FILTER, "kWh"),
    ("emissions", "Emissions", NUMBER_FILTER, "kg CO₂eq"),
    ("country_name", "Country", TEXT_FILTER, ""),
    ("region", "Region", TEXT_FILTER, ""),
    ("cloud_provider", "Cloud", TEXT_FILTER, ""),
    ("gpu_model", "GPU", TEXT_FILTER, ""),
)
COLUMN_IDS = tuple(column for column, *_ in COLUMNS)
TEXT_COLUMNS = [c for c, _, kind, _ in COLUMNS if kind == TEXT_FILTER and c != "timestamp"]
PINNED_COLUMN = "run_id"
WIDE_COLUMNS = ("project_name", "experiment_id")  # the names take the spare room
# Room for a whole "2026-03-23 14:05", "3.06 kWh", "finished"; others fit the default
MIN_WIDTHS_PX = {
    "timestamp": 140,
    "run_id": 130,
    "status": 92,
    "duration": 92,
    "energy_consumed": 96,
    "emissions": 100,
    "country_name": 92,
}
# The number columns, shown in the cards' adaptive units ("48 min", "905 mg")
NUMBER_FORMATS = {
    "duration": format_duration_s,
    "energy_consumed": format_energy_kwh,
    "emissions": lambda kg: format_mass_kg(kg, suffix=""),
}
FULL_TEXT = "{}__full"  # the field holding a cut cell's whole text, shown as its tooltip
# AG Grid's filter types, as the source's filter operators (see aggregate.parse_filter_query)
TEXT_OPERATORS = {"contains": "icontains", "equals": "ieq", "notEqual": "ine"}
NUMBER_OPERATORS = {
    "equals": "=",
    "notEqual": "!=",
    "lessThan": "<",
    "lessThanOrEqual": "<=",
    "greaterThan": ">",
    "greaterThanOrEqual": ">=",
}
DATE_OPERATORS = {"startsWith": "datestartswith"}


def _column_def(column: str, header: str, kind: str, unit: str, hidden: bool) -> dict:
    """One column of the grid: filtered with only the operators the source understands, one
    condition each (the source ANDs columns, it has no OR), values shown as plain text."""
    operators = (
        DATE_OPERATORS
        if column == "timestamp"
        else NUMBER_OPERATORS | {"inRange": ""}
        if kind == NUMBER_FILTER
        else TEXT_OPERATORS
    )
    definition = {
        "field": column,
        "headerName": header,
        "filter": kind,
        "filterParams": {
            "filterOptions": list(operators),
            "maxNumConditions": 1,
            "buttons": ["reset"],
        },
        "hide": hidden,
        # the whole text when the cell shows less of it: cut here (its "…" text) or by the width
        "tooltipValueGetter": {
            "function": f"(params.data && params.data['{FULL_TEXT.format(column)}'])"
            " || params.value"
        },
    }
    if unit:
        definition["headerTooltip"] = f"{header}; filter in {unit}"
        definition["type"] = "rightAligned"
    if column in MIN_WIDTHS_PX:
        definition["minWidth"] = MIN_WIDTHS_PX[column]
    if column in WIDE_COLUMNS:
        definition["flex"] = 2
    if column == PINNED_COLUMN:
        definition |= {"pinned": "left", "lockVisible": True, "width": 150}
    return definition


def column_defs(visible: Sequence[str] | None = None) -> list[dict]:
    """The grid's columns, those not in ``visible`` hidden (all shown when it is None). The
    pinned run column is always shown: it is what a row is clicked by."""
    shown = set(COLUMN_IDS if visible is None else visible) | {PINNED_COLUMN}
    return [
        _column_def(column, header, kind, unit, column not in shown)
        for column, header, kind, unit in COLUMNS
    ]


def _filter_terms(column: str, model: Mapping) -> list[str]:
    """One column's AG Grid filter model as ``filter_query`` terms; what the source cannot
    answer (an unknown type, OR of conditions) gives none."""
    if "conditions" in model:
        if model.get("operator", "AND") != "AND":
            return []
        return [term for part in model["conditions"] for term in _filter_terms(column, part)]
    kind, value = model.get("type"), model.get("filter")
    if value is None or str(value).strip() == "":
        return []
    if model.get("filterType") == "number":
        if kind == "inRange" and model.get("filterTo") is not None:
            return [f"{{{column}}} >= {value}", f"{{{column}}} <= {model['filterTo']}"]
        operator = NUMBER_OPERATORS.get(kind)
    elif column == "timestamp":
        operator = DATE_OPERATORS.get(kind)
    else:
        operator = TEXT_OPERATORS.get(kind)
    text = " ".join(str(value).split())  # one line: the query's terms are split on " && "
    return [f"{{{column}}} {operator} {text}"] if operator and "&&" not in text else []


def runs_query(request: Mapping | None) -> dict:
    """A grid's ``getRowsRequest`` as ``runs_page`` keyword arguments: offset, limit (at most
    ``MAX_BLOCK_ROWS``), ``sort_by`` and ``filter_query`` in the source's format. Columns the
    table does not have are dropped, so a hand-made request cannot reach others."""
    request = request or {}
    start = max(int(request.get("startRow") or 0), 0)
    end = int(request.get("endRow") or start + PAGE_SIZE)
    sort_by = [
        {"column_id": s["colId"], "direction": "desc" if s.get("sort") == "desc" else "asc"}
        for s in request.get("sortModel") or []
        if s.get("colId") in COLUMN_IDS
    ]
    terms = [
        term
        for column, model in (request.get("filterModel") or {}).items()
        if column in COLUMN_IDS and isinstance(model, Mapping)
        for term in _filter_terms(column, model)
    ]
    return {
        "offset": start,
        "limit": min(max(end - start, 1), MAX_BLOCK_ROWS),
        "sort_by": sort_by,
        "filter_query": " && ".join(terms) or None,
    }


class PageStep(NamedTuple):
    """What one ``paginationInfo`` of the grid changes: the page kept for a reload and the page
    to send the grid to (``None``: unchanged), and whether the kept page has been put back."""

    keep: int | None
    go_to: int | None
    restored: bool


def page_step(info: Mapping | None, kept_page: int | None, restored: bool) -> PageStep:
    """Keep the grid's page (0-based) over a reload. A freshly drawn grid is on the first page
    only because it is new, so until its first rows arrive (the infinite model then knows its
    last page) nothing is kept; then the kept page, within the pages there now are, is put back
    once, and from there on every page the grid shows is kept."""
    info = info or {}
    current = int(info.get("currentPage") or 0)
    if restored:
        return PageStep(keep=current, go_to=None, restored=True)
    if not info.get("isLastPageFound"):
        return PageStep(keep=None, go_to=None, restored=False)
    last_page = max(int(info.get("totalPages") or 0) - 1, 0)
    target = min(max(int(kept_page or 0), 0), last_page)
    return PageStep(keep=target, go_to=target if target != current else None, restored=True)


def layout() -> html.Section:
    """The column picker and the table, then the detail panel it feeds."""
    return html.Section(
        id=ids.RUNS_SECTION,
        children=[
            section_card(
                "Runs",
                dbc.Row(
                    [
                        dbc.Col(
                            html.Div(id=ids.RUNS_COUNT, className="small text-body-secondary"),
                            className="align-self-center",
                        ),
                        dbc.Col(
                            dcc.Dropdown(
                                id=ids.RUNS_COLUMNS,
                                options=[
                                    {"label": header, "value": column}
                                    for column, header, *_ in COLUMNS
                                    if column != PINNED_COLUMN
                                ],
                                value=[c for c in COLUMN_IDS if c != PINNED_COLUMN],
                                multi=True,
                                clearable=False,
                                placeholder="Columns shown",
                                persistence=True,
                                persistence_type="session",
                            ),
                            md=8,
                        ),
                    ],
                    className="g-2 mb-2",
                ),
                dag.AgGrid(
                    id=ids.RUNS_TABLE,
                    className="runs-grid",
                    columnDefs=column_defs(),
                    defaultColDef={
                        "sortable": True,
                        "resizable": True,
                        "floatingFilter": True,
                        "suppressHeaderMenuButton": True,
                        "flex": 1,
                        "minWidth": 84,
                    },
                    rowModelType="infinite",
                    getRowId="params.data.id",
                    dashGridOptions={
                        "pagination": True,
                        "paginationPageSize": PAGE_SIZE,
                        "paginationPageSizeSelector": False,
                        "cacheBlockSize": PAGE_SIZE,
                        "maxBlocksInCache": 20,
                        "tooltipShowDelay": 300,
                        "tooltipShowMode": "whenTruncated",
                        "rowHeight": 34,
                        "headerHeight": 36,
                        "floatingFiltersHeight": 36,
                        "enableCellTextSelection": True,
                    },
                    # sorting, filter and column widths survive a reload (this browser tab)
                    persistence=True,
                    persisted_props=["filterModel", "columnState"],
                    persistence_type="session",
                    style={"width": "100%", "height": f"{GRID_HEIGHT_PX}px"},
                ),
                dcc.Store(id=ids.RUNS_TABLE_PURGED),
                # the page survives a reload too, put back by :func:`page_step`
                dcc.Store(id=ids.RUNS_TABLE_PAGE, storage_type="session"),
                dcc.Store(id=ids.RUNS_TABLE_PAGE_RESTORED, data=False),
                html.Div(
                    "Click a run for its details. Filter under each header (numbers in s, kWh "
                    "and kg); shift-click headers to sort by several columns.",
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


def table_records(page: pd.DataFrame) -> list[dict]:
    """A page of runs as grid rows: text only (numbers in adaptive units, missing as "–"), the
    shown columns' text cut short with the whole text in ``<column>__full`` for the tooltip
    (the row's ``id`` is the whole run id)."""
    out = page.copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%d %H:%M")
    for column, format_number in NUMBER_FORMATS.items():
        out[column] = [format_number(None if pd.isna(v) else float(v)) for v in out[column]]
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("str")
    out = out.astype(object).where(out.notna(), None)
    records = out.to_dict("records")
    for record in records:
        record["id"] = record["run_id"]
        for column in TEXT_COLUMNS:
            if is_cut(record.get(column)):
                record[FULL_TEXT.format(column)] = str(record[column])
                record[column] = short_label(record[column])
    return records


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
    """Answer the grid's row requests from the source; drop its rows when the selection
    changes; keep its page over a reload; show or hide columns; render the detail of the
    clicked run."""

    @app.callback(
        Output(ids.RUNS_TABLE, "getRowsResponse"),
        Output(ids.RUNS_COUNT, "children"),
        Input(ids.RUNS_TABLE, "getRowsRequest"),
        State(ids.RUNS_TAB_SELECTION, "data"),
        prevent_initial_call=True,  # the grid asks when it is drawn
    )
    def rows(request: dict | None, selection_data: dict | None):
        query = runs_query(request)
        page = source.runs_page(Selection.from_dict(selection_data), **query)
        past_the_end = page.offset != query["offset"]  # the source gave its last page instead
        records = [] if past_the_end else table_records(page.rows)
        count = f"{format_count(page.matching)} of {format_count(page.selected)} runs"
        return {"rowData": records, "rowCount": page.matching}, count

    # A new selection: the grid forgets its rows and asks again (with its sort and filter).
    app.clientside_callback(
        """async function (selection, gridId) {
            const api = await dash_ag_grid.getApiAsync(gridId);
            api.purgeInfiniteCache();
            return Date.now();
        }""",
        Output(ids.RUNS_TABLE_PURGED, "data"),
        Input(ids.RUNS_TAB_SELECTION, "data"),
        State(ids.RUNS_TABLE, "id"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.RUNS_TABLE_PAGE, "data"),
        Output(ids.RUNS_TABLE, "paginationGoTo"),
        Output(ids.RUNS_TABLE_PAGE_RESTORED, "data"),
        Input(ids.RUNS_TABLE, "paginationInfo"),
        State(ids.RUNS_TABLE_PAGE, "data"),
        State(ids.RUNS_TABLE_PAGE_RESTORED, "data"),
        prevent_initial_call=True,
    )
    def keep_page(info: dict | None, kept_page: int | None, restored: bool | None):
        step = page_step(info, kept_page, bool(restored))
        return (
            no_update if step.keep is None else step.keep,
            no_update if step.go_to is None else step.go_to,
            step.restored,
        )

    @app.callback(
        Output(ids.RUNS_TABLE, "columnDefs"),
        Input(ids.RUNS_COLUMNS, "value"),
        prevent_initial_call=True,
    )
    def pick_columns(visible: list[str] | None):
        return column_defs(visible or [])

    @app.callback(
        Output(ids.RUN_DETAIL, "children"),
        Input(ids.RUNS_TABLE, "cellClicked"),
        prevent_initial_call=True,
    )
    def show_run(cell: dict | None):
        run_id = (cell or {}).get("rowId")
        detail = source.run_detail(run_id) if run_id else None
        if detail is None:
            return html.Div("Click a run in the table to see its details.")
        return run_detail(detail.run, source.tasks(run_id), detail.job)
