"""CodeCarbon's task helpers from ``codecarbon.emissions_tracker``, the import line swapped:
``TaskEmissionsTracker`` around a block and ``track_task_emissions`` on a function, with a
tracker of the program's and without one."""

import time

from tracker.emissions_tracker import (  # was: from codecarbon.emissions_tracker import ...
    EmissionsTracker,
    TaskEmissionsTracker,
    track_task_emissions,
)


def busy(seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sum(range(1000))


tracker = EmissionsTracker(project_name="task-helpers", measure_power_secs=0.1)
tracker.start()


@track_task_emissions(tracker=tracker, task_name="predict")
def predict(x: int) -> int:
    busy(0.1)
    return x * 2


with TaskEmissionsTracker(task_name="grid search", tracker=tracker):
    busy(0.1)
assert [predict(1), predict(2)] == [2, 4]
run_kg = tracker.stop()
assert run_kg is not None and run_kg > 0


@track_task_emissions(task_name="alone")
def alone() -> str:
    busy(0.1)
    return "done"


# Without a tracker: each call is measured by its own, stopped when the call returns.
assert [alone(), alone()] == ["done", "done"]

with TaskEmissionsTracker(task_name="block") as task:
    busy(0.1)
assert task.is_default_tracker and task.tracker.final_emissions > 0
print(f"detected {tracker.get_detected_hardware()['cpu_count']} CPUs")
