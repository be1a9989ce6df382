"""The output interface: where a run's rows go, one class per destination.

The tracker builds each row once (:func:`tracker.row.build_row`) and hands it, as
:class:`~tracker.emissions_data.EmissionsData`, to every output through the methods below. Every
method is optional (the defaults do nothing), so an output implements only the moments it cares
about. An output never has to guard itself: :class:`~tracker.output.handlers.Outputs` logs each
output's first failure once and carries on with the others, so a broken output can neither reach
the user's program nor stop the CSV from being written.

Moments, in the order a run produces them::

    started(run)        once, when measuring starts
    progress(data)      every measure_power_secs: the run so far (status "running")
    live(data)          every api_call_interval measures (CodeCarbon's live_out)
    flushed(data)       tracker.flush(): a row to keep, status "running"
    task(data)          stop_task(): a task's row, data.task_name set
    finished(data)      stop() / end of a ``with`` block: the final row
    close()             after finished, or when the program exits

CodeCarbon-style handlers (``out(total, delta)``, ``live_out``, ``task_out``, ``exit``) are
accepted too: :func:`as_output` wraps them.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.emissions_data import EmissionsData
    from tracker.row import RunInfo


class BaseOutput:
    """A destination for a run's rows. Subclass it and override the moments you need."""

    def started(self, run: RunInfo) -> None:
        """Measuring started: ``run`` holds what every row of the run shares."""

    def progress(self, data: EmissionsData) -> None:
        """The run so far, every measurement interval: for crash safety (a checkpoint)."""

    def live(self, data: EmissionsData) -> None:
        """The run so far, every ``api_call_interval`` intervals: for live dashboards."""

    def flushed(self, data: EmissionsData) -> None:
        """``tracker.flush()``: the run so far as a row to keep (status ``running``)."""

    def task(self, data: EmissionsData) -> None:
        """A task ended: its own row (``data.task_name``), measured from its start."""

    def finished(self, data: EmissionsData) -> None:
        """The run's final row: status ``finished``, ``interrupted`` or ``crashed``."""

    def close(self) -> None:
        """Release what the output holds (files, threads); called once, last."""


class OutputMethod(str, Enum):
    """CodeCarbon 3.3's names for its built-in outputs (``output_methods=[...]``). ``CSV``,
    ``LOGGER`` and ``PROMETHEUS`` (a Pushgateway) are written here; the others belong to services
    this tracker does not talk to, and are reported as ignored."""

    CSV = "csv"
    API = "api"
    LOGGER = "logger"
    PROMETHEUS = "prometheus"
    LOGFIRE = "logfire"
    BOAMPS = "boamps"
