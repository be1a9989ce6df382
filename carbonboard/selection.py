"""What the user is looking at: one value object shared by filters, URL, sections and exports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
