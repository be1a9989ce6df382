"""What a normal run says: one INFO line per run, the details at DEBUG, a repeated condition
warned about once per process. Counted on the stderr of a real program decorated with
``@track_emissions`` and called three times, and on the records of a tracker run in this process.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys

from tracker import EmissionsTracker
from tracker.notices import Notices
from tracker.output.summary import summary_message

PROGRAM = """
import sys, time
from tracker import track_emissions

@track_emissions(project_name="demo", measure_power_secs=0.05, {settings})
def work(wait_s):
    time.sleep(wait_s)  # long enough, the first time, for the location lookups to give up

for wait_s in ({first_wait_s}, 0, 0):
    work(wait_s)
"""


def _stderr_lines(tmp_path, kit, settings: str, first_wait_s: float = 0.0, **env: str) -> list:
    code = PROGRAM.format(settings=settings, first_wait_s=first_wait_s)
    environ = {
        k: v
        for k, v in kit.subprocess_env(tmp_path).items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**environ, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def _closed_port() -> int:
    """A local port nothing listens on: a proxy there refuses at once, as a network that is down
    does, with no DNS lookup and no wait."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_three_decorated_calls_print_three_lines_one_per_run(tmp_path, kit):
    lines = _stderr_lines(tmp_path, kit, 'country_iso_code="FRA"')
    assert len(lines) == 3, lines
    for line in lines:
        assert line.startswith("[carbonboard INFO] demo finished: "), line
        assert "(country:FRA)" in line and "cpu " in line and "-> emissions.csv" in line
    _, rows = kit.read_rows(tmp_path / "emissions.csv")
    assert len(rows) == 3


def test_without_network_one_warning_says_the_world_average_is_used(tmp_path, kit):
    proxy = f"http://127.0.0.1:{_closed_port()}"
    lines = _stderr_lines(tmp_path, kit, "", first_wait_s=2.5, HTTPS_PROXY=proxy, https_proxy=proxy)
    infos = [line for line in lines if line.startswith("[carbonboard INFO] demo finished: ")]
    warnings = [line for line in lines if line.startswith("[carbonboard WARNING]")]
    assert len(infos) == 3 and len(warnings) == 1 and len(lines) == 4, lines
    assert "world-average intensity" in warnings[0]
    assert "geo-IP lookup" not in "\n".join(lines)  # the lookup and its error are details
    assert "Max retries" not in "\n".join(lines)
    assert all("(world-average)" in line for line in infos)


def test_at_debug_the_geoip_failure_is_there_with_its_cause(tmp_path, kit):
    proxy = f"http://127.0.0.1:{_closed_port()}"
    lines = _stderr_lines(
        tmp_path, kit, 'log_level="debug"', first_wait_s=2.5, HTTPS_PROXY=proxy, https_proxy=proxy
    )
    geoip = [line for line in lines if "geo-IP lookup" in line]
    assert geoip and all(line.startswith("[carbonboard DEBUG]") for line in geoip), lines
    assert sum(line.startswith("[carbonboard WARNING]") for line in lines) == 1, lines
    assert sum(line.startswith("[carbonboard INFO]") for line in lines) == 3, lines


def test_a_run_logs_its_summary_once_at_info_and_its_tasks_add_none(tmp_path, caplog, kit):
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    tracker = EmissionsTracker(
        project_name="p",
        output_dir=str(tmp_path),
        offline=True,
        country_iso_code="FRA",
        measure_power_secs=0.05,
        power_sources=kit.steady_sources(),
        environ=environ,
    )
    with caplog.at_level(logging.INFO, logger="tracker"):
        tracker.start()
        tracker.start_task("a")
        tracker.stop_task()
        tracker.flush()
        tracker.stop()
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    data = tracker.final_emissions_data
    assert record.getMessage() == summary_message(data, tracker.output_path)
    assert record.getMessage().startswith("p finished: ")
    assert "; cpu steady, gpu counter, ram model -> " in record.getMessage()
    assert record.getMessage().endswith(os.path.join(str(tmp_path), "emissions.csv"))


def test_a_notice_is_a_warning_once_then_debug(caplog):
    notices, logger = Notices(), logging.getLogger("tracker.test-notices")
    with caplog.at_level(logging.DEBUG, logger="tracker.test-notices"):
        for _ in range(3):
            notices.warn(logger, "rapl", "counter %s unreadable", "/x")
        notices.warn(logger, "other", "another condition")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "counter /x unreadable"),
        (logging.DEBUG, "counter /x unreadable"),
        (logging.DEBUG, "counter /x unreadable"),
        (logging.WARNING, "another condition"),
    ]
