"""Fanning a run's moments out to its outputs, each isolated from the others.

:class:`Outputs` calls every output in turn; an exception in one is logged once per output (with
its traceback) and never reaches the tracker, the user's program or the outputs after it.
:func:`as_output` accepts the two handler shapes a program may pass in ``output_handlers``: an
output of :mod:`tracker.output.base`, or a CodeCarbon-style handler with ``out(total, delta)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from tracker.emissions_data import EmissionsData, delta
from tracker.output.base import BaseOutput
from tracker.row import RunInfo

log = logging.getLogger(__name__)

MOMENTS = ("started", "progress", "live", "flushed", "task", "finished", "close")
_CODECARBON_METHODS = ("out", "live_out", "task_out", "exit")


class CodeCarbonHandler(BaseOutput):
    """A CodeCarbon ``BaseOutput`` subclass (or look-alike) driven by our moments, as CodeCarbon
    drives it: ``out(total, delta)`` on flush and stop, ``live_out(total, delta)`` every
    ``api_call_interval`` measures, ``task_out(tasks, experiment_name)`` with every task ended so
    far on flush and stop, and ``exit()`` last. ``delta`` is what the run added since the
    previous ``out`` or ``live_out``."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self._experiment_name: str | None = None
        self._previous: EmissionsData | None = None
        self._tasks: list[EmissionsData] = []

    def started(self, run: RunInfo) -> None:
        self._experiment_name = run.experiment_name

    def live(self, data: EmissionsData) -> None:
        self._send("live_out", data)

    def flushed(self, data: EmissionsData) -> None:
        self._send("out", data)
        self._send_tasks()

    def task(self, data: EmissionsData) -> None:
        self._tasks.append(data)

    def finished(self, data: EmissionsData) -> None:
        self.flushed(data)

    def close(self) -> None:
        method = getattr(self.handler, "exit", None)
        if callable(method):
            method()

    def _send(self, name: str, data: EmissionsData) -> None:
        method = getattr(self.handler, name, None)
        if callable(method):
            change = delta(data, self._previous)
            self._previous = data
            method(data, change)

    def _send_tasks(self) -> None:
        method = getattr(self.handler, "task_out", None)
        if callable(method) and self._tasks:
            method(list(self._tasks), self._experiment_name)


def as_output(handler: Any) -> BaseOutput:
    """``handler`` as an output: ours as it is, a CodeCarbon-style one wrapped. Raises
    ``TypeError`` for an object that is neither (a mistake better seen at construction)."""
    codecarbon_style = any(callable(getattr(handler, name, None)) for name in _CODECARBON_METHODS)
    if isinstance(handler, BaseOutput):
        # CodeCarbon's documented pattern, ported by its import line: a BaseOutput subclass
        # with ``out(total, delta)`` and none of our moments.
        if codecarbon_style and not _overrides_a_moment(handler):
            return CodeCarbonHandler(handler)
        return handler
    if codecarbon_style:
        return CodeCarbonHandler(handler)
    if any(callable(getattr(handler, name, None)) for name in MOMENTS):
        return handler  # duck-typed: implements some of our moments without subclassing
    raise TypeError(
        f"output handler {handler!r} implements none of {', '.join(MOMENTS)} "
        f"(nor CodeCarbon's {', '.join(_CODECARBON_METHODS)})"
    )


def _overrides_a_moment(output: BaseOutput) -> bool:
    return any(getattr(type(output), name) is not getattr(BaseOutput, name) for name in MOMENTS)


class Outputs:
    """Every output of a run; each call reaches every output, whatever the others do."""

    def __init__(self, outputs: Iterable[Any] = ()) -> None:
        self.outputs: list[Any] = list(outputs)
        self._failed: set[int] = set()

    def started(self, run: RunInfo) -> None:
        self._each("started", run)

    def progress(self, data: EmissionsData) -> None:
        self._each("progress", data)

    def live(self, data: EmissionsData) -> None:
        self._each("live", data)

    def flushed(self, data: EmissionsData) -> None:
        self._each("flushed", data)

    def task(self, data: EmissionsData) -> None:
        self._each("task", data)

    def finished(self, data: EmissionsData) -> None:
        self._each("finished", data)

    def close(self) -> None:
        self._each("close")

    def _each(self, moment: str, *args: object) -> None:
        for output in self.outputs:
            method = getattr(output, moment, None)
            if not callable(method):
                continue
            try:
                method(*args)
            except Exception:
                name = _name(output)
                if id(output) in self._failed:
                    log.debug("output %s failed again in %s()", name, moment, exc_info=True)
                else:
                    self._failed.add(id(output))
                    log.exception(
                        "output %s failed in %s(); the other outputs and your code continue",
                        name,
                        moment,
                    )


def _name(output: Any) -> str:
    inner = getattr(output, "handler", output) if isinstance(output, CodeCarbonHandler) else output
    return type(inner).__name__
