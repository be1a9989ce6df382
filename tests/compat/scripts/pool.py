"""A multiprocessing pool: one tracked run around the pool, and each worker call tracked by the
decorator, all appending to the same emissions.csv."""

import multiprocessing
import sys

from tracker import EmissionsTracker, track_emissions  # was: from codecarbon import ...


@track_emissions(project_name="pool-worker", measure_power_secs=0.1, save_to_file=True)
def square_sum(n: int) -> int:
    return sum(i * i for i in range(n))


if __name__ == "__main__":
    tracker = EmissionsTracker(project_name="pool", measure_power_secs=0.1, tracking_mode="process")
    tracker.start()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(square_sum, [200_000] * 4)
    emissions_kg = tracker.stop()
    assert results == [square_sum.__wrapped__(200_000)] * 4
    assert isinstance(emissions_kg, float) and emissions_kg > 0
    print(f"pool run: {emissions_kg} kg", file=sys.stderr)
