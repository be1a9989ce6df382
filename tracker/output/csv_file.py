"""Appending one row to an emissions CSV: under the file's lock, by column name, fsync'd.

Only the header line is read before an append, so appending to a long history costs the same as
appending to a short one. A file whose header differs from ours (an older CodeCarbon, an older
carbonboard) is first migrated to the union of both headers: rewritten into a temporary file in
the same folder and swapped in with ``os.replace``, every old cell kept as the same text.
"""

from __future__ import annotations

import csv
import errno
import logging
import math
import os
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tracker.output.lock import locked
from tracker.schema import merged_fieldnames

log = logging.getLogger(__name__)

_NEEDS_QUOTES = frozenset(',"\r\n')


def format_value(value: object) -> str:
    """A value as its cell text: floats in Python's shortest round-trip form, ``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def encode_cell(text: str) -> str:
    """Quote a cell only when it must be (delimiter, quote, CR or LF inside), as pandas does."""
    if _NEEDS_QUOTES.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def encode_row(cells: Sequence[str], newline: str) -> str:
    return ",".join(encode_cell(cell) for cell in cells) + newline


def read_header(path: Path) -> tuple[list[str], str, bool] | None:
    """(column names, line terminator, ends with a newline) of an existing non-empty file.

    Reads the first line and the last byte only.
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        first = handle.readline()
        if not first:
            return None
        newline = "\r\n" if first.endswith(b"\r\n") else "\n"
        handle.seek(-1, os.SEEK_END)
        ends_with_newline = handle.read(1) == b"\n"
    text = first.decode("utf-8-sig").rstrip("\r\n")
    header = next(csv.reader([text]), [])
    return header, newline, ends_with_newline


def append_row(
    path: Path,
    row: Mapping[str, object],
    fieldnames: Sequence[str],
    *,
    then: Callable[[], None] | None = None,
) -> None:
    """Append ``row`` (column -> value; missing columns left empty) to ``path``.

    Creates the folder and the file (with the header ``fieldnames``) when missing, migrates an
    existing file whose header lacks some of ``fieldnames``, and calls ``then`` while still holding
    the lock. Raises ``OSError`` when the file cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # the folder's name is taken by a file: say so plainly
        error = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent))
        raise error from None
    with locked(path):
        append_row_locked(path, row, fieldnames)
        if then is not None:
            then()


def append_row_locked(path: Path, row: Mapping[str, object], fieldnames: Sequence[str]) -> None:
    """:func:`append_row` for a caller that already holds the file's lock."""
    existing = read_header(path)
    if existing is None:
        header, newline, prefix = list(fieldnames), "\n", ""
        data = encode_row(header, newline)
    else:
        header, newline, ends_with_newline = existing
        prefix = "" if ends_with_newline else newline  # a last line cut short stays on its own
        merged = merged_fieldnames(header, tuple(fieldnames))
        if merged != header:
            migrate(path, header, merged, newline)
            header, prefix = merged, ""
        data = ""
    data = prefix + data + encode_row([format_value(row.get(name)) for name in header], newline)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, data.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def migrate(path: Path, old_header: list[str], new_header: list[str], newline: str) -> None:
    """Rewrite ``path`` under ``new_header`` (``old_header`` plus columns at the end), atomically.

    Cells are copied as text, never parsed: "1.2300000000e-05" stays "1.2300000000e-05". The caller
    holds the lock.
    """
    added = len(new_header) - len(old_header)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (
            path.open(newline="", encoding="utf-8-sig") as source,
            os.fdopen(fd, "w", newline="", encoding="utf-8") as target,
        ):
            records = csv.reader(source)
            next(records, None)  # the old header
            target.write(encode_row(new_header, newline))
            rows = 0
            for cells in records:
                if not cells:
                    continue
                # A short row is padded to its header first, so no cell moves to another column.
                padding = max(0, len(old_header) - len(cells)) + added
                target.write(encode_row([*cells, *([""] * padding)], newline))
                rows += 1
            target.flush()
            os.fsync(target.fileno())
        os.chmod(temp_name, stat.S_IMODE(path.stat().st_mode))
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    log.info(
        "%s: header migrated from %d to %d columns (added %s); %d rows kept as they were",
        path,
        len(old_header),
        len(new_header),
        ", ".join(new_header[len(old_header) :]),
        rows,
    )


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable; folders cannot be opened this way on Windows."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
