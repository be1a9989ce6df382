"""``EmissionsData``: a run's (or a task's) row as CodeCarbon hands it to programs.

CodeCarbon's ``stop_task()``, ``final_emissions_data`` and output handlers give an
``EmissionsData`` dataclass; code written against it reads attributes (``data.energy_consumed``)
or ``data.values`` (an ``OrderedDict``). The fields here are CodeCarbon 3.3's, with the same
names, order and units (``codecarbon/output_methods/emissions_data.py``), followed by this
tracker's own columns of :mod:`tracker.schema` and, for a task, ``task_name``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, fields

from tracker import schema


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
