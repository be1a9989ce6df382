"""Run every benchmark in this folder and print the figures the README quotes (``make bench``).

The dashboard is measured at 100,000 and 1,000,000 rows and its figures printed as the README's
table: the median of the repeats, with their range. ``--quick`` measures the dashboard at 100,000
rows only, with one page load of each kind, and skips the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DASHBOARD = HERE / "bench_dashboard.py"

# (label in the README's dashboard table, figure key, unit, target at 100,000 / 1,000,000 rows)
ROWS = (
    ("server ready, first start", "server_ready_first_s", "s", ("≤ 3 s", "≤ 5 s")),
    ("server ready, restart (cache)", "server_ready_restart_s", "s", ("", "")),
    ("first page settled, cold (fresh browser profile)", "load_cold_s", "s", ("≤ 1.5 s", "≤ 2 s")),
    ("first page settled, warm (browser cache)", "load_warm_s", "s", ("", "")),
    (
        "first page settled, cold, opened as the window opens",
        "load_cold_window_opening_s",
        "s",
        ("", ""),
    ),
    ("project switch (overview tab)", "project_switch_s", "s", ("≤ 0.3 s", "≤ 0.5 s")),
    ("project switch (regional tab)", "project_switch_regional_tab_s", "s", ("≤ 0.3 s", "≤ 0.5 s")),
    ("open the runs tab", "open_runs_tab_s", "s", ("", "")),
    ("open the regional tab", "open_regional_tab_s", "s", ("", "")),
    ("bytes on first load, all / data only", "bytes_cold_total", "bytes", ("≤ 1 MB", "")),
    ("server RSS", "server_rss_mb", "MB", ("≤ 400 MB", "≤ 800 MB")),
)
TARGET_COLUMN = {100_000: 0, 1_000_000: 1}


def spread(values: list[float], unit: str) -> str:
    """``median (min–max)`` of repeated figures, or the single figure."""
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    scale, fmt = {"s": (1, "{:.2f}"), "MB": (1, "{:.0f}")}[unit]
    text = fmt.format(median * scale) + f" {unit}"
    if len(ordered) > 1:
        text += f" ({fmt.format(ordered[0])}–{fmt.format(ordered[-1])})"
    return text


def cell(figures: dict, key: str, unit: str) -> str:
    if unit == "bytes":
        return (
            f"{figures[key] / 1000:,.0f} KB / {figures['bytes_cold_without_static'] / 1000:,.0f} KB"
        )
    return spread(figures[key], unit)


def where_time_went(figures: dict, name: str) -> str:
    """Medians of one interaction's breakdown: callback waves, server wait, plotly time."""
    wheres = figures[f"{name}_where"]

    def median(field: str) -> float:
        values = sorted(w[field] or 0 for w in wheres)
        return values[len(values) // 2]

    return (
        f"{median('callbacks'):.0f} callbacks in {median('waves'):.0f} waves, "
        f"first request at {median('first_request_ms'):.0f} ms, "
        f"waiting on the server {median('waiting_on_server_ms'):.0f} ms, "
        f"last answer at {median('last_answer_ms'):.0f} ms, "
        f"{median('charts_redrawn'):.0f} charts redrawn, "
        f"plotly busy {median('plotly_busy_ms'):.0f} ms"
    )


def print_table(measured: dict[int, dict]) -> None:
    """The README's dashboard table, figures and targets side by side for each history size."""
    sizes = sorted(measured)
    header = " | ".join(f"{rows:,} rows | target" for rows in sizes)
    print(f"| dashboard | {header} |")
    print("| --- |" + " --- | --- |" * len(sizes))
    for label, key, unit, targets in ROWS:
        cells = [
            f"{cell(measured[n], key, unit)} | {targets[TARGET_COLUMN[n]]}".rstrip()
            if n in TARGET_COLUMN
            else f"{cell(measured[n], key, unit)} |"
            for n in sizes
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")


def dashboard(sizes: list[int], repeats: int) -> bool:
    measured = {}
    for rows in sizes:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(DASHBOARD), f"--rows={rows}", f"--repeats={repeats}", "--json"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(result.stdout + result.stderr)
            return False
        measured[rows] = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"  {rows:,} rows measured in {time.monotonic() - started:.0f} s", flush=True)
    print_table(measured)
    for rows in sizes:
        figures = measured[rows]
        loads = ", ".join(f"{x:.1f}" for x in figures["load_average_1min"])
        print(f"\nat {rows:,} rows (load average before, after: {loads}):")
        for name in ("project_switch", "project_switch_regional_tab", "open_regional_tab"):
            print(f"  {name.replace('_', ' ')}: {where_time_went(figures, name)}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="dashboard at 100,000 rows only")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    failures = 0
    if not args.quick:
        for script in sorted(HERE.glob("bench_*.py")):
            if script != DASHBOARD:
                print(f"== {script.name}", flush=True)
                failures += subprocess.run([sys.executable, str(script)]).returncode != 0
    print(f"== {DASHBOARD.name}", flush=True)
    sizes, repeats = ([100_000], 1) if args.quick else ([100_000, 1_000_000], 3)
    failures += not dashboard(sizes, repeats)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
