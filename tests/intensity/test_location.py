"""Location resolution against real HTTP servers playing the metadata services and geo-IP."""

from __future__ import annotations

import logging
import time

import pytest

from tracker import location
from tracker.location import Location

GEOJS_PARIS = {
    "country_code": "FR",
    "country_code3": "FRA",
    "country": "France",
    "region": "Ile-de-France",
    "latitude": "48.8582",
    "longitude": "2.3387",
}


def metadata_urls(services) -> dict[str, str]:
    return {name: f"{services.url}/{name}" for name in ("aws", "gcp", "azure")}


def test_settings_win_and_fill_in_names():
    place = location.from_settings("fr")
    assert place == Location("FRA", "France", source="settings")
    assert location.from_settings() is None
    with pytest.raises(ValueError):
        location.from_settings("XX")


def test_settings_cloud_region_or_region_imply_the_country():
    aws = location.from_settings(cloud_provider="AWS", cloud_region="eu-west-3")
    assert (aws.country_iso_code, aws.cloud_provider, aws.on_cloud) == ("FRA", "aws", True)
    state = location.from_settings(region="Oregon")
    assert (state.country_iso_code, state.region) == ("USA", "oregon")


def test_aws_imdsv2_token_then_region(services):
    services.route("PUT", "/aws/latest/api/token", body="secret-token")
    services.route(
        "GET",
        "/aws/latest/meta-data/placement/region",
        body="eu-west-3",
        require_headers={"X-aws-ec2-metadata-token": "secret-token"},
    )
    place = location.detect_cloud(metadata_urls(services), budget_s=1.0)
    assert place == Location(
        "FRA", "France", cloud_provider="aws", cloud_region="eu-west-3", source="cloud-metadata"
    )
    puts = services.seen("/aws/latest/api/token")  # an earlier test's probe may land here too
    assert puts and all(
        put.method == "PUT" and "X-aws-ec2-metadata-token-ttl-seconds" in put.headers
        for put in puts
    )


def test_gcp_zone_gives_the_region(services):
    services.route(
        "GET",
        "/gcp/computeMetadata/v1/instance/zone",
        body="projects/123456/zones/europe-west1-b",
        headers={"Metadata-Flavor": "Google"},
        require_headers={"Metadata-Flavor": "Google"},
    )
    place = location.detect_cloud(metadata_urls(services), budget_s=1.0)
    assert (place.cloud_provider, place.cloud_region, place.country_iso_code) == (
        "gcp",
        "europe-west1",
        "BEL",
    )


def test_azure_compute_location(services):
    services.route(
        "GET",
        "/azure/metadata/instance/compute/location",
        body="westeurope",
        require_headers={"Metadata": "true"},
    )
    place = location.detect_cloud(metadata_urls(services), budget_s=1.0)
    assert (place.cloud_provider, place.cloud_region, place.country_iso_code) == (
        "azure",
        "westeurope",
        "NLD",
    )
    # An earlier test's probe may still land here (probes outlive detect_cloud): check them all.
    seen = services.seen("/azure/metadata/instance/compute/location")
    assert seen and all(request.query["format"] == ["text"] for request in seen)


def test_off_cloud_nothing_answers(services):
    assert location.detect_cloud(metadata_urls(services), budget_s=1.0) is None


def test_metadata_probes_respect_the_total_budget(services):
    for path in ("/aws/latest/api/token", "/gcp/computeMetadata/v1/instance/zone"):
        services.route("PUT" if "aws" in path else "GET", path, body="x", delay_s=1.0)
    services.route("GET", "/azure/metadata/instance/compute/location", body="x", delay_s=1.0)
    started = time.monotonic()
    assert location.detect_cloud(metadata_urls(services), budget_s=0.2) is None
    assert time.monotonic() - started < 0.6


def test_a_web_page_is_not_a_region_name(services):
    services.route("GET", "/azure/metadata/instance/compute/location", body="<html>hi</html>")
    assert location.detect_cloud(metadata_urls(services), budget_s=1.0) is None


def test_geoip_success(services):
    services.route("GET", "/geo.json", body=GEOJS_PARIS)
    place = location.detect_geoip(f"{services.url}/geo.json", timeout_s=1.0)
    assert place == Location(
        "FRA", "France", "Ile-de-France", latitude=48.8582, longitude=2.3387, source="geo-ip"
    )


def test_geoip_us_state_becomes_the_region(services):
    services.route(
        "GET",
        "/geo.json",
        body={"country_code": "US", "region": "California", "latitude": "x", "longitude": None},
    )
    place = location.detect_geoip(f"{services.url}/geo.json", timeout_s=1.0)
    assert (place.country_iso_code, place.region, place.latitude) == ("USA", "california", None)


@pytest.mark.parametrize(
    ("status", "body", "delay_s"),
    [
        (500, "oops", 0.0),
        (200, "{not json", 0.0),
        (200, ["a", "list"], 0.0),
        (200, {"country_code": "XX"}, 0.0),  # never a made-up country
        (200, {"region": "somewhere"}, 0.0),
        (200, GEOJS_PARIS, 0.5),  # past the timeout
    ],
)
def test_geoip_failures_log_one_debug_line(services, caplog, status, body, delay_s):
    services.route("GET", "/geo.json", status=status, body=body, delay_s=delay_s)
    with caplog.at_level(logging.DEBUG, logger="tracker.location"):
        assert location.detect_geoip(f"{services.url}/geo.json", timeout_s=0.1) is None
    (record,) = caplog.records  # a detail: the provider warns once about the world average
    assert record.levelno == logging.DEBUG and "geo-IP lookup" in record.getMessage()


def test_resolve_order(services):
    services.route("GET", "/geo.json", body=GEOJS_PARIS)
    urls = metadata_urls(services)
    geo = f"{services.url}/geo.json"

    def resolve(settings, offline=False):
        return location.resolve(
            settings, offline=offline, metadata_urls=urls, geoip_url=geo, http_timeout_s=1.0
        )

    given = location.from_settings("DE")
    assert resolve(given) is given
    assert resolve(None, offline=True) == Location()
    assert resolve(None).source == "geo-ip"
    services.route("GET", "/azure/metadata/instance/compute/location", body="japaneast")
    assert resolve(None).cloud_region == "japaneast"
    # A cloud region missing from the bundled table: geo-IP supplies the country.
    services.route("GET", "/azure/metadata/instance/compute/location", body="newregion")
    place = resolve(None)
    assert (place.cloud_region, place.country_iso_code) == ("newregion", "FRA")
    services.route("GET", "/geo.json", status=500)
    assert resolve(None).country_iso_code == ""
