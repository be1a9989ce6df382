"""``carbonboard report``: the dashboard's HTML report of a view, from the command line.

For scheduled jobs and for machines where nobody opens a browser: the same files, the same
selection, the same self-contained file as the dashboard's "Report (HTML)" button.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from carbonboard.data.aggregate import experiments, filter_runs, projects
from carbonboard.data.paths import PathError, resolve_paths
from carbonboard.data.store import HistoryStore
from carbonboard.report import build_report
from carbonboard.selection import Selection

USAGE_ERROR = 2


def _fail(message: str) -> None:
    """One line on stderr and a non-zero exit: the user's mistake is not a crash."""
    click.echo(f"carbonboard report: {message}", err=True)
    raise SystemExit(USAGE_ERROR)


def _iso_date(option: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        _fail(f"{option} {value!r} is not a date (use YYYY-MM-DD)")
    return None


def _known(values: list[str], wanted: str | None, what: str) -> None:
    if wanted is not None and wanted not in values:
        listed = ", ".join(values) if values else "none"
        _fail(f"unknown {what} {wanted!r}; known {what}s: {listed}")


@click.command("report")
@click.option(
    "--filepath",
    "filepaths",
    multiple=True,
    required=True,
    help="Emissions CSV, directory or glob (repeatable), as for the dashboard.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write.",
)
@click.option("--project", help="Only this project (default: all projects).")
@click.option("--experiment", help="Only this experiment (default: all experiments).")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day, inclusive.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day, inclusive.")
def report(
    filepaths: tuple[str, ...],
    out: Path,
    project: str | None,
    experiment: str | None,
    date_from: str | None,
    date_to: str | None,
) -> None:
    """Write a self-contained HTML report (charts, runs, methodology) that opens offline."""
    selection = Selection(
        project=project,
        experiment=experiment,
        date_from=_iso_date("--from", date_from),
        date_to=_iso_date("--to", date_to),
    )
    if selection.date_from and selection.date_to and selection.date_from > selection.date_to:
        _fail(f"--from {selection.date_from} is after --to {selection.date_to}")
    try:
        paths = resolve_paths(filepaths)
    except PathError as error:
        _fail(str(error))
    history = HistoryStore(paths).current()
    _known(projects(history.runs), project, "project")
    in_project = filter_runs(history.runs, Selection(project=project))
    _known(experiments(in_project), experiment, "experiment")
    try:
        out.write_text(build_report(history, selection), encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {out}: {error.strerror}")
    click.echo(f"Wrote {out}")
