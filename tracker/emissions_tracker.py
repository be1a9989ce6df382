"""EmissionsTracker: measure a run's energy and emissions and hand its rows to its outputs.

The constructor, ``OfflineEmissionsTracker`` and ``track_emissions`` take every parameter of
CodeCarbon 3.3 under the same name, in the same order, and the methods return what CodeCarbon's
return (``stop()`` kg, ``stop_task()`` :class:`~tracker.emissions_data.EmissionsData`), so a
program written for CodeCarbon runs after changing its import. Creating a tracker validates its
settings (``ValueError``); after that nothing it does raises into the caller's code: failures are
logged once and the run goes on.

Rows are built once per moment by :func:`tracker.row.build_row` and given to every output
(:mod:`tracker.output.base`): the CSV file, a logger, an HTTP endpoint, the program's own
handlers. A new output plugs in through ``output_handlers`` without touching this class.
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
from types import FrameType, TracebackType
from typing import Any, TypeVar

from tracker import __version__, config
from tracker.emissions_data import EmissionsData
from tracker.intensity.provider import IntensityProvider
from tracker.jobs import SCOPE_NODE, SCOPE_NONE, JobContext, job_context, measurement_scope
from tracker.metrics import Metric, MetricsLog, clean_metrics
from tracker.node_lock import NodeLock, node_lock_file
from tracker.output.base import OutputMethod
from tracker.output.csv_output import CsvOutput
from tracker.output.handlers import Outputs, as_output
from tracker.output.logger import LoggerOutput
from tracker.output.summary import SummaryOutput
from tracker.power import PowerSource, combined_info, discover
from tracker.row import RunInfo, build_row
from tracker.run_lock import RunLock, lock_file
from tracker.sampler import Sampler, Totals, energy_methods

log = logging.getLogger("tracker")

F = TypeVar("F", bound=Callable[..., Any])
HANDLED_SIGNALS = ("SIGINT", "SIGTERM")
BYTES_PER_GB = 2**30
# CodeCarbon's logger: handlers a program put there also receive this tracker's messages.
CODECARBON_LOGGER = "codecarbon"
# CodeCarbon options for its hosted service and metrics back ends: accepted, reported, unused.
HOSTED_ONLY = (
    "api_endpoint",
    "api_key",
    "save_to_api",
    "save_to_logfire",
    "metadata",
    "country_2letter_iso_code",
)
# output_methods entries written here; the others are reported as ignored.
_WRITTEN_METHODS = {
    OutputMethod.CSV.value: "save_to_file",
    OutputMethod.LOGGER.value: "save_to_logger",
    OutputMethod.PROMETHEUS.value: "save_to_prometheus",
}
# The constructor's parameters that are not settings (:class:`tracker.config.Settings`); every
# other parameter is the setting of the same name, which the environment and config files can set
# too (tests/foundation/test_settings_params.py checks both ways).
CONSTRUCTOR_ONLY = (
    *HOSTED_ONLY,  # accepted, reported as ignored
    "output_methods",  # CodeCarbon's list, mapped onto save_to_file / _logger / _prometheus
    "logging_logger",  # an object: where save_to_logger writes
    "output_handlers",  # objects: the program's own outputs
    "co2_signal_api_token",  # electricitymaps_api_token's former name (config.ALIASES)
    "power_sources",  # for tests and embedding: replaces hardware discovery...
    "sysfs_root",  # ...reads this root instead of /...
    "nvml",  # ...with this NVML module...
    "environ",  # ...and this environment instead of os.environ
    "log_summary",  # front ends printing their own line (python -m tracker run, %%carbon) say no
)


@functools.cache
def _platform_name() -> str:
    """What CodeCarbon writes in ``os``; slow (it inspects the C library) so computed once."""
    return platform.platform()


class _CodeCarbonBridge(logging.Handler):
    """Passes the tracker's records (at the tracker's ``log_level``, and at the ``codecarbon``
    logger's level when the program set one) to the handlers a program attached to the
    ``codecarbon`` logger, so logging set up for CodeCarbon keeps working. Only that logger's own
    handlers: its ancestors (the root) already get the records by propagation."""

    def emit(self, record: logging.LogRecord) -> None:
        target = logging.getLogger(CODECARBON_LOGGER)
        if target.disabled or record.levelno < target.level:  # a level the program set there
            return
        for handler in target.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


_STDERR_HANDLER = logging.StreamHandler(sys.stderr)
# Once the program gives the codecarbon logger handlers, messages go there, not twice.
_STDERR_HANDLER.addFilter(lambda record: not logging.getLogger(CODECARBON_LOGGER).handlers)
_BRIDGE = _CodeCarbonBridge()

# Running trackers, in start order, with the thread that started each: the module-level
# log_metrics() finds the run it belongs to (see :func:`current_tracker`).
_RUNNING: list[tuple[EmissionsTracker, int]] = []
# Reentrant: a signal handler ending a run may take it while the main thread holds it.
_RUNNING_LOCK = threading.RLock()


class _MainThreadCalls:
    """Tracker calls in progress on the main thread, any tracker's: Python runs signal handlers
    there, between two steps of whatever it was doing. A signal that arrives during such a call
    is handled once the outermost one ends, so a handler never waits for a lock that the call
    it interrupted holds (a file's write lock, the metrics log): the program would hang."""

    def __init__(self) -> None:
        self.depth = 0
        self.deferred: int | None = None


_MAIN_THREAD_CALLS = _MainThreadCalls()
_PROCESS_LOGGED: set[str] = set()


def _configure_logging(level: str, preamble: str = "") -> None:
    """Show the tracker's messages at ``level`` (on stderr, unless the program set up logging),
    prefixed by ``preamble`` when given, and pass them on to the ``codecarbon`` logger."""
    log.setLevel(level.upper())
    prefix = f"[carbonboard %(levelname)s]{f'[{preamble}]' if preamble else ''}"
    _STDERR_HANDLER.setFormatter(logging.Formatter(f"{prefix} %(message)s"))
    if _BRIDGE not in log.handlers:
        log.addHandler(_BRIDGE)
    if _STDERR_HANDLER not in log.handlers and not _has_other_handlers():
        log.addHandler(_STDERR_HANDLER)


def _has_other_handlers() -> bool:
    """Whether the program set up a handler that would show the tracker's messages."""
    logger: logging.Logger | None = log
    while logger is not None:
        if any(h is not _BRIDGE for h in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return bool(logging.getLogger(CODECARBON_LOGGER).handlers)


def _log_level_name(level: int | str | None) -> str | None:
    """CodeCarbon also takes a ``logging`` level number (``logging.ERROR``)."""
    if isinstance(level, int) and not isinstance(level, bool):
        return logging.getLevelName(level).lower()
    return level


def _output_method_names(methods: Sequence[Any] | str) -> list[str]:
    """``output_methods`` as lower-case names: ``OutputMethod`` members (ours or CodeCarbon's),
    strings, or one comma-separated string (as in a config file)."""
    items = methods.split(",") if isinstance(methods, str) else list(methods)
    return [str(getattr(item, "value", item)).strip().lower() for item in items if item]


class EmissionsTracker:
    """Measures from ``start()`` to ``stop()`` (or a ``with`` block) and writes the run's row.

    The parameters are CodeCarbon 3.3's, in its order; those left ``None`` come from the
    environment, the config files, then the defaults (see :mod:`tracker.config`). Parameters for
    CodeCarbon's hosted service and metrics back ends (:data:`HOSTED_ONLY`) are accepted, reported
    once in a warning and otherwise ignored. ``output_handlers`` takes outputs of
    :mod:`tracker.output.base` or CodeCarbon-style handlers. Keyword-only extras: the location
    (``country_iso_code``, ``region``, ``cloud_provider``, ``cloud_region``, ``offline``, as
    :class:`OfflineEmissionsTracker` takes them), Prometheus metrics (``prometheus_port``,
    ``prometheus_host``, ``prometheus_textfile_dir``: :mod:`tracker.output.prometheus`) and,
    for tests and embedding, ``power_sources`` (replaces hardware discovery), ``sysfs_root`` and
    ``nvml`` (passed to it) and ``environ`` (replaces ``os.environ`` for settings, the fallback
    folder and the run lock). ``log_summary=False`` leaves out the run's INFO summary line, for
    front ends that print their own.
    """

    def __init__(
        self,
        project_name: str | None = None,
        measure_power_secs: float | None = None,
        api_call_interval: int | None = None,
        api_endpoint: str | None = None,
        api_key: str | None = None,
        output_dir: str | os.PathLike | None = None,
        output_file: str | None = None,
        output_methods: Sequence[Any] | str | None = None,
        save_to_file: bool | None = None,
        save_to_api: bool | None = None,
        save_to_logger: bool | None = None,
        logging_logger: Any = None,
        save_to_prometheus: bool | None = None,
        save_to_logfire: bool | None = None,
        prometheus_url: str | None = None,
        output_handlers: Sequence[Any] | None = None,
        gpu_ids: Sequence[int | str] | str | None = None,
        emissions_endpoint: str | None = None,
        experiment_id: str | None = None,
        experiment_name: str | None = None,
        electricitymaps_api_token: str | None = None,
        co2_signal_api_token: str | None = None,
        tracking_mode: str | None = None,
        log_level: int | str | None = None,
        on_csv_write: str | None = None,
        logger_preamble: str | None = None,
        force_cpu_power: float | None = None,
        force_ram_power: float | None = None,
        pue: float | None = None,
        wue: float | None = None,
        force_carbon_intensity_g_co2e_kwh: float | None = None,
        force_mode_cpu_load: bool | None = None,
        allow_multiple_runs: bool | None = None,
        rapl_include_dram: bool | None = None,
        rapl_prefer_psys: bool | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        *,
        country_iso_code: str | None = None,
        region: str | None = None,
        cloud_provider: str | None = None,
        cloud_region: str | None = None,
        country_2letter_iso_code: str | None = None,
        offline: bool | None = None,
        prometheus_port: int | None = None,
        prometheus_host: str | None = None,
        prometheus_textfile_dir: str | os.PathLike | None = None,
        database_url: str | None = None,
        power_sources: Sequence[PowerSource] | None = None,
        sysfs_root: str | os.PathLike = "/",
        nvml: object = None,
        environ: Mapping[str, str] | None = None,
        log_summary: bool = True,
    ) -> None:
        given = dict(locals())
        ignored = [name for name in HOSTED_ONLY if given[name] not in (None, False)]
        given["log_level"] = _log_level_name(log_level)
        if output_methods is not None:
            names = _output_method_names(output_methods)
            for method, setting in _WRITTEN_METHODS.items():
                given[setting] = method in names
            ignored += [f"output_methods={n}" for n in names if n not in _WRITTEN_METHODS]
        arguments = {
            name: value
            for name, value in given.items()
            if name in config.NAMES or name in config.ALIASES
        }
        self._environ = os.environ if environ is None else environ
        self._log_summary = log_summary
        self.settings = config.resolve(arguments, environ=self._environ)
        s = self.settings
        _configure_logging(s.log_level, s.logger_preamble)
        if ignored:
            log.warning(
                "ignored: %s (CodeCarbon's hosted service and metrics back ends are not part of "
                "this tracker; rows go to the CSV and the outputs you configure)",
                ", ".join(ignored),
            )
        self.outputs = Outputs(self._make_outputs(logging_logger, output_handlers or ()))
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
        self.experiment_name = s.experiment_name
        self._power_sources = power_sources
        self._sysfs_root = sysfs_root
        self._nvml = nvml
        self._state = "new"  # new -> running -> stopped, or new -> refused
        self._state_lock = threading.Lock()  # orders progress writes against the final row
        self._run_lock: RunLock | None = None
        self._node_lock: NodeLock | None = None
        self._run: RunInfo | None = None
        self._sampler: Sampler | None = None
        self._measures = 0  # since the last live update
        self._task: tuple[str, Totals] | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._owner_pid: int | None = None  # the process that started the run
        self._logged: set[str] = set()
        self._metrics = MetricsLog()
        self._hardware: dict[str, Any] | None = None  # what start() discovered
        self.final_emissions_data: EmissionsData | None = None
        self.final_emissions: float | None = None

    def _make_outputs(self, logging_logger: Any, handlers: Sequence[Any]) -> list[Any]:
        """The run's outputs, from the settings and the program's handlers."""
        s = self.settings
        outputs: list[Any] = [as_output(handler) for handler in handlers]
        if s.save_to_file:
            outputs.append(
                CsvOutput(s.output_path, environ=self._environ, on_csv_write=s.on_csv_write)
            )
        if s.save_to_logger:
            if isinstance(logging_logger, logging.Logger):
                outputs.append(LoggerOutput(logging_logger))
            elif logging_logger is not None:
                outputs.append(as_output(logging_logger))
            else:
                log.warning("save_to_logger needs logging_logger=LoggerOutput(your_logger)")
        if s.emissions_endpoint:
            from tracker.output.http import HttpOutput  # urllib: imported only when used

            outputs.append(HttpOutput(s.emissions_endpoint))
        if s.database_url:
            from tracker.db.output import PostgresOutput  # imported only when used

            outputs.append(PostgresOutput(s.database_url, environ=self._environ))
        if s.prometheus_port or s.prometheus_textfile_dir or s.save_to_prometheus:
            try:  # prometheus_client: an optional extra, imported only when used
                from tracker.output.prometheus import PrometheusOutput
            except ImportError as error:
                log.error("%s; this run has no Prometheus metrics", error)
            else:
                outputs.append(
                    PrometheusOutput(
                        port=s.prometheus_port,
                        host=s.prometheus_host,
                        textfile_dir=s.prometheus_textfile_dir,
                        push_url=s.prometheus_url if s.save_to_prometheus else None,
                    )
                )
        # Last: the run's one INFO line, once its row is written.
        if self._log_summary:
            outputs.append(SummaryOutput(log, s.output_path if s.save_to_file else None))
        return outputs

    @property
    def final_emissions_kg(self) -> float | None:
        """The run's emissions in kg CO2eq once stopped (CodeCarbon: ``final_emissions``)."""
        return self.final_emissions

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start measuring. Never raises, never waits for the network."""
        if self._state != "new":
            self._log_once("start", "this tracker has already been started: create a new one")
            return
        with self._work("start"):
            s = self.settings
            if not s.allow_multiple_runs and not self._take_run_lock():
                return
            job = job_context(self._environ)
            scope = measurement_scope(job, s.tracking_mode, lambda: self._win_node(job))
            started_at = time.monotonic()
            sources = self._power_sources
            if sources is None:  # every source measures from the run's start
                whole_node = scope == SCOPE_NODE and job.local_rank is not None
                sources = self._discover(lambda: started_at, whole_node=whole_node)
            self._provider.start()
            self._hardware = detected_hardware(sources, s.gpu_ids)
            self._run = self._run_info(self._hardware, sources, job, scope)
            if scope == SCOPE_NONE:
                log.info(
                    "job %s: another tracker measures node %s; this run records no energy",
                    job.job_id or "(no id)",
                    job.hostname,
                )
                _close(sources)  # they describe the hardware in the row; nothing is read
                sources = []
            self._sampler = Sampler(
                sources,
                intensity=self._provider.current,
                pue=s.pue,
                interval_s=s.measure_power_secs,
                on_interval=self._on_interval,
                started_at=started_at,
            )
            self.outputs.started(self._run)
            self._owner_pid = os.getpid()
            self._state = "running"
            with _RUNNING_LOCK:
                _RUNNING.append((self, threading.get_ident()))
            self._sampler.start()
            self._install_signal_handlers()
            atexit.register(self._at_exit)

    def get_detected_hardware(self) -> dict[str, Any]:
        """The hardware this tracker measures, as CodeCarbon 3.3's method of the same name gives
        it (see :func:`detected_hardware`): what ``start()`` discovered, else a discovery made
        now and closed at once. Never raises: on failure the values are ``None``."""
        if self._hardware is not None:
            return dict(self._hardware)
        with self._guard("get_detected_hardware"):
            if self._power_sources is not None:
                return detected_hardware(self._power_sources, self.settings.gpu_ids)
            sources = self._discover(time.monotonic)
            try:
                return detected_hardware(sources, self.settings.gpu_ids)
            finally:
                _close(sources)
        return dict.fromkeys(HARDWARE_KEYS)

    def _discover(self, clock: Callable[[], float], whole_node: bool = False) -> list[PowerSource]:
        """This machine's power sources, chosen by the settings (:func:`tracker.power.discover`).
        ``whole_node``: this rank measures the node for every rank of its job on it, so every GPU
        the driver shows is measured, whatever GPUs the launcher pinned this rank to with
        ``CUDA_VISIBLE_DEVICES`` (``srun --gpus-per-task``); ``gpu_ids`` still chooses."""
        s = self.settings
        environ = self._environ
        if whole_node and "CUDA_VISIBLE_DEVICES" in environ:
            environ = {k: v for k, v in environ.items() if k != "CUDA_VISIBLE_DEVICES"}
        return discover(
            tracking_mode=s.tracking_mode,
            gpu_ids=s.gpu_ids,
            force_cpu_power=s.force_cpu_power,
            force_ram_power=s.force_ram_power,
            sysfs_root=self._sysfs_root,
            nvml=self._nvml,
            clock=clock,
            environ=environ,
            force_mode_cpu_load=s.force_mode_cpu_load,
            rapl_include_dram=s.rapl_include_dram,
            rapl_prefer_psys=s.rapl_prefer_psys,
        )

    def stop(self) -> float | None:
        """Stop measuring and write the run's row; the run's emissions in kg CO2eq, or ``None``
        when the tracker never started. Never raises."""
        return self._finish("finished")

    def flush(self) -> float | None:
        """Write the run so far as a ``running`` row (same ``run_id``: appended, or replacing the
        run's row with ``on_csv_write="update"``); the emissions so far in kg CO2eq."""
        if self._state != "running" or self._sampler is None or self._forked_copy():
            return self.final_emissions
        with self._work("flush"):
            data = self._data(self._sampler.sample(), "running")
            self.outputs.flushed(data)
            return data.emissions
        return None

    def log_metrics(self, /, **values: object) -> None:
        """Record numbers about the run's useful work (``accuracy=0.93, tokens=300000``) in its
        ``metrics`` column; call it any time, as often as wanted: the last value of each key
        wins. While a task runs, the values also go to the task's row. A value that is not a
        finite number (``bool``, NaN, text...) is left out and named in one warning; nothing
        here raises into the program. Values logged after the run's row was written are not in
        it (one warning)."""
        with self._work("log_metrics"):
            accepted, refused = clean_metrics(values)
            if refused:
                self._warn_refused(refused)
            if self._state == "stopped" and accepted:
                self._log_once(
                    "log_metrics:stopped",
                    "log_metrics() after the run ended: its row is written, these values are not "
                    "in it",
                )
            self._metrics.record(accepted)

    def _warn_refused(self, refused: Mapping[str, str]) -> None:
        """One warning per refused key and tracker (a training loop logs the same bad value at
        every step); repeats at debug level."""
        new = {k: why for k, why in refused.items() if f"metric:{k}" not in self._logged}
        self._logged.update(f"metric:{k}" for k in new)
        if new:
            reasons = "; ".join(f"{key!r}: {why}" for key, why in sorted(new.items()))
            log.warning("log_metrics(): left out, metrics are numbers only: %s", reasons)
        else:
            log.debug("log_metrics(): left out again: %s", ", ".join(map(repr, refused)))

    def start_task(self, task_name: str | None = None) -> None:
        """Measure a named part of the run on its own (a UUID names it when ``task_name`` is
        empty); starts the tracker when needed; a task already running is stopped first."""
        if self._state == "new":
            self.start()
        if self._state != "running" or self._sampler is None or self._forked_copy():
            self._log_once("start_task", "start_task() needs a tracker that can run")
            return
        with self._work("start_task"):
            if self._task is not None:
                self._end_task("finished")
            self._task = (task_name or str(uuid.uuid4()), self._sampler.sample())
            self._metrics.task_started()

    def stop_task(self, task_name: str | None = None) -> EmissionsData | None:
        """End the current task (``task_name``, when given, must be its name) and write its row
        to the tasks file; its :class:`EmissionsData`, or ``None`` without a running task."""
        if self._task is None or task_name not in (None, self._task[0]) or self._forked_copy():
            self._log_once("stop_task", f"stop_task(): no running task {task_name or ''}".strip())
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

    def _take_run_lock(self) -> bool:
        """``allow_multiple_runs=False``: whether no other tracker runs on this machine. When one
        does, this tracker stays idle (CodeCarbon's behaviour) and says so."""
        lock = RunLock(lock_file(self._environ))
        if lock.acquire():
            self._run_lock = lock
            return True
        self._state = "refused"
        log.error(
            "another tracker is running on this machine (lock %s held) and "
            "allow_multiple_runs=False: this run is not tracked",
            lock.path,
        )
        return False

    def _win_node(self, job: JobContext) -> bool:
        """The node election (:mod:`tracker.node_lock`): whether this tracker is the first of
        ``job`` on its node, its lock held until the run ends. The lock sits beside the output,
        else in the temp folder; where neither can hold one, this tracker measures the node and
        says so (the board still de-duplicates the job's rows by node and time)."""
        folders = (self.settings.output_path.parent, lock_file(self._environ).parent)
        for folder in folders:
            lock = NodeLock(node_lock_file(folder, job.job_id, job.hostname))
            try:
                won = lock.acquire()
            except OSError as error:
                log.debug("no node election lock in %s: %s", folder, error)
                continue
            if won:
                self._node_lock = lock
            return won
        log.warning(
            "job %s: no node election lock could be created in %s; this tracker measures node %s "
            "whatever the job's other trackers do",
            job.job_id,
            " or ".join(map(str, folders)),
            job.hostname,
        )
        return True

    def _finish(self, status: str) -> float | None:
        """Stop with ``status`` ("finished", "interrupted", "crashed"): the run's emissions."""
        if self._forked_copy():
            return self.final_emissions
        with self._work("stop"):
            with self._state_lock:
                if self._state != "running" or self._sampler is None:
                    return self.final_emissions
                self._state = "stopped"  # from here on, no progress is written
            with _RUNNING_LOCK:
                _RUNNING[:] = [entry for entry in _RUNNING if entry[0] is not self]
            self._restore_signal_handlers()
            atexit.unregister(self._at_exit)
            try:
                totals = self._sampler.stop()
                self._provider.close()
                if self._task is not None:
                    self._end_task(status, totals)
                data = self._data(totals, status)
                self.final_emissions_data = data
                self.final_emissions = data.emissions
                self.outputs.finished(data)
                self.outputs.close()
            finally:
                if self._run_lock is not None:
                    self._run_lock.release()
                if self._node_lock is not None:
                    self._node_lock.release()
        return self.final_emissions

    def _end_task(self, status: str, totals: Totals | None = None) -> EmissionsData:
        assert self._task is not None and self._sampler is not None
        name, at_start = self._task
        self._task = None
        task_totals = (totals or self._sampler.sample()).since(at_start)
        data = self._data(task_totals, status, task_name=name, metrics=self._metrics.task_ended())
        self.outputs.task(data)
        return data

    def _on_interval(self, totals: Totals) -> None:
        """Called by the sampler each interval: the run so far to every output (a checkpoint,
        ``kill -9`` safety), and a live update every ``api_call_interval`` intervals."""
        with self._state_lock:
            if self._state != "running":
                return
            data = self._data(totals, "running")
            self.outputs.progress(data)
            self._measures += 1
            interval = self.settings.api_call_interval
            if interval != -1 and self._measures >= interval:
                self._measures = 0
                self.outputs.live(data)

    def _data(
        self,
        totals: Totals,
        status: str,
        task_name: str | None = None,
        metrics: Mapping[str, Metric] | None = None,
    ) -> EmissionsData:
        """The row for ``totals`` as handed to outputs and returned to the program; ``metrics``
        a task's own, the run's metrics so far when not given."""
        assert self._run is not None
        row = build_row(
            totals,
            self._run,
            place=self._provider.location(),
            current_intensity=self._provider.current(),
            status=status,
            timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            metrics=self._metrics.run() if metrics is None else metrics,
        )
        return EmissionsData.from_row(row, task_name=task_name)

    def _run_info(
        self,
        hardware: Mapping[str, Any],
        sources: Sequence[PowerSource],
        job: JobContext,
        scope: str,
    ) -> RunInfo:
        """What every row of this run shares, read once from the settings, the hardware, the
        sources and the job; a run that measures nothing (``scope`` "none") records no energy
        method."""
        s = self.settings
        return RunInfo(
            run_id=self.run_id,
            project_name=s.project_name,
            experiment_id=s.experiment_id,
            experiment_name=s.experiment_name,
            tracking_mode=s.tracking_mode,
            pue=s.pue,
            wue=s.wue,
            os=_platform_name(),
            python_version=platform.python_version(),
            writer_version=__version__,
            cpu_count=hardware["cpu_count"],
            cpu_model=hardware["cpu_model"],
            gpu_count=hardware["gpu_count"],
            gpu_model=hardware["gpu_model"],
            ram_total_gb=hardware["ram_total_size"],
            energy_methods={
                c: "none" if scope == SCOPE_NONE else method
                for c, method in energy_methods(sources).items()
            },
            job=job,
            measurement_scope=scope,
        )

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
        """A guarded operation; on the main thread, a signal is handled once it ends (see
        :class:`_MainThreadCalls`), so the handler never re-enters a write halfway done."""
        calls = _MAIN_THREAD_CALLS
        on_main_thread = threading.current_thread() is threading.main_thread()
        if on_main_thread:
            calls.depth += 1
        try:
            with self._guard(operation):
                yield
        finally:
            if on_main_thread:
                calls.depth -= 1
                if calls.depth == 0 and calls.deferred is not None:
                    deferred, calls.deferred = calls.deferred, None
                    signal.raise_signal(deferred)

    def _forked_copy(self) -> bool:
        """This process is a fork of the one running the tracker (a process pool's worker, a
        data loader's): the run, its rows and its locks are the parent's, and a copy never
        writes, ends or unlocks them."""
        return self._owner_pid is not None and os.getpid() != self._owner_pid

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
        """Do what would have happened without us, ending the run as ``interrupted`` when that
        ends the program: the program's own handler runs first, and only when it raises (a
        ``sys.exit``, a ``KeyboardInterrupt``) is the run ended; a program that handles the
        signal and goes on (a checkpoint on a pre-emption notice) keeps its run going. Without
        a handler of the program's, the row is written before the signal takes its default
        course. A forked copy of the tracker only passes the signal on."""
        if _MAIN_THREAD_CALLS.depth:
            _MAIN_THREAD_CALLS.deferred = number
            return
        # (``_finish`` does nothing in a forked copy.)
        previous = self._previous_handlers.get(number, signal.SIG_DFL)
        if getattr(previous, "__func__", None) is EmissionsTracker._on_signal:
            self._finish("interrupted")  # an outer run's tracker may end the process: first
            previous(number, frame)
            return
        if callable(previous):
            try:
                previous(number, frame)
            except BaseException:
                self._finish("interrupted")
                raise
            return
        self._finish("interrupted")
        if number == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(number, signal.SIG_DFL)
        signal.raise_signal(number)

    def _at_exit(self) -> None:
        self._finish("finished")


class OfflineEmissionsTracker(EmissionsTracker):
    """A tracker that never touches the network: the location comes from settings only
    (``country_iso_code``, ``region``, ``cloud_provider`` / ``cloud_region``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "offline": True})


def track_emissions(
    fn: F | None = None, *, offline: bool = False, **settings: Any
) -> F | Callable[[F], F]:
    """Decorator: each call of the function is a tracked run, ``@track_emissions`` or
    ``@track_emissions(project_name=..., ...)``. Settings are validated when decorating."""
    tracker_class = OfflineEmissionsTracker if offline else EmissionsTracker
    tracker_class(**settings)  # raises ValueError / TypeError now, not at the first call

    def decorate(func: F) -> F:
        return _measured_calls(func, lambda: tracker_class(**settings))

    return decorate(fn) if fn is not None else decorate


def _measured_calls(func: F, measure: Callable[[], contextlib.AbstractContextManager]) -> F:
    """``func`` with each call inside a new ``measure()`` context (a run, or a task); when that
    cannot be made (the environment changed since decoration), the call runs unmeasured."""

    @functools.wraps(func)
    def measured(*args: Any, **kwargs: Any) -> Any:
        try:
            context = measure()
        except Exception:
            log.exception("cannot track %s; running it untracked", func.__qualname__)
            return func(*args, **kwargs)
        with context:
            return func(*args, **kwargs)

    return measured  # type: ignore[return-value]


class TaskEmissionsTracker:
    """CodeCarbon's task context manager (``codecarbon.emissions_tracker``): the ``with`` block
    is the task ``task_name`` of ``tracker`` (:meth:`EmissionsTracker.start_task` /
    :meth:`~EmissionsTracker.stop_task`, so its row goes to the tasks file). Without a tracker,
    one is created with the settings of the environment and config files, and stopped when the
    block ends, as CodeCarbon does."""

    def __init__(self, task_name: str | None, tracker: EmissionsTracker | None = None) -> None:
        self.is_default_tracker = tracker is None
        self.tracker = EmissionsTracker() if tracker is None else tracker
        self.task_name = task_name

    def __enter__(self) -> TaskEmissionsTracker:
        self.tracker.start_task(self.task_name)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.tracker.stop_task()
        if self.is_default_tracker:
            self.tracker.stop()


def track_task_emissions(
    fn: F | None = None, tracker: EmissionsTracker | None = None, task_name: str = ""
) -> F | Callable[[F], F]:
    """CodeCarbon's task decorator (``codecarbon.emissions_tracker``): each call of the function
    is a task of ``tracker`` named ``task_name`` (a UUID when empty), its row in the tasks file.
    Without a tracker, each call gets its own, stopped when the call returns: CodeCarbon creates
    one when decorating and stops it after the first call, which leaves later calls unmeasured."""

    def decorate(func: F) -> F:
        return _measured_calls(func, lambda: TaskEmissionsTracker(task_name, tracker))

    return decorate(fn) if fn is not None else decorate


def current_tracker() -> EmissionsTracker | None:
    """The run that module-level :func:`log_metrics` records into: the innermost (last started)
    tracker still running that this thread started, else the last started in this process (so a
    worker thread of a decorated function reaches its run); ``None`` when none runs."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    this_thread = threading.get_ident()
    for tracker, thread in reversed(running):
        if thread == this_thread:
            return tracker
    return running[-1][0] if running else None


def log_metrics(**values: object) -> None:
    """``tracker.log_metrics(accuracy=0.93)`` without a handle on the tracker: for a function
    under ``@track_emissions``, or code called inside a ``with`` block. Records into
    :func:`current_tracker` (:meth:`EmissionsTracker.log_metrics`); with no tracker running,
    the values are dropped and one warning per process says so. Never raises."""
    try:
        tracker = current_tracker()
        if tracker is not None:
            tracker.log_metrics(**values)
        elif "no-tracker" not in _PROCESS_LOGGED:
            _PROCESS_LOGGED.add("no-tracker")
            log.warning("log_metrics(): no tracker is running in this process; values dropped")
    except Exception:
        log.debug("log_metrics() failed", exc_info=True)


def _status_after(exc: BaseException | None) -> str:
    """A ``with`` block's run status: Ctrl-C interrupts, an error crashes, ``exit(0)`` finishes."""
    if exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0)):
        return "finished"
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "crashed"


# CodeCarbon 3.3's get_detected_hardware() keys, in its order.
HARDWARE_KEYS = (
    "ram_total_size",
    "cpu_count",
    "cpu_physical_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "gpu_ids",
)


def detected_hardware(
    sources: Sequence[PowerSource], gpu_ids: Sequence[int | str] | None
) -> dict[str, Any]:
    """The hardware ``sources`` measure, under CodeCarbon's :data:`HARDWARE_KEYS`: installed RAM
    in GB, logical and physical CPUs, the CPU and GPU models as the row writes them ("2 x ..."),
    the GPUs measured, and the ``gpu_ids`` setting as a list (``None``: every GPU). The same
    figures fill the run's row."""
    import psutil

    cpu = combined_info(sources, "cpu")
    gpu = combined_info(sources, "gpu")
    return {
        "ram_total_size": _ram_total_gb(sources),
        "cpu_count": cpu.count or os.cpu_count(),
        "cpu_physical_count": psutil.cpu_count(logical=False),
        "cpu_model": cpu.model,
        "gpu_count": gpu.count,
        "gpu_model": gpu.model,
        "gpu_ids": None if gpu_ids is None else list(gpu_ids),
    }


def _ram_total_gb(sources: Sequence[PowerSource]) -> float:
    """Installed memory: as the RAM source describes it, else as psutil reports it."""
    for source in sources:
        total = source.info().extra.get("total_gb") if source.component == "ram" else None
        if total:
            return float(total)
    import psutil

    return psutil.virtual_memory().total / BYTES_PER_GB


def _close(sources: Sequence[PowerSource]) -> None:
    """Close sources that will not be read (best effort, as the sampler closes its own)."""
    for source in sources:
        try:
            source.close()
        except Exception as error:
            log.debug("closing %s source %s: %s", source.component, source.method, error)
