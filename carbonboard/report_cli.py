"""``carbonboard report``: the dashboard's HTML report of a view, from the command line.

For scheduled jobs and for machines where nobody opens a browser: the same files, the same
selection, the same self-contained file as the dashboard's "Report (HTML)" button.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import click

from carbonboard.data.aggregate import EARLIEST_DAY, LATEST_DAY, selection_day
from carbonboard.data.paths import PathError, expand_paths, loadable
from carbonboard.data.store import HistoryStore
from carbonboard.efficiency.config import BUDGETS_CONFIG_FILE, load_budgets
from carbonboard.report import build_report
from carbonboard.selection import Selection

USAGE_ERROR = 2


def _fail(message: str) -> NoReturn:
    """One line on stderr and a non-zero exit: the user's mistake is not a crash."""
    click.echo(f"carbonboard report: {message}", err=True)
    raise SystemExit(USAGE_ERROR)


def usage_message(error: click.UsageError) -> str:
    """click's usage error as one line; a missing option says what it wants (its help text)."""
    param = error.param if isinstance(error, click.MissingParameter) else None
    if param is None or not param.help:
        return " ".join(error.format_message().split())
    wanted = param.help.rstrip(".")
    return f"{param.opts[0]} is required: {wanted[:1].lower()}{wanted[1:]}"


class OneLineErrors(click.Command):
    """A command whose usage mistakes (a missing or unknown option, a bad value) are one line on
    stderr, not click's usage block."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            _fail(usage_message(error))


def _iso_date(option: str, value: str | None) -> str | None:
    if value is None:
        return None
    day = selection_day(value)
    if day is None:
        _fail(
            f"{option} {value!r} is not a date from {EARLIEST_DAY.year} to {LATEST_DAY.year} "
            "(use YYYY-MM-DD)"
        )
    return day.isoformat()


def input_at(out: Path, inputs: list[Path]) -> Path | None:
    """The input file that writing ``out`` would overwrite (the same path, through a link or
    not, or the same file under another name), or None: a report never replaces its data."""
    target = out.resolve()
    for path in inputs:
        if path.resolve() == target:
            return path
        try:
            if out.exists() and os.path.samefile(out, path):
                return path
        except OSError:  # an input gone since it was listed overwrites nothing
            continue
    return None


def _known(values: list[str], wanted: str | None, what: str) -> None:
    if wanted is not None and wanted not in values:
        listed = ", ".join(values) if values else "none"
        _fail(f"unknown {what} {wanted!r}; known {what}s: {listed}")


@click.command("report", cls=OneLineErrors)
@click.option(
    "--filepath",
    "filepaths",
    multiple=True,
    required=True,
    help="The emissions CSV, directory or glob to read, as for the dashboard (repeatable), "
    "e.g. --filepath=emissions.csv.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write, e.g. --out=report.html.",
)
@click.option("--project", help="Only this project (default: all projects).")
@click.option("--experiment", help="Only this experiment (default: all experiments).")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day, inclusive.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day, inclusive.")
@click.option(
    "--run",
    "run_ids",
    multiple=True,
    metavar="RUN_ID",
    help="A run to compare side by side with the others given (repeatable).",
)
@click.option(
    "--budget",
    "budget_specs",
    multiple=True,
    metavar="PROJECT=AMOUNT[/PERIOD]",
    help="A CO2 budget to report on, as for carbonboard --budget (repeatable; also read from "
    "./.carbonboard.config).",
)
def report(
    filepaths: tuple[str, ...],
    out: Path,
    project: str | None,
    experiment: str | None,
    date_from: str | None,
    date_to: str | None,
    run_ids: tuple[str, ...],
    budget_specs: tuple[str, ...],
) -> None:
    """Write a self-contained HTML report (charts, regional comparisons, runs, methodology) that
    opens offline."""
    selection = Selection(
        project=project,
        experiment=experiment,
        date_from=_iso_date("--from", date_from),
        date_to=_iso_date("--to", date_to),
        run_ids=run_ids,
    )
    if selection.date_from and selection.date_to and selection.date_from > selection.date_to:
        _fail(f"--from {selection.date_from} is after --to {selection.date_to}")
    try:
        budgets = load_budgets(budget_specs, Path.cwd() / BUDGETS_CONFIG_FILE)
    except ValueError as error:
        _fail(str(error))
    expanded = expand_paths(filepaths)
    try:
        paths = loadable(expanded)
    except PathError as error:
        _fail(str(error))
    overwritten = input_at(out, paths)
    if overwritten is not None:
        _fail(f"--out {out} is the input file {overwritten}: choose another output path")
    source = HistoryStore(paths)
    options = source.filter_options(Selection(project=project))
    _known(list(options.projects), project, "project")
    _known(list(options.experiments), experiment, "experiment")
    found = set(source.runs_by_id(run_ids)["run_id"].astype(str))
    unknown = [run_id for run_id in run_ids if run_id not in found]
    if unknown:
        _fail(f"unknown run {unknown[0]!r}: give the full run id, as in the CSV's run_id column")
    unreadable = source.describe().unreadable
    for problem in [*expanded.problems, *(f"{f.path}: {f.error}" for f in unreadable)]:
        click.echo(f"carbonboard report: left out {problem}", err=True)  # the rest is reported
    try:
        out.write_text(build_report(source, selection, budgets=budgets), encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {out}: {error.strerror}")
    click.echo(f"Wrote {out}")
