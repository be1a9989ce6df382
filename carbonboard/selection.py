"""What the user is looking at: the data ``Selection`` (shared by filters, sections and exports)
and the ``ViewOptions`` (tab and chart toggles); the URL holds both."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qs, urlencode

from carbonboard import ids


@dataclass(frozen=True)
class Selection:
    project: str | None = None  # None = all projects
    experiment: str | None = None  # None = all experiments
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None  # ISO date, inclusive
    run_ids: tuple[str, ...] = field(default_factory=tuple)  # runs picked for comparison/detail

    def to_dict(self) -> dict:
        data = asdict(self)
        data["run_ids"] = list(self.run_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict | None) -> Selection:
        data = data or {}
        return cls(
            project=data.get("project") or None,
            experiment=data.get("experiment") or None,
            date_from=data.get("date_from") or None,
            date_to=data.get("date_to") or None,
            run_ids=tuple(data.get("run_ids") or ()),
        )


# The view in the URL: /?project=nlp-bert&experiment=bert-base&from=2026-01-01&to=...&runs=a,b
QUERY_KEYS = {
    "project": "project",
    "experiment": "experiment",
    "from": "date_from",
    "to": "date_to",
}


@dataclass(frozen=True)
class ViewOptions:
    """How the selection is shown: the tab and the charts' toggles. Defaults stay out of the URL."""

    tab: str = ids.TAB_OVERVIEW
    cumulative: bool = False  # emissions over time: per run or cumulative
    map_mode: str = "intensity"  # world map: intensity | emissions | low_carbon
    cloud_provider: str = "all"  # cloud regions: all | aws | gcp | azure
    distance_unit: str = "km"  # equivalents: km | mi
    unit: str = ""  # efficiency: the metric counted as work ("" = the view's default)
    quality: str = ""  # efficiency: the quality metric ("" = the view's default)
    better: str = ""  # efficiency: higher | lower ("" = guessed from the quality's name)
    period: str = "week"  # efficiency trend: week | month


VIEW_CHOICES = {
    "tab": (ids.TAB_OVERVIEW, ids.TAB_RUNS, ids.TAB_REGIONAL, ids.TAB_EFFICIENCY),
    "map_mode": ("intensity", "emissions", "low_carbon"),
    "cloud_provider": ("all", "aws", "gcp", "azure"),
    "distance_unit": ("km", "mi"),
    "better": ("higher", "lower"),
    "period": ("week", "month"),
}
# Metric names come from the data: any text is taken, the view falls back when it is unknown.
FREE_VIEW_FIELDS = ("unit", "quality")
VIEW_QUERY_KEYS = {
    "tab": "tab",
    "map": "map_mode",
    "cloud": "cloud_provider",
    "distance": "distance_unit",
    "unit": "unit",
    "quality": "quality",
    "better": "better",
    "period": "period",
}


def view_from_query(search: str | None) -> tuple[ViewOptions, list[str]]:
    """The view options of a URL, and a notice for each value we do not know (default used)."""
    params = _params(search)
    values: dict = {}
    notices = []
    for key, field_name in VIEW_QUERY_KEYS.items():
        if key not in params:
            continue
        value = params[key][-1]
        if field_name in FREE_VIEW_FIELDS or value in VIEW_CHOICES[field_name]:
            values[field_name] = value
        else:
            notices.append(f'Unknown {key} "{value}" in the address: showing the default.')
    if "cumulative" in params:
        values["cumulative"] = params["cumulative"][-1] in ("1", "true", "yes")
    return ViewOptions(**values), notices


def _params(search: str | None) -> dict[str, list[str]]:
    return parse_qs((search or "").lstrip("?"), keep_blank_values=False)


def from_query(search: str | None) -> Selection:
    """Parse a URL query string (with or without the leading ``?``); unknown keys are ignored.

    Values are not checked against the data here (see ``aggregate.validate_selection``), only
    decoded: a hand-edited URL never raises.
    """
    params = _params(search)
    values = {
        field_name: params[key][-1] for key, field_name in QUERY_KEYS.items() if key in params
    }
    run_ids = tuple(
        dict.fromkeys(r for value in params.get("runs", []) for r in value.split(",") if r)
    )
    return Selection(**values, run_ids=run_ids)


def to_query(selection: Selection, view: ViewOptions | None = None) -> str:
    """The query string (with ``?``, or "" for the default view) that reproduces ``selection``
    and ``view``."""
    data = selection.to_dict()
    pairs = [(key, data[field_name]) for key, field_name in QUERY_KEYS.items() if data[field_name]]
    if selection.run_ids:
        pairs.append(("runs", ",".join(selection.run_ids)))
    view = view or ViewOptions()
    default = ViewOptions()
    for key, field_name in VIEW_QUERY_KEYS.items():
        if getattr(view, field_name) != getattr(default, field_name):
            pairs.append((key, getattr(view, field_name)))
    if view.cumulative:
        pairs.append(("cumulative", "1"))
    return "?" + urlencode(pairs, safe=",") if pairs else ""
