"""Track a real (small, CPU-only) training job: logistic regression by gradient descent.

    python examples/train_example.py            # appends a row to ./emissions.csv
    carbonboard --filepath=emissions.csv        # then browse it

Uses only the standard library for the workload, so it runs anywhere the tracker does.
"""

from __future__ import annotations

import math
import random

from tracker import EmissionsTracker, track_emissions


def make_dataset(n: int, dims: int, rng: random.Random) -> tuple[list[list[float]], list[int]]:
    """Two Gaussian blobs, linearly separable up to noise."""
    xs, ys = [], []
    for _ in range(n):
        label = rng.random() < 0.5
        centre = 1.0 if label else -1.0
        xs.append([rng.gauss(centre, 1.2) for _ in range(dims)])
        ys.append(int(label))
    return xs, ys


def score(weights: list[float], x: list[float]) -> float:
    """The logit: bias (last weight) plus the dot product."""
    return weights[-1] + sum(w * v for w, v in zip(weights[:-1], x, strict=True))


def train(xs: list[list[float]], ys: list[int], epochs: int, lr: float = 0.1) -> list[float]:
    weights = [0.0] * (len(xs[0]) + 1)
    for _ in range(epochs):
        grad = [0.0] * len(weights)
        for x, y in zip(xs, ys, strict=True):
            error = 1 / (1 + math.exp(-score(weights, x))) - y
            for i, v in enumerate(x):
                grad[i] += error * v
            grad[-1] += error
        weights = [w - lr * g / len(xs) for w, g in zip(weights, grad, strict=True)]
    return weights


def accuracy(weights: list[float], xs: list[list[float]], ys: list[int]) -> float:
    hits = sum(int((score(weights, x) > 0) == bool(y)) for x, y in zip(xs, ys, strict=True))
    return hits / len(ys)


@track_emissions(project_name="examples", experiment_id="evaluate", measure_power_secs=1)
def evaluate(weights: list[float], rng: random.Random) -> float:
    xs, ys = make_dataset(5_000, 16, rng)
    return accuracy(weights, xs, ys)


def main() -> None:
    rng = random.Random(0)
    xs, ys = make_dataset(4_000, 16, rng)
    with EmissionsTracker(
        project_name="examples", experiment_id="logistic-regression", measure_power_secs=1
    ) as tracker:
        tracker.start_task("train")
        weights = train(xs, ys, epochs=30)
        tracker.start_task("score")
        train_accuracy = accuracy(weights, xs, ys)
        tracker.stop_task()
    print(f"train accuracy {train_accuracy:.3f}, held-out accuracy {evaluate(weights, rng):.3f}")
    print(f"emissions: {tracker.final_emissions_kg:.3e} kg CO2eq (see emissions.csv)")


if __name__ == "__main__":
    main()
