"""Metrics a run logs about its useful work (``accuracy=0.93``, ``tokens=300000``).

A run's metrics are what lets the board say whether its emissions were worth it (CO2 per 1,000
tokens, emissions vs accuracy). They are numbers only: a flag, a string, NaN or an infinity has no
per-unit or Pareto meaning, so such a value is refused here (and named in one warning by the
caller) instead of being written and breaking every reader. The ``metrics`` cell holds them as one
compact JSON object with sorted keys, the same bytes for the same values whatever the call order.

Pure functions: no clock, file or logger, so the rules are unit-tested with plain values.
"""

from __future__ import annotations

import json
import math
import numbers
import threading
from collections.abc import Mapping

Metric = int | float


def clean_metrics(values: Mapping[str, object]) -> tuple[dict[str, Metric], dict[str, str]]:
    """(the accepted values, key -> why refused). An integer stays an integer (``tokens=300000``
    is written ``300000``, not ``300000.0``); any other real number becomes a float. Refused: an
    empty key, ``bool`` (``True`` is an ``int`` in Python, but not a measure of work), NaN and
    infinities, and anything that is not a real number (text, ``None``, lists, complex)."""
    accepted: dict[str, Metric] = {}
    refused: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            refused[str(key)] = "a metric needs a non-empty name"
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            refused[key] = f"not a number ({type(value).__name__})"
        elif isinstance(value, numbers.Integral):
            accepted[key] = int(value)
        elif not math.isfinite(float(value)):
            refused[key] = f"not a finite number ({float(value)!r})"
        else:
            accepted[key] = float(value)
    return accepted, refused


def encode_metrics(metrics: Mapping[str, Metric]) -> str:
    """The ``metrics`` cell: a compact JSON object with sorted keys; "" when there are none (an
    empty cell, as for any value a run does not have)."""
    if not metrics:
        return ""
    return json.dumps(dict(metrics), sort_keys=True, separators=(",", ":"), allow_nan=False)


class MetricsLog:
    """The last value of each metric, for a run and for the task running now; safe to call from
    any thread (the program's threads log, the sampler's thread reads for checkpoints).

    A value logged while a task runs belongs to that task's row and to the run's row: the run's
    row holds the last value of each key, logged inside a task or outside any."""

    def __init__(self) -> None:
        self._run: dict[str, Metric] = {}
        self._task: dict[str, Metric] | None = None
        self._lock = threading.Lock()

    def record(self, accepted: Mapping[str, Metric]) -> None:
        with self._lock:
            self._run.update(accepted)
            if self._task is not None:
                self._task.update(accepted)

    def task_started(self) -> None:
        with self._lock:
            self._task = {}

    def task_ended(self) -> dict[str, Metric]:
        """The ended task's metrics; values logged from now on belong to the run only."""
        with self._lock:
            task, self._task = self._task or {}, None
            return task

    def run(self) -> dict[str, Metric]:
        with self._lock:
            return dict(self._run)
