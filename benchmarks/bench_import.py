"""``carbonboard import`` speed: rows per second into a throwaway PostgreSQL (target >= 50,000).

Generates an N-row history with the CSV contract (the dashboard benchmark's generator), starts a
PostgreSQL with its default durability (fsync on) on a free loopback port, and times the import
command end to end as a user runs it (a fresh process: start-up, parsing, COPY, upsert, rollups),
then the same import again (idempotent: everything compared, nothing written).

    python benchmarks/bench_import.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests" / "postgres"))

from bench_dashboard import generate  # noqa: E402
from pg_server import TemporaryPostgres, find_bin_dir  # noqa: E402

TARGET_ROWS_PER_S = 50_000


def timed_import(url: str, csv_path: Path) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbonboard",
            "import",
            "--database",
            url,
            "--filepath",
            str(csv_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return time.monotonic() - started, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args, _ = parser.parse_known_args()  # run_all.py passes every benchmark the same options
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("skipped: PostgreSQL is not installed (apt-get install postgresql)")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "emissions.csv"
        generate(csv_path, args.rows)
        server = TemporaryPostgres(bin_dir)
        try:
            server.start(durable=True)
            first_s, summary = timed_import(server.url(), csv_path)
            again_s, again = timed_import(server.url(), csv_path)
        finally:
            server.remove()
    rate = args.rows / first_s
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load}")
    print(f"import {args.rows:,} rows into an empty database: {first_s:.2f} s = {rate:,.0f} rows/s")
    print(f"  {summary.splitlines()[0]}")
    print(f"  {summary.splitlines()[1]}")
    again_rate = args.rows / again_s
    print(f"the same file again: {again_s:.2f} s = {again_rate:,.0f} rows/s")
    print(f"  {again.splitlines()[1]}")
    verdict = "met" if rate >= TARGET_ROWS_PER_S else "NOT met"
    print(f"target >= {TARGET_ROWS_PER_S:,} rows/s: {verdict}")
    return 0 if rate >= TARGET_ROWS_PER_S else 1


if __name__ == "__main__":
    sys.exit(main())
