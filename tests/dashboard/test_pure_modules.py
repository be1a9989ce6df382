"""The board's pure core imports no Dash: figures, aggregates, the report and the data sources
run (and are tested, and reused by the report and the command line) without a web framework.
Only the page's edges (the app, its sections, the shared components, the WSGI entry) may."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import carbonboard

ROOT = Path(__file__).resolve().parents[2]
# The edges: they build the page, so they import Dash.
DASH_MODULES = {
    "carbonboard.app",
    "carbonboard.components",
    "carbonboard.text_views",
    "carbonboard.web_security",
    "carbonboard.wsgi",
}
DASH_PACKAGES = ("carbonboard.sections.",)
NOT_IMPORTABLE = {"carbonboard.__main__"}  # runs the command line when imported
PROBE = "import importlib, sys; importlib.import_module(sys.argv[1]); print('dash' in sys.modules)"


def pure_modules() -> list[str]:
    names = [
        module.name
        for module in pkgutil.walk_packages(carbonboard.__path__, prefix="carbonboard.")
        if module.name not in DASH_MODULES | NOT_IMPORTABLE
        and not module.name.startswith(DASH_PACKAGES)
    ]
    return sorted(names)


def test_the_pure_modules_are_found():
    names = pure_modules()
    for expected in ("carbonboard.figures", "carbonboard.report", "carbonboard.data.store"):
        assert expected in names
    assert not [name for name in names if name.startswith("carbonboard.sections.")]


def test_no_pure_module_imports_dash():
    """Each module in a fresh interpreter (what one module pulls in stays in ``sys.modules``)."""
    probes = {
        name: subprocess.Popen(
            [sys.executable, "-c", PROBE, name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in pure_modules()
    }
    answers = {name: probe.communicate(timeout=240) for name, probe in probes.items()}
    # "True": the module imports Dash; anything else: it failed to import (its error).
    offenders = {
        name: out.strip() or err.strip()[-500:]
        for name, (out, err) in answers.items()
        if out.strip() != "False"
    }
    assert offenders == {}
