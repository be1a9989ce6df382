"""The public endpoints the tracker may call, in one place; every caller accepts an override."""

from __future__ import annotations

ELECTRICITYMAPS_URL = "https://api.electricitymap.org/v3"
GEOIP_URL = "https://get.geojs.io/v1/ip/geo.json"
# The link-local metadata address answers on AWS, Google Cloud and Azure alike; using the address
# rather than a host name (metadata.google.internal) avoids a DNS lookup off the cloud.
METADATA_URLS = {
    "aws": "http://169.254.169.254",
    "gcp": "http://169.254.169.254",
    "azure": "http://169.254.169.254",
}
METADATA_BUDGET_S = 1.0
