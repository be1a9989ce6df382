"""Electricity Maps client against a real local server: answers, failures and the disk cache."""

from __future__ import annotations

import json
import logging

import pytest

from tracker.intensity import Intensity
from tracker.intensity.live import ElectricityMapsClient, query_for
from tracker.location import Location
from tracker.notices import Notices

PATH = "/v3/carbon-intensity/latest"
ANSWER = {"zone": "FR", "carbonIntensity": 42, "datetime": "2025-03-01T10:00:00.000Z"}


class WallClock:
    def __init__(self) -> None:
        self.now_s = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now_s


def client(services, tmp_path, clock=None, timeout_s=1.0) -> ElectricityMapsClient:
    return ElectricityMapsClient(
        "token-1",
        url=f"{services.url}/v3",
        timeout_s=timeout_s,
        cache_dir=tmp_path,
        ttl_s=3600,
        wall_clock=clock or WallClock(),
        notices=Notices(),  # this test's own: each failure here is a first
    )


def test_query_for_a_location():
    assert query_for(Location("FRA")) == {"zone": "FR"}
    assert query_for(Location("SWE", region="SE3")) == {"zone": "SE-SE3"}
    assert query_for(Location("FIN", region="FI")) == {"zone": "FI"}
    assert query_for(Location("USA", region="california")) == {"zone": "US"}
    assert query_for(Location("FRA", latitude=48.8582, longitude=2.3387)) == {
        "lat": "48.86",
        "lon": "2.34",
    }
    assert query_for(Location()) is None


def test_success_sends_the_token_and_caches(services, tmp_path):
    services.route("GET", PATH, body=ANSWER, require_headers={"auth-token": "token-1"})
    live = client(services, tmp_path)
    assert live.latest({"zone": "FR"}) == Intensity(
        42.0, "live:electricitymaps", "2025", "lifecycle"
    )
    (seen,) = services.seen(PATH)
    assert seen.query == {"zone": ["FR"]}
    assert live.latest({"zone": "FR"}) == Intensity(
        42.0, "live:electricitymaps", "2025", "lifecycle"
    )
    assert len(services.seen(PATH)) == 1  # the second answer came from the disk cache
    assert [p.name for p in tmp_path.iterdir()] == ["zone-FR.json"]


def test_the_basis_the_api_names_is_kept_through_the_cache(services, tmp_path):
    """Electricity Maps answers lifecycle figures unless asked; a direct answer says so."""
    services.route("GET", PATH, body={**ANSWER, "emissionFactorType": "direct"})
    assert client(services, tmp_path).latest({"zone": "FR"}).basis == "direct"
    assert client(services, tmp_path).latest({"zone": "FR"}).basis == "direct"
    assert len(services.seen(PATH)) == 1  # the second client read the basis from the cache


def test_a_cache_file_without_a_basis_is_read_as_the_api_default(services, tmp_path):
    (tmp_path / "zone-FR.json").write_text(
        json.dumps({"fetched_at_unix_s": WallClock().now_s, "g_co2e_per_kwh": 42, "year": "2025"})
    )
    found = client(services, tmp_path).latest({"zone": "FR"})
    assert found == Intensity(42.0, "live:electricitymaps", "2025", "lifecycle")
    assert not services.seen(PATH)


def test_cache_is_shared_between_clients_and_expires(services, tmp_path):
    services.route("GET", PATH, body=ANSWER)
    clock = WallClock()
    client(services, tmp_path, clock).latest({"zone": "FR"})
    services.route("GET", PATH, body={**ANSWER, "carbonIntensity": 77})
    later = client(services, tmp_path, clock)
    clock.now_s += 3599
    assert later.latest({"zone": "FR"}).g_co2e_per_kwh == 42
    clock.now_s += 1
    assert later.latest({"zone": "FR"}).g_co2e_per_kwh == 77
    assert len(services.seen(PATH)) == 2


def test_cache_is_per_zone(services, tmp_path):
    services.route("GET", PATH, body=ANSWER)
    live = client(services, tmp_path)
    live.latest({"zone": "FR"})
    live.latest({"zone": "DE"})
    assert len(services.seen(PATH)) == 2


@pytest.mark.parametrize(
    ("status", "body", "delay_s", "message"),
    [
        (401, {"message": "bad token"}, 0.0, "token was rejected"),
        (500, "boom", 0.0, "500"),
        (200, "{not json", 0.0, "failed"),
        (200, {"carbonIntensity": "high"}, 0.0, "not a number"),
        (200, {"carbonIntensity": -3}, 0.0, "out of range"),
        (200, [1, 2], 0.0, "not a JSON object"),
        (200, ANSWER, 0.5, "timed out"),
    ],
)
def test_failures_log_one_line_and_return_none(
    services, tmp_path, caplog, status, body, delay_s, message
):
    services.route("GET", PATH, status=status, body=body, delay_s=delay_s)
    with caplog.at_level(logging.WARNING, logger="tracker.intensity.live"):
        assert client(services, tmp_path, timeout_s=0.1).latest({"zone": "FR"}) is None
    assert len(caplog.records) == 1
    assert message in caplog.records[0].getMessage()
    assert not list(tmp_path.iterdir())  # failures are not cached


@pytest.mark.parametrize(
    "content",
    ["{corrupt", json.dumps({"g_co2e_per_kwh": 1}), json.dumps([1]), "\x00\x01"],
)
def test_corrupt_cache_file_is_ignored_and_replaced(services, tmp_path, caplog, content):
    (tmp_path / "zone-FR.json").write_text(content)
    services.route("GET", PATH, body=ANSWER)
    with caplog.at_level(logging.WARNING, logger="tracker.intensity.live"):
        assert client(services, tmp_path).latest({"zone": "FR"}).g_co2e_per_kwh == 42
    assert len(caplog.records) == 1
    assert "corrupt intensity cache" in caplog.records[0].getMessage()
    assert json.loads((tmp_path / "zone-FR.json").read_text())["g_co2e_per_kwh"] == 42
