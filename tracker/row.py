"""A run's row, built by one pure function that every output (CSV, logger, HTTP, handlers) uses.

What stays fixed for the whole run (identity, settings, hardware, platform) is gathered once at
start in :class:`RunInfo`; :func:`build_row` then turns measured :class:`~tracker.sampler.Totals`
into the row of the column contract (:mod:`tracker.schema`). No clock, file or hardware is read
here, so the arithmetic is tested with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tracker import schema
from tracker.intensity import Intensity
from tracker.jobs import SCOPE_NODE, JobContext
from tracker.location import Location
from tracker.metrics import Metric, encode_metrics
from tracker.power.base import JOULES_PER_KWH
from tracker.sampler import Totals, intensity_basis, intensity_source

COMPONENTS = ("cpu", "gpu", "ram")


@dataclass(frozen=True)
class RunInfo:
    """What a run's rows share. ``energy_methods`` maps a component to its
    ``<component>_energy_method`` cell ("rapl", "tdp-model", "none"...); ``job`` is the cluster
    job, node and rank; ``measurement_scope`` what the energy covers (:mod:`tracker.jobs`)."""

    run_id: str
    project_name: str
    experiment_id: str | None
    experiment_name: str | None
    tracking_mode: str
    pue: float
    wue: float
    os: str
    python_version: str
    writer_version: str
    cpu_count: int | None
    cpu_model: str
    gpu_count: int
    gpu_model: str
    ram_total_gb: float
    energy_methods: dict[str, str]
    job: JobContext = field(default_factory=JobContext)
    measurement_scope: str = SCOPE_NODE


def build_row(
    totals: Totals,
    run: RunInfo,
    *,
    place: Location,
    current_intensity: Intensity,
    status: str,
    timestamp: str,
    metrics: Mapping[str, Metric] | None = None,
) -> dict[str, object]:
    """The row for ``totals``: every column of the contract that this run can fill.

    ``current_intensity`` is the figure in force now; it fills the intensity columns when no
    energy has been measured yet (so no figure was applied to any). ``metrics``: what the run
    (or the task) logged, already checked (:func:`tracker.metrics.clean_metrics`).
    """
    duration_s = totals.elapsed_s
    # As CodeCarbon 3.3 does, PUE is in each component's energy, so that the three add up to
    # energy_consumed; the powers stay what the devices drew (its powers carry no PUE either).
    device_kwh = {c: totals.energy_j.get(c, 0.0) / JOULES_PER_KWH for c in COMPONENTS}
    energy_kwh = {c: kwh * run.pue for c, kwh in device_kwh.items()}
    consumed_kwh = sum(energy_kwh.values())
    intensities: Sequence[Intensity] = totals.intensities or (current_intensity,)
    g_per_kwh = (
        totals.emissions_g / consumed_kwh if consumed_kwh > 0 else intensities[-1].g_co2e_per_kwh
    )
    emissions_kg = totals.emissions_g / 1000
    ram_percent = totals.utilization_percent("ram")
    row: dict[str, object] = {
        "timestamp": timestamp,
        "project_name": run.project_name,
        "run_id": run.run_id,
        "experiment_id": run.experiment_id,
        "duration": duration_s,
        "emissions": emissions_kg,
        "emissions_rate": emissions_kg / duration_s if duration_s > 0 else 0.0,
        "water_consumed": consumed_kwh * run.wue,
        "energy_consumed": consumed_kwh,
        "country_name": place.country_name,
        "country_iso_code": place.country_iso_code,
        "region": place.region,
        "cloud_provider": place.cloud_provider,
        "cloud_region": place.cloud_region,
        "os": run.os,
        "python_version": run.python_version,
        "codecarbon_version": run.writer_version,
        "cpu_count": run.cpu_count,
        "cpu_model": run.cpu_model,
        "gpu_count": run.gpu_count,
        "gpu_model": run.gpu_model,
        "longitude": place.longitude,
        "latitude": place.latitude,
        "ram_total_size": run.ram_total_gb,
        "tracking_mode": run.tracking_mode,
        "cpu_utilization_percent": totals.utilization_percent("cpu"),
        "gpu_utilization_percent": totals.utilization_percent("gpu"),
        "ram_utilization_percent": ram_percent,
        "ram_used_gb": None if ram_percent is None else ram_percent / 100 * run.ram_total_gb,
        "on_cloud": "Y" if place.on_cloud else "N",
        "pue": run.pue,
        "wue": run.wue,
        "carbon_intensity_g_co2e_kwh": g_per_kwh,
        "carbon_intensity_source": intensity_source(intensities),
        "carbon_intensity_year": intensities[-1].year,
        "carbon_intensity_basis": intensity_basis(intensities),
        "status": status,
        "schema_version": schema.SCHEMA_VERSION,
        "hostname": run.job.hostname,
        "job_id": run.job.job_id,
        "rank": run.job.rank,
        "local_rank": run.job.local_rank,
        "world_size": run.job.world_size,
        "measurement_scope": run.measurement_scope,
        "metrics": encode_metrics(metrics or {}),
    }
    for component, kwh in device_kwh.items():
        row[f"{component}_energy"] = energy_kwh[component]
        row[f"{component}_power"] = kwh * JOULES_PER_KWH / duration_s if duration_s > 0 else 0.0
        row[f"{component}_energy_method"] = totals.energy_methods.get(
            component, run.energy_methods.get(component, "none")
        )
    return {name: row[name] for name in schema.FIELDNAMES}
