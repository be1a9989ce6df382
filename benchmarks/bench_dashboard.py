"""Dashboard speed and memory on large histories.

Generates an N-row history with the CSV contract, starts ``python -m carbonboard`` as a
subprocess, drives the page in headless Chromium and prints: server ready time (first start and
restart from the on-disk cache), page fully rendered (the overview tab), project switch, opening
the other tabs and switching project on the regional tab, bytes sent to the browser (everything,
and without the static bundles a browser caches), and the server's RSS. Switches and tab opens are
timed in the page, from the click to the first frame with every chart of the tab drawn.

    python benchmarks/bench_dashboard.py --rows 100000
    python benchmarks/bench_dashboard.py --rows 1000000 --keep bench-data
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tracker.schema import FIELDNAMES  # noqa: E402

CHROMIUM = os.environ.get("CARBONBOARD_CHROMIUM", "/usr/bin/chromium")
PROJECTS = ("nlp-bert", "vision-resnet", "llm-finetune", "speech-asr", "recsys", "climate-sim")
COUNTRIES = (
    ("France", "FRA", 56.0),
    ("Germany", "DEU", 381.0),
    ("United States", "USA", 369.0),
    ("Poland", "POL", 662.0),
    ("Sweden", "SWE", 18.0),
)
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` runs over one year, vectorised (no per-row Python)."""
    rng = np.random.default_rng(seed)
    project = rng.integers(0, len(PROJECTS), rows)
    experiment = np.char.add(
        np.array(PROJECTS)[project].astype(str),
        np.char.add("-exp", rng.integers(0, 8, rows).astype(str)),
    )
    place = rng.integers(0, len(COUNTRIES), rows)
    intensity = np.array([c[2] for c in COUNTRIES])[place]
    duration = rng.lognormal(7.5, 1.0, rows)
    cpu_w = rng.uniform(40, 250, rows)
    gpu_w = np.where(rng.random(rows) < 0.7, rng.uniform(100, 2800, rows), 0.0)
    ram_w = rng.uniform(10, 400, rows)
    cpu_kwh, gpu_kwh, ram_kwh = (w * duration / 3.6e6 for w in (cpu_w, gpu_w, ram_w))
    energy = cpu_kwh + gpu_kwh + ram_kwh
    emissions = energy * intensity / 1000
    start = pd.Timestamp("2025-06-01", tz="UTC").value
    stamps = pd.to_datetime(
        np.sort(rng.integers(start, start + 365 * 86400 * 10**9, rows)), utc=True
    )
    frame = pd.DataFrame({name: "" for name in FIELDNAMES}, index=range(rows))
    frame["timestamp"] = stamps.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    frame["project_name"] = np.array(PROJECTS)[project]
    frame["run_id"] = [str(uuid.UUID(int=int(x))) for x in rng.integers(0, 2**63, rows)]
    frame["experiment_id"] = experiment
    frame["duration"] = duration.round(3)
    frame["emissions"] = emissions
    frame["emissions_rate"] = emissions / duration
    frame["cpu_power"], frame["gpu_power"], frame["ram_power"] = cpu_w, gpu_w, ram_w
    frame["cpu_energy"], frame["gpu_energy"], frame["ram_energy"] = cpu_kwh, gpu_kwh, ram_kwh
    frame["energy_consumed"] = energy
    frame["water_consumed"] = 0.0
    frame["country_name"] = np.array([c[0] for c in COUNTRIES])[place]
    frame["country_iso_code"] = np.array([c[1] for c in COUNTRIES])[place]
    frame["os"] = "Linux-6.8.0-x86_64-with-glibc2.39"
    frame["python_version"] = "3.11.9"
    frame["codecarbon_version"] = "0.1.0"
    frame["cpu_count"] = 64
    frame["cpu_model"] = "AMD EPYC 7742 64-Core Processor"
    frame["gpu_count"] = np.where(gpu_w > 0, 8, 0)
    frame["gpu_model"] = np.where(gpu_w > 0, "8 x NVIDIA A100-SXM4-80GB", "")
    frame["ram_total_size"] = 512
    frame["tracking_mode"] = "machine"
    frame["on_cloud"] = "N"
    frame["pue"] = 1.0
    frame["wue"] = 0.0
    frame["carbon_intensity_g_co2e_kwh"] = intensity
    frame["carbon_intensity_source"] = "country:" + frame["country_iso_code"]
    frame["carbon_intensity_year"] = "2023"
    frame["cpu_energy_method"] = "rapl"
    frame["gpu_energy_method"] = np.where(gpu_w > 0, "nvml-energy-counter", "none")
    frame["ram_energy_method"] = "ram-model"
    frame["status"] = "finished"
    frame["schema_version"] = 1
    frame.to_csv(path, index=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(csv_path: Path, cache_dir: Path) -> tuple[subprocess.Popen, str, float]:
    """Start the CLI and return (process, url, seconds until it answers HTTP 200)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CARBONBOARD_CACHE_DIR": str(cache_dir)}
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carbonboard",
            f"--filepath={csv_path}",
            f"--port={port}",
            "--refresh=0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return process, url, time.monotonic() - started
        except OSError:
            if process.poll() is not None:
                raise SystemExit("the server exited before answering") from None
            time.sleep(0.05)


SETTLED = """() => {
  const graphs = ['timeline-graph', 'experiments-graph', 'energy-split-graph'];
  const drawn = graphs.every(id => document.querySelector('#' + id + ' .main-svg'));
  const list = document.querySelector('#equivalents-list li');
  const busy = document.querySelector('[data-dash-is-loading="true"]');
  return drawn && list && !busy;
}"""
REGIONAL_SETTLED = """() => {
  const map = document.querySelectorAll('#regional-map path.choroplethlocation').length > 150;
  const graphs = ['regional-ranking', 'regional-mix', 'regional-subnational', 'regional-cloud'];
  const drawn = graphs.every(id => document.querySelector('#' + id + ' .main-svg'));
  const busy = document.querySelector('[data-dash-is-loading="true"]');
  return map && drawn && !busy;
}"""
RUNS_SETTLED = """() => document.querySelectorAll('#runs-table tbody tr td').length > 0
  && !document.querySelector('[data-dash-is-loading="true"]')"""


def measure_page(browser, url: str, projects: list[str]) -> dict:
    """Load the page (cold, then warm cache) and switch project; returns timings and bytes."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sizes: list[tuple[str, int]] = []

    def record(response) -> None:
        try:
            sizes.append((response.url, response.request.sizes()["responseBodySize"]))
        except Exception:  # a response without a body (204)
            sizes.append((response.url, 0))

    page.on("requestfinished", lambda request: record(request.response()))
    results = {}
    for label in ("cold", "warm"):
        sizes.clear()
        started = time.monotonic()
        page.goto(url)
        page.wait_for_function(SETTLED, polling=50, timeout=120_000)
        results[f"render_{label}_s"] = time.monotonic() - started
        page.wait_for_timeout(300)
        total = sum(size for _, size in sizes)
        dynamic = sum(
            size
            for address, size in sizes
            if not any(prefix in address for prefix in STATIC_PREFIXES)
        )
        results[f"bytes_{label}_total"] = total
        results[f"bytes_{label}_without_static"] = dynamic
    results["project_switch_s"] = switch_projects(page, projects, SETTLED)
    for tab, settled in (("runs", RUNS_SETTLED), ("regional", REGIONAL_SETTLED)):
        results[f"open_{tab}_tab_s"] = timed_click(
            page, page.locator(f"#view-tabs-{tab}"), "() => true", settled
        )
    results["project_switch_regional_tab_s"] = switch_projects(
        page, [*projects[1:], projects[0]], REGIONAL_SETTLED, title="#regional-summary"
    )
    context.close()
    return results


def timed_click(page, target, changed: str, settled: str) -> float:
    """Seconds, in the page's own clock, from the click on ``target`` to the first frame where
    ``changed`` and ``settled`` hold: what the user waits for. The test driver's own time to find
    the element and to notice the result is not counted."""
    page.evaluate(
        """() => { window.__clickedAt = window.__settledAt = null;
          document.addEventListener('click', () => { window.__clickedAt = performance.now(); },
                                    {capture: true, once: true}); }"""
    )
    target.click()
    page.wait_for_function(
        f"""() => {{
          if (window.__clickedAt === null || !({changed})() || !({settled})()) return false;
          window.__settledAt = performance.now();
          return true;
        }}""",
        polling="raf",
        timeout=60_000,
    )
    return page.evaluate("window.__settledAt - window.__clickedAt") / 1000


def switch_projects(page, projects: list[str], settled: str, title: str = "") -> float:
    """Median seconds from the click on a project until the open tab has redrawn."""
    switches = []
    for project in projects:
        if title:  # the view's headline text changes when its new figures arrive
            before = json.dumps(page.inner_text(title))
            changed = f"() => document.querySelector('{title}')?.innerText !== {before}"
        else:
            changed = f"() => document.querySelector('#project-title')?.innerText === '{project}'"
        page.click("#project-select")
        option = page.get_by_role("option", name=project, exact=True)
        option.wait_for()
        switches.append(timed_click(page, option, changed, settled))
    return sorted(switches)[len(switches) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the history in")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = args.keep or Path(tempfile.mkdtemp(prefix="carbonboard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / f"emissions_{args.rows}.csv"
    if not csv_path.exists():
        started = time.monotonic()
        generate(csv_path, args.rows)
        print(
            f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.monotonic() - started:.1f} s"
        )
    cache_dir = work / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    figures: dict[str, float] = {"rows": args.rows}
    process, url, figures["server_ready_first_s"] = start_server(csv_path, cache_dir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            figures.update(measure_page(browser, url, ["vision-resnet", "nlp-bert", "recsys"]))
            browser.close()
        figures["server_rss_mb"] = psutil.Process(process.pid).memory_info().rss / 2**20
    finally:
        process.terminate()
        process.wait(timeout=30)
    process, _, figures["server_ready_restart_s"] = start_server(csv_path, cache_dir)
    process.terminate()
    process.wait(timeout=30)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=2
        )
    )


if __name__ == "__main__":
    main()
