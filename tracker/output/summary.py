"""The one line a run logs at INFO when it ends: what it cost, and how that was found.

Everything else a normal run has to say (which power source each component uses, a geo-IP lookup
that failed) is logged at DEBUG, so a function decorated with ``@track_emissions`` and called in a
loop prints one line per call. The line names each component's energy method, so a user still
sees when a figure is an estimate (``cpu tdp-model-default``) without reading the details.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tracker.emissions_data import EmissionsData
from tracker.output.base import BaseOutput
from tracker.units import co2_text, duration_text, energy_text


def run_summary(data: EmissionsData) -> str:
    """``12.3 s, 0.41 Wh, 0.18 g CO2eq (country:FRA)``: duration, energy, emissions and where
    the grid intensity came from."""
    source = f" ({data.carbon_intensity_source})" if data.carbon_intensity_source else ""
    return (
        f"{duration_text(data.duration)}, {energy_text(data.energy_consumed)}, "
        f"{co2_text(data.emissions)}{source}"
    )


def summary_message(data: EmissionsData, destination: Path | None = None) -> str:
    """The run's INFO line: project, status, :func:`run_summary`, the energy method of each
    component and, when given, the file the row went to."""
    methods = ", ".join(
        f"{component} {method or 'none'}"
        for component, method in (
            ("cpu", data.cpu_energy_method),
            ("gpu", data.gpu_energy_method),
            ("ram", data.ram_energy_method),
        )
    )
    where = f" -> {destination}" if destination is not None else ""
    return f"{data.project_name} {data.status}: {run_summary(data)}; {methods}{where}"


class SummaryOutput(BaseOutput):
    """Logs :func:`summary_message` at INFO on ``logger`` for the run's final row (not for
    tasks, checkpoints or live updates)."""

    def __init__(self, logger: logging.Logger, destination: Path | None = None) -> None:
        self.logger = logger
        self.destination = destination

    def finished(self, data: EmissionsData) -> None:
        self.logger.info("%s", summary_message(data, self.destination))
