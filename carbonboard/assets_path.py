"""Locate the static assets, from a wheel install (carbonboard/assets) or a source checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def assets_dir() -> Path:
    """The folder Dash serves as ``/assets``: packaged in the wheel, else the repo's ``assets/``."""
    packaged = Path(str(files("carbonboard") / "assets"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "assets"
