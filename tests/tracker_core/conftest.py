"""Shared helpers for the tracker core: steady power sources, a private environment, CSV reading.

Power sources here are real ``PowerSource`` subclasses handed to the tracker through its
``power_sources`` argument, so the tests do not depend on this machine's hardware; the
environment passed as ``environ`` keeps the host's settings and home folder out of the tests.
Test modules reach the helpers through the ``kit`` fixture (tests are imported by path).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tracker.power.base import DeviceInfo, PowerSource

ROOT = Path(__file__).resolve().parents[2]


class SteadySource(PowerSource):
    """A device drawing ``power_w`` steadily at ``percent`` load: energy = power x elapsed time."""

    max_safe_interval_s = None

    def __init__(
        self,
        component: str,
        power_w: float,
        *,
        percent: float | None = None,
        model: str = "",
        count: int = 1,
        extra: dict[str, str] | None = None,
        method: str = "steady",
        now: float | None = None,
    ) -> None:
        self.component = component
        self.method = method
        self.power_w = power_w
        self._percent = percent
        self._device = DeviceInfo(model=model, count=count, extra=extra or {})
        self._last = time.monotonic() if now is None else now

    def read_energy_j(self, now: float) -> float:
        elapsed_s, self._last = max(0.0, now - self._last), now
        return self.power_w * elapsed_s

    def info(self) -> DeviceInfo:
        return self._device

    def utilization_percent(self) -> float | None:
        return self._percent


def steady_sources() -> list[PowerSource]:
    """A 40 W CPU at 50 %, two 100 W GPUs at 90 %, 6 W of RAM at 25 % of 16 GB."""
    return [
        SteadySource("cpu", 40.0, percent=50.0, model="Test CPU", count=8),
        SteadySource("gpu", 100.0, percent=90.0, model="Test GPU", method="counter"),
        SteadySource("gpu", 100.0, percent=90.0, model="Test GPU", method="counter"),
        SteadySource("ram", 6.0, percent=25.0, extra={"total_gb": "16.000"}, method="model"),
    ]


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """An environment with a private home and state folder, and no carbonboard settings."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state")}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder for the test: where project config files are looked for."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a child Python that imports the tracker from this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARBONBOARD_", "CODECARBON_"))}
    env.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"))
    return env


def run_python(code: str, tmp_path: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above, for test modules."""
    return SimpleNamespace(
        ROOT=ROOT,
        SteadySource=SteadySource,
        steady_sources=steady_sources,
        read_rows=read_rows,
        subprocess_env=subprocess_env,
        run_python=run_python,
    )
