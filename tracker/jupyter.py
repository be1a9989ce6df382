"""IPython / Jupyter magics: measure a notebook cell, or a whole notebook session.

``%load_ext tracker`` registers them (IPython is an optional extra, imported only here):

- ``%%carbon [--project P] [--experiment E] [--offline --country ISO] [--quiet]`` measures the
  cell as ``%%time`` times it: the cell runs, its row is written, one line is printed after it
  (``carbon: 12.3 s, 0.41 Wh, 0.18 g CO2eq (country:FRA)``). A cell that raises still gets its
  row and its line (status ``crashed``, or ``interrupted`` for a ``KeyboardInterrupt``), and the
  exception reaches the notebook unchanged.
- ``%carbon_start [same options]`` / ``%carbon_stop``: one run for the notebook session, each
  cell run in between a task named after its execution count (``In[7]``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from types import CodeType
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from tracker.emissions_data import EmissionsData
from tracker.emissions_tracker import EmissionsTracker, OfflineEmissionsTracker
from tracker.output.summary import run_summary

PREFIX = "carbon:"


def summary_line(data: EmissionsData | None) -> str:
    """The line printed after a measured cell or session."""
    if data is None:
        return f"{PREFIX} not measured (the tracker could not run; see its log message)"
    return f"{PREFIX} {run_summary(data)}"


def task_name(execution_count: int) -> str:
    """A session task's name: the cell's label in the notebook."""
    return f"In[{execution_count}]"


def _tracker_options(magic: Callable[..., Any]) -> Callable[..., Any]:
    """The options every carbon magic takes, in the order ``%magic?`` lists them."""
    for decorate in reversed(
        (
            magic_arguments(),
            argument("--project", dest="project_name", help="project_name of the row"),
            argument("--experiment", dest="experiment_id", help="experiment_id of the row"),
            argument("--offline", action="store_true", help="never use the network"),
            argument("--country", dest="country_iso_code", help="ISO 3166 country code"),
            argument("--quiet", action="store_true", help="print no summary line"),
        )
    ):
        magic = decorate(magic)
    return magic


@magics_class
class CarbonMagics(Magics):
    """``%%carbon``, ``%carbon_start`` and ``%carbon_stop`` for one IPython shell."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self._session: EmissionsTracker | None = None
        self._session_quiet = False
        self._task_open = False

    @_tracker_options
    @cell_magic
    def carbon(self, line: str, cell: str) -> Any:
        """Run the cell and measure its energy and CO2: one row, one line after the cell."""
        args = parse_argstring(self.carbon, line)
        body, last = self._compile(cell)  # a syntax error is raised before anything is measured
        tracker = _make_tracker(args)
        namespaces = (self.shell.user_global_ns, self.shell.user_ns)
        try:
            with tracker:  # an exception leaves it unchanged, after the row is written
                exec(body, *namespaces)
                # the last expression's value, shown by the notebook as %%time shows it
                return None if last is None else eval(last, *namespaces)
        finally:
            if not args.quiet:
                print(summary_line(tracker.final_emissions_data))

    @_tracker_options
    @line_magic
    def carbon_start(self, line: str) -> None:
        """Measure the notebook session until ``%carbon_stop``: one run, one task per cell."""
        args = parse_argstring(self.carbon_start, line)
        if self._session is not None:
            raise UsageError("carbon: a session is already measured; %carbon_stop ends it")
        tracker = _make_tracker(args)
        tracker.start()
        self._session, self._session_quiet = tracker, args.quiet
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)

    @line_magic
    def carbon_stop(self, line: str = "") -> EmissionsData | None:
        """End the session started by ``%carbon_start``: writes its row, prints its line and
        returns its :class:`EmissionsData`."""
        if self._session is None:
            raise UsageError("carbon: no session is measured; %carbon_start begins one")
        tracker = self.end_session()
        if not self._session_quiet:
            print(summary_line(tracker.final_emissions_data))
        return tracker.final_emissions_data

    def end_session(self) -> EmissionsTracker:
        """Stop listening to cells and stop the session's tracker (the cell running now ends
        its task with the run)."""
        assert self._session is not None
        tracker, self._session = self._session, None
        self.shell.events.unregister("pre_run_cell", self._pre_run_cell)
        self.shell.events.unregister("post_run_cell", self._post_run_cell)
        self._task_open = False
        tracker.stop()
        return tracker

    def _pre_run_cell(self, info: ExecutionInfo) -> None:
        if self._session is not None:
            # IPython counts a stored cell before this event: its label is the count before.
            count = self.shell.execution_count - (1 if info.store_history else 0)
            self._session.start_task(task_name(count))
            self._task_open = True

    def _post_run_cell(self, result: ExecutionResult) -> None:
        if self._session is not None and self._task_open:
            self._task_open = False
            self._session.stop_task()

    def _compile(self, cell: str) -> tuple[CodeType, CodeType | None]:
        """``cell`` as IPython would run it (its magics and shell escapes transformed): the code
        of its statements, and of its last expression apart when it ends with one."""
        shell = self.shell
        source = shell.transform_cell(cell)
        tree = shell.compile.ast_parse(source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        filename = shell.compile.cache(source, shell.execution_count)
        body = shell.compile(tree, filename, "exec")
        if last is None:
            return body, None
        expression = ast.Expression(last.value)  # type: ignore[attr-defined]
        return body, shell.compile(expression, filename, "eval")


def _make_tracker(args: Any) -> EmissionsTracker:
    """The tracker the options ask for; a bad option is a usage error before the cell runs."""
    settings = {
        "project_name": args.project_name,
        "experiment_id": args.experiment_id,
        "country_iso_code": args.country_iso_code,
    }
    tracker_class = OfflineEmissionsTracker if args.offline else EmissionsTracker
    try:
        return tracker_class(**settings, log_summary=False)  # the magic prints its own line
    except ValueError as error:
        raise UsageError(f"carbon: {error}") from None


def load_ipython_extension(shell: InteractiveShell) -> None:
    """``%load_ext tracker``: register the magics."""
    shell.register_magics(CarbonMagics(shell))


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """``%unload_ext tracker``: end a session still measured, so its row is written."""
    magics = shell.magics_manager.registry.get(CarbonMagics.__name__)
    if isinstance(magics, CarbonMagics) and magics._session is not None:
        magics.end_session()
