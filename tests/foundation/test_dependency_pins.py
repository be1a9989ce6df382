"""The board's pins hold what they claim: plotly is the release line that ships the plotly.js the
page bundles (figures plotly validates must draw in that bundle), and dash has ``on_error``."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import dash
import plotly.offline
import pytest
from packaging.requirements import Requirement  # hatchling's, in the test extra

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "assets" / "plotly-carbonboard.min.js"
RECIPE = ROOT / "assets" / "src" / "plotly" / "package.json"


def board_requirements() -> dict[str, Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    board = pyproject["project"]["optional-dependencies"]["board"]
    return {requirement.name: requirement for requirement in map(Requirement, board)}


def major_minor(text: str) -> tuple[int, int]:
    major, minor = re.match(r"(\d+)\.(\d+)", text).groups()
    return int(major), int(minor)


def bundled_plotly_js() -> str:
    """The plotly.js version the page's bundle was built from, as its banner says."""
    with BUNDLE.open(encoding="utf-8") as handle:
        banner = handle.readline()
    return re.search(r"plotly\.js v(\d+\.\d+\.\d+)", banner).group(1)


def test_the_bundle_is_built_from_the_recipes_plotly_js():
    recipe = json.loads(RECIPE.read_text(encoding="utf-8"))
    assert recipe["dependencies"]["plotly.js"] == bundled_plotly_js()


def test_the_installed_plotly_ships_the_bundles_plotly_js_major_and_minor():
    installed = version("plotly")
    assert board_requirements()["plotly"].specifier.contains(installed)
    assert major_minor(plotly.offline.get_plotlyjs_version()) == major_minor(bundled_plotly_js())


def test_the_plotly_pin_is_one_release_line():
    """plotly.py changes its plotly.js with its minor release: the pin allows one minor."""
    specifier = board_requirements()["plotly"].specifier
    minimum = next(spec.version for spec in specifier if spec.operator == ">=")
    major, minor = major_minor(minimum)
    assert specifier.contains(f"{major}.{minor}.0")
    assert specifier.contains(f"{major}.{minor}.99")
    assert not specifier.contains(f"{major}.{minor + 1}.0")
    assert not specifier.contains(f"{major}.{minor - 1}.99")


def test_the_installed_dash_takes_on_error_as_the_pin_says():
    assert board_requirements()["dash"].specifier.contains(version("dash"))
    assert not board_requirements()["dash"].specifier.contains("2.17.1")  # has no on_error
    errors: list[Exception] = []
    app = dash.Dash(__name__, on_error=errors.append)
    assert app is not None
