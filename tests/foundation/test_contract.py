"""The CSV contract: the example history conforms, and historical CodeCarbon headers map onto it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from tracker import schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "emissions.csv"
FIXTURES = ROOT / "tests" / "fixtures" / "codecarbon"


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_contract_starts_with_codecarbon_3_columns_in_order():
    header, _ = read_rows(FIXTURES / "codecarbon-3.3.2.csv")
    assert list(schema.FIELDNAMES[: len(header)]) == header
    assert len(set(schema.FIELDNAMES)) == len(schema.FIELDNAMES)
    assert schema.TASK_FIELDNAMES[0] == "task_name"
    assert schema.TASK_FIELDNAMES[1:] == schema.FIELDNAMES


def test_historical_headers_are_subsets_of_the_contract():
    for path in sorted(FIXTURES.glob("codecarbon-*.csv")):
        header, rows = read_rows(path)
        assert set(header) <= set(schema.FIELDNAMES), path.name
        assert rows, path.name
    old, _ = read_rows(FIXTURES / "codecarbon-2.2.7.csv")
    assert "experiment_id" not in old
    mid, _ = read_rows(FIXTURES / "codecarbon-2.8.4.csv")
    assert "experiment_id" in mid
    assert not set(schema.ADDED_IN_CODECARBON_3) & set(mid)


def test_example_history_conforms_to_the_contract():
    header, rows = read_rows(EXAMPLE)
    assert header == list(schema.FIELDNAMES)
    assert len(rows) >= 300
    assert len({r["project_name"] for r in rows}) >= 4
    assert len({r["country_iso_code"] for r in rows}) >= 5
    assert {r["cloud_provider"] for r in rows} >= {"aws", "gcp", "azure", ""}
    assert {r["region"] for r in rows if r["country_iso_code"] == "USA" and not r["cloud_provider"]}
    assert any(int(r["gpu_count"] or 0) > 1 for r in rows)
    assert any(int(r["gpu_count"] or 0) == 0 for r in rows)
    months = {r["timestamp"][:7] for r in rows}
    assert len(months) >= 4
    assert len({r["run_id"] for r in rows}) == len(rows)
    for row in rows:
        for name in schema.FIELDNAMES:
            kind = schema.column_kind(name)
            if kind in ("float", "int") and row[name] != "":
                assert math.isfinite(float(row[name])), (name, row[name])
        assert row["status"] in schema.STATUSES
        assert row["carbon_intensity_source"]


@pytest.mark.parametrize("tolerance", [1e-9])
def test_example_history_arithmetic_is_consistent(tolerance):
    _, rows = read_rows(EXAMPLE)
    for row in rows:
        f = {k: float(row[k]) for k in ("cpu_energy", "gpu_energy", "ram_energy")}
        energy = float(row["energy_consumed"])
        assert energy == pytest.approx(sum(f.values()), rel=tolerance)
        intensity = float(row["carbon_intensity_g_co2e_kwh"])
        emissions = float(row["emissions"])
        assert emissions == pytest.approx(energy * intensity / 1000, rel=tolerance)
        assert float(row["emissions_rate"]) == pytest.approx(
            emissions / float(row["duration"]), rel=tolerance
        )
        for component in ("cpu", "gpu", "ram"):
            power_w = float(row[f"{component}_power"])
            energy_kwh = float(row[f"{component}_energy"])
            assert energy_kwh == pytest.approx(
                power_w * float(row["duration"]) / 3.6e6, rel=1e-6, abs=1e-12
            )
