"""Filters (project, experiment, dates) and the URL: both write the one ``ids.SELECTION`` store.

A single callback owns the selection so the URL, the controls and the store never disagree: a
URL change (first load, back/forward) sets the controls; a control change pushes a new URL. Values
the data does not know fall back to the default view with a notice, never an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from carbonboard import ids
from carbonboard.data.source import RunSource
from carbonboard.formatting import LABEL_PART_CHARS, is_cut, short_label
from carbonboard.selection import Selection, ViewOptions, from_query, to_query, view_from_query

ALL_PROJECTS = "All projects"
ALL_EXPERIMENTS = "All experiments"
COMPARE_OPTIONS_MAX = 100  # the newest runs of the selection offered for comparison
NOTICE_MAX_CHARS = 300  # a notice about the address quotes what it was given, cut short


def layout() -> html.Section:
    """Project, experiment and date-range controls."""
    return html.Section(
        id=ids.FILTERS_SECTION,
        className="filters-bar mb-4 p-3 border rounded bg-body-tertiary",
        children=dbc.Row(
            [
                _choice("Project", ids.PROJECT_SELECT, ALL_PROJECTS),
                _choice("Experiment", ids.EXPERIMENT_SELECT, ALL_EXPERIMENTS),
                dbc.Col(
                    [
                        dbc.Label("Dates", html_for=ids.DATE_RANGE, className="small mb-1 d-block"),
                        dcc.DatePickerRange(
                            id=ids.DATE_RANGE,
                            display_format="YYYY-MM-DD",
                            clearable=True,
                            start_date_placeholder_text="from",
                            end_date_placeholder_text="to",
                        ),
                    ],
                    md=4,
                ),
            ],
            className="g-3",
        ),
    )


def option_value(name: str) -> str:
    """The dropdown value that stands for ``name``: the name itself, or for a name longer than a
    label its start and a digest. Dash's dropdown indexes every option's value and label for
    search by all their substrings (a 10 KB value: minutes of a frozen page); the selection, the
    URL and the tooltip keep the whole name."""
    if not is_cut(name):
        return name
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{short_label(name)}#{digest}"


def chosen_name(value: str | None, names: Callable[[], Iterable[str]]) -> str | None:
    """The name a dropdown value stands for (:func:`option_value`), None for "everything".
    ``names()`` lists the candidates; it is only called for a long name's value."""
    if value in (None, "", ids.ALL):
        return None
    if not is_cut(value):
        return value
    return next((n for n in names() if is_cut(n) and option_value(n) == value), value)


def option(label: str, value: str, full_text: str) -> dict:
    """A dropdown option: ``label`` already cut short, the whole text in its tooltip."""
    return {"label": label, "value": option_value(value), "title": full_text}


def _options(everything: str, values: list[str]) -> list[dict]:
    """Dropdown options: "everything" (ids.ALL, no filter) first, then each value."""
    return [{"label": everything, "value": ids.ALL}] + [
        option(short_label(v), v, v) for v in values
    ]


def _choice(label: str, component_id: str, everything: str) -> dbc.Col:
    """A labelled dropdown that starts on "everything"; the data fills its options."""
    return dbc.Col(
        [
            dbc.Label(label, html_for=component_id, className="small mb-1"),
            dcc.Dropdown(
                id=component_id,
                options=_options(everything, []),
                value=ids.ALL,
                clearable=False,
            ),
        ],
        md=4,
    )


def _day(value: str | None) -> str | None:
    """DatePickerRange may send ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS``."""
    return value[:10] if value else None


def compare_options(newest: pd.DataFrame, picked: pd.DataFrame) -> list[dict]:
    """The runs already picked, then the newest runs of the selection, as dropdown options."""
    shown = pd.concat([picked, newest]).drop_duplicates("run_id")
    return [
        option(
            f"{ts:%Y-%m-%d %H:%M} · {short_label(project, LABEL_PART_CHARS)} · "
            f"{short_label(experiment, LABEL_PART_CHARS) or '–'} · {run_id[:8]}",
            run_id,
            f"{ts:%Y-%m-%d %H:%M} · {project} · {experiment or '–'} · {run_id}",
        )
        for ts, project, experiment, run_id in zip(
            shown["timestamp"],
            shown["project_name"].astype("str"),
            shown["experiment_id"].astype("str"),
            shown["run_id"],
            strict=True,
        )
    ]


# The view options' controls (in the tabs) and the ViewOptions field each one sets.
VIEW_CONTROLS = {
    ids.VIEW_TABS: "tab",
    ids.TIMELINE_CUMULATIVE: "cumulative",
    ids.REGIONAL_MAP_MODE: "map_mode",
    ids.REGIONAL_CLOUD_PROVIDER: "cloud_provider",
    ids.DISTANCE_UNIT: "distance_unit",
    ids.EFFICIENCY_UNIT: "unit",
    ids.EFFICIENCY_QUALITY: "quality",
    ids.EFFICIENCY_BETTER: "better",
    ids.EFFICIENCY_PERIOD: "period",
}


def _view_from_controls(values: list) -> ViewOptions:
    """The controls' values; an unset control (not yet drawn) keeps the default."""
    given = {field: value for field, value in zip(VIEW_CONTROLS.values(), values, strict=True)}
    given = {field: value for field, value in given.items() if value is not None}
    if "cumulative" in given:
        given["cumulative"] = bool(given["cumulative"])
    return ViewOptions(**given)


def newest_runs(source: RunSource, selection: Selection) -> pd.DataFrame:
    """The selection's newest runs offered for comparison, newest first."""
    return source.runs_page(selection, offset=0, limit=COMPARE_OPTIONS_MAX).rows


def register_callbacks(app: Dash, source: RunSource) -> None:
    """The selection callback: URL ⇄ controls ⇄ ``ids.SELECTION`` (and the view options)."""

    @app.callback(
        Output(ids.SELECTION, "data"),
        Output(ids.URL, "search"),
        Output(ids.URL_NOTICE, "children"),
        Output(ids.URL_NOTICE, "is_open"),
        Output(ids.PROJECT_SELECT, "options"),
        Output(ids.PROJECT_SELECT, "value"),
        Output(ids.EXPERIMENT_SELECT, "options"),
        Output(ids.EXPERIMENT_SELECT, "value"),
        Output(ids.DATE_RANGE, "start_date"),
        Output(ids.DATE_RANGE, "end_date"),
        Output(ids.DATE_RANGE, "min_date_allowed"),
        Output(ids.DATE_RANGE, "max_date_allowed"),
        Output(ids.COMPARE_SELECT, "options"),
        Output(ids.COMPARE_SELECT, "value"),
        *(Output(control, "value") for control in VIEW_CONTROLS),
        Input(ids.URL, "search"),
        Input(ids.PROJECT_SELECT, "value"),
        Input(ids.EXPERIMENT_SELECT, "value"),
        Input(ids.DATE_RANGE, "start_date"),
        Input(ids.DATE_RANGE, "end_date"),
        Input(ids.COMPARE_SELECT, "value"),
        Input(ids.DATA_VERSION, "data"),
        *(Input(control, "value") for control in VIEW_CONTROLS),
        State(ids.SELECTION, "data"),
    )
    def sync(search, project, experiment, start, end, run_ids, _version, *view_and_shown):
        *view_values, shown_selection = view_and_shown
        everything = source.filter_options(Selection())
        from_url = ctx.triggered_id in (None, ids.URL)
        shown_view = _view_from_controls(list(view_values))
        if from_url:
            wanted = from_query(search)
            view, view_notices = view_from_query(search)
        else:
            shown = Selection.from_dict(shown_selection)

            def offered() -> list[str]:
                """The runs the compare dropdown offers: those picked, the newest shown."""
                return [*shown.run_ids, *newest_runs(source, shown)["run_id"]]

            wanted = Selection(
                project=chosen_name(project, lambda: everything.projects),
                experiment=chosen_name(experiment, lambda: everything.experiments),
                date_from=_day(start),
                date_to=_day(end),
                run_ids=tuple(chosen_name(run_id, offered) for run_id in run_ids or ()),
            )
            if ctx.triggered_id == ids.PROJECT_SELECT:  # a new project starts on all experiments
                wanted = Selection(
                    wanted.project, None, wanted.date_from, wanted.date_to, wanted.run_ids
                )
            view, view_notices = shown_view, []
        selection, notices = source.validate(wanted)
        notices = [*notices, *view_notices]
        query = to_query(selection, view)
        new_query = no_update if from_url or query == (search or "") else query
        view_outputs = [
            no_update
            if getattr(view, field) == getattr(shown_view, field)
            else getattr(view, field)
            for field in VIEW_CONTROLS.values()
        ]
        if ctx.triggered_id in VIEW_CONTROLS:  # a toggle: only the address changes
            return (no_update, new_query, *[no_update] * 12, *view_outputs)
        # Send only what changed: re-rendering controls is what the browser spends time on.
        reload = from_url or ctx.triggered_id == ids.DATA_VERSION
        new_project = reload or ctx.triggered_id == ids.PROJECT_SELECT
        in_project = source.filter_options(selection).experiments if new_project else ()
        span = reload and everything.first_run is not None

        def unless(current: object, value: object) -> object:
            return no_update if not reload and current == value else value

        return (
            selection.to_dict(),
            new_query,
            [html.Div(short_label(n, NOTICE_MAX_CHARS)) for n in notices]
            if from_url
            else no_update,
            bool(notices) if from_url else no_update,
            _options(ALL_PROJECTS, list(everything.projects)) if reload else no_update,
            unless(project, option_value(selection.project or ids.ALL)),
            _options(ALL_EXPERIMENTS, list(in_project)) if new_project else no_update,
            unless(experiment, option_value(selection.experiment or ids.ALL)),
            unless(start, selection.date_from),
            unless(end, selection.date_to),
            f"{everything.first_run:%Y-%m-%d}" if span else no_update,
            f"{everything.last_run:%Y-%m-%d}" if span else no_update,
            compare_options(newest_runs(source, selection), source.runs_by_id(selection.run_ids)),
            unless(run_ids, [option_value(run_id) for run_id in selection.run_ids]),
            *view_outputs,
        )
