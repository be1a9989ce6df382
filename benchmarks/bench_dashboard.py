"""Dashboard speed and memory on large histories.

Generates an N-row history with the CSV contract, starts ``python -m carbonboard`` as a
subprocess, drives the page in headless Chromium and prints: server ready time (first start and
restart from the on-disk cache), the first page settled on the overview tab in a fresh browser
profile (cold) and again in the same profile (warm), each opened once the browser window has
settled, and cold again opened as its window opens (Chromium's own window start-up then shares
the cores with the page: see ``wait_browser_idle``), project switches, opening the other tabs and
switching project on the regional tab, bytes sent to the browser (everything, and without the
static bundles a browser caches), and the server's RSS.

Everything is timed by the page's own clock: a switch from the click, a load from navigation
start, to the frame after the last chart it changed has fired ``plotly_afterplot`` (see
``CLOCK``). Each interaction also says where its time went: callback requests and their waves,
the time waiting on the server, the charts redrawn and the time plotly.js was drawing.

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
from collections.abc import Callable
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


# Installed before any page script: counts Dash callback requests in flight, wraps Plotly.react /
# Plotly.newPlot (the only ways dcc.Graph draws) and listens to each graph's plotly_afterplot, so a
# measurement ends at the frame after the last chart finished redrawing, not when the previous
# chart's SVG happens to be in the page.
CLOCK = """(() => {
  const clock = window.__clock = {inflight: 0, drawing: 0, drawnAt: 0, frameAfterDraw: 0,
                                  answeredAt: 0, quietSince: null, events: []};
  const realFetch = window.fetch;
  window.fetch = function (resource, ...rest) {
    if (!String(resource && resource.url || resource).includes('_dash-update-component')) {
      return realFetch.call(this, resource, ...rest);
    }
    clock.inflight++;
    const event = {kind: 'callback', start: performance.now(), end: null, output: ''};
    try { event.output = JSON.parse(rest[0].body).output; } catch (error) { /* not JSON */ }
    clock.events.push(event);
    const answered = () => {
      clock.inflight--;
      clock.answeredAt = event.end = performance.now();
    };
    return realFetch.call(this, resource, ...rest).then(
      response => { answered(); return response; }, error => { answered(); throw error; });
  };
  const drawn = gd => {
    gd.__drawnData = gd._fullData;
    const at = clock.drawnAt = performance.now();
    requestAnimationFrame(() => {
      if (clock.drawnAt === at) clock.frameAfterDraw = performance.now();
    });
  };
  const wrap = plotly => {
    for (const name of ['react', 'newPlot']) {
      const real = plotly[name];
      if (typeof real !== 'function') continue;
      plotly[name] = function (gd, ...rest) {
        clock.drawing++;
        const event = {kind: 'draw', start: performance.now(), end: null};
        clock.events.push(event);
        let result;
        try {
          result = real.call(this, gd, ...rest);
        } catch (error) {
          clock.drawing--;
          throw error;
        }
        if (gd && gd.on && !gd.__listening) {
          gd.__listening = true;
          gd.on('plotly_afterplot', () => drawn(gd));
        }
        const done = () => {
          clock.drawing--;
          drawn(gd);
          event.end = performance.now();
        };
        Promise.resolve(result).then(done, done);
        return result;
      };
    }
  };
  let plotly;
  Object.defineProperty(window, 'Plotly', {
    configurable: true,
    get: () => plotly,
    set: value => { plotly = value; if (value) wrap(value); },
  });
})()"""

# The page has settled when, for QUIET_MS, no callback has been in flight, no chart is drawing,
# nothing is marked loading, every graph has drawn the data it holds (its _fullData is the one of
# its last plotly_afterplot) and the frame after the last redraw has come. The figure reported is
# that frame's time; the quiet wait only makes sure no later wave of callbacks was missed.
QUIET_MS = 400
SETTLED_CHECK = """(ready, sinceMs) => {
  const clock = window.__clock;
  const now = performance.now();
  const graphs = [...document.querySelectorAll('.js-plotly-plot')];
  const calm = ready() && clock.inflight === 0 && clock.drawing === 0
    && clock.drawnAt > sinceMs && clock.frameAfterDraw >= clock.drawnAt
    && !document.querySelector('[data-dash-is-loading="true"]')
    && graphs.every(gd => gd._fullData === gd.__drawnData);
  if (!calm) { clock.quietSince = null; return false; }
  if (clock.quietSince === null) clock.quietSince = now;
  return now - Math.max(clock.quietSince, clock.drawnAt, clock.answeredAt) >= QUIET_MS;
}""".replace("QUIET_MS", str(QUIET_MS))

OVERVIEW_READY = """() => ['timeline-graph', 'experiments-graph', 'energy-split-graph']
  .every(id => document.querySelector('#' + id + ' .main-svg'))
  && document.querySelector('#equivalents-list li')"""
REGIONAL_READY = """() =>
  document.querySelectorAll('#regional-map path.choroplethlocation').length > 150
  && ['regional-ranking', 'regional-mix', 'regional-subnational', 'regional-cloud']
    .every(id => document.querySelector('#' + id + ' .main-svg'))"""
RUNS_READY = """() => document.querySelectorAll('#runs-table .ag-row .ag-cell').length > 0"""


def wait_settled(page, ready: str, since_ms: float = 0.0, needs_draw: bool = True) -> float:
    """Milliseconds (page clock) of the frame after the last redraw, once the page settled.

    ``since_ms`` is the page time a redraw must come after (the click); ``needs_draw=False`` is for
    a view without charts (the runs table), whose end is when its rows are in and all is quiet."""
    since = since_ms if needs_draw else -1
    try:
        page.wait_for_function(
            f"() => ({SETTLED_CHECK})({ready}, {since})", polling="raf", timeout=120_000
        )
    except Exception as error:  # say what the page was still waiting for
        state = page.evaluate(
            f"""() => ({{clock: window.__clock, ready: !!({ready})(),
              loading: !!document.querySelector('[data-dash-is-loading="true"]'),
              undrawn: [...document.querySelectorAll('.js-plotly-plot')]
                .filter(gd => gd._fullData !== gd.__drawnData).map(gd => gd.parentElement.id)}})"""
        )
        raise RuntimeError(f"the page never settled: {state}") from error
    if needs_draw:
        return page.evaluate("window.__clock.frameAfterDraw")
    return page.evaluate("Math.max(window.__clock.answeredAt, window.__clock.frameAfterDraw)")


def chromium_cpu_s() -> float:
    """CPU seconds used so far by the Chromium processes this benchmark started (not by the
    board's server, which is this process's child as well)."""
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        try:
            if Path(process.exe()).name.startswith("chrom"):
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:  # gone meanwhile, or not ours to read
            continue
    return total


def wait_browser_idle(
    quiet_s: float = 0.3, busy_share: float = 0.1, limit_s: float = 10.0
) -> float:
    """Wait until Chromium has used less than ``busy_share`` of a core for ``quiet_s`` (at most
    ``limit_s``); the seconds waited. Opening a window, Chromium preloads its own tab-search page
    in a renderer of its own: about a second of CPU, which on a two-core machine would otherwise
    be timed as part of the page's load."""
    started = time.monotonic()
    used_s = chromium_cpu_s()
    while time.monotonic() - started < limit_s:
        time.sleep(quiet_s)
        before, used_s = used_s, chromium_cpu_s()
        if used_s - before < busy_share * quiet_s:
            break
    return time.monotonic() - started


def clocked_context(browser):
    """A fresh browser profile (nothing cached) whose pages carry ``CLOCK``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(CLOCK)
    return context


def first_load(context, url: str, idle_browser: bool = True) -> float:
    """Seconds from navigation start to the frame after the overview's last chart is drawn. With
    ``idle_browser``, the address is opened once the new window has settled (as a user types it
    into a window already open); otherwise at once, while Chromium still starts the window."""
    page = context.new_page()
    if idle_browser:
        wait_browser_idle()
    page.goto(url)
    settled_ms = wait_settled(page, OVERVIEW_READY)
    page.close()
    return settled_ms / 1000


def measure_loads(browser, url: str, repeats: int) -> dict:
    """First page load in a fresh browser profile (empty cache), then warm (same profile), each
    opened in a settled window; and a first load in a fresh profile opened as its window opens."""
    cold, warm, opening, sizes = [], [], [], {}
    for _ in range(repeats):
        context = clocked_context(browser)
        record = BytesRecorder(context)
        cold.append(first_load(context, url))
        sizes.setdefault("bytes_cold_total", record.total())
        sizes.setdefault("bytes_cold_without_static", record.dynamic())
        record.clear()
        warm.append(first_load(context, url))
        sizes.setdefault("bytes_warm_total", record.total())
        context.close()
        context = clocked_context(browser)
        opening.append(first_load(context, url, idle_browser=False))
        context.close()
    return {
        "load_cold_s": cold,
        "load_warm_s": warm,
        "load_cold_window_opening_s": opening,
        **sizes,
    }


class BytesRecorder:
    """Response body bytes of every request in a context, all and without static bundles."""

    def __init__(self, context) -> None:
        self.sizes: list[tuple[str, int]] = []
        context.on("requestfinished", self._record)

    def _record(self, request) -> None:
        try:
            self.sizes.append((request.url, request.sizes()["responseBodySize"]))
        except Exception:  # a response without a body (204)
            self.sizes.append((request.url, 0))

    def clear(self) -> None:
        self.sizes.clear()

    def total(self) -> int:
        return sum(size for _, size in self.sizes)

    def dynamic(self) -> int:
        return sum(size for url, size in self.sizes if not any(p in url for p in STATIC_PREFIXES))


# The projects a switch goes through, in this order (each is in every generated history).
SWITCHED_PROJECTS = ["vision-resnet", "nlp-bert", "recsys", "speech-asr", "climate-sim"]


def measure_page(url: str, repeats: int, switches: Callable[..., dict]) -> dict:
    """In one headless Chromium: first loads (cold and warm, ``repeats`` times), then
    ``switches(browser, url, SWITCHED_PROJECTS)``; their figures together."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            figures = measure_loads(browser, url, repeats)
            figures.update(switches(browser, url, SWITCHED_PROJECTS))
        finally:
            browser.close()
    return figures


def measure_interaction(browser, url: str, projects: list[str]) -> dict:
    """Project switches on the overview, opening the runs and regional tabs, and switches there:
    seconds of each (``<name>_s``) and where its time went (``<name>_where``)."""
    context = clocked_context(browser)
    page = context.new_page()
    page.goto(url)
    wait_settled(page, OVERVIEW_READY)
    timings = {"project_switch": switch_projects(page, projects, OVERVIEW_READY)}
    for tab, ready, draws in (("runs", RUNS_READY, False), ("regional", REGIONAL_READY, True)):
        tab_link = page.locator(f"#view-tabs-{tab}")
        timings[f"open_{tab}_tab"] = [timed_click(page, tab_link, ready, needs_draw=draws)]
    timings["project_switch_regional_tab"] = switch_projects(
        page, [*projects[1:], projects[0]], REGIONAL_READY, headline="#regional-summary"
    )
    context.close()
    results = {}
    for name, measured in timings.items():
        results[f"{name}_s"] = [seconds for seconds, _ in measured]
        results[f"{name}_where"] = [where for _, where in measured]
    return results


def timed_click(page, target, ready: str, needs_draw: bool = True) -> tuple[float, dict]:
    """Seconds, in the page's own clock, from the click on ``target`` to the frame after every
    chart it changed has fired plotly_afterplot, and where that time went. The test driver's own
    time to find the element and to notice the result is not counted."""
    page.evaluate(
        """() => { window.__clickedAt = null;
          document.addEventListener('click', () => { window.__clickedAt = performance.now(); },
                                    {capture: true, once: true}); }"""
    )
    target.click()
    clicked_ms = page.evaluate("window.__clickedAt")
    settled_s = (wait_settled(page, ready, clicked_ms, needs_draw) - clicked_ms) / 1000
    events = page.evaluate(
        "since => window.__clock.events.filter(event => event.start >= since)", clicked_ms
    )
    return settled_s, breakdown(events, clicked_ms)


def breakdown(events: list[dict], clicked_ms: float) -> dict:
    """Where one interaction's time went, in ms from the click: callback requests (count, waves
    of requests in flight together, time with at least one waiting on the server), and charts
    redrawn with the time at least one plotly draw was under way."""
    callbacks = [e for e in events if e["kind"] == "callback"]
    draws = [e for e in events if e["kind"] == "draw"]
    waves, waiting_ms = busy_spans(callbacks)
    last_answer = max((e["end"] or e["start"] for e in callbacks), default=None)
    return {
        "callbacks": len(callbacks),
        "waves": waves,
        "first_request_ms": min(e["start"] for e in callbacks) - clicked_ms if callbacks else None,
        "waiting_on_server_ms": waiting_ms,
        "last_answer_ms": last_answer - clicked_ms if callbacks else None,
        "callbacks_ms": {
            e["output"][:60]: round((e["end"] or e["start"]) - e["start"]) for e in callbacks
        },
        "charts_redrawn": len(draws),
        "plotly_busy_ms": busy_spans(draws)[1],
    }


def busy_spans(events: list[dict]) -> tuple[int, float]:
    """How many separate spans the (start, end) intervals of ``events`` make, and their total
    length: overlapping intervals count once."""
    spans, total, span_end = 0, 0.0, -1.0
    for event in sorted(events, key=lambda e: e["start"]):
        end = event["end"] or event["start"]
        if event["start"] > span_end:
            spans += 1
            total += end - event["start"]
        elif end > span_end:
            total += end - span_end
        span_end = max(span_end, end)
    return spans, total


def switch_projects(
    page, projects: list[str], ready: str, headline: str = ""
) -> list[tuple[float, dict]]:
    """Seconds of each switch to ``projects`` from the project menu, on the open tab. The switch
    is seen by the project title or, on a tab without it, by its ``headline`` text changing."""
    switches = []
    for project in projects:
        if headline:
            before = json.dumps(page.inner_text(headline))
            changed = f"() => document.querySelector('{headline}')?.innerText !== {before}"
        else:
            changed = f"() => document.querySelector('#project-title')?.innerText === '{project}'"
        page.click("#project-select")
        option = page.get_by_role("option", name=project, exact=True)
        option.wait_for()
        switches.append(timed_click(page, option, f"() => ({changed})() && ({ready})()"))
    return switches


def summarise(values: list[float]) -> dict:
    """Median and range of repeated measurements, in seconds."""
    ordered = sorted(values)
    return {"median": ordered[len(ordered) // 2], "min": ordered[0], "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="cold and warm page loads")
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the history in")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    figures = run(args.rows, args.repeats, args.keep)
    if args.json:
        print(json.dumps(figures))
    else:
        print(json.dumps(figures, indent=1))


def run(rows: int, repeats: int, keep: Path | None = None) -> dict:
    """Every dashboard figure for an ``rows``-row history: lists of seconds, bytes, MB."""
    work = keep or Path(tempfile.mkdtemp(prefix="carbonboard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / f"emissions_{rows}.csv"
    if not csv_path.exists():
        generate(csv_path, rows)
    cache_dir = work / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    figures: dict = {"rows": rows, "load_average_1min": [os.getloadavg()[0]]}
    process, url, ready_s = start_server(csv_path, cache_dir)
    figures["server_ready_first_s"] = [ready_s]
    try:
        figures.update(measure_page(url, repeats, measure_interaction))
        figures["server_rss_mb"] = [psutil.Process(process.pid).memory_info().rss / 2**20]
    finally:
        process.terminate()
        process.wait(timeout=30)
    process, _, restart_s = start_server(csv_path, cache_dir)
    figures["server_ready_restart_s"] = [restart_s]
    process.terminate()
    process.wait(timeout=30)
    figures["load_average_1min"].append(os.getloadavg()[0])
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
