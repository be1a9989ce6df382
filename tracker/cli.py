"""``python -m tracker run -- CMD ARGS...``: run a command under a tracker and record its row.

The command's exit code becomes ours (a command killed by signal N exits 128 + N, as in a shell);
one summary line goes to stderr. SIGTERM, and SIGINT when not typed at the terminal (the terminal
already sends Ctrl-C to the command itself), are forwarded to the command. With ``--metrics-file
F`` the command writes a JSON object of numbers to F (its path is also in the command's
environment as ``CARBONBOARD_METRICS_FILE``), recorded as the run's metrics.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import psutil

from tracker.config import TRACKING_MODES
from tracker.emissions_tracker import EmissionsTracker, OfflineEmissionsTracker

EXIT_USAGE = 2
EXIT_NOT_FOUND = 127
METRICS_FILE_ENV = "CARBONBOARD_METRICS_FILE"
MAX_METRICS_FILE_BYTES = 1024 * 1024  # a JSON object of a few numbers; more is not a metrics file

log = logging.getLogger("tracker")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tracker", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a command and append its row")
    run.add_argument("--project", dest="project_name", help="project_name of the row")
    run.add_argument("--experiment-id", dest="experiment_id")
    run.add_argument("--output", type=Path, help="CSV file to append to (default emissions.csv)")
    run.add_argument("--offline", action="store_true", help="never use the network")
    run.add_argument("--country", dest="country_iso_code", help="ISO 3166 country code")
    run.add_argument("--region", help="sub-national region, e.g. california or SE3")
    run.add_argument("--measure-power-secs", type=float, dest="measure_power_secs")
    run.add_argument("--tracking-mode", choices=TRACKING_MODES, dest="tracking_mode")
    run.add_argument("--pue", type=float)
    run.add_argument(
        "--metrics-file",
        type=Path,
        metavar="FILE",
        help="a JSON object of numbers the command writes there (path also in "
        f"${METRICS_FILE_ENV}), recorded as the run's metrics",
    )
    metrics = run.add_argument_group("Prometheus metrics (pip install 'carbonboard[prometheus]')")
    metrics.add_argument(
        "--prometheus-port", type=int, dest="prometheus_port", help="serve /metrics on this port"
    )
    metrics.add_argument(
        "--prometheus-host", dest="prometheus_host", help="address to serve on (127.0.0.1)"
    )
    metrics.add_argument(
        "--prometheus-textfile",
        type=Path,
        dest="prometheus_textfile_dir",
        metavar="DIR",
        help="write the metrics there for node_exporter's textfile collector",
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    detect = commands.add_parser(
        "detect", help="say what this machine would be measured with (measures nothing)"
    )
    detect.add_argument("--json", action="store_true", dest="as_json", help="print JSON")
    detect.add_argument("--proc-root", default="/proc", metavar="DIR", help="default: /proc")
    detect.add_argument("--sys-root", default="/sys", metavar="DIR", help="default: /sys")
    sync = commands.add_parser("sync", help="deliver the rows waiting for the team database")
    sync.add_argument(
        "--database", dest="database_url", metavar="URL", help="default: the database_url setting"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "detect":
        from tracker.detect import run as detect  # imported only when used

        return detect(as_json=args.as_json, proc_root=args.proc_root, sys_root=args.sys_root)
    if args.command == "sync":
        from tracker.db.sync import sync_command  # imported only when used

        return sync_command(args.database_url)
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        parser.error("no command given: python -m tracker run [options] -- CMD ARGS...")
    settings = {
        name: getattr(args, name)
        for name in (
            "project_name",
            "experiment_id",
            "country_iso_code",
            "region",
            "measure_power_secs",
            "tracking_mode",
            "pue",
            "prometheus_port",
            "prometheus_host",
            "prometheus_textfile_dir",
        )
    }
    if args.prometheus_port or args.prometheus_textfile_dir:
        try:  # before the command starts: a missing extra is a usage error, not a silent run
            import tracker.output.prometheus
        except ImportError as error:
            parser.error(str(error))
    if args.output is not None:
        settings.update(output_dir=str(args.output.parent), output_file=args.output.name)
    tracker_class = OfflineEmissionsTracker if args.offline else EmissionsTracker
    try:
        tracker = tracker_class(**settings, log_summary=False)  # ours is printed below
    except ValueError as error:
        parser.error(str(error))
    # Handlers go in before the command starts, so no signal can leave it orphaned.
    forward = _Forwarder()
    originals = {number: signal.signal(number, forward) for number in _signal_numbers()}
    metrics_before = _stat(args.metrics_file) if args.metrics_file else None
    child_env = None
    if args.metrics_file is not None:
        child_env = {**os.environ, METRICS_FILE_ENV: str(args.metrics_file.absolute())}
    try:
        try:
            child = subprocess.Popen(command, env=child_env)
        except OSError as error:  # nothing ran: no row
            print(
                f"carbonboard: cannot run {command[0]}: {error.strerror or error}", file=sys.stderr
            )
            return EXIT_NOT_FOUND
        forward.attach(child)
        tracker.start()
        for number in originals:  # ours again, over the tracker's: the command decides when to end
            signal.signal(number, forward)
        returncode = child.wait()
    finally:
        for number, original in originals.items():
            signal.signal(number, original)
    interrupted = returncode < 0 or bool(forward.received)
    if args.metrics_file is not None:
        tracker.log_metrics(**read_metrics_file(args.metrics_file, metrics_before))
    emissions_kg = tracker._finish("interrupted" if interrupted else "finished")
    print(_summary(command[0], returncode, tracker, emissions_kg), file=sys.stderr)
    return returncode if returncode >= 0 else 128 - returncode


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def read_metrics_file(path: Path, before: os.stat_result | None) -> dict[str, object]:
    """The JSON object the command wrote to ``path``; ``before``: the file's stat before the
    command started. A file that is missing, unchanged since then (left by an earlier run: its
    values are not this run's), not a regular file, too large, not JSON or not an object gives
    one warning and no metrics: the run's row is written all the same. The values are checked
    by ``log_metrics`` (numbers only)."""
    after = _stat(path)
    problem = None
    if after is None:
        problem = "the command did not write it"
    elif not stat.S_ISREG(after.st_mode):
        problem = "not a regular file"
    elif before is not None and _same_file_version(before, after):
        problem = "unchanged since before the command started (left by an earlier run?)"
    elif after.st_size > MAX_METRICS_FILE_BYTES:
        problem = f"larger than {MAX_METRICS_FILE_BYTES} bytes"
    else:
        try:
            values = json.loads(path.read_bytes())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
            problem = f"not readable as JSON ({error})"
        else:
            if isinstance(values, dict):
                return values
            problem = f"a JSON {type(values).__name__}, not an object"
    log.warning("--metrics-file %s: %s; the run is recorded without its metrics", path, problem)
    return {}


def _same_file_version(before: os.stat_result, after: os.stat_result) -> bool:
    keys = ("st_ino", "st_size", "st_mtime_ns")
    return all(getattr(before, key) == getattr(after, key) for key in keys)


def _signal_numbers() -> list[int]:
    return [number for name in ("SIGINT", "SIGTERM") if (number := getattr(signal, name, None))]


class _Forwarder:
    """A signal handler noting each signal and passing it on to the command, except a Ctrl-C
    typed at our terminal: the terminal sends that to the command itself."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._child: subprocess.Popen | None = None
        self._at_terminal = _typed_at_terminal()

    def __call__(self, number: int, frame: FrameType | None) -> None:
        self.received.append(number)
        self._send(number)

    def attach(self, child: subprocess.Popen) -> None:
        """Forward to ``child`` from now on, and what arrived while it was starting."""
        self._child = child
        for number in self.received:
            self._send(number)

    def _send(self, number: int) -> None:
        """To the command and every process it started: a wrapper (``sh train.sh``, a
        launcher) that dies of the signal would otherwise leave its job running, unmeasured."""
        if self._child is None or (number == signal.SIGINT and self._at_terminal):
            return
        try:  # listed before the command is signalled: its children then lose their parent
            tree = psutil.Process(self._child.pid).children(recursive=True)
        except psutil.Error:
            tree = []
        self._child.send_signal(number)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.send_signal(number)


def _typed_at_terminal() -> bool:
    """Whether Ctrl-C reaches the child directly: we are the terminal's foreground group."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (AttributeError, OSError, ValueError):  # no terminal, or not POSIX
        return False


def _summary(
    program: str, returncode: int, tracker: EmissionsTracker, emissions_kg: float | None
) -> str:
    data = tracker.final_emissions_data
    if data is None or emissions_kg is None:
        return f"carbonboard: {program} exited with {returncode}; the run was not measured"
    where = f" -> {tracker.output_path}" if tracker.settings.save_to_file else ""
    return (
        f"carbonboard: {program} exited with {returncode} after {data.duration:.2f} s: "
        f"{data.energy_consumed:.3g} kWh, {emissions_kg:.3g} kg CO2eq{where}"
    )
