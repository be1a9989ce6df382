"""IntensityProvider end to end against real local servers: order, non-blocking, refresh, errors."""

from __future__ import annotations

import logging
import time

import pytest

from tracker.intensity import WORLD_AVERAGE, Intensity
from tracker.intensity.provider import IntensityProvider
from tracker.notices import Notices

EM_PATH = "/v3/carbon-intensity/latest"
GEOJS_PARIS = {"country_code3": "FRA", "region": "Ile-de-France", "latitude": "48.86",
               "longitude": "2.34"}  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def make(services, tmp_path):
    made: list[IntensityProvider] = []

    def make(**kwargs) -> IntensityProvider:
        defaults = dict(
            offline=False,
            electricitymaps_url=f"{services.url}/v3",
            geoip_url=f"{services.url}/geo.json",
            metadata_urls={name: f"{services.url}/{name}" for name in ("aws", "gcp", "azure")},
            cache_dir=tmp_path,
            http_timeout_s=0.5,
            notices=Notices(),  # this test's own: its once-per-process warnings are firsts
        )
        provider = IntensityProvider(**{**defaults, **kwargs})
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


def started(provider: IntensityProvider) -> IntensityProvider:
    provider.start()
    assert provider.wait_ready(5.0)
    return provider


def test_start_returns_at_once_even_when_services_are_slow(services, make):
    services.route("GET", "/geo.json", body=GEOJS_PARIS, delay_s=0.3)
    provider = make()
    began = time.monotonic()
    provider.start()
    assert provider.current() is WORLD_AVERAGE  # nothing known yet, and no waiting
    assert provider.location().source == "unknown"
    assert time.monotonic() - began < 0.1
    assert provider.wait_ready(5.0)
    assert provider.current().source == "country:FRA"
    assert provider.location().source == "geo-ip"


def test_forced_wins(services, make):
    services.route("GET", EM_PATH, body={"carbonIntensity": 42})
    provider = started(
        make(
            country_iso_code="FR",
            force_carbon_intensity_g_co2e_kwh=300,
            electricitymaps_api_token="t",
        )
    )
    assert provider.current() == Intensity(300.0, "forced", "")
    assert services.seen(EM_PATH) == []


def test_offline_uses_only_what_it_is_given(services, make):
    provider = started(make(offline=True, country_iso_code="fr", electricitymaps_api_token="t"))
    assert provider.current().source == "country:FRA"
    assert provider.location().country_name == "France"
    assert services.requests == []


def test_offline_without_a_country_is_the_flagged_world_average(services, make, caplog):
    provider = started(make(offline=True))
    with caplog.at_level(logging.WARNING, logger="tracker.intensity.provider"):
        assert provider.current() is WORLD_AVERAGE
        assert provider.current().is_fallback
    assert len(caplog.records) == 1 and "world-average" in caplog.records[0].getMessage()
    assert services.requests == []


def test_live_figure_then_refresh_after_the_ttl(services, make):
    services.route(
        "GET",
        EM_PATH,
        body={"carbonIntensity": 42, "datetime": "2025-01-01T00:00:00Z"},
        require_headers={"auth-token": "t"},
    )
    clock = FakeClock()
    provider = started(
        make(country_iso_code="FRA", electricitymaps_api_token="t", cache_ttl_s=60, clock=clock)
    )
    assert provider.current() == Intensity(42.0, "live:electricitymaps", "2025", "lifecycle")
    services.route("GET", EM_PATH, body={"carbonIntensity": 77, "datetime": "2025-01-01T01Z"})
    clock.now_s += 59
    assert provider.current().g_co2e_per_kwh == 42
    clock.now_s += 1
    provider.current()  # asks for a refresh, answers at once
    deadline = time.monotonic() + 5
    while provider.current().g_co2e_per_kwh != 77 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert provider.current().g_co2e_per_kwh == 77
    assert len(services.seen(EM_PATH)) == 2


def test_live_failure_falls_through_to_the_cloud_region(services, make, caplog):
    services.route("GET", EM_PATH, status=401, body={"message": "invalid token"})
    with caplog.at_level(logging.WARNING, logger="tracker"):  # whatever level a run left there
        provider = started(
            make(cloud_provider="gcp", cloud_region="europe-west9", electricitymaps_api_token="x")
        )
    assert provider.current() == Intensity(34.0, "cloud:gcp:europe-west9", "", "operational")
    assert provider.location().country_iso_code == "FRA"
    assert [r.getMessage() for r in caplog.records if "Electricity Maps" in r.getMessage()]


def test_metadata_then_region_figure(services, make):
    services.route("GET", "/azure/metadata/instance/compute/location", body="westus2")
    provider = started(make())
    assert provider.current().source == "us-state:washington"
    assert provider.location().on_cloud
    assert services.seen("/geo.json") == []


def test_unknown_cloud_region_logs_and_uses_the_country(make, caplog):
    with caplog.at_level(logging.WARNING, logger="tracker.intensity.provider"):
        provider = make(offline=True, country_iso_code="DE", cloud_provider="aws",
                        cloud_region="eu-nowhere-9")  # fmt: skip
    assert len(caplog.records) == 1 and "eu-nowhere-9" in caplog.records[0].getMessage()
    assert provider.current().source == "country:DEU"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"country_iso_code": "XX"},
        {"force_carbon_intensity_g_co2e_kwh": -1},
        {"force_carbon_intensity_g_co2e_kwh": float("nan")},
        {"force_carbon_intensity_g_co2e_kwh": "lots"},
    ],
)
def test_bad_settings_fail_at_construction(make, kwargs):
    with pytest.raises(ValueError):
        make(**kwargs)


def test_unusable_urls_never_raise_out_of_the_provider(make):
    provider = started(
        make(
            geoip_url="not a url",
            metadata_urls=dict.fromkeys(("aws", "gcp", "azure"), "nope://x"),
            electricitymaps_api_token="t",
        )
    )
    assert provider.current() is WORLD_AVERAGE
    assert provider.location().source == "unknown"


def test_close_stops_the_background_thread(services, make):
    services.route("GET", EM_PATH, body={"carbonIntensity": 42})
    provider = started(make(country_iso_code="FRA", electricitymaps_api_token="t"))
    thread = provider._thread
    assert thread is not None and thread.is_alive()
    provider.close()
    thread.join(1.0)
    assert not thread.is_alive()
