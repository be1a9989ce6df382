"""The context manager, with logging configured for CodeCarbon's logger as its
logging_to_file.py example does: the tracker's messages land in codecarbon.log."""

import logging
import time

from tracker import EmissionsTracker  # was: from codecarbon import EmissionsTracker

logger = logging.getLogger("codecarbon")
handler = logging.FileHandler("codecarbon.log")
handler.setFormatter(logging.Formatter("%(asctime)s - %(name)-12s: %(levelname)-8s %(message)s"))
handler.setLevel(logging.DEBUG)
logger.addHandler(handler)

with EmissionsTracker(project_name="context", measure_power_secs=0.1, log_level="info") as tracker:
    time.sleep(0.3)
    tracker.stop_task()  # no task: a warning, which the codecarbon handler receives

data = tracker.final_emissions_data
assert data is not None and data.duration >= 0.3 and data.energy_consumed > 0
print(f"context: {data.energy_consumed} kWh")
