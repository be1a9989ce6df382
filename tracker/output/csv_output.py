"""The CSV output: the run's rows in ``emissions.csv``, its tasks in ``emissions_tasks.csv``.

It keeps the writer's guarantees (:mod:`tracker.output.csv_file`, :mod:`.fallback`,
:mod:`.checkpoint`): dead runs left in the file are recorded as crashed when a run starts, the
run's progress is checkpointed every interval, and a row that cannot be written goes to the
fallback file. ``on_csv_write="update"`` (CodeCarbon's option) keeps one row per run: a flush or
the final row replaces the run's earlier row instead of adding one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tracker import schema
from tracker.emissions_data import EmissionsData
from tracker.output.base import BaseOutput
from tracker.output.checkpoint import Checkpoint, recover_crashed
from tracker.output.csv_file import (
    append_row_locked,
    check_ours,
    decode_cells,
    encode_row,
    format_value,
    iter_records,
    migrate,
    read_header,
    real_path,
    replacement_for,
    to_bytes,
)
from tracker.output.fallback import append_with_fallback
from tracker.output.lock import locked
from tracker.row import RunInfo
from tracker.schema import merged_fieldnames

log = logging.getLogger(__name__)

CSV_WRITE_MODES = ("append", "update")


def tasks_path(output_path: Path) -> Path:
    """Where task rows go: ``emissions.csv`` -> ``emissions_tasks.csv``, next to it."""
    return output_path.with_name(f"{output_path.stem}_tasks{output_path.suffix}")


def replace_run_row(
    path: Path,
    row: Mapping[str, object],
    fieldnames: Sequence[str],
    *,
    then: Callable[[], None] | None = None,
) -> None:
    """Write ``row`` as the only row of its run in ``path``: its first earlier row is replaced in
    place, later ones are dropped, and the row is appended when the run has none yet. Every other
    record is copied as its bytes. The file is swapped in atomically, under the file's lock;
    ``then`` runs while the lock is still held. A file that is not ours is never rewritten
    (:class:`~tracker.output.csv_file.ForeignFileError`). Raises ``OSError``."""
    path = real_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        existing = read_header(path)
        if existing is None:
            append_row_locked(path, row, fieldnames)
        else:
            header, newline, _ = existing
            check_ours(path, header, fieldnames)
            merged = merged_fieldnames(header, tuple(fieldnames))
            if merged != header:
                migrate(path, header, merged, newline)
                header = merged
            _rewrite_with(path, header, newline, row)
        if then is not None:
            then()


def _rewrite_with(path: Path, header: list[str], newline: str, row: Mapping[str, object]) -> None:
    run_id = str(row.get("run_id", ""))
    position = header.index("run_id")
    new_record = to_bytes(encode_row([format_value(row.get(name)) for name in header], newline))
    fd, temp_name = replacement_for(path)
    try:
        with path.open("rb") as source, os.fdopen(fd, "wb") as target:
            records = iter_records(source)
            last = next(records, (b"", True))[0]
            target.write(last)
            written = False
            for record, _closed in records:
                cells = decode_cells(record)
                if len(cells) <= position or cells[position] != run_id:
                    target.write(record)  # another run's row (or a blank line): its bytes
                    last = record
                elif not written:
                    target.write(new_record)
                    written = True
            if not written:
                if not last.endswith(b"\n"):  # a last line cut short stays on its own
                    target.write(newline.encode("ascii"))
                target.write(new_record)
            target.flush()
            os.fsync(target.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class CsvOutput(BaseOutput):
    """Rows to ``path`` (appended, or one per run with ``on_csv_write="update"``), tasks to
    :func:`tasks_path`, progress to a checkpoint beside it; ``environ`` locates the fallback."""

    def __init__(
        self, path: Path, *, environ: Mapping[str, str], on_csv_write: str = "append"
    ) -> None:
        if on_csv_write not in CSV_WRITE_MODES:
            raise ValueError(f"on_csv_write must be one of {CSV_WRITE_MODES}, not {on_csv_write!r}")
        self.path = path
        self.tasks_path = tasks_path(path)
        self._environ = environ
        self._update = on_csv_write == "update"
        self._checkpoint: Checkpoint | None = None
        self._checkpoint_failed = False

    def started(self, run: RunInfo) -> None:
        """Record dead runs left in this file as crashed, then open this run's checkpoint."""
        try:
            recover_crashed(self.path, schema.FIELDNAMES)
        except OSError as error:
            log.warning("cannot check %s for crashed runs: %s", self.path, error)
        self._checkpoint = Checkpoint(self.path, run.run_id)

    def progress(self, data: EmissionsData) -> None:
        if self._checkpoint is None:
            return
        try:
            self._checkpoint.write({k: format_value(v) for k, v in data.row().items()})
        except OSError as error:
            if not self._checkpoint_failed:
                log.warning("cannot write %s: %s", self._checkpoint.path, error)
            self._checkpoint_failed = True

    def flushed(self, data: EmissionsData) -> None:
        self._write(data.row())

    def finished(self, data: EmissionsData) -> None:
        checkpoint, self._checkpoint = self._checkpoint, None  # no checkpoint after the row
        self._write(data.row(), then=checkpoint.remove if checkpoint is not None else None)

    def task(self, data: EmissionsData) -> None:
        row = {"task_name": data.task_name, **data.row()}
        append_with_fallback(self.tasks_path, row, schema.TASK_FIELDNAMES, environ=self._environ)

    def _write(self, row: Mapping[str, object], then: Callable[[], None] | None = None) -> None:
        if self._update:
            try:
                replace_run_row(self.path, row, schema.FIELDNAMES, then=then)
                return
            except Exception as error:  # any failure: the row is appended or falls back
                log.warning("cannot update %s in place (%s): appending the row", self.path, error)
        append_with_fallback(self.path, row, schema.FIELDNAMES, environ=self._environ, then=then)
