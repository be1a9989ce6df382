"""Locate the static assets, from a wheel install (carbonboard/assets) or a source checkout."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

# plotly.js for the page and the reports: only the trace types carbonboard draws (a third of the
# full bundle). Built by `make plotly-bundle` from assets/src/plotly/.
PLOTLY_BUNDLE = "plotly-carbonboard.min.js"


def assets_dir() -> Path:
    """The folder Dash serves as ``/assets``: packaged in the wheel, else the repo's ``assets/``."""
    packaged = Path(str(files("carbonboard") / "assets"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "assets"


def plotly_bundle_bytes() -> bytes:
    """The partial plotly.js bundle as the page is sent it."""
    return (assets_dir() / PLOTLY_BUNDLE).read_bytes()


@lru_cache(maxsize=1)
def plotly_bundle_js() -> str:
    """The partial plotly.js bundle's source, to inline into a standalone report."""
    return plotly_bundle_bytes().decode("utf-8")
