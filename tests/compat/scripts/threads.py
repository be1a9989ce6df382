"""Three threads, each with its own tracker (CodeCarbon's examples/multithread.py)."""

import threading
import time

from tracker import OfflineEmissionsTracker  # was: from codecarbon import OfflineEmissionsTracker


def tracked_work(seconds: float) -> None:
    tracker = OfflineEmissionsTracker(
        country_iso_code="FRA", measure_power_secs=0.1, project_name="threads"
    )
    tracker.start()
    try:
        time.sleep(seconds)
    finally:
        tracker.stop()


if __name__ == "__main__":
    threads = [threading.Thread(target=tracked_work, args=(0.2 + 0.1 * i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
