"""Tasks in a loop, reading each task's EmissionsData (CodeCarbon's task_loop_same_task.py):
start_task() without start(), stop_task() returns the task's data, stop() ends the run."""

import time

from tracker import EmissionsTracker  # was: from codecarbon import EmissionsTracker

tracker = EmissionsTracker(project_name="task-loop", measure_power_secs=0.1, log_level="debug")
names = []
try:
    for round_number in range(3):
        task_name = f"round_{round_number + 1}_task"
        tracker.start_task(task_name)
        deadline = time.perf_counter() + 0.15
        while time.perf_counter() < deadline:
            sum(range(1000))
        emissions_data = tracker.stop_task()
        assert emissions_data is not None
        assert emissions_data.duration > 0.1 and emissions_data.energy_consumed > 0
        assert emissions_data.emissions > 0 and emissions_data.cpu_energy > 0
        assert list(emissions_data.values)[:4] == [
            "timestamp",
            "project_name",
            "run_id",
            "experiment_id",
        ]
        names.append(task_name)
        print(f"{task_name}: {emissions_data.emissions} kg in {emissions_data.duration:.2f} s")
finally:
    assert tracker.stop_task() is None  # nothing running any more: logged, not raised
    run_kg = tracker.stop()
assert run_kg == tracker.final_emissions == tracker.final_emissions_data.emissions
