"""Outputs: the interface's moments, isolation of a failing output, the CSV update mode, the
logger and HTTP outputs, and the CodeCarbon options that act on them."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from tracker import EmissionsData, EmissionsTracker, OutputMethod, schema
from tracker.emissions_data import delta
from tracker.intensity import Intensity
from tracker.location import Location
from tracker.output import BaseOutput, LoggerOutput
from tracker.row import RunInfo, build_row
from tracker.sampler import Totals

FAST = {"measure_power_secs": 0.05, "offline": True, "country_iso_code": "FRA"}
# CodeCarbon 3.3.2's EmissionsData fields, in order (codecarbon/output_methods/emissions_data.py).
CODECARBON_FIELDS = [
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "on_cloud",
    "pue",
    "wue",
]


@pytest.fixture
def make(tmp_path: Path, environ: dict[str, str], kit):
    def make(**kwargs) -> EmissionsTracker:
        settings = {"output_dir": str(tmp_path), "power_sources": kit.steady_sources(), **FAST}
        return EmissionsTracker(environ=environ, **{**settings, **kwargs})

    return make


class Recorder(BaseOutput):
    """Records every moment it is given, in order."""

    def __init__(self) -> None:
        self.moments: list[tuple[str, object]] = []

    def started(self, run):
        self.moments.append(("started", run))

    def progress(self, data):
        self.moments.append(("progress", data))

    def live(self, data):
        self.moments.append(("live", data))

    def flushed(self, data):
        self.moments.append(("flushed", data))

    def task(self, data):
        self.moments.append(("task", data))

    def finished(self, data):
        self.moments.append(("finished", data))

    def close(self):
        self.moments.append(("close", None))

    def names(self) -> list[str]:
        return [name for name, _ in self.moments]


def test_build_row_is_pure_arithmetic_over_totals():
    run = RunInfo(
        run_id="r",
        project_name="p",
        experiment_id="e",
        experiment_name="n",
        tracking_mode="machine",
        pue=1.5,
        wue=2.0,
        os="os",
        python_version="3.11",
        writer_version="0",
        cpu_count=4,
        cpu_model="cpu",
        gpu_count=0,
        gpu_model="",
        ram_total_gb=16.0,
        energy_methods={"cpu": "rapl"},
    )
    intensity = Intensity(100.0, "country:FRA", "2023")
    totals = Totals(
        elapsed_s=10.0,
        energy_j={"cpu": 3.6e6, "gpu": 0.0, "ram": 0.0},  # 1 kWh
        emissions_g=150.0,  # 1 kWh x 1.5 PUE x 100 g
        intensities=(intensity,),
    )
    row = build_row(
        totals,
        run,
        place=Location("FRA", "France"),
        current_intensity=intensity,
        status="finished",
        timestamp="t",
    )
    assert list(row) == list(schema.FIELDNAMES)
    assert row["energy_consumed"] == 1.5 and row["water_consumed"] == 3.0
    assert row["emissions"] == 0.15 and row["emissions_rate"] == 0.015
    assert row["cpu_power"] == 3.6e5 and row["cpu_energy_method"] == "rapl"
    # PUE is in each component's energy (CodeCarbon 3.3), so the components add up.
    assert row["cpu_energy"] + row["gpu_energy"] + row["ram_energy"] == row["energy_consumed"]
    assert row["cpu_energy"] == 1.5
    assert row["gpu_energy_method"] == "none" and row["carbon_intensity_g_co2e_kwh"] == 100.0


def test_emissions_data_has_codecarbons_fields_first_then_ours():
    names = list(EmissionsData.__dataclass_fields__)
    assert names[: len(CODECARBON_FIELDS)] == CODECARBON_FIELDS
    assert names == [*schema.FIELDNAMES, "task_name"]
    row = {name: 1.0 for name in schema.FIELDNAMES}
    data = EmissionsData.from_row(row, task_name="t")
    assert list(data.values) == names and data.values["task_name"] == "t"
    assert json.loads(data.toJSON())["emissions"] == 1.0
    later = EmissionsData.from_row({**row, "emissions": 3.0, "duration": 5.0})
    change = delta(later, data)
    assert (change.emissions, change.duration, change.emissions_rate) == (2.0, 4.0, 0.5)


def test_an_output_gets_every_moment_in_order(make):
    recorder = Recorder()
    tracker = make(output_handlers=[recorder], api_call_interval=2, experiment_name="exp")
    tracker.start()
    deadline = time.monotonic() + 10
    while "live" not in recorder.names() and time.monotonic() < deadline:
        time.sleep(0.05)
    tracker.flush()
    tracker.start_task("t")
    task = tracker.stop_task()
    assert tracker.stop() == tracker.final_emissions
    names = recorder.names()
    assert names[0] == "started" and names[-2:] == ["finished", "close"]
    assert names.count("progress") >= 2 and 1 <= names.count("live") <= names.count("progress") / 2
    assert names.index("flushed") < names.index("task") < names.index("finished")
    run = recorder.moments[0][1]
    assert run.run_id == tracker.run_id and run.experiment_name == "exp"
    assert recorder.moments[-2][1] is tracker.final_emissions_data
    assert ("task", task) in recorder.moments and task.task_name == "t"
    assert isinstance(task, EmissionsData)


def test_a_failing_output_is_logged_once_and_stops_nothing(tmp_path, make, caplog, kit):
    class Broken(BaseOutput):
        def progress(self, data):
            raise RuntimeError("broken output")

        finished = progress

    after = Recorder()
    tracker = make(output_handlers=[Broken(), after])
    tracker.start()
    time.sleep(0.3)
    emissions_kg = tracker.stop()
    assert emissions_kg > 0 and after.names()[-2:] == ["finished", "close"]
    (row,) = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert float(row["emissions"]) == emissions_kg
    failures = [r for r in caplog.records if "broken output" in str(r.exc_info)]
    assert len(failures) == 1 and "Broken failed" in failures[0].getMessage()


class PortedHandler(BaseOutput):
    """CodeCarbon's documented custom output, its import line switched to ``tracker.output``."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def out(self, total, delta):
        self.calls.append("out")

    def task_out(self, data, experiment_name):
        self.calls.append("task_out")


class OurOutput(BaseOutput):
    """Ours, with a helper that happens to be called ``out``: driven by our moments."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def out(self, total, delta):
        self.calls.append("out")

    def finished(self, data):
        self.calls.append("finished")


def test_a_base_output_subclass_written_for_codecarbon_gets_out_and_task_out(make):
    ported, ours = PortedHandler(), OurOutput()
    tracker = make(output_handlers=[ported, ours])
    tracker.start_task("load")
    tracker.stop_task()
    tracker.stop()
    assert ported.calls == ["out", "task_out"]
    assert ours.calls == ["finished"]


def test_codecarbon_style_handlers_get_out_live_out_task_out_and_exit(make):
    calls: list[tuple[str, object, object]] = []

    class CodeCarbonHandler:  # CodeCarbon's BaseOutput shape, not our class
        def out(self, total, delta):
            calls.append(("out", total, delta))

        def live_out(self, total, delta):
            calls.append(("live_out", total, delta))

        def task_out(self, data, experiment_name):
            calls.append(("task_out", [d.task_name for d in data], experiment_name))

        def exit(self):
            calls.append(("exit", None, None))

    tracker = make(output_handlers=[CodeCarbonHandler()], api_call_interval=1, experiment_name="x")
    tracker.start_task("only")
    deadline = time.monotonic() + 10
    while not any(c[0] == "live_out" for c in calls) and time.monotonic() < deadline:
        time.sleep(0.05)
    tracker.stop_task()
    tracker.stop()
    kinds = [c[0] for c in calls]
    assert "live_out" in kinds and kinds[-3:] == ["out", "task_out", "exit"]
    assert calls[-2][1:] == (["only"], "x")
    _, total, change = calls[-3]
    lives = [c for c in calls if c[0] == "live_out"]
    assert total.emissions == pytest.approx(sum(c[2].emissions for c in lives) + change.emissions)


def test_on_csv_write_update_keeps_one_row_per_run(tmp_path, make, kit):
    other = make(on_csv_write="update")
    other.start()
    other.stop()
    tracker = make(on_csv_write="update")
    tracker.start()
    time.sleep(0.1)
    tracker.flush()
    assert [r["status"] for r in kit.read_rows(tmp_path / "emissions.csv")[1]] == [
        "finished",
        "running",
    ]
    tracker.flush()
    final_kg = tracker.stop()
    header, rows = kit.read_rows(tmp_path / "emissions.csv")
    assert header == list(schema.FIELDNAMES)
    assert [(r["run_id"], r["status"]) for r in rows] == [
        (other.run_id, "finished"),
        (tracker.run_id, "finished"),
    ]
    assert float(rows[1]["emissions"]) == final_kg


def test_on_csv_write_update_copies_other_rows_byte_for_byte(tmp_path, make):
    first = make(on_csv_write="update", project_name="proj")
    first.start()
    first.stop()
    path = tmp_path / "emissions.csv"
    # Another run's row with a Latin-1 byte and a needlessly quoted cell: kept as its bytes.
    row = path.read_bytes().splitlines(keepends=True)[1]
    odd = row.replace(b"proj", b'"pr\xe9j"', 1).replace(first.run_id.encode(), b"other-run")
    path.write_bytes(path.read_bytes() + odd)
    before = path.read_bytes()
    tracker = make(on_csv_write="update")
    tracker.start()
    tracker.flush()
    tracker.stop()
    after = path.read_bytes()
    assert after.startswith(before)
    assert after.count(tracker.run_id.encode()) == 1


def test_on_csv_write_update_never_rewrites_a_file_that_is_not_ours(tmp_path, make):
    path = tmp_path / "emissions.csv"
    dataset = b"id,label,run_id\n1,cat,a\n2,dog,b\n"
    path.write_bytes(dataset)
    tracker = make(on_csv_write="update")
    tracker.start()
    tracker.stop()
    assert path.read_bytes() == dataset
    beside = tmp_path / "emissions.carbonboard.csv"
    assert tracker.run_id in beside.read_text()


def test_on_csv_write_append_keeps_every_flush(tmp_path, make, kit):
    tracker = make()
    tracker.start()
    tracker.flush()
    tracker.stop()
    rows = kit.read_rows(tmp_path / "emissions.csv")[1]
    assert [r["status"] for r in rows] == ["running", "finished"]


def test_save_to_logger_logs_each_row_as_json(make):
    received: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            received.append(record)

    user_logger = logging.getLogger("my.emissions")
    user_logger.propagate = False
    user_logger.setLevel(logging.INFO)
    user_logger.addHandler(Keep())
    for logging_logger in (LoggerOutput(user_logger), user_logger):
        received.clear()
        tracker = make(save_to_logger=True, logging_logger=logging_logger, api_call_interval=-1)
        tracker.start()
        tracker.flush()
        tracker.stop()
        rows = [json.loads(r.getMessage()) for r in received]
        assert [r["status"] for r in rows] == ["running", "finished"]
        assert rows[-1]["run_id"] == tracker.run_id
        assert rows[-1]["emissions"] == tracker.final_emissions


class _Collector(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        return


def test_emissions_endpoint_posts_rows_to_a_real_server(make, kit, tmp_path):
    _Collector.bodies = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/emissions"
        tracker = make(emissions_endpoint=url)
        tracker.start()
        tracker.flush()
        tracker.stop()
    finally:
        server.shutdown()
        server.server_close()
    assert [b["status"] for b in _Collector.bodies] == ["running", "finished"]
    assert _Collector.bodies[-1]["run_id"] == tracker.run_id
    assert _Collector.bodies[-1]["emissions"] == tracker.final_emissions


def test_a_dead_endpoint_delays_nothing_and_loses_no_row(make, kit, tmp_path, caplog):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    port = server.server_port
    server.server_close()  # nothing listens there any more
    tracker = make(emissions_endpoint=f"http://me:pass-123@127.0.0.1:{port}/in?token=tok-456")
    tracker.start()
    started = time.monotonic()
    tracker.stop()
    assert time.monotonic() - started < 3.0
    assert len(kit.read_rows(tmp_path / "emissions.csv")[1]) == 1
    assert f"http://127.0.0.1:{port}/in: row not sent" in caplog.text
    assert "pass-123" not in caplog.text and "tok-456" not in caplog.text


def test_allow_multiple_runs_false_refuses_a_second_tracker(make, environ, tmp_path, caplog):
    environ["TMPDIR"] = str(tmp_path)
    first = make(allow_multiple_runs=False)
    second = make(allow_multiple_runs=False)
    first.start()
    second.start()
    assert second.stop() is None and second.flush() is None
    assert "another tracker is running" in caplog.text
    assert first.stop() > 0
    third = make(allow_multiple_runs=False)
    third.start()
    assert third.stop() > 0
    also = make()  # allow_multiple_runs defaults to True, as in CodeCarbon 3
    also.start()
    assert also.stop() > 0


def test_hosted_service_options_warn_once_and_never_show_the_key(make, caplog):
    secret = "sk-very-secret-123"
    tracker = make(
        save_to_api=True,
        api_key=secret,
        api_endpoint="https://example.invalid",
        output_methods=[OutputMethod.CSV, OutputMethod.API],
    )
    tracker.start()
    assert tracker.stop() > 0
    warnings = [r.getMessage() for r in caplog.records if "ignored:" in r.getMessage()]
    assert len(warnings) == 1
    assert "api_key" in warnings[0] and "output_methods=api" in warnings[0]
    assert secret not in caplog.text and secret not in repr(tracker.settings)


def test_output_methods_choose_the_csv_and_the_logger(tmp_path, make):
    tracker = make(output_methods=[OutputMethod.LOGGER], logging_logger=logging.getLogger("x"))
    assert tracker.settings.save_to_logger and not tracker.settings.save_to_file


def test_co2_signal_api_token_is_the_old_name_of_the_electricitymaps_token(make):
    assert make(co2_signal_api_token="abc").settings.electricitymaps_api_token == "abc"
    both = make(co2_signal_api_token="old", electricitymaps_api_token="new")
    assert both.settings.electricitymaps_api_token == "new"


def test_codecarbon_logger_handlers_receive_our_messages(make):
    received: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            received.append(record.getMessage())

    codecarbon = logging.getLogger("codecarbon")
    handler = Keep()
    codecarbon.addHandler(handler)
    try:
        tracker = make(log_level=logging.INFO)  # CodeCarbon also takes a level number
        tracker.stop_task()  # logs a warning: no running task
    finally:
        codecarbon.removeHandler(handler)
    assert any("no running task" in message for message in received)


def test_logger_preamble_prefixes_the_trackers_own_messages(make):
    from tracker import emissions_tracker

    make(logger_preamble="job-42")
    record = logging.LogRecord("tracker", logging.WARNING, "", 0, "hello", None, None)
    formatted = emissions_tracker._STDERR_HANDLER.format(record)
    assert formatted == "[carbonboard WARNING][job-42] hello"
    make()
    assert emissions_tracker._STDERR_HANDLER.format(record) == "[carbonboard WARNING] hello"


def test_invalid_options_raise_at_construction(make):
    with pytest.raises(ValueError, match="on_csv_write"):
        make(on_csv_write="overwrite")
    with pytest.raises(ValueError, match="api_call_interval"):
        make(api_call_interval=0)
    with pytest.raises(TypeError, match="output handler"):
        make(output_handlers=[object()])


@pytest.mark.parametrize("last_line", ["header", "row"])
def test_on_csv_write_update_puts_its_row_on_a_line_of_its_own(tmp_path, make, kit, last_line):
    """A file whose last line has no line end (a writer cut short, an editor): the run's row is
    not glued onto it, and a header without one is not merged with the row."""
    path = tmp_path / "emissions.csv"
    lines = [",".join(schema.FIELDNAMES)]
    if last_line == "row":
        lines.append(",".join("other" if n == "run_id" else "" for n in schema.FIELDNAMES))
    path.write_text("\n".join(lines), encoding="utf-8")  # no final line end
    tracker = make(on_csv_write="update")
    tracker.start()
    tracker.stop()
    header, rows = kit.read_rows(path)
    assert header == list(schema.FIELDNAMES)
    expected = ["other", tracker.run_id] if last_line == "row" else [tracker.run_id]
    assert [row["run_id"] for row in rows] == expected


@pytest.mark.parametrize("mode", ["append", "update"])
def test_a_linked_emissions_csv_gets_the_rows_and_stays_a_link(tmp_path, make, kit, mode):
    shared = tmp_path / "team" / "emissions.csv"
    shared.parent.mkdir()
    old_header = [n for n in schema.FIELDNAMES if n != "metrics"]  # a migration rewrites it
    shared.write_text(",".join(old_header) + "\n", encoding="utf-8")
    (tmp_path / "emissions.csv").symlink_to(shared)
    tracker = make(on_csv_write=mode)
    tracker.start()
    tracker.stop()
    assert (tmp_path / "emissions.csv").is_symlink()
    header, rows = kit.read_rows(shared)
    assert header == list(schema.FIELDNAMES)
    assert [row["run_id"] for row in rows] == [tracker.run_id]
