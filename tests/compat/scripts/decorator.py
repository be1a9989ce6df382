"""The decorator with PUE, WUE and a forced carbon intensity (CodeCarbon's pue.py, wue.py and
mnist_decorator.py)."""

import time

from tracker import track_emissions  # was: from codecarbon import track_emissions


@track_emissions(
    project_name="decorated",
    offline=True,
    country_iso_code="FRA",
    measure_power_secs=0.1,
    pue=1.2,
    wue=1.5,
    force_carbon_intensity_g_co2e_kwh=300.0,
)
def train(epochs: int) -> str:
    for _ in range(epochs):
        time.sleep(0.05)
    return "model"


if __name__ == "__main__":
    assert train(3) == "model"
    assert train(2) == "model"
