"""EmissionsTracker: measure a run's energy and emissions and append one row per run.

Parameter names follow CodeCarbon's, so switching is a one-line import change. Creating a tracker
validates its settings (``ValueError``); after that nothing it does raises into the caller's code:
failures are logged once and the run goes on.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import platform
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

from tracker import __version__, config, schema
from tracker.intensity.provider import IntensityProvider
from tracker.output import Checkpoint, append_with_fallback, format_value, recover_crashed
from tracker.power import JOULES_PER_KWH, PowerSource, combined_info, discover
from tracker.sampler import Sampler, Totals, intensity_source

log = logging.getLogger("tracker")

F = TypeVar("F", bound=Callable[..., Any])
HANDLED_SIGNALS = ("SIGINT", "SIGTERM")
BYTES_PER_GB = 2**30


def tasks_path(output_path: Path) -> Path:
    """Where task rows go: ``emissions.csv`` -> ``emissions_tasks.csv``, next to it."""
    return output_path.with_name(f"{output_path.stem}_tasks{output_path.suffix}")


@functools.cache
def _platform_name() -> str:
    """What CodeCarbon writes in ``os``; slow (it inspects the C library) so computed once."""
    return platform.platform()


def _configure_logging(level: str) -> None:
    """Show the tracker's messages at ``level``; a handler only when the program set up none."""
    log.setLevel(level.upper())
    if not log.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[carbonboard %(levelname)s] %(message)s"))
        log.addHandler(handler)


class EmissionsTracker:
    """Measures from ``start()`` to ``stop()`` (or a ``with`` block) and appends the run's row.

    Settings left ``None`` come from the environment, the config files, then the defaults (see
    :mod:`tracker.config`). Keyword-only extras, for tests and embedding: ``power_sources``
    replaces hardware discovery, ``sysfs_root`` and ``nvml`` are passed to it, and ``environ``
    replaces ``os.environ`` for settings and the fallback location.
    """

    def __init__(
        self,
        project_name: str | None = None,
        *,
        experiment_id: str | None = None,
        measure_power_secs: float | None = None,
        output_dir: str | os.PathLike | None = None,
        output_file: str | None = None,
        save_to_file: bool | None = None,
        gpu_ids: Sequence[int | str] | str | None = None,
        tracking_mode: str | None = None,
        log_level: str | None = None,
        pue: float | None = None,
        wue: float | None = None,
        force_cpu_power: float | None = None,
        force_ram_power: float | None = None,
        force_carbon_intensity_g_co2e_kwh: float | None = None,
        country_iso_code: str | None = None,
        region: str | None = None,
        cloud_provider: str | None = None,
        cloud_region: str | None = None,
        electricitymaps_api_token: str | None = None,
        offline: bool | None = None,
        power_sources: Sequence[PowerSource] | None = None,
        sysfs_root: str | os.PathLike = "/",
        nvml: object = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        arguments = {name: value for name, value in locals().items() if name in config.NAMES}
        self._environ = os.environ if environ is None else environ
        self.settings = config.resolve(arguments, environ=self._environ)
        _configure_logging(self.settings.log_level)
        s = self.settings
        self._provider = IntensityProvider(
            offline=s.offline,
            country_iso_code=s.country_iso_code,
            region=s.region,
            cloud_provider=s.cloud_provider,
            cloud_region=s.cloud_region,
            force_carbon_intensity_g_co2e_kwh=s.force_carbon_intensity_g_co2e_kwh,
            electricitymaps_api_token=s.electricitymaps_api_token,
        )
        self.run_id = str(uuid.uuid4())
        self.output_path = s.output_path
        self._power_sources = power_sources
        self._sysfs_root = sysfs_root
        self._nvml = nvml
        self._state = "new"  # new -> running -> stopped
        self._state_lock = threading.Lock()  # orders checkpoint writes against the final row
        self._sampler: Sampler | None = None
        self._checkpoint: Checkpoint | None = None
        self._task: tuple[str, Totals] | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._busy = False
        self._deferred_signal: int | None = None
        self._logged: set[str] = set()
        self.final_row: dict[str, object] | None = None
        self.final_emissions_kg: float | None = None

    @property
    def final_emissions(self) -> float | None:
        """CodeCarbon's name for :attr:`final_emissions_kg`."""
        return self.final_emissions_kg

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start measuring. Never raises, never waits for the network."""
        if self._state != "new":
            self._log_once("start", "this tracker has already been started: create a new one")
            return
        with self._guard("start"):
            s = self.settings
            started_at = time.monotonic()
            sources = self._power_sources
            if sources is None:
                sources = discover(
                    tracking_mode=s.tracking_mode,
                    gpu_ids=s.gpu_ids,
                    force_cpu_power=s.force_cpu_power,
                    force_ram_power=s.force_ram_power,
                    sysfs_root=self._sysfs_root,
                    nvml=self._nvml,
                    clock=lambda: started_at,  # every source measures from the run's start
                    environ=self._environ,
                )
            self._provider.start()
            self._sampler = Sampler(
                sources,
                intensity=self._provider.current,
                pue=s.pue,
                interval_s=s.measure_power_secs,
                on_interval=self._write_checkpoint,
                started_at=started_at,
            )
            if s.save_to_file:
                self._prepare_output()
            self._state = "running"
            self._sampler.start()
            self._install_signal_handlers()
            atexit.register(self._at_exit)

    def stop(self) -> float | None:
        """Stop measuring and append the run's row; the run's emissions in kg CO2eq, or ``None``
        when the tracker never started. Never raises."""
        return self._finish("finished")

    def flush(self) -> float | None:
        """Append the run so far as a ``running`` row (same ``run_id``; a reader keeps the latest
        row of a run); the emissions so far in kg CO2eq."""
        if self._state != "running" or self._sampler is None:
            return self.final_emissions_kg
        with self._work("flush"):
            row = self._row(self._sampler.sample(), "running")
            self._write(self.output_path, row, schema.FIELDNAMES)
            return float(row["emissions"])
        return None

    def start_task(self, task_name: str = "task") -> None:
        """Measure a named part of the run on its own; a task already running is stopped first."""
        if self._state != "running" or self._sampler is None:
            self._log_once("start_task", "start_task() needs a started tracker: call start()")
            return
        with self._work("start_task"):
            if self._task is not None:
                self._end_task("finished")
            self._task = (task_name, self._sampler.sample())

    def stop_task(self) -> float | None:
        """Append the current task's row to the tasks file; its emissions in kg CO2eq."""
        if self._task is None:
            self._log_once("stop_task", "stop_task() without a running task")
            return None
        with self._work("stop_task"):
            return self._end_task("finished")
        return None

    def __enter__(self) -> EmissionsTracker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._finish(_status_after(exc))

    # -- internals ---------------------------------------------------------------------------

    def _finish(self, status: str) -> float | None:
        """Stop with ``status`` ("finished", "interrupted", "crashed"): the run's emissions."""
        with self._work("stop"):
            with self._state_lock:
                if self._state != "running" or self._sampler is None:
                    return self.final_emissions_kg
                self._state = "stopped"  # from here on, no checkpoint is written
            self._restore_signal_handlers()
            atexit.unregister(self._at_exit)
            totals = self._sampler.stop()
            self._provider.close()
            if self._task is not None:
                self._end_task(status, totals)
            row = self._row(totals, status)
            self.final_row = row
            self.final_emissions_kg = float(row["emissions"])
            checkpoint = self._checkpoint
            if self.settings.save_to_file:
                then = checkpoint.remove if checkpoint is not None else None
                self._write(self.output_path, row, schema.FIELDNAMES, then=then)
        return self.final_emissions_kg

    def _end_task(self, status: str, totals: Totals | None = None) -> float:
        assert self._task is not None and self._sampler is not None
        name, at_start = self._task
        self._task = None
        row = self._row((totals or self._sampler.sample()).since(at_start), status)
        if self.settings.save_to_file:
            self._write(
                tasks_path(self.output_path), {"task_name": name, **row}, schema.TASK_FIELDNAMES
            )
        return float(row["emissions"])

    def _prepare_output(self) -> None:
        """Record dead runs left in this file as crashed, then open this run's checkpoint."""
        try:
            recover_crashed(self.output_path, schema.FIELDNAMES)
        except OSError as error:
            log.warning("cannot check %s for crashed runs: %s", self.output_path, error)
        self._checkpoint = Checkpoint(self.output_path, self.run_id)

    def _write_checkpoint(self, totals: Totals) -> None:
        """Called by the sampler each interval: persist the run so far (``kill -9`` safety)."""
        with self._state_lock:
            if self._state != "running" or self._checkpoint is None:
                return
            row = self._row(totals, "running")
            try:
                self._checkpoint.write({k: format_value(v) for k, v in row.items()})
            except OSError as error:
                self._log_once("checkpoint", f"cannot write {self._checkpoint.path}: {error}")

    def _write(
        self,
        path: Path,
        row: Mapping[str, object],
        fieldnames: Sequence[str],
        then: Callable[[], None] | None = None,
    ) -> None:
        append_with_fallback(path, row, fieldnames, environ=self._environ, then=then)

    def _row(self, totals: Totals, status: str) -> dict[str, object]:
        """The row for ``totals``: every column of the contract that this run can fill."""
        assert self._sampler is not None
        s = self.settings
        sources = self._sampler.sources
        place = self._provider.location()
        duration_s = totals.elapsed_s
        energy_kwh = {
            c: totals.energy_j.get(c, 0.0) / JOULES_PER_KWH for c in ("cpu", "gpu", "ram")
        }
        consumed_kwh = sum(energy_kwh.values()) * s.pue
        intensities = totals.intensities or (self._provider.current(),)
        g_per_kwh = (
            totals.emissions_g / consumed_kwh
            if consumed_kwh > 0
            else intensities[-1].g_co2e_per_kwh
        )
        emissions_kg = totals.emissions_g / 1000
        cpu = combined_info(sources, "cpu")
        gpu = combined_info(sources, "gpu")
        ram_total_gb = _ram_total_gb(sources)
        ram_percent = totals.utilization_percent("ram")
        row: dict[str, object] = {
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "project_name": s.project_name,
            "run_id": self.run_id,
            "experiment_id": s.experiment_id,
            "duration": duration_s,
            "emissions": emissions_kg,
            "emissions_rate": emissions_kg / duration_s if duration_s > 0 else 0.0,
            "water_consumed": consumed_kwh * s.wue,
            "energy_consumed": consumed_kwh,
            "country_name": place.country_name,
            "country_iso_code": place.country_iso_code,
            "region": place.region,
            "cloud_provider": place.cloud_provider,
            "cloud_region": place.cloud_region,
            "os": _platform_name(),
            "python_version": platform.python_version(),
            "codecarbon_version": __version__,
            "cpu_count": cpu.count or os.cpu_count(),
            "cpu_model": cpu.model,
            "gpu_count": gpu.count,
            "gpu_model": gpu.model,
            "longitude": place.longitude,
            "latitude": place.latitude,
            "ram_total_size": ram_total_gb,
            "tracking_mode": s.tracking_mode,
            "cpu_utilization_percent": totals.utilization_percent("cpu"),
            "gpu_utilization_percent": totals.utilization_percent("gpu"),
            "ram_utilization_percent": ram_percent,
            "ram_used_gb": None if ram_percent is None else ram_percent / 100 * ram_total_gb,
            "on_cloud": "Y" if place.on_cloud else "N",
            "pue": s.pue,
            "wue": s.wue,
            "carbon_intensity_g_co2e_kwh": g_per_kwh,
            "carbon_intensity_source": intensity_source(intensities),
            "carbon_intensity_year": intensities[-1].year,
            "status": status,
            "schema_version": schema.SCHEMA_VERSION,
        }
        for component, kwh in energy_kwh.items():
            row[f"{component}_energy"] = kwh
            row[f"{component}_power"] = kwh * JOULES_PER_KWH / duration_s if duration_s > 0 else 0.0
            row[f"{component}_energy_method"] = _methods(sources, component)
        return row

    # -- errors and signals ------------------------------------------------------------------

    def _log_once(self, key: str, message: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(message)

    @contextlib.contextmanager
    def _guard(self, operation: str) -> Iterator[None]:
        """Swallow (and log, once per operation) any error: tracking never breaks user code."""
        try:
            yield
        except Exception:
            if operation in self._logged:
                log.debug("%s failed again", operation, exc_info=True)
            else:
                self._logged.add(operation)
                log.exception("tracker %s() failed; your code continues", operation)

    @contextlib.contextmanager
    def _work(self, operation: str) -> Iterator[None]:
        """A guarded operation during which a signal is deferred until the operation ends, so the
        handler never re-enters a write (and its file lock) that is halfway done."""
        self._busy = True
        try:
            with self._guard(operation):
                yield
        finally:
            self._busy = False
            deferred, self._deferred_signal = self._deferred_signal, None
            if deferred is not None:
                signal.raise_signal(deferred)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for name in HANDLED_SIGNALS:
            number = getattr(signal, name, None)
            # An ignored signal stays ignored; a handler set outside Python cannot be chained.
            if number is not None and signal.getsignal(number) not in (signal.SIG_IGN, None):
                self._previous_handlers[number] = signal.signal(number, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # the handler stays, and only passes signals on once the run is over
        for number, previous in self._previous_handlers.items():
            if signal.getsignal(number) == self._on_signal:
                signal.signal(number, previous)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        """Write the row as ``interrupted``, then do what would have happened without us."""
        if self._busy:
            self._deferred_signal = number
            return
        self._finish("interrupted")
        previous = self._previous_handlers.get(number, signal.SIG_DFL)
        if callable(previous):
            previous(number, frame)
        elif number == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            signal.signal(number, signal.SIG_DFL)
            signal.raise_signal(number)

    def _at_exit(self) -> None:
        self._finish("finished")


class OfflineEmissionsTracker(EmissionsTracker):
    """A tracker that never touches the network: the location comes from settings only
    (``country_iso_code``, ``region``, ``cloud_provider`` / ``cloud_region``)."""

    def __init__(self, project_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(project_name, **{**kwargs, "offline": True})


def track_emissions(
    fn: F | None = None, *, offline: bool = False, **settings: Any
) -> F | Callable[[F], F]:
    """Decorator: each call of the function is a tracked run, ``@track_emissions`` or
    ``@track_emissions(project_name=..., ...)``. Settings are validated when decorating."""
    tracker_class = OfflineEmissionsTracker if offline else EmissionsTracker
    tracker_class(**settings)  # raises ValueError / TypeError now, not at the first call

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            try:
                tracker = tracker_class(**settings)
            except Exception:  # the environment changed since decoration: run untracked
                log.exception("cannot track %s; running it untracked", func.__qualname__)
                return func(*args, **kwargs)
            with tracker:
                return func(*args, **kwargs)

        return tracked  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def _status_after(exc: BaseException | None) -> str:
    """A ``with`` block's run status: Ctrl-C interrupts, an error crashes, ``exit(0)`` finishes."""
    if exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0)):
        return "finished"
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "crashed"


def _ram_total_gb(sources: Sequence[PowerSource]) -> float:
    """Installed memory: as the RAM source describes it, else as psutil reports it."""
    for source in sources:
        total = source.info().extra.get("total_gb") if source.component == "ram" else None
        if total:
            return float(total)
    import psutil

    return psutil.virtual_memory().total / BYTES_PER_GB


def _methods(sources: Sequence[PowerSource], component: str) -> str:
    methods = dict.fromkeys(s.method for s in sources if s.component == component)
    return "+".join(methods) or "none"
