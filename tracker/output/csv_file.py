"""Appending one row to an emissions CSV: under the file's lock, by column name, fsync'd.

Only the header line is read before an append, so appending to a long history costs the same as
appending to a short one. A file whose header differs from ours (an older CodeCarbon, an older
carbonboard) is first migrated to the union of both headers: rewritten into a temporary file in
the same folder and swapped in with ``os.replace``, every old record copied as the same bytes.

A file whose header lacks the contract's required columns is someone else's (a dataset that
happens to be called ``emissions.csv``, a binary, a shell profile): it is never written, and
:class:`ForeignFileError` says so. A write that stops short (a full disk: ``os.write`` returns
fewer bytes, then fails) is undone by truncating the file back to its size before the write, so a
file never ends in a cut-short row; the caller then saves the row elsewhere.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import io
import logging
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from tracker.output.lock import locked
from tracker.schema import REQUIRED_FIELDNAMES, TASK_NAME_COLUMN, is_tasks_header, merged_fieldnames

log = logging.getLogger(__name__)

# ``os.write``'s shape: may write fewer bytes than given, returns how many it wrote.
Write = Callable[[int, bytes], int]

_NEEDS_QUOTES = frozenset(',"\r\n')
# A header line longer than this is not an emissions CSV (a binary file, a text without newlines).
MAX_HEADER_BYTES = 64 * 1024
_COPY_BUFFER_BYTES = 1 << 16


class ForeignFileError(OSError):
    """The file at the output path is not an emissions CSV, so it is left as it is."""

    def __init__(self, path: Path, missing: Sequence[str]) -> None:
        super().__init__(f"its header lacks {', '.join(missing)}")
        self.filename = str(path)
        self.missing = tuple(missing)


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


def to_bytes(text: str) -> bytes:
    """UTF-8; text decoded with ``surrogateescape`` (file names, environment variables) gets its
    original bytes back, and any other unencodable character is written as an escape, not lost."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def sibling_path(path: Path) -> Path:
    """Where rows go when ``path`` is not an emissions CSV: ``emissions.csv`` ->
    ``emissions.carbonboard.csv``, in the same folder."""
    return path.with_name(f"{path.stem}.carbonboard{path.suffix}")


def required_columns(fieldnames: Sequence[str]) -> tuple[str, ...]:
    """The columns a file must have before rows with ``fieldnames`` may be added to it."""
    if is_tasks_header(list(fieldnames)):
        return (TASK_NAME_COLUMN.name, *REQUIRED_FIELDNAMES)
    return REQUIRED_FIELDNAMES


def check_ours(path: Path, header: Sequence[str], fieldnames: Sequence[str]) -> None:
    """Raise :class:`ForeignFileError` unless ``header`` (``path``'s) has the required columns
    of ``fieldnames``: call it before writing into an existing file in any way."""
    missing = [name for name in required_columns(fieldnames) if name not in header]
    if missing:
        raise ForeignFileError(path, missing)


def read_header(path: Path) -> tuple[list[str], str, bool] | None:
    """(column names, line terminator, ends with a newline) of an existing non-empty file.

    Reads the first line (at most ``MAX_HEADER_BYTES``) and the last byte only. A first line
    that is not text, or too long to be a header, reads as no column at all.
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        first = handle.readline(MAX_HEADER_BYTES)
        if not first:
            return None
        newline = "\r\n" if first.endswith(b"\r\n") else "\n"
        handle.seek(-1, os.SEEK_END)
        ends_with_newline = handle.read(1) == b"\n"
    if not first.endswith(b"\n") and len(first) >= MAX_HEADER_BYTES:
        return [], newline, ends_with_newline
    text = first.decode("utf-8-sig", "surrogateescape").rstrip("\r\n")
    try:
        header = next(csv.reader([text]), [])
    except csv.Error:
        header = []
    return header, newline, ends_with_newline


def real_path(path: Path) -> Path:
    """``path`` with its symbolic links resolved: an ``emissions.csv`` that links to a shared
    file gets its rows (and its rewrites, lock and temporary files) there, and stays a link."""
    return Path(os.path.realpath(path))


def replacement_for(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (descriptor, name) to write its rewritten copy into,
    with ``path``'s owner, group and mode, for the caller (who holds the lock) to swap in with
    ``os.replace``. ``PermissionError`` for a file we may not write, or whose owner and group the
    copy could not keep: swapping it in would take another user's file over. Temporary files
    left by a writer killed mid-rewrite are removed first (no live writer has one: the lock is
    held)."""
    os.close(os.open(path, os.O_WRONLY | os.O_APPEND))  # may we write it at all?
    info = os.stat(path)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        made = os.fstat(fd)
        if hasattr(os, "fchown") and (made.st_uid, made.st_gid) != (info.st_uid, info.st_gid):
            try:
                os.fchown(fd, info.st_uid, info.st_gid)
            except PermissionError:
                why = "owned by another user or group: a rewritten copy would take it over"
                raise PermissionError(errno.EPERM, why, str(path)) from None
        os.chmod(temp_name, stat.S_IMODE(info.st_mode))
    except BaseException:
        os.close(fd)
        Path(temp_name).unlink(missing_ok=True)
        raise
    return fd, temp_name


def append_row(
    path: Path,
    row: Mapping[str, object],
    fieldnames: Sequence[str],
    *,
    then: Callable[[], None] | None = None,
    write: Write = os.write,
) -> None:
    """Append ``row`` (column -> value; missing columns left empty) to ``path``.

    Creates the folder and the file (with the header ``fieldnames``) when missing, migrates an
    existing file whose header lacks some of ``fieldnames``, and calls ``then`` while still holding
    the lock. Raises :class:`ForeignFileError` (an ``OSError``) for a file that is not an emissions
    CSV, ``OSError`` when the file cannot be written; the file then holds what it held before.
    ``write`` replaces ``os.write`` (tests play a full disk with it).
    """
    path = real_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # the folder's name is taken by a file: say so plainly
        error = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent))
        raise error from None
    with locked(path):
        append_row_locked(path, row, fieldnames, write=write)
        if then is not None:
            then()


def append_row_locked(
    path: Path, row: Mapping[str, object], fieldnames: Sequence[str], *, write: Write = os.write
) -> None:
    """:func:`append_row` for a caller that already holds the file's lock."""
    existing = read_header(path)
    if existing is None:
        header, newline, prefix = list(fieldnames), "\n", ""
        data = encode_row(header, newline)
    else:
        header, newline, ends_with_newline = existing
        check_ours(path, header, fieldnames)
        prefix = "" if ends_with_newline else newline  # a last line cut short stays on its own
        merged = merged_fieldnames(header, tuple(fieldnames))
        if merged != header:
            migrate(path, header, merged, newline, write=write)
            header, prefix = merged, ""
        data = ""
    data = prefix + data + encode_row([format_value(row.get(name)) for name in header], newline)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size_before = os.fstat(fd).st_size
        try:
            write_all(fd, to_bytes(data), write)
            os.fsync(fd)
        except BaseException:
            _truncate(path, fd, size_before)
            raise
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes, write: Write = os.write) -> None:
    """Write every byte of ``data``: ``os.write`` may write fewer (a full disk, a signal)."""
    view = memoryview(data)
    while view:
        written = write(fd, view)
        if written <= 0:  # nothing more fits: what a full disk says before it says ENOSPC
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _truncate(path: Path, fd: int, size: int) -> None:
    """Undo a write that stopped short, so the file never ends in a partial row."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as error:
        log.error(
            "%s: cannot remove a partly written row (%s): its last line is cut short", path, error
        )


class _BufferedWriter:
    """Collects bytes and writes them through ``write_all`` in large pieces."""

    def __init__(self, fd: int, write: Write) -> None:
        self._fd = fd
        self._write = write
        self._buffer = bytearray()

    def add(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= _COPY_BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        write_all(self._fd, bytes(self._buffer), self._write)
        self._buffer.clear()


def iter_records(source: io.BufferedReader) -> Iterator[tuple[bytes, bool]]:
    """Each CSV record's bytes (its line terminator included) and whether its quotes are closed.

    A newline inside a quoted cell does not end a record: a record ends at the first newline
    after an even number of quote characters (an escaped quote is two of them).
    """
    lines: list[bytes] = []
    quotes = 0
    for line in source:
        lines.append(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            yield b"".join(lines), True
            lines, quotes = [], 0
    if lines:  # the file ends inside a quoted cell (a writer killed mid-row)
        yield b"".join(lines), False


def decode_cells(record: bytes) -> list[str]:
    """A record's cells (undecodable bytes kept as surrogates); ``[]`` when it is not CSV."""
    text = record.decode("utf-8", "surrogateescape")
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return []


def _cell_count(record: bytes) -> int:
    return len(decode_cells(record))


def migrate(
    path: Path,
    old_header: list[str],
    new_header: list[str],
    newline: str,
    *,
    write: Write = os.write,
) -> None:
    """Rewrite ``path`` under ``new_header`` (``old_header`` plus columns at the end), atomically.

    Old records are copied as bytes, never decoded and re-encoded: "1.2300000000e-05" stays
    "1.2300000000e-05", and a row in Latin-1 or with an invalid UTF-8 byte keeps every byte; each
    is followed by the empty cells of the new columns. The caller holds the lock. Any failure
    removes the temporary file and leaves ``path`` as it was.
    """
    added = len(new_header) - len(old_header)
    end = newline.encode("ascii")
    fd, temp_name = replacement_for(path)
    rows = 0
    try:
        try:
            target = _BufferedWriter(fd, write)
            target.add(to_bytes(encode_row(new_header, newline)))
            with path.open("rb") as source:
                records = iter_records(source)
                next(records, None)  # the old header
                for record, closed in records:
                    body = record.removesuffix(b"\n").removesuffix(b"\r")
                    terminator = record[len(body) :] or end
                    if not body.strip():  # a blank line: not a row, kept as it is
                        target.add(record)
                        continue
                    # A short row is padded to its header first, so no cell moves to another
                    # column; a row cut inside a quoted cell gets no cells inside that quote.
                    padding = max(0, len(old_header) - _cell_count(body)) + added if closed else 0
                    target.add(body + b"," * padding + terminator)
                    rows += 1
            target.flush()
            os.fsync(fd)
        finally:
            os.close(fd)
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
