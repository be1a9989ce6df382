"""Turn what the user typed (files, directories, globs) into the CSV files to load.

Shared by the dashboard and the ``report`` command so both accept the same ``--filepath`` values
and fail with the same one-line messages. Directories and globs are also kept as ``PathSpec``s,
which the dashboard's store lists again on every refresh so files that appear later are loaded.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tracker import schema

HEADER_BYTES = 64 * 1024  # a header longer than this is not ours
DIRECTORY, GLOB = "directory", "glob"  # the kinds of PathSpec


class PathError(Exception):
    """A ``--filepath`` value that cannot be loaded; the message is one line for the user."""


def read_header(path: Path) -> list[str] | None:
    """The CSV header of ``path``; ``[]`` for an empty file, ``None`` when it is not text CSV."""
    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    if b"\0" in head:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a multi-byte character cut at the end
            return None
        text = head[: error.start].decode("utf-8-sig")
    if not text.strip():
        return []
    first_line = text.splitlines()[0]
    return next(csv.reader([first_line]), [])


def is_history_header(header: list[str]) -> bool:
    """An emissions or tasks CSV: it has the columns every row needs."""
    names = header[1:] if schema.is_tasks_header(header) else header
    return all(name in names for name in schema.REQUIRED_FIELDNAMES)


def _check_file(path: Path, shown: str) -> None:
    """Raise PathError unless ``path`` is a readable emissions/tasks CSV (or empty)."""
    try:
        header = read_header(path)
    except OSError as error:
        raise PathError(f"cannot read {shown}: {error.strerror}") from None
    if header is None:
        raise PathError(f"{shown} is not a CSV file (binary or not UTF-8 text)")
    if header and not is_history_header(header):
        missing = [n for n in schema.REQUIRED_FIELDNAMES if n not in header]
        raise PathError(f"{shown} is not an emissions CSV: its header lacks {', '.join(missing)}")


def is_history_csv(path: Path) -> bool:
    """An emissions or tasks CSV, or an empty file (one just created); False when unreadable."""
    try:
        header = read_header(path)
    except OSError:
        return False
    return header is not None and (not header or is_history_header(header))


@dataclass(frozen=True)
class PathSpec:
    """A directory or glob ``--filepath`` value as typed, so it can be listed again later: files
    that appear in it are loaded, files that leave it drop out."""

    text: str
    kind: str  # "directory" | "glob"

    def candidates(self) -> list[Path]:
        """What it names now, sorted and unchecked: a directory's ``*.csv`` (none once the
        directory is gone), a glob's matching files."""
        if self.kind == DIRECTORY:
            return sorted(Path(self.text).expanduser().glob("*.csv"))
        matches = (Path(m) for m in sorted(glob.glob(os.path.expanduser(self.text))))
        return [m for m in matches if m.is_file()]


def parse_argument(value: str | os.PathLike) -> Path | PathSpec:
    """What a ``--filepath`` value names: a directory or a glob (a ``PathSpec``), else a file."""
    text = os.fspath(value)
    path = Path(text).expanduser()
    if path.is_dir():
        return PathSpec(text, DIRECTORY)
    if not path.exists() and glob.has_magic(text):
        return PathSpec(text, GLOB)
    return path


def _checked_files(text: str) -> list[Path]:
    """The CSV files one ``--filepath`` value names now, or PathError."""
    source = parse_argument(text)
    if isinstance(source, Path):
        if not source.exists():
            raise PathError(f"{text} does not exist")
        if not source.is_file():
            raise PathError(f"{text} is not a regular file")
        _check_file(source, text)
        return [source]
    found = source.candidates()
    if source.kind == DIRECTORY:
        found = [path for path in found if is_history_csv(path)]  # other CSVs are ignored
        if not found:
            raise PathError(f"no emissions CSV in directory {text}")
        return found
    if not found:
        raise PathError(f"no file matches {text}")
    for match in found:
        _check_file(match, str(match))
    return found


def resolve_paths(specs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files, directories and globs into a de-duplicated, ordered list of CSV files.

    Raises PathError (one line) for a path that does not exist, a glob or directory without any
    emissions CSV, or a file that is not an emissions CSV.
    """
    specs = list(specs)
    if not specs:
        raise PathError("no --filepath given")
    resolved = [path for spec in specs for path in _checked_files(os.fspath(spec))]
    return list(dict.fromkeys(path.resolve() for path in resolved))
