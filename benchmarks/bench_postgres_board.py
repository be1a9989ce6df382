"""The board on PostgreSQL at scale: page settled, project switch and server RSS (#12).

Starts a throwaway PostgreSQL on a free loopback port, creates the schema (migrations), loads N
runs with ``INSERT ... SELECT generate_series`` in batches (into the empty table in bulk, as an
import does: the indexes and rollups built after the rows; six projects, 48 experiments, five
countries, one year), times each answer the source gives the overview, regional and runs tabs for
a few selections (``--queries-only`` stops there), then serves it with
``python -m carbonboard --database URL`` and drives the page in headless Chromium with the
dashboard benchmark's own clock and steps (``bench_dashboard.measure_page``, with this
file's ``measure_switches``): first page settled (cold and warm), project switches, the runs and
regional tabs. Also the change marker's cost (``version()``, polled by every open page), and the
server's RSS at the end. Targets at 1,000,000 runs: page settled <= 2 s, project switch <= 0.5 s,
server RSS <= 300 MB.

    python benchmarks/bench_postgres_board.py --rows 1000000
    python benchmarks/bench_postgres_board.py --rows 10000000 --queries-only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests" / "postgres"))

from bench_dashboard import (  # noqa: E402
    COUNTRIES,
    OVERVIEW_READY,
    PROJECTS,
    REGIONAL_READY,
    RUNS_READY,
    clocked_context,
    free_port,
    measure_page,
    summarise,
    switch_projects,
    timed_click,
    wait_settled,
)
from pg_server import TemporaryPostgres, find_bin_dir  # noqa: E402

BATCH_ROWS = 250_000
TARGETS = {"load_cold_s": 2.0, "load_warm_s": 2.0, "project_switch_s": 0.5, "server_rss_mb": 300}


def load_runs(url: str, rows: int) -> float:
    """Insert ``rows`` generated runs (seeded, so every run of the benchmark is the same data)
    in one transaction, into the empty table in bulk as an import does (indexes and rollups
    built after the rows); seconds taken, ANALYZE included."""
    import psycopg

    from tracker.db import migrations, writes

    projects = ", ".join(f"({i}, '{name}')" for i, name in enumerate(PROJECTS))
    countries = ", ".join(
        f"({i}, '{name}', '{iso}', {g})" for i, (name, iso, g) in enumerate(COUNTRIES)
    )
    year_s = 365 * 86400
    insert = f"""
INSERT INTO carbonboard.runs (run_id, "timestamp", project_name, experiment_id, duration,
    cpu_power, gpu_power, ram_power, cpu_energy, gpu_energy, ram_energy, energy_consumed,
    emissions, country_name, country_iso_code, carbon_intensity_g_co2e_kwh,
    carbon_intensity_source, carbon_intensity_year, status, tracking_mode, gpu_model,
    cpu_count, ram_total_size, python_version)
SELECT 'bench-' || lpad(i::text, 9, '0'),
    timestamptz '2025-06-01 00:00:00+00'
        + make_interval(secs => i::float8 * {year_s} / %(n)s::float8),
    p.name, p.name || '-exp' || r.e, r.d, r.cw, r.gw, r.rw,
    r.cw * r.d / 3.6e6, r.gw * r.d / 3.6e6, r.rw * r.d / 3.6e6,
    (r.cw + r.gw + r.rw) * r.d / 3.6e6, (r.cw + r.gw + r.rw) * r.d / 3.6e6 * c.g / 1000,
    c.name, c.iso, c.g, 'country:' || c.iso, '2023', 'finished', 'machine',
    CASE WHEN r.gw > 0 THEN '8 x NVIDIA A100-SXM4-80GB' END, 64, 512, '3.11.9'
FROM (
    SELECT i, floor(random() * 6)::int AS pi, floor(random() * 8)::int AS e,
        floor(random() * 5)::int AS ci,
        exp(7.5 + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS d,
        40 + random() * 210 AS cw,
        CASE WHEN random() < 0.7 THEN 100 + random() * 2700 ELSE 0 END AS gw,
        10 + random() * 390 AS rw
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
) AS r
JOIN (VALUES {projects}) AS p (idx, name) ON p.idx = r.pi
JOIN (VALUES {countries}) AS c (idx, name, iso, g) ON c.idx = r.ci
"""
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        migrations.migrate(conn)
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SELECT setseed(0.7)")
        with conn.cursor() as cur, writes.bulk_into_empty(cur):
            for first in range(1, rows + 1, BATCH_ROWS):
                last = min(first + BATCH_ROWS - 1, rows)
                cur.execute(insert, {"n": rows, "first": first, "last": last})
                print(f"  loaded {last:,} runs", file=sys.stderr)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE carbonboard.runs")
        conn.execute("VACUUM ANALYZE carbonboard.daily_rollup")
    return time.monotonic() - started


def start_board(url: str) -> tuple[subprocess.Popen, str, float]:
    """``python -m carbonboard --database URL``; (process, page URL, seconds until HTTP 200)."""
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "carbonboard", "--database", url, f"--port={port}", "--refresh=0"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    page = f"http://127.0.0.1:{port}/"
    while True:
        try:
            with urllib.request.urlopen(page, timeout=5) as response:
                if response.status == 200:
                    return process, page, time.monotonic() - started
        except OSError:
            if process.poll() is not None:
                raise SystemExit("the board exited before answering") from None
            time.sleep(0.05)


def marker_ms(url: str, polls: int = 20) -> float:
    """Median milliseconds of one ``version()``: what every open page costs per poll."""
    from carbonboard.data.postgres_source import PostgresSource

    source = PostgresSource.from_url(url)
    times = []
    for _ in range(polls):
        started = time.perf_counter()
        source.version()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# One selection of each kind the board asks for: everything (the first page), a project (a
# switch), a project's experiment, a project over three months.
SELECTIONS = {
    "everything": {},
    "project": {"project": PROJECTS[1]},
    "experiment": {"project": PROJECTS[1], "experiment": f"{PROJECTS[1]}-exp3"},
    "project, 3 months": {
        "project": PROJECTS[0],
        "date_from": "2025-09-01",
        "date_to": "2025-11-30",
    },
}
# What the overview, regional and runs tabs ask the source for one selection.
QUERIES = {
    "totals": lambda source, picked: source.totals(picked),
    "per project": lambda source, picked: source.breakdown(picked, "project"),
    "per experiment": lambda source, picked: source.breakdown(picked, "experiment"),
    "energy split": lambda source, picked: source.breakdown(picked, "component"),
    "per place": lambda source, picked: source.breakdown(picked, "place"),
    "location mix": lambda source, picked: source.location_mix(picked),
    "series": lambda source, picked: source.emissions_series(picked),
    "last run": lambda source, picked: source.last_run(picked),
    "filter options": lambda source, picked: source.filter_options(picked),
    "runs page": lambda source, picked: source.runs_page(picked, offset=0, limit=100),
    "running runs": lambda source, picked: source.running_runs(),
}


def query_ms(url: str) -> dict[str, dict[str, float]]:
    """Milliseconds of each source answer per selection, computed (each selection asked of a
    new source, so nothing is kept from another), the change marker read included."""
    from carbonboard.data.postgres_source import PostgresSource
    from carbonboard.selection import Selection

    times: dict[str, dict[str, float]] = {}
    for name, fields in SELECTIONS.items():
        source = PostgresSource.from_url(url)
        source.describe()  # the header's question, asked first by every page
        picked = Selection(**fields)
        times[name] = {}
        for query, ask in QUERIES.items():
            started = time.perf_counter()
            ask(source, picked)
            times[name][query] = round((time.perf_counter() - started) * 1000, 1)
    return times


def seconds(measured: object) -> float:
    """A timing of the dashboard benchmark's helpers: seconds, or (seconds, where it went)."""
    return measured[0] if isinstance(measured, tuple) else measured


def measure_switches(browser, url: str, projects: list[str]) -> dict:
    """Project switches on the overview, then opening the runs and regional tabs."""
    context = clocked_context(browser)
    page = context.new_page()
    page.goto(url)
    wait_settled(page, OVERVIEW_READY)
    results = {
        "project_switch_s": [seconds(s) for s in switch_projects(page, projects, OVERVIEW_READY)]
    }
    for tab, ready, draws in (("runs", RUNS_READY, False), ("regional", REGIONAL_READY, True)):
        tab_link = page.locator(f"#view-tabs-{tab}")
        results[f"open_{tab}_tab_s"] = [seconds(timed_click(page, tab_link, ready, draws))]
    context.close()
    return results


def run(rows: int, repeats: int, queries_only: bool) -> dict:
    server = TemporaryPostgres(find_bin_dir())
    figures: dict = {"rows": rows, "cores": os.cpu_count(), "load_average_1min": []}
    figures["load_average_1min"].append(os.getloadavg()[0])
    try:
        server.start()
        url = server.url()
        figures["load_runs_s"] = [load_runs(url, rows)]
        figures["version_poll_ms"] = [marker_ms(url)]
        figures["query_ms"] = query_ms(url)
        if queries_only:
            return figures
        process, page_url, ready_s = start_board(url)
        figures["server_ready_s"] = [ready_s]
        try:
            figures.update(measure_page(page_url, repeats, measure_switches))
            figures["server_rss_mb"] = [psutil.Process(process.pid).memory_info().rss / 2**20]
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        server.remove()
    figures["load_average_1min"].append(os.getloadavg()[0])
    return figures


def verdicts(figures: dict) -> list[str]:
    lines = []
    for name, target in TARGETS.items():
        worst = max(figures[name])
        median = summarise(figures[name])["median"]
        verdict = "met" if median <= target else "NOT met"
        lines.append(
            f"{name}: median {median:.3f}, worst {worst:.3f} (target <= {target}): {verdict}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="cold and warm page loads")
    parser.add_argument(
        "--queries-only", action="store_true", help="time the source's answers, not the page"
    )
    args, _ = parser.parse_known_args()  # run_all.py passes every benchmark the same options
    if find_bin_dir() is None:
        print("skipped: PostgreSQL is not installed (apt-get install postgresql)")
        return 0
    figures = run(args.rows, args.repeats, args.queries_only)
    print(json.dumps(figures, indent=1))
    if args.queries_only:
        return 0
    lines = verdicts(figures)
    for line in lines:
        print(line)
    return 0 if all(line.endswith(": met") for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
