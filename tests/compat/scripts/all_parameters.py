"""Every parameter CodeCarbon 3.3's OfflineEmissionsTracker takes, in one script. The endpoint of
the HTTP output comes as the first argument, the push gateway's address as the second. Rows must
land in the CSV (one per run, "update"), in emissions.jsonl (the logger output), at the endpoint
and at the gateway; handler calls in handler.log."""

import json
import logging
import sys
import time
from pathlib import Path

from tracker import OfflineEmissionsTracker, OutputMethod  # was: from codecarbon import ...
from tracker.output import LoggerOutput  # was: from codecarbon.output import LoggerOutput


class FileHandler:
    """A CodeCarbon-style output handler (out / live_out / task_out / exit)."""

    def __init__(self, path):
        self.path = path

    def _write(self, kind, payload):
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **payload}) + "\n")

    def out(self, total, delta):
        self._write("out", {"emissions": total.emissions, "delta": delta.emissions})

    def live_out(self, total, delta):
        self._write("live_out", {"emissions": total.emissions, "delta": delta.emissions})

    def task_out(self, data, experiment_name):
        self._write("task_out", {"tasks": len(data), "experiment_name": experiment_name})

    def exit(self):
        self._write("exit", {})


json_logger = logging.getLogger("emissions-json")
json_logger.setLevel(logging.INFO)
json_logger.propagate = False
json_logger.addHandler(logging.FileHandler("emissions.jsonl"))

tracker = OfflineEmissionsTracker(
    project_name="all-parameters",
    measure_power_secs=0.1,
    api_call_interval=1,
    api_endpoint="https://api.example.invalid",
    api_key="secret-api-key-0123",
    output_dir=".",
    output_file="emissions.csv",
    output_methods=None,
    save_to_file=True,
    save_to_api=True,
    save_to_logger=True,
    logging_logger=LoggerOutput(json_logger, logging.INFO),
    save_to_prometheus=True,
    save_to_logfire=False,
    prometheus_url=sys.argv[2],
    output_handlers=[FileHandler("handler.log")],
    gpu_ids=[0],
    emissions_endpoint=sys.argv[1],
    experiment_id="5b0fa12a-3dd7-45bb-9766-cc326314d9f1",
    experiment_name="everything",
    electricitymaps_api_token=None,
    co2_signal_api_token="secret-token-4567",
    tracking_mode="process",
    log_level="warning",
    on_csv_write="update",
    logger_preamble="all-params",
    force_cpu_power=50,
    force_ram_power=5,
    pue=1.1,
    wue=0.5,
    force_carbon_intensity_g_co2e_kwh=100.0,
    force_mode_cpu_load=True,
    allow_multiple_runs=False,
    rapl_include_dram=True,
    rapl_prefer_psys=False,
    metadata={"note": "boamps only"},
    country_iso_code="FRA",
    region=None,
    cloud_provider=None,
    cloud_region=None,
    country_2letter_iso_code="FR",
)
assert OutputMethod.CSV == "csv"
tracker.start()
tracker.start_task("warm-up")
time.sleep(0.25)
warm_up = tracker.stop_task()
flushed_kg = tracker.flush()
deadline = time.monotonic() + 10  # at least one live update (every measure) before stopping
while (
    "live_out" not in Path("handler.log").read_text(encoding="utf-8")
    and time.monotonic() < deadline
):
    time.sleep(0.05)
run_kg = tracker.stop()
assert isinstance(flushed_kg, float) and isinstance(run_kg, float) and run_kg > flushed_kg > 0
assert warm_up.emissions > 0 and tracker.final_emissions_data.pue == 1.1
print(tracker.run_id)
