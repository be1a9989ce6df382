"""Filters (project, experiment, dates) and the URL: both write the one ``ids.SELECTION`` store.

Two callbacks keep the URL, the controls and the store in agreement, so that a switch costs one
round trip:

* ``SELECTION_FROM_PAGE`` runs in the browser: from the address (first load, back/forward) or
  from the controls it sets the store at once, so the views ask the server for their figures
  straight away.
* ``sync`` runs on the server at the same time: it checks the selection against the data, pushes
  the new URL, sets the controls from an address and fills the dropdowns' options. It declares
  only what no view waits for (the notice); the URL, the controls, their options and a corrected
  selection are set with ``set_props`` and only when they change, because Dash holds back every
  callback downstream of a declared output until the callback answers.

Values the data does not know fall back to the default view with a notice, never an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update, set_props

from carbonboard import ids
from carbonboard.data.source import FilterOptions, RunSource
from carbonboard.formatting import LABEL_PART_CHARS, is_cut, short_label
from carbonboard.selection import (
    QUERY_KEYS,
    Selection,
    ViewOptions,
    from_query,
    to_query,
    view_from_query,
)
from carbonboard.text_views import DateRange

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
                        dbc.Label(
                            "Dates",
                            html_for=f"{ids.DATE_RANGE}-start",
                            className="small mb-1 d-block",
                        ),
                        DateRange(id=ids.DATE_RANGE),
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
    """A date prop's day: ``YYYY-MM-DD``, or the day of ``YYYY-MM-DDTHH:MM:SS``."""
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
VIEW_FIELDS = tuple(VIEW_CONTROLS.values())


def _view_from_controls(values: dict[str, object]) -> ViewOptions:
    """The controls' values by ViewOptions field; an unset control (not yet drawn) keeps the
    default."""
    given = {name: value for name, value in values.items() if value is not None}
    if "cumulative" in given:
        given["cumulative"] = bool(given["cumulative"])
    return ViewOptions(**given)


def newest_runs(source: RunSource, selection: Selection) -> pd.DataFrame:
    """The selection's newest runs offered for comparison, newest first."""
    return source.runs_page(selection, offset=0, limit=COMPARE_OPTIONS_MAX).rows


# What the selection callback declares, by name: nothing a view waits for.
DECLARED_OUTPUTS = {
    "notice": (ids.URL_NOTICE, "children"),
    "notice_open": (ids.URL_NOTICE, "is_open"),
}
# What it sets only when it changes (``set_props``): the views are downstream of these. A
# dropdown's options come before its value, in the same update: a value its options do not hold
# yet would be cleared.
PAGE_OUTPUTS = {
    "selection": (ids.SELECTION, "data"),
    "pushed": (ids.PUSHED_ADDRESS, "data"),
    "search": (ids.URL, "search"),
    "project_options": (ids.PROJECT_SELECT, "options"),
    "project": (ids.PROJECT_SELECT, "value"),
    "experiment_options": (ids.EXPERIMENT_SELECT, "options"),
    "experiment": (ids.EXPERIMENT_SELECT, "value"),
    "min_date": (ids.DATE_RANGE, "min_date_allowed"),
    "max_date": (ids.DATE_RANGE, "max_date_allowed"),
    "start": (ids.DATE_RANGE, "start_date"),
    "end": (ids.DATE_RANGE, "end_date"),
    "compare_options": (ids.COMPARE_SELECT, "options"),
    "compare": (ids.COMPARE_SELECT, "value"),
}
OUTPUTS = {**DECLARED_OUTPUTS, **PAGE_OUTPUTS}

# The browser's half (see the module docstring): the selection from the address on a first load
# or back/forward, else from the controls (a dropdown value is its option's title: the whole
# name). Picking a project starts on all its experiments. It must agree with
# :func:`page_selection`; the server corrects the store when the data says otherwise. An address
# the page arrives at goes to ``ids.ADDRESS`` for the server; one the server pushed itself
# (``ids.PUSHED_ADDRESS``) is not handed back to it.
SELECTION_FROM_PAGE = """function (search, project, experiment, start, end, runIds,
                                   projectOptions, experimentOptions, shown, pushed) {
    const ALL = %(all)s;
    const KEYS = %(keys)s;
    const triggered = (window.dash_clientside.callback_context.triggered || [])
        .map(t => t.prop_id.split(".")[0]);
    const firstLoad = triggered.length === 0 || triggered.includes("");
    const fromAddress = firstLoad || triggered.includes(%(url)s);
    const noUpdate = window.dash_clientside.no_update;
    if (fromAddress && !firstLoad && (search || "") === pushed) {
        return [noUpdate, noUpdate, noUpdate];  // the address the server has just pushed
    }
    const named = (value, options) => {
        if (value === null || value === undefined || value === "" || value === ALL) {
            return null;
        }
        const option = (options || []).find(o => o.value === value);
        return option && option.title ? option.title : value;
    };
    let picked;
    if (fromAddress) {
        const params = new URLSearchParams(search || "");
        const last = key => {
            const values = params.getAll(key).filter(v => v !== "");
            return values.length ? values[values.length - 1] : null;
        };
        const runs = params.getAll("runs").flatMap(v => v.split(",")).filter(r => r);
        picked = {project: last(KEYS.project), experiment: last(KEYS.experiment),
                  date_from: last(KEYS.date_from), date_to: last(KEYS.date_to),
                  run_ids: [...new Set(runs)]};
    } else {
        const newProject = triggered.includes(%(project_id)s)
            && !triggered.includes(%(experiment_id)s);
        picked = {project: named(project, projectOptions),
                  experiment: newProject ? null : named(experiment, experimentOptions),
                  date_from: start ? start.slice(0, 10) : null,
                  date_to: end ? end.slice(0, 10) : null,
                  run_ids: [...(runIds || [])]};
    }
    const same = shown && JSON.stringify(picked) === JSON.stringify({
        project: shown.project || null, experiment: shown.experiment || null,
        date_from: shown.date_from || null, date_to: shown.date_to || null,
        run_ids: shown.run_ids || []});
    // an address the page arrives at is handed to the server (controls, view, notices)
    const address = fromAddress ? {search: search || "", at: Date.now()} : noUpdate;
    return [same ? noUpdate : picked, address, fromAddress ? null : noUpdate];
}"""


@dataclass(frozen=True)
class Controls:
    """What the page shows when the selection callback runs: the address, the filters, the
    runs picked for comparison and each view control's value (by ViewOptions field)."""

    search: str | None = None
    project: str | None = None
    experiment: str | None = None
    start: str | None = None
    end: str | None = None
    run_ids: list[str] | None = None
    view: dict[str, object] = field(default_factory=dict)


def page_selection(trigger: str | None, controls: Controls, everything: FilterOptions) -> Selection:
    """The selection ``SELECTION_FROM_PAGE`` puts in the store for a control change: each
    dropdown value stands for its option's whole name; picking a project (``trigger``) starts on
    all its experiments; run ids are as the dropdown holds them."""
    experiment = chosen_name(controls.experiment, lambda: everything.experiments)
    return Selection(
        project=chosen_name(controls.project, lambda: everything.projects),
        experiment=None if trigger == ids.PROJECT_SELECT else experiment,
        date_from=_day(controls.start),
        date_to=_day(controls.end),
        run_ids=tuple(controls.run_ids or ()),
    )


def selection_update(
    source: RunSource, trigger: str | None, controls: Controls, shown_selection: dict | None
) -> dict[str, object]:
    """What the selection callback answers, by :data:`OUTPUTS` name (and ``view``: each view
    control's value by ViewOptions field), ``no_update`` for whatever stays as it is.

    ``trigger`` is the id that changed: the URL (or None, the first load) sets the selection and
    the controls from the address; a filter sets the selection from the controls and pushes the
    address; a view control only pushes the address; a new data version refreshes the options.
    Only what changed is sent: re-rendering controls is what the browser spends time on."""
    shown_view = _view_from_controls({name: controls.view.get(name) for name in VIEW_FIELDS})
    answer: dict[str, object] = dict.fromkeys(OUTPUTS, no_update)
    everything = source.filter_options(Selection())
    from_url = trigger in (None, ids.URL)
    if from_url:
        wanted = from_query(controls.search)
        view, view_notices = view_from_query(controls.search)
        picked = wanted
    else:
        shown = Selection.from_dict(shown_selection)

        def offered() -> list[str]:
            """The runs the compare dropdown offers: those picked, the newest shown."""
            return [*shown.run_ids, *newest_runs(source, shown)["run_id"]]

        picked = page_selection(trigger, controls, everything)
        wanted = replace(
            picked, run_ids=tuple(chosen_name(run_id, offered) for run_id in picked.run_ids)
        )
        view, view_notices = shown_view, []
    selection, notices = source.validate(wanted)
    notices = [*notices, *view_notices]
    query = to_query(selection, view)
    answer["search"] = no_update if from_url or query == (controls.search or "") else query
    answer["pushed"] = answer["search"]
    answer["view"] = {
        name: no_update if getattr(view, name) == getattr(shown_view, name) else getattr(view, name)
        for name in VIEW_FIELDS
    }
    # The compare dropdown (runs tab) lists the selection's newest runs: worked out only while
    # that tab is open, or runs are picked (its value must be among its options).
    runs_offered = view.tab == ids.TAB_RUNS or bool(selection.run_ids)
    toggled = trigger in VIEW_CONTROLS
    if runs_offered and (not toggled or trigger == ids.VIEW_TABS):  # a toggle may open the tab
        answer["compare_options"] = compare_options(
            newest_runs(source, selection), source.runs_by_id(selection.run_ids)
        )
    if toggled:  # a toggle: only the address changes (and the options of a tab it opens)
        return answer
    reload = from_url or trigger == ids.DATA_VERSION
    new_project = reload or trigger == ids.PROJECT_SELECT
    span = reload and everything.first_run is not None

    def unless(current: object, value: object) -> object:
        return no_update if current == value else value

    # The page set the store to what it picked itself: only a correction is sent, or the same
    # selection again for new data (the views listening to the store redraw).
    fresh = selection != picked or trigger == ids.DATA_VERSION
    answer["selection"] = selection.to_dict() if fresh else no_update
    if from_url:
        answer["notice"] = [html.Div(short_label(n, NOTICE_MAX_CHARS)) for n in notices]
        answer["notice_open"] = bool(notices)
    if reload:
        answer["project_options"] = _options(ALL_PROJECTS, list(everything.projects))
    answer["project"] = unless(controls.project, option_value(selection.project or ids.ALL))
    if new_project:
        in_project = source.filter_options(selection).experiments
        answer["experiment_options"] = _options(ALL_EXPERIMENTS, list(in_project))
    answer["experiment"] = unless(
        controls.experiment, option_value(selection.experiment or ids.ALL)
    )
    answer["start"] = unless(controls.start, selection.date_from)
    answer["end"] = unless(controls.end, selection.date_to)
    if span:
        answer["min_date"] = f"{everything.first_run:%Y-%m-%d}"
        answer["max_date"] = f"{everything.last_run:%Y-%m-%d}"
    answer["compare"] = unless(  # an empty dropdown holds None: no runs, as []
        list(controls.run_ids or []), [option_value(run_id) for run_id in selection.run_ids]
    )
    return answer


def main_trigger(triggered: Iterable[str]) -> str | None:
    """The id a change counts as (``triggered``: the ``id.prop`` strings Dash names): an address
    the page arrived at counts as the URL. The project and the experiment set together (from an
    address) are not a new project: the experiment stays."""
    names = [prop_id.rpartition(".")[0] for prop_id in triggered]
    names = [ids.URL if name == ids.ADDRESS else name for name in names if name]
    if ids.PROJECT_SELECT in names and ids.EXPERIMENT_SELECT in names:
        return ids.EXPERIMENT_SELECT
    return names[0] if names else None


def set_changed(answer: dict[str, object]) -> dict[str, object]:
    """Set what ``answer`` changes among :data:`PAGE_OUTPUTS` and the view controls with
    ``set_props``; the declared outputs' values are returned."""
    for name, (component, prop) in PAGE_OUTPUTS.items():
        if answer[name] is not no_update:
            set_props(component, {prop: answer[name]})
    for control, name in VIEW_CONTROLS.items():
        if answer["view"][name] is not no_update:
            set_props(control, {"value": answer["view"][name]})
    return {name: answer[name] for name in DECLARED_OUTPUTS}


def register_callbacks(app: Dash, source: RunSource) -> None:
    """The selection's two halves: the page's own (``SELECTION_FROM_PAGE``) and the server's
    check, options and address (``sync``)."""
    app.clientside_callback(
        SELECTION_FROM_PAGE
        % {
            "all": json.dumps(ids.ALL),
            "keys": json.dumps({field: key for key, field in QUERY_KEYS.items()}),
            "url": json.dumps(ids.URL),
            "project_id": json.dumps(ids.PROJECT_SELECT),
            "experiment_id": json.dumps(ids.EXPERIMENT_SELECT),
        },
        Output(ids.SELECTION, "data"),
        Output(ids.ADDRESS, "data"),
        Output(ids.PUSHED_ADDRESS, "data"),
        Input(ids.URL, "search"),
        Input(ids.PROJECT_SELECT, "value"),
        Input(ids.EXPERIMENT_SELECT, "value"),
        Input(ids.DATE_RANGE, "start_date"),
        Input(ids.DATE_RANGE, "end_date"),
        Input(ids.COMPARE_SELECT, "value"),
        State(ids.PROJECT_SELECT, "options"),
        State(ids.EXPERIMENT_SELECT, "options"),
        State(ids.SELECTION, "data"),
        State(ids.PUSHED_ADDRESS, "data"),
    )

    # Never an input of its own: the address it pushes would come back to it as a change.
    @app.callback(
        output={name: Output(*target) for name, target in DECLARED_OUTPUTS.items()},
        inputs={
            "address": Input(ids.ADDRESS, "data"),
            "project": Input(ids.PROJECT_SELECT, "value"),
            "experiment": Input(ids.EXPERIMENT_SELECT, "value"),
            "start": Input(ids.DATE_RANGE, "start_date"),
            "end": Input(ids.DATE_RANGE, "end_date"),
            "run_ids": Input(ids.COMPARE_SELECT, "value"),
            "_version": Input(ids.DATA_VERSION, "data"),
            "view": {name: Input(control, "value") for control, name in VIEW_CONTROLS.items()},
        },
        state={
            "search": State(ids.URL, "search"),
            "shown_selection": State(ids.SELECTION, "data"),
        },
        prevent_initial_call=True,  # the page hands it the address it loaded
    )
    def sync(
        address, project, experiment, start, end, run_ids, _version, view, search, shown_selection
    ):
        trigger = main_trigger(ctx.triggered_prop_ids)
        if trigger == ids.URL and isinstance(address, dict):
            search = str(address.get("search") or "")
        controls = Controls(search, project, experiment, start, end, run_ids, view)
        return set_changed(selection_update(source, trigger, controls, shown_selection))
