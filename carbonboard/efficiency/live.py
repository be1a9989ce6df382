"""Runs in progress: those whose latest row says ``running`` (a ``flush()`` or a checkpoint).

The store keeps each run's latest row and turns a ``running`` run silent for too long into
``crashed``, so what is left here is live. A row carries the run's figures up to when it was
written: its powers are means from the run's start to that row (the most recent power a row
records), its emissions those so far.
"""

from __future__ import annotations

import pandas as pd

from carbonboard.efficiency.units import text_column
from carbonboard.formatting import format_duration_s, format_mass_kg, format_power_w

POWER_COLUMNS = ("cpu_power", "gpu_power", "ram_power")


def live_runs(runs: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """The ``running`` runs, longest running first. Columns: ``run_id``, ``project_name``,
    ``experiment_id``, ``started_at`` (= row timestamp - duration), ``elapsed_s`` (now -
    started_at, never below the row's duration), ``updated_s_ago`` (now - row timestamp, >= 0),
    ``power_w`` (cpu + gpu + ram power of the row; a missing one counts 0), ``energy_kwh``,
    ``emissions_kg``, and for reading ``elapsed_text``, ``power_text``, ``emissions_text``."""
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    running = runs[runs["status"].astype(object).eq("running")] if len(runs) else runs
    duration = running["duration"].astype("float64").fillna(0.0)
    started = running["timestamp"] - pd.to_timedelta(duration, unit="s")
    since_row = (now - running["timestamp"]).dt.total_seconds().clip(lower=0.0)
    power = sum(
        running[c].astype("float64").fillna(0.0) for c in POWER_COLUMNS if c in running.columns
    )
    frame = pd.DataFrame(
        {
            "run_id": running["run_id"].astype(str),
            "project_name": text_column(running, "project_name"),
            "experiment_id": text_column(running, "experiment_id"),
            "started_at": started,
            "elapsed_s": duration + since_row,
            "updated_s_ago": since_row,
            "power_w": power if len(running) else pd.Series(dtype="float64"),
            "energy_kwh": running["energy_consumed"].astype("float64"),
            "emissions_kg": running["emissions"].astype("float64"),
        }
    )
    frame["elapsed_text"] = [format_duration_s(v) for v in frame["elapsed_s"]]
    frame["power_text"] = [format_power_w(v) for v in frame["power_w"]]
    frame["emissions_text"] = [format_mass_kg(v) for v in frame["emissions_kg"]]
    return frame.sort_values(["elapsed_s", "run_id"], ascending=[False, True]).reset_index(
        drop=True
    )
