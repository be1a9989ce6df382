"""Generate ``examples/emissions.csv``: a realistic, arithmetically consistent run history.

Several projects and experiments, CPU-only and multi-GPU runs, on-premise sites in several
countries and US states, and cloud runs on AWS, GCP and Azure, spread over months. Intensities come
from the tracker's bundled grid data (the same lookup the tracker uses), and every row satisfies:

    energy_consumed = cpu_energy + gpu_energy + ram_energy      (kWh, PUE 1.0)
    emissions       = energy_consumed x intensity / 1000        (kg CO2eq)
    emissions_rate  = emissions / duration                      (kg/s)

Most projects' runs log metrics (``metrics``: work done and a quality figure that improves with
the run's length, with noise), so the efficiency view has units, a Pareto front and dominated
runs to show; the others log none.

Run ``python examples/generate_history.py [--out PATH] [--seed N]``; the output is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tracker import __version__, intensity, schema
from tracker.metrics import encode_metrics
from tracker.power import JOULES_PER_KWH

HERE = Path(__file__).resolve().parent
RAM_W_PER_GB = 0.375  # the tracker's RAM model: 3 W per 8 GB


@dataclass(frozen=True)
class Site:
    country_iso_code: str
    country_name: str
    region: str = ""
    cloud_provider: str = ""
    cloud_region: str = ""
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cpu_count: int
    cpu_tdp_w: float
    cpu_method: str
    ram_gb: float
    gpu_model: str = ""
    gpu_count: int = 0
    gpu_w: float = 0.0  # typical board power under training load


@dataclass(frozen=True)
class Experiment:
    project: str
    name: str
    site: Site
    machine: Machine
    runs: int
    hours: tuple[float, float]  # duration range of one run
    load: tuple[float, float]  # CPU utilisation range, fraction


SITES = {
    "paris-lab": Site("FRA", "France", latitude=48.86, longitude=2.35),
    "berlin-hpc": Site("DEU", "Germany", latitude=52.52, longitude=13.40),
    "warsaw-ws": Site("POL", "Poland", latitude=52.23, longitude=21.01),
    "stockholm": Site("SWE", "Sweden", region="SE3", latitude=59.33, longitude=18.07),
    "bay-area": Site("USA", "United States", region="california", latitude=37.77, longitude=-122.4),
    "austin": Site("USA", "United States", region="texas", latitude=30.27, longitude=-97.74),
    "montreal": Site("CAN", "Canada", region="quebec", latitude=45.50, longitude=-73.57),
    "toronto": Site("CAN", "Canada", region="ontario", latitude=43.65, longitude=-79.38),
    "bangalore": Site("IND", "India", latitude=12.97, longitude=77.59),
    "gcp-belgium": Site("BEL", "Belgium", cloud_provider="gcp", cloud_region="europe-west1"),
    "gcp-iowa": Site("USA", "United States", "iowa", "gcp", "us-central1"),
    "aws-virginia": Site("USA", "United States", "virginia", "aws", "us-east-1"),
    "aws-ireland": Site("IRL", "Ireland", cloud_provider="aws", cloud_region="eu-west-1"),
    "azure-netherlands": Site(
        "NLD", "Netherlands", cloud_provider="azure", cloud_region="westeurope"
    ),
}

MACHINES = {
    "laptop": Machine("Intel(R) Core(TM) i7-1185G7 @ 3.00GHz", 8, 28, "rapl", 32),
    "workstation": Machine(
        "AMD Ryzen 9 5950X 16-Core Processor",
        32,
        105,
        "rapl",
        128,
        "NVIDIA GeForce RTX 3090",
        1,
        300,
    ),
    "dgx": Machine(
        "AMD EPYC 7742 64-Core Processor", 256, 225, "rapl", 1024, "NVIDIA A100-SXM4-80GB", 8, 330
    ),
    "cloud-gpu": Machine(
        "Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz",
        96,
        240,
        "tdp-model",
        1152,
        "NVIDIA A100-SXM4-40GB",
        8,
        310,
    ),
    "cloud-t4": Machine(
        "Intel(R) Xeon(R) CPU @ 2.20GHz", 8, 120, "tdp-model", 30, "Tesla T4", 1, 60
    ),
    "cloud-cpu": Machine("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", 16, 270, "tdp-model", 64),
    "cpu-node": Machine("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 80, 150, "rapl", 384),
}

EXPERIMENTS = (
    Experiment(
        "nlp-bert",
        "pretrain-base",
        SITES["gcp-belgium"],
        MACHINES["cloud-gpu"],
        24,
        (2, 9),
        (0.3, 0.6),
    ),
    Experiment(
        "nlp-bert",
        "finetune-glue",
        SITES["gcp-iowa"],
        MACHINES["cloud-t4"],
        60,
        (0.2, 1.5),
        (0.4, 0.8),
    ),
    Experiment(
        "nlp-bert",
        "distill-small",
        SITES["paris-lab"],
        MACHINES["workstation"],
        30,
        (0.5, 3),
        (0.3, 0.7),
    ),
    Experiment(
        "vision-resnet",
        "imagenet-r50",
        SITES["berlin-hpc"],
        MACHINES["dgx"],
        20,
        (3, 14),
        (0.2, 0.5),
    ),
    Experiment(
        "vision-resnet",
        "augment-sweep",
        SITES["warsaw-ws"],
        MACHINES["workstation"],
        45,
        (0.3, 2),
        (0.4, 0.9),
    ),
    Experiment(
        "vision-resnet",
        "eval-cpu",
        SITES["stockholm"],
        MACHINES["cpu-node"],
        30,
        (0.1, 0.8),
        (0.6, 1.0),
    ),
    Experiment(
        "llm-finetune",
        "lora-7b",
        SITES["aws-virginia"],
        MACHINES["cloud-gpu"],
        18,
        (4, 20),
        (0.2, 0.4),
    ),
    Experiment(
        "llm-finetune",
        "lora-7b-eu",
        SITES["aws-ireland"],
        MACHINES["cloud-gpu"],
        12,
        (4, 20),
        (0.2, 0.4),
    ),
    Experiment(
        "llm-finetune", "eval-harness", SITES["bay-area"], MACHINES["dgx"], 25, (0.5, 4), (0.3, 0.6)
    ),
    Experiment(
        "recsys",
        "feature-pipeline",
        SITES["azure-netherlands"],
        MACHINES["cloud-cpu"],
        50,
        (0.2, 2),
        (0.5, 0.95),
    ),
    Experiment(
        "recsys", "two-tower", SITES["austin"], MACHINES["workstation"], 30, (1, 6), (0.3, 0.6)
    ),
    Experiment(
        "climate-sim",
        "ensemble-cpu",
        SITES["toronto"],
        MACHINES["cpu-node"],
        35,
        (2, 12),
        (0.8, 1.0),
    ),
    Experiment(
        "climate-sim",
        "downscaling",
        SITES["montreal"],
        MACHINES["cpu-node"],
        25,
        (1, 8),
        (0.7, 1.0),
    ),
    Experiment(
        "speech-asr",
        "whisper-finetune",
        SITES["bangalore"],
        MACHINES["workstation"],
        28,
        (1, 10),
        (0.3, 0.6),
    ),
    Experiment(
        "speech-asr", "notebook", SITES["paris-lab"], MACHINES["laptop"], 20, (0.05, 1), (0.2, 0.7)
    ),
)

# What each project's runs log with log_metrics(): (unit of work, its rate per GPU-or-CPU-hour),
# and (quality metric, value after a 1-hour run, gain per doubling of the run's length).
# Projects absent here log nothing, as most runs in practice.
METRICS = {
    "nlp-bert": (("tokens", 4.0e7), ("accuracy", 0.84, 0.015)),
    "llm-finetune": (("tokens", 1.2e7), ("loss", 1.9, -0.08)),
    "vision-resnet": (("images", 9.0e5), ("accuracy", 0.70, 0.02)),
    "speech-asr": (("samples", 2.0e5), ("wer", 0.18, -0.01)),
}

START = datetime(2026, 6, 1, tzinfo=timezone.utc)
SPAN_DAYS = 175


def make_run(experiment: Experiment, experiment_id: str, rng: random.Random) -> dict[str, str]:
    """One run (a few crash or are interrupted); every figure derives from the machine model."""
    site, machine = experiment.site, experiment.machine
    duration_s = round(rng.uniform(*experiment.hours) * 3600, 3)
    cpu_load = rng.uniform(*experiment.load)
    cpu_power_w = machine.cpu_tdp_w * (0.1 + 0.9 * cpu_load)
    gpu_util = rng.uniform(0.6, 0.98) if machine.gpu_count else 0.0
    gpu_power_w = machine.gpu_count * machine.gpu_w * (0.25 + 0.75 * gpu_util)
    ram_power_w = machine.ram_gb * RAM_W_PER_GB
    cpu_kwh, gpu_kwh, ram_kwh = (
        p * duration_s / JOULES_PER_KWH for p in (cpu_power_w, gpu_power_w, ram_power_w)
    )
    energy_kwh = cpu_kwh + gpu_kwh + ram_kwh
    grid = intensity.lookup(
        country=site.country_iso_code,
        region=site.region or None,
        cloud_provider=site.cloud_provider or None,
        cloud_region=site.cloud_region or None,
    )
    emissions_kg = energy_kwh * grid.g_co2e_per_kwh / 1000
    ended = START + timedelta(days=rng.uniform(0, SPAN_DAYS))
    status = rng.choices(("finished", "crashed", "interrupted"), weights=(94, 3, 3))[0]
    values: dict[str, object] = {
        "timestamp": ended.isoformat(timespec="seconds"),
        "project_name": experiment.project,
        "run_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "experiment_id": experiment_id,
        "duration": duration_s,
        "emissions": emissions_kg,
        "emissions_rate": emissions_kg / duration_s,
        "cpu_power": cpu_power_w,
        "gpu_power": gpu_power_w,
        "ram_power": ram_power_w,
        "cpu_energy": cpu_kwh,
        "gpu_energy": gpu_kwh,
        "ram_energy": ram_kwh,
        "energy_consumed": energy_kwh,
        "water_consumed": 0.0,
        "country_name": site.country_name,
        "country_iso_code": site.country_iso_code,
        "region": site.region,
        "cloud_provider": site.cloud_provider,
        "cloud_region": site.cloud_region,
        "os": "Linux-6.8.0-x86_64-with-glibc2.39",
        "python_version": "3.11.9",
        "codecarbon_version": __version__,
        "cpu_count": machine.cpu_count,
        "cpu_model": machine.cpu_model,
        "gpu_count": machine.gpu_count,
        "gpu_model": f"{machine.gpu_count} x {machine.gpu_model}" if machine.gpu_count else "",
        "longitude": "" if site.longitude is None else site.longitude,
        "latitude": "" if site.latitude is None else site.latitude,
        "ram_total_size": machine.ram_gb,
        "tracking_mode": "machine",
        "cpu_utilization_percent": round(cpu_load * 100, 1),
        "gpu_utilization_percent": round(gpu_util * 100, 1) if machine.gpu_count else "",
        "ram_utilization_percent": round(rng.uniform(20, 70), 1),
        "ram_used_gb": round(machine.ram_gb * rng.uniform(0.2, 0.7), 2),
        "on_cloud": "Y" if site.cloud_provider else "N",
        "pue": 1.0,
        "wue": 0.0,
        "carbon_intensity_g_co2e_kwh": grid.g_co2e_per_kwh,
        "carbon_intensity_source": grid.source,
        "carbon_intensity_year": grid.year,
        "carbon_intensity_basis": grid.basis,
        "cpu_energy_method": machine.cpu_method,
        "gpu_energy_method": "nvml-energy-counter" if machine.gpu_count else "none",
        "ram_energy_method": "ram-model",
        "status": status,
        "schema_version": schema.SCHEMA_VERSION,
        # Single-process runs: no cluster job, the tracker measured the whole machine.
        "hostname": "",
        "job_id": "",
        "rank": "",
        "local_rank": "",
        "world_size": "",
        "measurement_scope": "node",
    }
    values["metrics"] = run_metrics(experiment, machine, duration_s, str(values["run_id"]))
    return {name: str(values[name]) for name in schema.FIELDNAMES}


def run_metrics(experiment: Experiment, machine: Machine, duration_s: float, run_id: str) -> str:
    """The run's metrics cell, drawn from a generator seeded by the run id, so the rest of the
    history is the same with or without metrics. Crashed runs still log their work so far."""
    spec = METRICS.get(experiment.project)
    if spec is None:
        return ""
    (unit, per_hour), (quality, at_one_hour, per_doubling) = spec
    rng = random.Random(run_id)
    hours = duration_s / 3600
    work = per_hour * max(machine.gpu_count, 1) * hours * rng.uniform(0.7, 1.1)
    score = at_one_hour + per_doubling * math.log2(hours) + rng.gauss(0, abs(per_doubling))
    return encode_metrics({unit: int(work), quality: round(score, 4)})


def generate(seed: int = 2026) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for experiment in EXPERIMENTS:
        rows.extend(make_run(experiment, experiment.name, rng) for _ in range(experiment.runs))
    rows.sort(key=lambda row: row["timestamp"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "emissions.csv")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rows = generate(args.seed)
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=schema.FIELDNAMES, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} runs to {args.out}")


if __name__ == "__main__":
    main()
