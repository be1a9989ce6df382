"""The emissions CSV contract: the single source of truth for column names, order, units and types.

The tracker's writer and carbonboard's loader both import this module, so a column is defined once.
The first columns are CodeCarbon 3.x's, in CodeCarbon's order, so files interoperate both ways;
ours follow, so every figure records how it was obtained.

This module must stay dependency-free (no pandas): the tracker imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

# 2: the metrics column. Files of every earlier version load as they are (missing columns are
# empty), so a bump never makes older files unreadable.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "str" | "float" | "int" | "bool" | "datetime"
    unit: str = ""
    description: str = ""


CODECARBON_COLUMNS: tuple[Column, ...] = (
    Column("timestamp", "datetime", "", "row written at (ISO 8601)"),
    Column("project_name", "str"),
    Column("run_id", "str", "", "unique per run (UUID)"),
    Column("experiment_id", "str"),
    Column("duration", "float", "s", "wall-clock duration of the run, monotonic clock"),
    Column("emissions", "float", "kg CO2eq"),
    Column("emissions_rate", "float", "kg CO2eq/s"),
    Column("cpu_power", "float", "W", "mean CPU power over the run"),
    Column("gpu_power", "float", "W", "mean GPU power over the run"),
    Column("ram_power", "float", "W", "mean RAM power over the run"),
    Column("cpu_energy", "float", "kWh"),
    Column("gpu_energy", "float", "kWh"),
    Column("ram_energy", "float", "kWh"),
    Column("energy_consumed", "float", "kWh", "cpu + gpu + ram, times PUE"),
    Column("water_consumed", "float", "L"),
    Column("country_name", "str"),
    Column("country_iso_code", "str", "", "ISO 3166-1 alpha-3"),
    Column("region", "str", "", "sub-national region, e.g. a US state or a Nordic zone"),
    Column("cloud_provider", "str"),
    Column("cloud_region", "str"),
    Column("os", "str"),
    Column("python_version", "str"),
    Column("codecarbon_version", "str", "", "kept for compatibility: holds the writer's version"),
    Column("cpu_count", "int"),
    Column("cpu_model", "str"),
    Column("gpu_count", "int"),
    Column("gpu_model", "str"),
    Column("longitude", "float", "deg"),
    Column("latitude", "float", "deg"),
    Column("ram_total_size", "float", "GB"),
    Column("tracking_mode", "str", "", "machine | process"),
    Column("cpu_utilization_percent", "float", "%"),
    Column("gpu_utilization_percent", "float", "%"),
    Column("ram_utilization_percent", "float", "%"),
    Column("ram_used_gb", "float", "GB"),
    Column("on_cloud", "str", "", "Y | N (CodeCarbon writes Y/N)"),
    Column("pue", "float", "", "power usage effectiveness applied"),
    Column("wue", "float", "L/kWh", "water usage effectiveness applied"),
)

OWN_COLUMNS: tuple[Column, ...] = (
    Column("carbon_intensity_g_co2e_kwh", "float", "gCO2e/kWh", "energy-weighted intensity used"),
    Column(
        "carbon_intensity_source",
        "str",
        "",
        "e.g. country:FRA, us-state:california, cloud:gcp:europe-west1, live:electricitymaps, "
        "forced, world-average",
    ),
    Column("carbon_intensity_year", "str", "", "data year of the intensity figure"),
    Column(
        "carbon_intensity_basis",
        "str",
        "",
        "what the figure counts: lifecycle | direct | operational, mixed:lifecycle+direct when "
        "the figures applied differ, empty when unknown (forced)",
    ),
    Column(
        "cpu_energy_method",
        "str",
        "",
        "rapl | powermetrics | tdp-model | tdp-model-vcpu-share | tdp-model-default | forced "
        "| none",
    ),
    Column(
        "gpu_energy_method",
        "str",
        "",
        "nvml-energy-counter | nvml-power-integration | powermetrics | none; an NVML method may "
        "carry +mig-share, +whole-board, +process-share, +whole-device, +gap (docs/power.md)",
    ),
    Column("ram_energy_method", "str", "", "ram-model | forced | none"),
    Column("status", "str", "", "finished | running | interrupted | crashed"),
    Column("schema_version", "int"),
    Column("hostname", "str", "", "the node: SLURM's node name, else the host name"),
    Column(
        "job_id",
        "str",
        "",
        "the cluster job: SLURM job id (array task as <job>_<task>), torchrun run id, or "
        "mpirun's PMIx namespace; empty outside a job",
    ),
    Column("rank", "int", "", "this process's rank in the job (torchrun, MPI or SLURM)"),
    Column("local_rank", "int", "", "its rank on this node"),
    Column("world_size", "int", "", "the job's number of ranks"),
    Column(
        "measurement_scope",
        "str",
        "",
        "what the energy figures cover: node (the whole machine) | process (this process's "
        "share) | none (another rank of the job measures this node)",
    ),
    Column(
        "metrics",
        "str",
        "",
        "what the run logged with log_metrics(): a JSON object of numbers, compact, sorted keys "
        '(e.g. {"accuracy":0.93,"tokens":300000}); empty when none',
    ),
)

COLUMNS: tuple[Column, ...] = CODECARBON_COLUMNS + OWN_COLUMNS
FIELDNAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

TASK_NAME_COLUMN = Column("task_name", "str", "", "the task within the run")
TASK_COLUMNS: tuple[Column, ...] = (TASK_NAME_COLUMN, *COLUMNS)
TASK_FIELDNAMES: tuple[str, ...] = tuple(c.name for c in TASK_COLUMNS)

STATUSES = ("finished", "running", "interrupted", "crashed")

# Columns a file must have for its rows to mean anything; everything else is optional.
REQUIRED_FIELDNAMES: tuple[str, ...] = (
    "timestamp",
    "project_name",
    "run_id",
    "duration",
    "emissions",
)

# Columns CodeCarbon added over time; a file lacking them is an older but valid file.
ADDED_IN_CODECARBON_2_4 = ("experiment_id",)
ADDED_IN_CODECARBON_3 = (
    "water_consumed",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "wue",
)


def column_kind(name: str) -> str:
    """The kind of a column; unknown (foreign) columns are kept as text."""
    column = BY_NAME.get(name) or (TASK_NAME_COLUMN if name == "task_name" else None)
    return column.kind if column else "str"


def is_tasks_header(fieldnames: list[str] | tuple[str, ...]) -> bool:
    """A tasks CSV has the same contract with a leading ``task_name``."""
    return bool(fieldnames) and fieldnames[0] == "task_name"


def merged_fieldnames(existing: list[str] | tuple[str, ...], wanted: tuple[str, ...]) -> list[str]:
    """The union of two headers: the existing order first, then wanted columns it lacks."""
    seen = set(existing)
    return [*existing, *(name for name in wanted if name not in seen)]
