"""Prometheus output: /metrics scraped over real HTTP while a run lasts, the node_exporter textfile
read back with prometheus_client's parser, and pushes received by a real HTTP server on 127.0.0.1
playing the Pushgateway."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from tracker.emissions_tracker import EmissionsTracker

INTERVAL_S = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, for every sample of an exposition text."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    matches = [
        v for (n, ls), v in found.items() if n == name and labels.items() <= dict(ls).items()
    ]
    assert len(matches) == 1, (name, labels, sorted(found))
    return matches[0]


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def wait_for(condition, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = condition()
        except (OSError, AssertionError):
            result = None
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout_s} s")


@pytest.fixture
def make(tmp_path, environ, kit):
    def make(**settings) -> EmissionsTracker:
        return EmissionsTracker(
            project_name="proj",
            experiment_id="exp",
            output_dir=str(tmp_path),
            measure_power_secs=INTERVAL_S,
            power_sources=kit.steady_sources(),
            country_iso_code="FRA",
            offline=True,
            environ=environ,
            **settings,
        )

    return make


def test_metrics_endpoint_counts_up_while_the_run_lasts_and_closes_after(make):
    port = free_port()
    tracker = make(prometheus_port=port)
    tracker.start()
    first = samples(
        wait_for(lambda: "carbonboard_energy_joules_total" in scrape(port) and scrape(port))
    )
    wait_for(lambda: value(samples(scrape(port)), "carbonboard_emissions_grams_total") > 0)
    time.sleep(3 * INTERVAL_S)
    second = samples(scrape(port))
    for component in ("cpu", "gpu", "ram"):
        labels = {"component": component, "project": "proj", "experiment": "exp"}
        grown = value(second, "carbonboard_energy_joules_total", **labels)
        assert grown > value(first, "carbonboard_energy_joules_total", **labels)
    assert value(second, "carbonboard_emissions_grams_total") > value(
        first, "carbonboard_emissions_grams_total"
    )
    # 40 W CPU, two 100 W GPUs: the mean power of the last interval (timer jitter aside)
    assert value(second, "carbonboard_power_watts", component="cpu") == pytest.approx(40, rel=0.3)
    assert value(second, "carbonboard_power_watts", component="gpu") == pytest.approx(200, rel=0.3)
    assert value(second, "carbonboard_grid_intensity_grams_per_kwh") > 0
    info = value(
        second, "carbonboard_run_info", intensity_source="country:FRA", cpu_method="steady"
    )
    assert info == 1.0
    assert value(second, "carbonboard_run_info", run_id=tracker.run_id) == 1.0
    assert tracker.stop() > 0
    with pytest.raises(OSError):
        scrape(port)


def test_the_registry_is_private(make):
    from prometheus_client import REGISTRY, generate_latest

    tracker = make(prometheus_port=free_port())
    tracker.start()
    assert b"carbonboard_" not in generate_latest(REGISTRY)
    tracker.stop()


def test_textfile_is_what_node_exporter_reads_and_ends_with_the_final_row(make, tmp_path):
    folder = tmp_path / "textfile"
    tracker = make(prometheus_textfile_dir=str(folder))
    tracker.start()
    path = folder / f"carbonboard_{tracker.run_id}.prom"
    wait_for(lambda: value(samples(path.read_text()), "carbonboard_emissions_grams_total") > 0)
    emissions_kg = tracker.stop()
    final = samples(path.read_text())
    assert value(final, "carbonboard_emissions_grams_total") == pytest.approx(emissions_kg * 1000)
    data = tracker.final_emissions_data
    assert value(final, "carbonboard_energy_joules_total", component="ram") == pytest.approx(
        data.ram_energy * 3.6e6
    )
    assert value(final, "carbonboard_power_watts", component="gpu") == data.gpu_power
    assert value(final, "carbonboard_grid_intensity_grams_per_kwh") == pytest.approx(
        data.carbon_intensity_g_co2e_kwh
    )
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left behind


class Gateway(BaseHTTPRequestHandler):
    """A Pushgateway as far as a client sees it: PUT /metrics/job/<job>/<label>/<value>."""

    received: ClassVar[list[tuple[str, str, str]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        type(self).received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def gateway():
    Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("choose", ["save_to_prometheus", "output_methods"])
def test_codecarbon_push_gateway_options_push_the_same_metrics(make, gateway, choose, caplog):
    url = f"127.0.0.1:{gateway.server_address[1]}"
    how = (
        {"save_to_prometheus": True}
        if choose == "save_to_prometheus"
        else {"output_methods": ["csv", "prometheus"]}
    )
    tracker = make(prometheus_url=url, **how)
    tracker.start()
    emissions_kg = tracker.stop()
    assert "ignored" not in caplog.text
    method, path, body = Gateway.received[-1]
    assert method == "PUT" and path == f"/metrics/job/carbonboard/run_id/{tracker.run_id}"
    pushed = samples(body)
    assert value(pushed, "carbonboard_emissions_grams_total") == pytest.approx(emissions_kg * 1000)
    assert value(pushed, "carbonboard_energy_joules_total", component="gpu") > 0


def test_an_unreachable_gateway_is_one_warning_and_the_row_is_still_written(make, caplog, kit):
    tracker = make(save_to_prometheus=True, prometheus_url=f"127.0.0.1:{free_port()}")
    tracker.start()
    tracker.flush()
    with caplog.at_level(logging.WARNING):
        assert tracker.stop() > 0
    warnings = [r for r in caplog.records if "Prometheus gateway" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    _, rows = kit.read_rows(tracker.output_path)
    assert [r["status"] for r in rows] == ["running", "finished"]  # the flush, then the end


def test_port_must_be_a_tcp_port(make):
    with pytest.raises(ValueError, match="prometheus_port"):
        make(prometheus_port=70_000)


def test_a_busy_port_is_logged_and_the_run_goes_on(make, caplog, kit):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        tracker = make(prometheus_port=busy.getsockname()[1])
        tracker.start()
        assert tracker.stop() > 0
    (error,) = [r for r in caplog.records if "cannot serve Prometheus metrics" in r.getMessage()]
    assert error.levelno == logging.ERROR and error.exc_info is None  # one line, no traceback
    assert len(kit.read_rows(tracker.output_path)[1]) == 1


def test_cli_run_serves_growing_counters_while_the_command_runs(tmp_path, kit):
    port = free_port()
    stop_file = tmp_path / "stop"
    command = (
        "import os, time\n"
        f"while not os.path.exists({str(stop_file)!r}):\n"
        "    sum(range(10_000)); time.sleep(0.01)\n"
    )
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker",
            "run",
            "--offline",
            "--country",
            "FRA",
            "--project",
            "cli",
            "--measure-power-secs",
            "0.2",
            "--output",
            str(tmp_path / "out.csv"),
            "--prometheus-port",
            str(port),
            "--",
            sys.executable,
            "-c",
            command,
        ],
        env=kit.subprocess_env(tmp_path),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = wait_for(
            lambda: (
                value(
                    s := samples(scrape(port)), "carbonboard_energy_joules_total", component="cpu"
                )
                > 0
                and s
            )
        )
        time.sleep(0.6)
        second = samples(scrape(port))
    finally:
        stop_file.touch()
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    for component in ("cpu", "ram"):
        labels = {"component": component, "project": "cli"}
        assert value(second, "carbonboard_energy_joules_total", **labels) > value(
            first, "carbonboard_energy_joules_total", **labels
        )
    assert value(second, "carbonboard_emissions_grams_total") > value(
        first, "carbonboard_emissions_grams_total"
    )
    assert len(kit.read_rows(tmp_path / "out.csv")[1]) == 1
    with pytest.raises(urllib.error.URLError):
        scrape(port)


def test_cli_textfile_mode_writes_a_parsable_file(tmp_path, kit):
    folder = tmp_path / "collector"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracker",
            "run",
            "--offline",
            "--country",
            "FRA",
            "--measure-power-secs",
            "0.1",
            "--prometheus-textfile",
            str(folder),
            "--",
            sys.executable,
            "-c",
            "import time; time.sleep(0.5)",
        ],
        env=kit.subprocess_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (path,) = folder.glob("carbonboard_*.prom")
    found = samples(path.read_text())
    assert value(found, "carbonboard_energy_joules_total", component="cpu") > 0
    assert value(found, "carbonboard_emissions_grams_total") > 0


def blocked_client(tmp_path: Path, kit) -> dict[str, str]:
    """An environment where ``import prometheus_client`` fails, as without the extra."""
    block = tmp_path / "block" / "prometheus_client"
    block.mkdir(parents=True)
    (block / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = kit.subprocess_env(tmp_path)
    env["PYTHONPATH"] = f"{block.parent}:{env['PYTHONPATH']}"
    return env


def test_without_prometheus_client_the_cli_says_which_extra(tmp_path, kit):
    result = subprocess.run(
        [sys.executable, "-m", "tracker", "run", "--prometheus-port", "9999", "--", "true"],
        env=blocked_client(tmp_path, kit),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "pip install 'carbonboard[prometheus]'" in result.stderr
    assert not (tmp_path / "emissions.csv").exists()


def test_without_prometheus_client_the_tracker_logs_and_still_writes(tmp_path, kit):
    code = (
        "from tracker import OfflineEmissionsTracker\n"
        "t = OfflineEmissionsTracker(country_iso_code='FRA', prometheus_port=9999)\n"
        "t.start(); print(t.stop() > 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=blocked_client(tmp_path, kit),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "True", result.stderr
    assert "carbonboard[prometheus]" in result.stderr
    assert len(kit.read_rows(tmp_path / "emissions.csv")[1]) == 1
