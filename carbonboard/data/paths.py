"""Turn what the user typed (files, directories, globs) into the CSV files to load.

Shared by the dashboard and the ``report`` command so both accept the same ``--filepath`` values
and fail with the same one-line messages. Directories and globs are also kept as ``PathSpec``s,
which the dashboard's store lists again on every refresh so files that appear later are loaded.

Every file is opened through ``open_regular``: a FIFO, socket or device named like a CSV is
refused before ``open`` could block on it. One bad value among good ones is left out (the store
lists it with its reason); only a command line with nothing loadable is an error.
"""

from __future__ import annotations

import csv
import errno
import glob
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tracker import schema

HEADER_BYTES = 64 * 1024  # a header longer than this is not ours
DIRECTORY, GLOB, TASKS_BESIDE = "directory", "glob", "tasks-beside"  # the kinds of PathSpec
NOT_REGULAR = "not a regular file"
# The tasks files written next to a runs file ``<stem>.csv``: ours are ``<stem>_tasks.csv``;
# CodeCarbon (2.x and 3.x ``FileOutput.task_out``) writes ``emissions_<experiment>_<run_id>.csv``
# into the output folder whatever the runs file is called.
OUR_TASKS_PATTERN = "{stem}_tasks*.csv"
CODECARBON_TASKS_PATTERN = "emissions_*.csv"


class PathError(Exception):
    """A ``--filepath`` value that cannot be loaded; the message is one line for the user."""


class NotRegularFileError(OSError):
    """A path that names a FIFO, socket, device or directory: reading it could block forever."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(errno.EINVAL, NOT_REGULAR, os.fspath(path))


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """``path`` opened for binary reading, only if it is a regular file.

    ``stat`` first, so a FIFO or device is never opened; opened non-blocking and checked again
    on the descriptor, so a regular file swapped for a FIFO in between cannot block either.
    Raises ``NotRegularFileError`` (an ``OSError``) otherwise.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotRegularFileError(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise NotRegularFileError(path)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as text to store and show (a run's ``source_file``, a skipped row's file, the
    header's list): a name that is not UTF-8, whose bytes Python keeps as lone surrogates that
    pandas, JSON and the page refuse, has them replaced by U+FFFD. Files are still opened by
    their ``Path``."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "replace")
    return text


def os_reason(error: BaseException) -> str:
    """A short reason for the user: ``Permission denied``, ``not a regular file``, ..."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, RuntimeError) and "loop" in str(error).lower():
        return "symlink loop"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def resolved(path: Path) -> Path | None:
    """``path.resolve()``, or None when it cannot be resolved (a symlink loop raises
    RuntimeError before Python 3.13 and OSError after)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def read_header(path: Path) -> list[str] | None:
    """The CSV header of ``path``; ``[]`` for an empty file, ``None`` when it is not text CSV.
    Raises OSError (``NotRegularFileError`` for a FIFO and the like) when it cannot be read."""
    with open_regular(path) as handle:
        head = handle.read(HEADER_BYTES)
    # Only the first line decides: a body's bad byte (a Windows program's "Café", the NULs a
    # power cut leaves in an appended file) is the loader's to skip and report, line by line.
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    if b"\0" in line:
        return None
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if end >= 0 or error.start < len(line) - 3:  # not a character cut at the read's end
            return None
        text = line[: error.start].decode("utf-8-sig")
    if not text.strip():
        return []
    return next(csv.reader([text.strip("\r")]), [])


def is_history_header(header: list[str]) -> bool:
    """An emissions or tasks CSV: it has the columns every row needs."""
    return not _missing_columns(header)


def _missing_columns(header: list[str]) -> list[str]:
    names = header[1:] if schema.is_tasks_header(header) else header
    return [name for name in schema.REQUIRED_FIELDNAMES if name not in names]


def header_problem(header: list[str] | None) -> str | None:
    """Why a file with this header (from ``read_header``) is not an emissions or tasks CSV;
    None when it is one, or empty (a file just created)."""
    if header is None:
        return "not a CSV file (binary or not UTF-8 text)"
    missing = _missing_columns(header) if header else []
    if missing:
        return f"not an emissions CSV: its header lacks {', '.join(missing)}"
    return None


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot load (``Permission denied``, ``not a regular file``, ``not an
    emissions CSV: ...``); None when it can."""
    try:
        return header_problem(read_header(path))
    except OSError as error:
        return os_reason(error)


def is_history_csv(path: Path) -> bool:
    """An emissions or tasks CSV, or an empty file (one just created); False when unreadable."""
    return file_problem(path) is None


def is_tasks_csv(path: Path) -> bool:
    """A tasks CSV (its header starts with ``task_name``); False when unreadable."""
    try:
        header = read_header(path)
    except OSError:
        return False
    return bool(header) and schema.is_tasks_header(header) and is_history_header(header)


@dataclass(frozen=True)
class PathSpec:
    """A directory, glob or runs file's tasks files, as typed, so it can be listed again later:
    files that appear in it are loaded, files that leave it drop out."""

    text: str
    kind: str  # "directory" | "glob" | "tasks-beside" (text: the runs file)

    def candidates(self) -> list[Path]:
        """What it names now, sorted and unchecked: a directory's ``*.csv`` (none once the
        directory is gone), a glob's matches that are not directories, the files beside a runs
        file that may be its tasks files."""
        if self.kind == DIRECTORY:
            return sorted(Path(self.text).expanduser().glob("*.csv"))
        if self.kind == TASKS_BESIDE:
            runs = Path(self.text).expanduser()
            patterns = {
                OUR_TASKS_PATTERN.format(stem=glob.escape(runs.stem)),
                CODECARBON_TASKS_PATTERN,
            }
            found = {p for pattern in patterns for p in runs.parent.glob(pattern)}
            return sorted(found - {runs})
        matches = (Path(m) for m in sorted(glob.glob(os.path.expanduser(self.text))))
        return [m for m in matches if not m.is_dir()]

    @property
    def tasks_only(self) -> bool:
        """Only tasks CSVs load from it (a runs file's neighbours are not the user's choice)."""
        return self.kind == TASKS_BESIDE


def parse_argument(value: str | os.PathLike) -> Path | PathSpec:
    """What a ``--filepath`` value names: a directory or a glob (a ``PathSpec``), else a file."""
    text = os.fspath(value)
    path = Path(text).expanduser()
    if path.is_dir():
        return PathSpec(text, DIRECTORY)
    if not path.exists() and glob.has_magic(text):
        return PathSpec(text, GLOB)
    return path


def sources_for(value: str | os.PathLike) -> list[Path | PathSpec]:
    """What the store follows for one ``--filepath`` value: a file also brings the tasks files
    beside it."""
    source = parse_argument(value)
    if isinstance(source, PathSpec) or is_tasks_csv(source):
        return [source]
    return [source, PathSpec(os.fspath(source), TASKS_BESIDE)]


@dataclass(frozen=True)
class Expanded:
    """The files the values name now, and one line for each value or match left out."""

    files: list[Path]
    problems: list[str]


def _file_message(path: Path, shown: str) -> str | None:
    """The one-line reason an explicit file cannot load, or None."""
    try:
        problem = header_problem(read_header(path))
    except OSError as error:
        return f"cannot read {shown}: {os_reason(error)}"
    return None if problem is None else f"{shown} is {problem}"


def _expand_one(text: str, files: list[Path], problems: list[str]) -> None:
    source = parse_argument(text)
    if isinstance(source, Path):
        if not source.exists():
            broken = os.path.lexists(source)
            problems.append(
                f"{text} is a broken symlink or a symlink loop"
                if broken
                else f"{text} does not exist"
            )
        elif not source.is_file():
            problems.append(f"{text} is {NOT_REGULAR}")
        elif (message := _file_message(source, text)) is not None:
            problems.append(message)
        else:
            files.append(source)
            beside = [s for s in sources_for(text) if isinstance(s, PathSpec)]
            files.extend(p for spec in beside for p in spec.candidates() if is_tasks_csv(p))
        return
    found = source.candidates()
    if not found:
        problems.append(
            f"no emissions CSV in directory {text}"
            if source.kind == DIRECTORY
            else f"no file matches {text}"
        )
        return
    loadable = [path for path in found if is_history_csv(path)]  # others are skipped
    if not loadable:
        what = f"directory {text}" if source.kind == DIRECTORY else f"the files matching {text}"
        problems.append(f"no emissions CSV in {what}")
    files.extend(loadable)


def expand_paths(specs: Iterable[str | os.PathLike]) -> Expanded:
    """Expand files, directories and globs into a de-duplicated, ordered list of CSV files
    (a file's tasks files beside it included), and the values that gave nothing loadable.

    A directory or glob skips the CSVs that are not emissions CSVs; a file that cannot load
    (missing, unreadable, not an emissions CSV) is a problem.
    """
    files: list[Path] = []
    problems: list[str] = []
    for spec in specs:
        _expand_one(os.fspath(spec), files, problems)
    unique: dict[Path, None] = {}
    for path in files:
        real = resolved(path)
        if real is None:
            problems.append(f"{path} is a symlink loop")
        else:
            unique.setdefault(real, None)
    return Expanded(list(unique), problems)


def loadable(expanded: Expanded) -> list[Path]:
    """The files ``expand_paths`` found; raises PathError (one line) when there is none.

    Values that give nothing loadable are left out when others load: the store lists the files
    among them with their reason, the ``report`` command prints them.
    """
    if not expanded.files:
        more = len(expanded.problems) - 1
        raise PathError(expanded.problems[0] + (f" (and {more} more)" if more > 0 else ""))
    return expanded.files


def resolve_paths(specs: Iterable[str | os.PathLike]) -> list[Path]:
    """The CSV files the ``--filepath`` values name now (``expand_paths``); raises PathError
    (one line) when none is given or none can load."""
    specs = list(specs)
    if not specs:
        raise PathError("no --filepath given")
    return loadable(expand_paths(specs))
