"""``carbonboard``: serve the dashboard (and, as subcommands, other tools over the same files).

Every user error (missing path, not a CSV, port in use) is one line on stderr and a non-zero exit;
tracebacks are for bugs only, and go to the log with ``--debug``.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import logging
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import click

from carbonboard import __version__
from carbonboard.data.paths import PathError
from tracker.config import shown_url

DEFAULT_PORT = 3333
DEFAULT_HOST = "127.0.0.1"
USAGE_ERROR = 2
SERVE_ERROR = 1
WAITRESS_THREADS = 8
POSTGRES_SOURCE_MODULE = "carbonboard.data.postgres_source"
MAX_REFRESH_S = 86400.0  # a page's timer counts milliseconds in 32 bits: keep well inside

if TYPE_CHECKING:
    from carbonboard.data.source import RunSource
    from carbonboard.data.store import HistoryStore
    from carbonboard.efficiency import Budget


def _finite(context: click.Context, parameter: click.Parameter, value: float) -> float:
    """A number option's value, refusing ``nan`` (which every comparison lets through)."""
    if value != value:
        raise click.BadParameter("nan is not a number of seconds")
    return value


def _fail(message: str, code: int = USAGE_ERROR) -> None:
    click.echo(f"carbonboard: {message}", err=True)
    sys.exit(code)


def check_port(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served, or None when it is free (checked before loading)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return f"cannot resolve host {host!r}: {error.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use; choose another with --port"
            return f"cannot listen on {host}:{port}: {error.strerror}"
    return None


class _LazyGroup(click.Group):
    """Subcommands imported when they run: ``carbonboard import`` need not load the report's
    charting libraries, nor serving load either subcommand."""

    SUBCOMMANDS: ClassVar[dict[str, tuple[str, str]]] = {  # name -> (module, attribute)
        "report": ("carbonboard.report_cli", "report"),
        "import": ("carbonboard.import_cli", "import_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.SUBCOMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.SUBCOMMANDS:
            return super().get_command(ctx, name)
        module, attribute = self.SUBCOMMANDS[name]
        return getattr(importlib.import_module(module), attribute)


@click.group(
    cls=_LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--filepath",
    "filepaths",
    multiple=True,
    metavar="PATH",
    help="Emissions CSV, a directory (every emissions and tasks CSV inside) or a glob such as "
    "'runs/*.csv'. Repeat to load several.",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="Serve the runs of a PostgreSQL database (postgresql://user@host/dbname) instead of "
    "files.",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Interface to bind. The default keeps the dashboard private to this machine; "
    "0.0.0.0 exposes it to the network.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Another host name (or address) browsers may use to reach the dashboard, e.g. the "
    "machine's name on the network. Requests for other names are refused (400). Repeatable.",
)
@click.option(
    "--refresh",
    "refresh_interval_s",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0, max=MAX_REFRESH_S),
    callback=_finite,
    metavar="SECONDS",
    help="How often open pages check the files for new runs (0: never; at most a day).",
)
@click.option(
    "--budget",
    "budget_specs",
    multiple=True,
    metavar="PROJECT=AMOUNT[/PERIOD]",
    help="A CO2 budget for a project, e.g. nlp-bert=50kg (per month) or vision=2kg/week; "
    "units g, kg, t; periods week, month, year. Repeatable; also read from 'budgets' in the "
    "[carbonboard] section of ./.carbonboard.config (one per line). The efficiency tab draws "
    "its burn-down and forecast.",
)
@click.option(
    "--debug",
    is_flag=True,
    help="Verbose logging and Dash's dev-tools panel in the browser. Never enables the "
    "Werkzeug debugger; the server is waitress either way.",
)
@click.version_option(__version__, "--version", prog_name="carbonboard")
@click.pass_context
def main(
    ctx: click.Context,
    filepaths: tuple[str, ...],
    database_url: str | None,
    port: int,
    host: str,
    allowed_hosts: tuple[str, ...],
    refresh_interval_s: float,
    budget_specs: tuple[str, ...],
    debug: bool,
) -> None:
    """Browse the emissions history in an offline dashboard.

    \b
    carbonboard --filepath=emissions.csv --port=3333
    carbonboard --filepath runs/ --filepath 'archive/*.csv'

    Everything (styles, charts, map data) is served from this machine; nothing is fetched from
    the internet. For a WSGI server of your own, see carbonboard.wsgi:create_server.
    """
    if ctx.invoked_subcommand is not None:
        return
    if filepaths and database_url:
        _fail("give --filepath or --database, not both")
    if not filepaths and not database_url:
        _fail("no --filepath given (try: carbonboard --filepath emissions.csv)")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # fail early, in one line, before the port check
    budgets = budgets_or_fail(budget_specs)
    files = None if database_url else file_source(filepaths)
    source = database_source(database_url) if files is None else files
    warning = exposure_warning(host, allowed_hosts)
    if warning:
        click.echo(f"carbonboard: warning: {warning}", err=True)
    problem = check_port(host, port)
    if problem:
        _fail(problem, SERVE_ERROR)
    started = time.monotonic()
    if files is not None:  # large files parse in worker processes while the page's modules import
        unread = files.load_ahead()
        if unread:
            click.echo(
                f"carbonboard: reading {unread / 1e6:,.0f} MB of history not read before "
                "(later starts read the cache)...",
                err=True,
            )
    serve(
        source,
        host=host,
        port=port,
        allowed_hosts=allowed_hosts,
        refresh_interval_s=refresh_interval_s,
        budgets=budgets,
        debug=debug,
        started=started,
    )


@contextlib.contextmanager
def _ipython_hidden() -> Iterator[None]:
    """Imports inside do not find IPython (unless it is imported already). Dash imports it,
    when installed, for its notebook mode: a fifth of a second of every start, for a server
    that this command never runs in a notebook."""
    if "IPython" in sys.modules:
        yield
        return
    sys.modules["IPython"] = None  # type: ignore[assignment]  # importing it raises ImportError
    try:
        yield
    finally:
        del sys.modules["IPython"]


def budgets_or_fail(specs: tuple[str, ...]) -> list[Budget]:
    """The budgets of ./.carbonboard.config and ``--budget``; a bad one is a usage error."""
    from carbonboard.efficiency.config import BUDGETS_CONFIG_FILE, load_budgets

    try:
        return load_budgets(specs, Path.cwd() / BUDGETS_CONFIG_FILE)
    except ValueError as error:
        _fail(str(error))


def exposure_warning(host: str, allowed_hosts: tuple[str, ...]) -> str | None:
    """What binding ``host`` exposes, when it is not this machine's loopback: the data is then
    readable by anyone who can reach the port (there is no login)."""
    from carbonboard import web_security

    if web_security.is_loopback(host):
        return None
    shown = ", ".join(sorted(web_security.allowed_hosts(host, allowed_hosts)))
    return (
        f"--host {host} serves the emissions history, with no login, to anyone who can reach "
        f"this machine; requests must name one of these hosts: {shown} "
        "(add the names people use with --allowed-host)."
    )


def file_source(filepaths: tuple[str, ...]) -> HistoryStore:
    """The files, directories and globs given (the latter two watched for new files); a path
    that cannot load is one line and a usage error."""
    from carbonboard.data.store import HistoryStore

    try:
        return HistoryStore.from_arguments(filepaths, cache_in_background=True)
    except PathError as error:
        _fail(str(error))


def database_source(url: str) -> RunSource:
    """The runs of the PostgreSQL database at ``url``; one line and an error when this install
    cannot read a database or the database cannot be opened."""
    if importlib.util.find_spec(POSTGRES_SOURCE_MODULE) is None:
        _fail("--database is not available yet in this version: serve CSV files with --filepath")
    if importlib.util.find_spec("psycopg") is None:
        _fail("--database needs psycopg: pip install 'carbonboard[board,postgres]'")
    from carbonboard.data.postgres_source import PostgresSource

    try:
        return PostgresSource.from_url(url)
    except Exception as error:  # a wrong URL, password or host is the user's to fix
        logging.getLogger(__name__).debug("cannot open the database", exc_info=error)
        from tracker.db.sync import reason

        shown = shown_url(url)
        _fail(f"cannot open the database {shown}: {reason(error).replace(url, shown)}", SERVE_ERROR)


def serve(
    source: RunSource,
    *,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...] = (),
    refresh_interval_s: float,
    budgets: list[Budget] | tuple[Budget, ...] = (),
    debug: bool,
    started: float | None = None,
) -> None:
    """Load ``source``, then serve it with waitress until interrupted; ``started``: the
    ``time.monotonic()`` the load began, to say how long it took."""
    from waitress import create_server

    with _ipython_hidden():
        from carbonboard.app import create_app

    app = create_app(
        source,
        refresh_interval_s=refresh_interval_s,
        debug=debug,
        host=host,
        allowed_hosts=allowed_hosts,
        budgets=budgets,
    )
    loaded = source.describe()
    try:
        server = create_server(app.server, host=host, port=port, threads=WAITRESS_THREADS)
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error.strerror}", SERVE_ERROR)
    shown_host = f"[{host}]" if ":" in host else host
    took = f" in {time.monotonic() - started:.1f} s" if started is not None else ""
    click.echo(
        f"carbonboard {__version__}: {loaded.runs:,} runs from {len(loaded.files)} "
        f"file(s){took}; {loaded.skipped_rows:,} rows skipped."
    )
    click.echo(f"Open http://{shown_host}:{server.effective_port}/  (Ctrl+C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.close()
