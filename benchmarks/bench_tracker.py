"""Tracker speed figures: start+stop latency, import cost, sampling CPU, append latency.

    python benchmarks/bench_tracker.py [--runs N] [--sampling-secs S]

Prints each figure with its target; exits 1 when one misses it. Not a test: timings depend on the
machine, so CI runs the suite, and this script is run by hand (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START_STOP = """
import json, sys, time
from tracker import OfflineEmissionsTracker  # imported before the clock starts
started = time.perf_counter()
tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=sys.argv[1], log_level="error")
tracker.start()
tracker.stop()
print(json.dumps({"ms": (time.perf_counter() - started) * 1000}))
"""

IMPORT = """
import json, sys, time
started = time.perf_counter()
import tracker
elapsed_ms = (time.perf_counter() - started) * 1000
heavy = sorted(m for m in ("pandas", "numpy", "dash", "plotly") if m in sys.modules)
print(json.dumps({"ms": elapsed_ms, "heavy": heavy}))
"""

SAMPLING = """
import json, sys, time, psutil
from tracker import OfflineEmissionsTracker
tracker = OfflineEmissionsTracker(
    country_iso_code="FRA", output_dir=sys.argv[1], measure_power_secs=1, log_level="error"
)
tracker.start()
thread = tracker._sampler._thread
time.sleep(float(sys.argv[2]))
times = {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}
cpu_s = times[thread.native_id]
tracker.stop()
print(json.dumps({"cpu_s": cpu_s}))
"""


def child(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(name: str, value: float, unit: str, target: float) -> bool:
    ok = value <= target
    print(
        f"{name:<52} {value:8.2f} {unit:<3} (target <= {target:g} {unit}) {'ok' if ok else 'MISS'}"
    )
    return ok


def bench_start_stop(folder: Path, runs: int) -> bool:
    """(1) First OfflineEmissionsTracker(...) + start() + stop() in a fresh process."""
    times = [child(START_STOP, str(folder))["ms"] for _ in range(runs)]
    return report(
        f"start+stop, fresh process (median of {runs})", statistics.median(times), "ms", 50
    )


def bench_import(runs: int) -> bool:
    """(2) ``import tracker``, and that it pulls in no heavy package."""
    results = [child(IMPORT) for _ in range(runs)]
    heavy = {m for r in results for m in r["heavy"]}
    if heavy:
        print(f"import tracker imported {sorted(heavy)}: MISS")
    median_ms = statistics.median(r["ms"] for r in results)
    return report(f"import tracker (median of {runs})", median_ms, "ms", 50) and not heavy


def bench_sampling(folder: Path, seconds: float) -> bool:
    """(3) CPU used by the sampling thread at measure_power_secs=1, as % of one core."""
    cpu_s = child(SAMPLING, str(folder), str(seconds))["cpu_s"]
    return report(f"sampling thread CPU over {seconds:g} s", 100 * cpu_s / seconds, "%", 0.5)


def bench_append(folder: Path, rows: int = 100_000, appends: int = 200) -> bool:
    """(4) Appending one row to a file that already holds ``rows`` rows."""
    from tracker import schema
    from tracker.output import append_row

    path = folder / "long.csv"
    line = ",".join("1.2345678901234e-05" for _ in schema.FIELDNAMES) + "\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(",".join(schema.FIELDNAMES) + "\n")
        handle.write(line * rows)
    row = {name: 1.2345678901234e-05 for name in schema.FIELDNAMES}
    times = []
    for _ in range(appends):
        started = time.perf_counter()
        append_row(path, row, schema.FIELDNAMES)
        times.append((time.perf_counter() - started) * 1000)
    label = f"append to a {rows:,}-row file (median of {appends})"
    return report(label, statistics.median(times), "ms", 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sampling-secs", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = [
            bench_start_stop(Path(folder), args.runs),
            bench_import(args.runs),
            bench_sampling(Path(folder), args.sampling_secs),
            bench_append(Path(folder)),
        ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
