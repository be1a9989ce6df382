"""Prometheus output: a run's energy, CO2 and power as metrics, scraped, written or pushed.

Three ways out, any together, all showing the same metrics from one private
``CollectorRegistry`` (never prometheus_client's global one, so a program's own metrics and
ours never mix):

- ``port``: ``/metrics`` served on ``host`` (``127.0.0.1`` unless widened) while the run lasts;
- ``textfile_dir``: ``carbonboard_<run_id>.prom`` rewritten atomically at every measurement, for
  node_exporter's textfile collector (batch jobs on cluster nodes come and go, the node stays);
- ``push_url``: a Pushgateway, pushed to on each live update, flush and at the end (CodeCarbon's
  ``save_to_prometheus`` / ``prometheus_url``).

Metrics (Prometheus naming: base units in the name, ``_total`` on counters), each labelled with
``project``, ``experiment`` and ``run_id`` so that runs side by side never collide::

    carbonboard_energy_joules_total{component="cpu|gpu|ram"}   counter
    carbonboard_emissions_grams_total                           counter, CO2eq
    carbonboard_power_watts{component="cpu|gpu|ram"}            gauge, mean over the last interval
    carbonboard_grid_intensity_grams_per_kwh                    gauge, CO2eq per kWh
    carbonboard_run_duration_seconds                            gauge
    carbonboard_run_info{cpu_method, gpu_method, ram_method, intensity_source, ...}  1

prometheus_client is an optional dependency (``pip install 'carbonboard[prometheus]'``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import prometheus_client
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        InfoMetricFamily,
        Metric,
    )
except ImportError as error:  # an optional extra: say which one
    raise ImportError(
        "the Prometheus output needs prometheus_client: pip install 'carbonboard[prometheus]'"
    ) from error

from tracker import __version__
from tracker.config import shown_url
from tracker.emissions_data import EmissionsData
from tracker.output.base import BaseOutput
from tracker.power.base import JOULES_PER_KWH
from tracker.row import COMPONENTS, RunInfo

log = logging.getLogger(__name__)

PREFIX = "carbonboard"
GRAMS_PER_KG = 1000.0
PUSH_JOB = "carbonboard"
PUSH_TIMEOUT_S = 5.0  # a slow gateway may delay the end of the run by this much, no more
LABELS = ("project", "experiment", "run_id")


class RunCollector:
    """The metrics of one run, built at each scrape from the latest row (so counters are the
    run's own totals, never re-added increments)."""

    def __init__(self) -> None:
        self.run: RunInfo | None = None
        self.data: EmissionsData | None = None

    def collect(self) -> Iterator[Metric]:
        run, data = self.run, self.data
        if run is None:
            return
        values = [run.project_name, run.experiment_id or "", run.run_id]
        energy = CounterMetricFamily(
            f"{PREFIX}_energy_joules",
            "Energy used by the run since it started, per component (PUE applied)",
            labels=["component", *LABELS],
        )
        power = GaugeMetricFamily(
            f"{PREFIX}_power_watts",
            "Mean power of each component over the last measurement interval",
            labels=["component", *LABELS],
        )
        for component in COMPONENTS:
            kwh = getattr(data, f"{component}_energy") if data else 0.0
            watts = getattr(data, f"{component}_power") if data else 0.0
            energy.add_metric([component, *values], kwh * JOULES_PER_KWH)
            power.add_metric([component, *values], watts)
        emissions = CounterMetricFamily(
            f"{PREFIX}_emissions_grams",
            "CO2-equivalent emitted by the run since it started",
            labels=list(LABELS),
        )
        emissions.add_metric(values, data.emissions * GRAMS_PER_KG if data else 0.0)
        duration = GaugeMetricFamily(
            f"{PREFIX}_run_duration_seconds", "Time since the run started", labels=list(LABELS)
        )
        duration.add_metric(values, data.duration if data else 0.0)
        yield from (energy, emissions, power, duration)
        intensity = data.carbon_intensity_g_co2e_kwh if data else None
        if intensity is not None:
            grid = GaugeMetricFamily(
                f"{PREFIX}_grid_intensity_grams_per_kwh",
                "Carbon intensity of the electricity in force (gCO2e per kWh)",
                labels=list(LABELS),
            )
            grid.add_metric(values, intensity)
            yield grid
        yield _info(run, data, values)


def _info(run: RunInfo, data: EmissionsData | None, values: list[str]) -> InfoMetricFamily:
    info = InfoMetricFamily(
        f"{PREFIX}_run",
        "How the run is measured: energy methods, grid intensity source and basis",
        labels=list(LABELS),
    )
    methods = {f"{c}_method": run.energy_methods.get(c, "none") for c in COMPONENTS}
    info.add_metric(
        values,
        {
            **methods,
            "intensity_source": data.carbon_intensity_source if data else "",
            "intensity_basis": data.carbon_intensity_basis if data else "",
            "tracking_mode": run.tracking_mode,
            "version": __version__,
        },
    )
    return info


class PrometheusOutput(BaseOutput):
    """Serves, writes and/or pushes the run's metrics (see the module docstring)."""

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        textfile_dir: str | os.PathLike | None = None,
        push_url: str | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.textfile_dir = Path(textfile_dir) if textfile_dir is not None else None
        self.push_url = push_url
        self.collector = RunCollector()
        self.registry = prometheus_client.CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)  # type: ignore[arg-type]
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._push_failed = False

    @property
    def textfile(self) -> Path | None:
        """The file node_exporter reads, once the run has started."""
        if self.textfile_dir is None or self.collector.run is None:
            return None
        return self.textfile_dir / f"{PREFIX}_{self.collector.run.run_id}.prom"

    def started(self, run: RunInfo) -> None:
        self.collector.run = run
        self._write_textfile()
        if self.port is not None:
            try:
                self._server, self._server_thread = prometheus_client.start_http_server(
                    self.port, addr=self.host, registry=self.registry
                )
            except OSError as error:  # port in use, address not here: the run goes on without
                log.error(
                    "cannot serve Prometheus metrics on %s:%s: %s", self.host, self.port, error
                )
                return
            log.info("Prometheus metrics on http://%s:%s/metrics", self.host, self.port)

    def progress(self, data: EmissionsData) -> None:
        self.collector.data = data
        self._write_textfile()

    def live(self, data: EmissionsData) -> None:
        self.collector.data = data
        self._push()

    def flushed(self, data: EmissionsData) -> None:
        self.progress(data)
        self._push()

    def finished(self, data: EmissionsData) -> None:
        self.flushed(data)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._server_thread is not None:
            self._server_thread.join(timeout=PUSH_TIMEOUT_S)
            self._server_thread = None

    def _write_textfile(self) -> None:
        path = self.textfile
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a temporary file in the same folder, then a rename: node_exporter never reads half
            prometheus_client.write_to_textfile(str(path), self.registry)

    def _push(self) -> None:
        if not self.push_url or self.collector.run is None:
            return
        try:
            prometheus_client.push_to_gateway(
                self.push_url,
                job=PUSH_JOB,
                registry=self.registry,
                grouping_key={"run_id": self.collector.run.run_id},
                timeout=PUSH_TIMEOUT_S,
            )
        except OSError as error:  # the gateway is down or unreachable: the run goes on
            if not self._push_failed:
                self._push_failed = True
                log.warning(
                    "cannot push metrics to the Prometheus gateway %s: %s (will retry each push)",
                    shown_url(_with_scheme(self.push_url)),
                    error,
                )


def _with_scheme(url: str) -> str:
    """``localhost:9091`` as prometheus_client reads it (``http://`` implied)."""
    return url if "://" in url else f"http://{url}"
