"""``EmissionsData``: a run's (or a task's) row as CodeCarbon hands it to programs.

CodeCarbon's ``stop_task()``, ``final_emissions_data`` and output handlers give an
``EmissionsData`` dataclass; code written against it reads attributes (``data.energy_consumed``)
or ``data.values`` (an ``OrderedDict``). The fields here are CodeCarbon 3.3's, with the same
names, order and units (``codecarbon/output_methods/emissions_data.py``), followed by this
tracker's own columns of :mod:`tracker.schema` and, for a task, ``task_name``.
"""

from __future__ import annotations

import html
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, fields

from tracker import schema
from tracker.units import co2_text, duration_text, energy_text


@dataclass
class EmissionsData:
    """One row of the emissions contract as attributes. Units: ``duration`` s, ``emissions``
    kg CO2eq, ``*_power`` W, ``*_energy`` and ``energy_consumed`` kWh, ``water_consumed`` L."""

    timestamp: str
    project_name: str
    run_id: str
    experiment_id: str | None
    duration: float
    emissions: float
    emissions_rate: float
    cpu_power: float
    gpu_power: float
    ram_power: float
    cpu_energy: float
    gpu_energy: float
    ram_energy: float
    energy_consumed: float
    water_consumed: float
    country_name: str
    country_iso_code: str
    region: str
    cloud_provider: str
    cloud_region: str
    os: str
    python_version: str
    codecarbon_version: str
    cpu_count: float | None
    cpu_model: str
    gpu_count: float
    gpu_model: str
    longitude: float | None
    latitude: float | None
    ram_total_size: float
    tracking_mode: str
    cpu_utilization_percent: float | None = 0.0
    gpu_utilization_percent: float | None = 0.0
    ram_utilization_percent: float | None = 0.0
    ram_used_gb: float | None = 0.0
    on_cloud: str = "N"
    pue: float = 1.0
    wue: float = 0.0
    # This tracker's columns (tracker.schema.OWN_COLUMNS), after CodeCarbon's.
    carbon_intensity_g_co2e_kwh: float | None = None
    carbon_intensity_source: str = ""
    carbon_intensity_year: str = ""
    carbon_intensity_basis: str = ""
    cpu_energy_method: str = ""
    gpu_energy_method: str = ""
    ram_energy_method: str = ""
    status: str = ""
    schema_version: int = schema.SCHEMA_VERSION
    hostname: str = ""
    job_id: str = ""
    rank: int | None = None
    local_rank: int | None = None
    world_size: int | None = None
    measurement_scope: str = ""
    metrics: str = ""  # JSON object of what log_metrics() recorded (tracker.metrics)
    task_name: str | None = None

    @property
    def values(self) -> OrderedDict[str, object]:
        """Every field by name, in order (CodeCarbon's ``EmissionsData.values``)."""
        return OrderedDict(self.__dict__.items())

    def toJSON(self) -> str:
        """The fields as an indented JSON object with sorted keys, as CodeCarbon writes it."""
        return json.dumps(self.__dict__, sort_keys=True, indent=4)

    @classmethod
    def from_row(cls, row: Mapping[str, object], task_name: str | None = None) -> EmissionsData:
        """The data of a row built by :func:`tracker.row.build_row`."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names}, task_name=task_name)

    def _repr_html_(self) -> str:
        """A small table for notebooks. Every text value is escaped: project, task and model
        names come from settings and files, so they are never trusted as HTML."""
        intensity = self.carbon_intensity_g_co2e_kwh
        methods = f"cpu {self.cpu_energy_method}, gpu {self.gpu_energy_method}, "
        methods += f"ram {self.ram_energy_method}"
        rows = [
            ("project", self.project_name),
            ("experiment", self.experiment_id or ""),
            ("task", self.task_name or ""),
            ("run", self.run_id),
            ("status", self.status),
            ("duration", duration_text(self.duration)),
            ("energy", energy_text(self.energy_consumed)),
            ("emissions", co2_text(self.emissions)),
            ("grid intensity", "" if intensity is None else f"{intensity:.4g} gCO2e/kWh"),
            ("intensity source", self.carbon_intensity_source),
            ("energy methods", methods),
            ("where", ", ".join(x for x in (self.country_name, self.region) if x)),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(str(value))}</td></tr>"
            for name, value in rows
            if value
        )
        return f"<table class='carbonboard-emissions'>{cells}</table>"

    def compute_delta_emission(self, previous_emission: EmissionsData) -> None:
        """CodeCarbon's method, with its exact meaning: turn this figure of a run into what it adds
        to ``previous_emission`` (the same run, earlier), in place, returning ``None``.
        ``duration``, ``emissions``, ``cpu_energy``, ``gpu_energy``, ``ram_energy``,
        ``energy_consumed`` and ``water_consumed`` become differences, and ``emissions_rate``
        the emissions difference over the duration difference (0 when that is not positive);
        every other field stays. The arithmetic is :func:`delta`'s."""
        self.__dict__.update(delta(self, previous_emission).__dict__)

    def row(self) -> dict[str, object]:
        """The row again, column -> value, without ``task_name`` (outputs write that apart)."""
        values = self.values
        values.pop("task_name")
        return dict(values)


# Fields that add up over a run, so a later figure minus an earlier one is the share between.
_ADDITIVE = ("emissions", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed")


def delta(current: EmissionsData, previous: EmissionsData | None) -> EmissionsData:
    """What ``current`` adds to ``previous`` (the same run, earlier): CodeCarbon hands this
    "delta" to its handlers' ``out(total, delta)`` and ``live_out(total, delta)``."""
    values = current.values
    if previous is not None:
        values["duration"] = current.duration - previous.duration
        for name in (*_ADDITIVE, "water_consumed"):
            values[name] = getattr(current, name) - getattr(previous, name)
    duration_s = float(values["duration"])  # type: ignore[arg-type]
    values["emissions_rate"] = float(values["emissions"]) / duration_s if duration_s > 0 else 0.0  # type: ignore[arg-type]
    return EmissionsData(**values)  # type: ignore[arg-type]
