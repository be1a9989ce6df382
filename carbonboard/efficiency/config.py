"""Budgets from the command line (``--budget``, repeatable) and from the config file.

The file is the tracker's ``./.carbonboard.config``, section ``[carbonboard]``, key ``budgets``:
one ``PROJECT=AMOUNT[/PERIOD]`` per line (or comma-separated). Both ``carbonboard`` and
``carbonboard report`` read them; a spec given on the command line replaces the file's budget for
the same project.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from carbonboard.efficiency.budget import Budget, parse_budget

BUDGETS_CONFIG_FILE = ".carbonboard.config"  # in the working folder
BUDGETS_CONFIG_SECTION = "carbonboard"
BUDGETS_CONFIG_KEY = "budgets"
SPEC_HINT = "expected PROJECT=AMOUNT[/PERIOD], e.g. nlp-bert=50kg or vision=2kg/week"


def config_budget_specs(path: Path) -> list[str]:
    """The budget specs in the config file; none when the file or the key is absent. Raises
    ``ValueError`` (one line) for a file that cannot be read or parsed."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, UnicodeError, configparser.Error) as error:
        raise ValueError(f"cannot read {path.name}: {error}".splitlines()[0]) from error
    value = parser.get(BUDGETS_CONFIG_SECTION, BUDGETS_CONFIG_KEY, fallback="")
    return [spec.strip() for line in value.splitlines() for spec in line.split(",") if spec.strip()]


def load_budgets(specs: tuple[str, ...] | list[str], config_path: Path) -> list[Budget]:
    """The config file's budgets, then ``specs`` (replacing the file's for the same project).
    Raises ``ValueError`` naming the spec, where it came from and what is wrong."""
    budgets: dict[str, Budget] = {}
    given = [
        *((config_path.name, spec) for spec in config_budget_specs(config_path)),
        *(("--budget", spec) for spec in specs),
    ]
    for origin, spec in given:
        try:
            budget = parse_budget(spec)
        except ValueError as error:
            raise ValueError(f"{origin} {spec!r}: {error} ({SPEC_HINT})") from error
        budgets[budget.project_name] = budget
    return list(budgets.values())
