"""The ``carbonboard`` command's entry point: asks for the ``board`` extra by name when missing.

``pip install carbonboard`` installs the tracker alone (training images stay light); the
dashboard's libraries come with ``pip install 'carbonboard[board]'``. Without them, the command
says so in one line instead of a traceback. Only ``importlib`` is used before that check.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

EXIT_MISSING = 1
INSTALL_HINT = "pip install 'carbonboard[board]'"
# The board extra of pyproject.toml: distribution name -> the module it installs.
BOARD_MODULES = {
    "dash": "dash",
    "plotly": "plotly",
    "pandas": "pandas",
    "dash-bootstrap-components": "dash_bootstrap_components",
    "dash-ag-grid": "dash_ag_grid",
    "click": "click",
    "waitress": "waitress",
    "jinja2": "jinja2",
}


def missing_board_libraries(
    find_spec: Callable[[str], Any] = importlib.util.find_spec,
) -> list[str]:
    """The board's distributions whose module cannot be found (none imported to check)."""
    return [name for name, module in BOARD_MODULES.items() if find_spec(module) is None]


def main(prog_name: str | None = None) -> None:
    """Run the ``carbonboard`` command, or say which extra to install and exit 1."""
    missing = missing_board_libraries()
    if missing:
        print(
            f"carbonboard: the dashboard needs {', '.join(missing)}, not installed: {INSTALL_HINT}",
            file=sys.stderr,
        )
        sys.exit(EXIT_MISSING)
    from carbonboard.cli import main as board_main

    board_main(prog_name=prog_name)
