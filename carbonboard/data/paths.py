"""Turn what the user typed (files, directories, globs) into the CSV files to load.

Shared by the dashboard and the ``report`` command so both accept the same ``--filepath`` values
and fail with the same one-line messages.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Iterable
from pathlib import Path

from tracker import schema

HEADER_BYTES = 64 * 1024  # a header longer than this is not ours


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


def _csv_in_directory(directory: Path) -> list[Path]:
    """The emissions/tasks CSVs directly inside ``directory``; other CSVs are ignored."""
    found = []
    for path in sorted(directory.glob("*.csv")):
        try:
            header = read_header(path)
        except OSError:
            continue
        if header is not None and (not header or is_history_header(header)):
            found.append(path)
    return found


def resolve_paths(specs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files, directories and globs into a de-duplicated, ordered list of CSV files.

    Raises PathError (one line) for a path that does not exist, a glob or directory without any
    emissions CSV, or a file that is not an emissions CSV.
    """
    resolved: list[Path] = []
    specs = list(specs)
    if not specs:
        raise PathError("no --filepath given")
    for spec in specs:
        text = os.fspath(spec)
        path = Path(text).expanduser()
        if path.is_dir():
            found = _csv_in_directory(path)
            if not found:
                raise PathError(f"no emissions CSV in directory {text}")
        elif path.exists():
            if not path.is_file():
                raise PathError(f"{text} is not a regular file")
            _check_file(path, text)
            found = [path]
        elif glob.has_magic(text):
            matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(text)))]
            found = [m for m in matches if m.is_file()]
            if not found:
                raise PathError(f"no file matches {text}")
            for match in found:
                _check_file(match, str(match))
        else:
            raise PathError(f"{text} does not exist")
        resolved.extend(found)
    unique: dict[Path, None] = {}
    for path in resolved:
        unique.setdefault(path.resolve(), None)
    return list(unique)
