"""Helpers for the dashboard tests: realistic rows of the CSV contract, written to tmp paths."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from tracker.schema import FIELDNAMES, TASK_FIELDNAMES

REPO = Path(__file__).resolve().parents[2]
CODECARBON_FIXTURES = REPO / "tests" / "fixtures" / "codecarbon"
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)


def run_row(
    *,
    project: str = "nlp-bert",
    experiment: str = "bert-base",
    run_id: str | None = None,
    when: dt.datetime = START,
    duration_s: float = 3600.0,
    cpu_kwh: float = 0.05,
    gpu_kwh: float = 0.4,
    ram_kwh: float = 0.01,
    intensity_g_per_kwh: float = 56.0,
    country: tuple[str, str] = ("France", "FRA"),
    status: str = "finished",
    **overrides: object,
) -> dict:
    """One row as the tracker writes it; energy and emissions are consistent with each other."""
    energy_kwh = cpu_kwh + gpu_kwh + ram_kwh
    emissions_kg = energy_kwh * intensity_g_per_kwh / 1000
    row = {name: "" for name in FIELDNAMES}
    row.update(
        timestamp=when.isoformat(),
        project_name=project,
        run_id=str(uuid.uuid4()) if run_id is None else run_id,
        experiment_id=experiment,
        duration=duration_s,
        emissions=emissions_kg,
        emissions_rate=emissions_kg / duration_s,
        cpu_power=cpu_kwh * 3.6e6 / duration_s,
        gpu_power=gpu_kwh * 3.6e6 / duration_s,
        ram_power=ram_kwh * 3.6e6 / duration_s,
        cpu_energy=cpu_kwh,
        gpu_energy=gpu_kwh,
        ram_energy=ram_kwh,
        energy_consumed=energy_kwh,
        water_consumed=0.0,
        country_name=country[0],
        country_iso_code=country[1],
        os="Linux-6.8.0-x86_64",
        python_version="3.11.9",
        codecarbon_version="0.1.0",
        cpu_count=32,
        cpu_model="AMD EPYC 7543",
        gpu_count=1,
        gpu_model="1 x NVIDIA A100-SXM4-80GB",
        ram_total_size=256,
        tracking_mode="machine",
        on_cloud="N",
        pue=1.0,
        wue=0.0,
        carbon_intensity_g_co2e_kwh=intensity_g_per_kwh,
        carbon_intensity_source=f"country:{country[1]}",
        carbon_intensity_year="2023",
        cpu_energy_method="rapl",
        gpu_energy_method="nvml-energy-counter",
        ram_energy_method="ram-model",
        status=status,
        schema_version=1,
    )
    row.update(overrides)
    return row


def write_csv(path: Path, rows: Iterable[dict], fieldnames=FIELDNAMES, mode: str = "w") -> Path:
    """Write ``rows`` with the contract's header (appending without header when mode='a')."""
    with path.open(mode, newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fieldnames), extrasaction="ignore")
        if mode == "w":
            writer.writeheader()
        writer.writerows(rows)
    return path


def sample_history(directory: Path) -> tuple[Path, Path]:
    """Two projects, three experiments, a flushed (cumulative) run and a tasks file."""
    rows = []
    for day in range(20):
        when = START + dt.timedelta(days=day, hours=day % 5)
        rows.append(
            run_row(
                project="nlp-bert",
                experiment="bert-base",
                when=when,
                run_id=f"bert-{day:03d}",
                gpu_kwh=0.2 + day / 100,
            )
        )
        rows.append(
            run_row(
                project="vision-resnet",
                experiment="resnet50",
                when=when,
                run_id=f"resnet-{day:03d}",
                gpu_kwh=1.5,
                country=("Poland", "POL"),
                intensity_g_per_kwh=662.0,
            )
        )
    rows.append(
        run_row(
            project="nlp-bert",
            experiment="bert-large",
            run_id="large-000",
            when=START + dt.timedelta(days=21),
            gpu_kwh=2.0,
        )
    )
    # flush(): a cumulative row, then the final row of the same run
    rows.append(
        run_row(
            project="nlp-bert",
            experiment="bert-large",
            run_id="large-001",
            when=START + dt.timedelta(days=22),
            gpu_kwh=1.0,
            status="running",
        )
    )
    rows.append(
        run_row(
            project="nlp-bert",
            experiment="bert-large",
            run_id="large-001",
            when=START + dt.timedelta(days=22, hours=1),
            gpu_kwh=3.0,
        )
    )
    emissions = write_csv(directory / "emissions.csv", rows)
    tasks = [
        {**run_row(run_id="large-000", gpu_kwh=g, project="nlp-bert"), "task_name": name}
        for name, g in (("load-data", 0.1), ("train", 1.5), ("evaluate", 0.4))
    ]
    tasks_path = write_csv(directory / "emissions_tasks.csv", tasks, fieldnames=TASK_FIELDNAMES)
    return emissions, tasks_path


@pytest.fixture
def history_files(tmp_path: Path) -> tuple[Path, Path]:
    """A sample emissions CSV and tasks CSV in a fresh directory."""
    return sample_history(tmp_path)


@pytest.fixture(scope="module")
def module_history(tmp_path_factory) -> tuple[Path, Path]:
    """The sample history shared by a module's tests (for the module-scoped server)."""
    return sample_history(tmp_path_factory.mktemp("history"))


@pytest.fixture
def csv_writer() -> Callable[..., Path]:
    return write_csv


@pytest.fixture
def make_row() -> Callable[..., dict]:
    return run_row
