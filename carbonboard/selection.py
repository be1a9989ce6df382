"""What the user is looking at: one value object shared by filters, URL, sections and exports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qs, urlencode


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


def from_query(search: str | None) -> Selection:
    """Parse a URL query string (with or without the leading ``?``); unknown keys are ignored.

    Values are not checked against the data here (see ``aggregate.validate_selection``), only
    decoded: a hand-edited URL never raises.
    """
    params = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    values = {
        field_name: params[key][-1] for key, field_name in QUERY_KEYS.items() if key in params
    }
    run_ids = tuple(
        dict.fromkeys(r for value in params.get("runs", []) for r in value.split(",") if r)
    )
    return Selection(**values, run_ids=run_ids)


def to_query(selection: Selection) -> str:
    """The query string (with ``?``, or "" for the default view) that reproduces ``selection``."""
    data = selection.to_dict()
    pairs = [(key, data[field_name]) for key, field_name in QUERY_KEYS.items() if data[field_name]]
    if selection.run_ids:
        pairs.append(("runs", ",".join(selection.run_ids)))
    return "?" + urlencode(pairs, safe=",") if pairs else ""
