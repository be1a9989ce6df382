"""Emissions per week or month per project, and where the rate moved.

A run's emissions count in the period of its row's ``timestamp`` (when it ended), all of them: a
run is not spread over the periods it spanned. Weeks start on Monday 00:00 UTC, months on the 1st;
a period inside a project's span with no run is a 0 (a quiet week is data, not a gap).

The change marker is the split of a project's series into two segments, each of at least
``MIN_SEGMENT`` periods, that minimises the squared error of each segment around its own mean. It
is reported only when it is clear: the split removes at least ``MIN_EXPLAINED`` of the series'
squared error around its overall mean, and the two means differ by at least
``MIN_RELATIVE_CHANGE`` of the larger one. A single noisy week moves neither test much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carbonboard.efficiency.units import text_column

PERIODS = {"week": "W-SUN", "month": "M"}  # pandas period codes: weeks ending Sunday start Monday
MIN_SEGMENT = 2
MIN_EXPLAINED = 0.5
MIN_RELATIVE_CHANGE = 0.25


@dataclass(frozen=True)
class ChangePoint:
    """The rate moved at ``at`` (the first period of the second segment): from ``before_kg`` to
    ``after_kg`` per period (segment means); ``explained``: the share of squared error the split
    removes (0..1)."""

    project_name: str
    at: pd.Timestamp
    before_kg: float
    after_kg: float
    explained: float


def emissions_by_period(runs: pd.DataFrame, period: str = "week") -> pd.DataFrame:
    """Columns ``project_name``, ``period_start`` (UTC timestamp), ``emissions_kg``, ``runs``:
    one row per project and period from its first run's period to its last's, zeros included."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    columns = ["project_name", "period_start", "emissions_kg", "runs"]
    stamps = runs["timestamp"]
    usable = stamps.notna() & runs["emissions"].notna()
    if not usable.any():
        return pd.DataFrame(columns=columns)
    runs = runs[usable]
    starts = (
        runs["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period(PERIODS[period])
    )
    frame = pd.DataFrame(
        {
            "project_name": text_column(runs, "project_name").to_numpy(),
            "period": starts.to_numpy(),
            "emissions_kg": runs["emissions"].to_numpy(dtype="float64"),
        }
    )
    parts = []
    for project, group in frame.groupby("project_name", sort=True):
        sums = group.groupby("period")["emissions_kg"].agg(["sum", "size"])
        span = pd.period_range(sums.index.min(), sums.index.max(), freq=PERIODS[period])
        sums = sums.reindex(span, fill_value=0)
        parts.append(
            pd.DataFrame(
                {
                    "project_name": project,
                    "period_start": span.to_timestamp(how="start").tz_localize("UTC"),
                    "emissions_kg": sums["sum"].to_numpy(dtype="float64"),
                    "runs": sums["size"].to_numpy(dtype="int64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[columns]


def best_split(values: np.ndarray) -> tuple[int, float] | None:
    """(k, explained): the split ``values[:k] | values[k:]`` (each part at least MIN_SEGMENT
    long) with the least total squared error around each part's mean, and the share of the
    whole series' squared error it removes; None when the series is too short or flat."""
    values = np.asarray(values, dtype="float64")
    n = len(values)
    if n < 2 * MIN_SEGMENT:
        return None
    total_sse = float(((values - values.mean()) ** 2).sum())
    if total_sse <= 0:
        return None
    # Prefix sums give each split's squared errors in O(1): sse = sum(x^2) - (sum x)^2 / count.
    sums, squares = np.cumsum(values), np.cumsum(values**2)
    ks = np.arange(MIN_SEGMENT, n - MIN_SEGMENT + 1)
    left_sum, left_sq = sums[ks - 1], squares[ks - 1]
    right_sum, right_sq = sums[-1] - left_sum, squares[-1] - left_sq
    sse = (left_sq - left_sum**2 / ks) + (right_sq - right_sum**2 / (n - ks))
    best = int(np.argmin(sse))
    return int(ks[best]), float(1 - max(sse[best], 0.0) / total_sse)


def change_points(series: pd.DataFrame) -> list[ChangePoint]:
    """The clear change of each project's series (:func:`emissions_by_period`), if any."""
    changes = []
    for project, group in series.groupby("project_name", sort=True):
        values = group["emissions_kg"].to_numpy(dtype="float64")
        split = best_split(values)
        if split is None:
            continue
        k, explained = split
        before, after = float(values[:k].mean()), float(values[k:].mean())
        larger = max(abs(before), abs(after))
        if explained >= MIN_EXPLAINED and abs(after - before) >= MIN_RELATIVE_CHANGE * larger:
            at = group["period_start"].iloc[k]
            changes.append(ChangePoint(str(project), at, before, after, explained))
    return changes
