"""The history, parsed once and kept on the server; re-read only when a file changes.

``HistoryStore.current()`` lists the directories and globs it follows, stats the files (cheap) and
returns the cached ``History`` unless a file appeared, left, or changed size or mtime: a file that
only grew is parsed from where the last read stopped, anything else is parsed again. Large files
are also cached on disk (``ParsedCache``: arrays, never a pickle) so a restart on a million rows
does not re-parse the CSV. ``version`` increases with every change, so pages poll it cheaply and
recompute only when it moved.

One file never takes the others down: whatever goes wrong reading it (a FIFO, a symlink loop, a
permission, a binary swapped in, a parser error) marks that file with a short reason, shown in the
page header and logged once, and the rest is served. Files are read in bounded chunks, so a file
that grows by gigabytes of junk costs time, not memory: its bad rows are counted, the first
``MAX_LISTED_SKIPPED`` of them listed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from carbonboard.data.aggregate import filter_runs
from carbonboard.data.cache import ParsedCache
from carbonboard.data.jobs import dedupe_job_rows
from carbonboard.data.loader import (
    Parsed,
    Skipped,
    concat,
    empty_frame,
    parse,
    set_text_where,
)
from carbonboard.data.paths import (
    NOT_REGULAR,
    PathSpec,
    file_problem,
    header_problem,
    open_regular,
    os_reason,
    read_header,
    resolve_paths,
    resolved,
    sources_for,
)
from carbonboard.selection import Selection
from tracker.schema import is_tasks_header

log = logging.getLogger(__name__)

DISK_CACHE_MIN_BYTES = 8 * 1024 * 1024  # smaller files parse faster than a cache round trip
CHUNK_BYTES = 64 * 1024 * 1024  # the most read into memory at once (a longer line is skipped)
MAX_LISTED_SKIPPED = 1000  # bad rows listed per file; all of them are counted
STALE_AFTER_S = 30 * 60.0  # a "running" run silent for longer than this has crashed
SELECTION_CACHE_SIZE = 8  # selections kept per data version
RUN_KEY = ["source_file", "run_id"]
TASK_KEY = ["source_file", "run_id", "task_name"]


def default_cache_dir() -> Path:
    """``$CARBONBOARD_CACHE_DIR``, else the platform's user cache folder."""
    configured = os.environ.get("CARBONBOARD_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "carbonboard"


@dataclass(frozen=True)
class FileInfo:
    """A loaded file, for the header: what it is and how much of it was usable.

    ``skipped``: every bad row, listed or not. ``error``: why the file (or its part from some
    line on) could not be read; its rows before that line are still shown.
    """

    path: str
    kind: str  # "runs" | "tasks" | "empty" | "unreadable"
    rows: int
    skipped: int
    size_bytes: int
    error: str = ""


@dataclass(frozen=True)
class History:
    """One consistent snapshot of everything loaded.

    ``runs``: one row per run (the latest row per file and run_id, since CodeCarbon's flush()
    appends cumulative rows), sorted by timestamp, with the contract's columns plus
    ``source_file`` and ``line_number``; a ``running`` run silent for too long shows ``crashed``.
    ``tasks``: the same per task for tasks CSVs. ``skipped``: rows left out, with the reason
    (at most ``MAX_LISTED_SKIPPED`` a file: ``skipped_rows`` counts them all).
    ``duplicates``: rows not in ``runs`` because another rank's row of the same cluster job
    measured the same node over the same time (:mod:`carbonboard.data.jobs`), so no total counts
    a node twice.
    """

    runs: pd.DataFrame
    tasks: pd.DataFrame
    skipped: list[Skipped]
    files: list[FileInfo]
    version: int = 0
    rows_read: int = 0
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def is_empty(self) -> bool:
        return self.runs.empty

    @property
    def skipped_rows(self) -> int:
        """Every row left out, including those not listed in ``skipped``."""
        return sum(info.skipped for info in self.files)

    @property
    def unreadable(self) -> list[FileInfo]:
        """The files (or their tails) that could not be read, each with its reason."""
        return [info for info in self.files if info.error]


@dataclass
class _FileState:
    size: int = -1
    mtime_ns: int = -1
    parsed: list[Parsed] = field(default_factory=list)
    error: str = ""
    signature: bytes = b""  # the bytes just before the last read stopped
    unlisted: int = 0  # bad rows counted but not listed (beyond MAX_LISTED_SKIPPED)

    def appended_to(self, path: Path, size: int) -> bool:
        """The file only grew since the last read: same bytes where that read stopped."""
        if not self.parsed or self.parsed[0].kind == "empty" or size <= self.size:
            return False
        return _signature(path, self.parsed[-1].end_offset) == self.signature

    @property
    def kind(self) -> str:
        return self.parsed[0].kind if self.parsed else ("unreadable" if self.error else "empty")

    @property
    def listed(self) -> int:
        return sum(len(parsed.skipped) for parsed in self.parsed)


def _signature(path: Path, end_offset: int, length: int = 256) -> bytes:
    """The ``length`` bytes before ``end_offset``: if they change, the file was rewritten."""
    with open_regular(path) as handle:
        handle.seek(max(end_offset - length, 0))
        return handle.read(min(length, end_offset))


def _next_line_start(path: Path, offset: int, chunk_bytes: int) -> int | None:
    """The offset just after the first newline at or after ``offset``, read ``chunk_bytes`` at a
    time; None when the file ends first."""
    with open_regular(path) as handle:
        handle.seek(offset)
        while chunk := handle.read(chunk_bytes):
            newline = chunk.find(b"\n")
            if newline >= 0:
                return offset + newline + 1
            offset += len(chunk)
    return None


@dataclass
class BoundedRead:
    """One read of a file, merged from its chunks: the rows, the bad rows beyond those listed,
    and why reading stopped early ("" when it reached the end or a line still being written)."""

    parsed: Parsed
    unlisted: int = 0
    error: str = ""


def read_bounded(
    path: Path,
    *,
    start_offset: int = 0,
    header: list[str] | None = None,
    first_line: int = 2,
    chunk_bytes: int = CHUNK_BYTES,
    listed_room: int = MAX_LISTED_SKIPPED,
) -> BoundedRead:
    """``parse`` ``path`` from ``start_offset`` to its end, at most ``chunk_bytes`` in memory at a
    time (plus the rows kept): a line longer than that is skipped and reported, and at most
    ``listed_room`` bad rows are listed, the others only counted. An exception stops the read
    there: the rows before it are kept, the reason is in ``error``."""
    source = str(path)
    frames: list[pd.DataFrame] = []
    skipped: list[Skipped] = []
    unlisted = 0
    offset, line, kind = start_offset, first_line, "runs"
    error = ""
    end = os.stat(path).st_size
    while True:
        chunk_start = offset
        try:
            part = parse(
                path, start_offset=offset, header=header, first_line=line, max_bytes=chunk_bytes
            )
        except Exception as failure:  # one bad read never takes the board down
            if header is None:
                raise  # nothing read: the whole file is unreadable
            error = f"unreadable from line {line}: {os_reason(failure)}"
            break
        if header is None and part.kind == "empty":  # no whole header line yet
            if end - offset >= chunk_bytes:
                return BoundedRead(part, 0, f"no header line in its first {chunk_bytes:,} bytes")
            return BoundedRead(part)
        header, kind = part.header, part.kind
        whole = [s for s in part.skipped if s.line < part.next_line]
        cut = [s for s in part.skipped if s.line >= part.next_line]  # the last line, unfinished
        listed = whole[: max(listed_room - len(skipped), 0)]
        unlisted += len(whole) - len(listed)
        skipped.extend(listed)
        if len(part.frame):
            frames.append(part.frame)
        offset, line = part.end_offset, part.next_line
        reached_end = chunk_start + chunk_bytes >= end
        if offset > chunk_start and not (reached_end or offset >= end):
            continue  # a cut line starts the next chunk
        if offset > chunk_start or reached_end or not cut:
            skipped.extend(cut)  # a last line still being written, read again when it grows
            break
        after = _next_line_start(path, offset, chunk_bytes)  # a line longer than a chunk
        if after is None:
            reason = f"last line longer than {chunk_bytes:,} bytes, not read (still being written?)"
            skipped.append(Skipped(source, line, reason))
            break
        if len(skipped) < listed_room:
            skipped.append(
                Skipped(source, line, f"line longer than {chunk_bytes:,} bytes, skipped")
            )
        else:
            unlisted += 1
        offset, line = after, line + 1
    frame = concat(frames, kind) if frames else empty_frame(kind)
    return BoundedRead(Parsed(kind, header or [], frame, skipped, offset, line), unlisted, error)


def latest_per_key(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The last row written for each key: cumulative flush rows count once."""
    if frame.empty:
        return frame
    return frame.drop_duplicates(subset=key, keep="last")


def mark_crashed(runs: pd.DataFrame, now: dt.datetime, stale_after_s: float) -> pd.DataFrame:
    """Runs still ``running`` whose last row is older than ``stale_after_s`` are ``crashed``."""
    running = runs["status"].eq("running")
    if not running.any():
        return runs
    stale = running & (runs["timestamp"] < pd.Timestamp(now) - pd.Timedelta(seconds=stale_after_s))
    if not stale.any():
        return runs
    runs = runs.copy()
    runs["status"] = set_text_where(runs["status"], stale, "crashed")
    return runs


class _SelectionCache:
    """The runs of the last few selections of the newest data version, each filtered once.

    The sections of a page ask for the same selection at the same moment: the first caller
    filters and the others wait for its result. Bounded twice: SELECTION_CACHE_SIZE selections,
    and filtered copies of at most the table's row count in all (a selection of everything is the
    table itself, shared, and costs nothing).
    """

    def __init__(self, size: int = SELECTION_CACHE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._version = 0
        self._entries: OrderedDict[Selection, Future] = OrderedDict()

    def get(self, history: History, selection: Selection) -> pd.DataFrame:
        key = replace(selection, run_ids=())  # filter_runs ignores the runs picked
        mine: Future = Future()
        with self._lock:
            if history.version > self._version:
                self._entries.clear()
                self._version = history.version
            newest = history.version == self._version  # else a caller on an older snapshot
            found = self._entries.get(key) if newest else None
            if found is not None:
                self._entries.move_to_end(key)
            elif newest:
                self._entries[key] = mine
        if found is not None:
            return found.result()
        try:
            runs = filter_runs(history.runs, key)
        except BaseException as error:
            mine.set_exception(error)  # the callers waiting for it raise too
            with self._lock:
                if self._entries.get(key) is mine:
                    del self._entries[key]
            raise
        mine.set_result(runs)
        with self._lock:
            self._trim(history.runs)
        return runs

    def _trim(self, table: pd.DataFrame) -> None:
        """Drop the least recently used selections, then the least recently used copies, until
        both bounds hold."""
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        copies = [
            (key, len(future.result()))
            for key, future in self._entries.items()
            if future.done() and future.exception() is None and future.result() is not table
        ]
        excess = sum(rows for _, rows in copies) - len(table)
        for key, rows in copies:  # oldest first; the newest alone is within the bound
            if excess <= 0:
                break
            del self._entries[key]
            excess -= rows


class HistoryStore:
    """The parsed history of files, directories and globs, refreshed on change; thread-safe.

    ``paths``: a path is a file, loaded for as long as the store lives (gone or unreadable, it
    shows as unreadable, with the reason); a ``PathSpec`` is a directory, glob or the tasks files
    beside a runs file, listed again on every ``current()`` so the emissions CSVs that appear in
    it are loaded and those that leave it drop out. ``from_arguments`` builds one from
    ``--filepath`` values.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike | PathSpec],
        *,
        cache_dir: Path | None = None,
        disk_cache: bool = True,
        stale_after_s: float = STALE_AFTER_S,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._sources = [p if isinstance(p, PathSpec) else Path(p) for p in paths]
        self.paths: list[Path] = []  # the files loaded, as of the last current()
        self.cache_dir = cache_dir or default_cache_dir()
        self.disk_cache = disk_cache
        self._cache = ParsedCache(self.cache_dir)
        self.stale_after_s = stale_after_s
        self.chunk_bytes = chunk_bytes
        self._states: dict[Path, _FileState] = {}
        # other files seen in a directory, glob or beside a runs file: their size and mtime
        self._rejected: dict[tuple[Path, bool], tuple[int, int]] = {}
        self._resolved: dict[Path, Path] = {}  # a directory's or glob's files, resolved
        self._unresolvable: set[Path] = set()  # entries that cannot be resolved, warned once
        self._lock = threading.Lock()
        self._history: History | None = None
        self._version = 0
        self._crash_check_at: pd.Timestamp | None = None
        self._selected = _SelectionCache()

    @classmethod
    def from_arguments(
        cls,
        arguments: Iterable[str | os.PathLike],
        *,
        cache_dir: Path | None = None,
        disk_cache: bool = True,
        stale_after_s: float = STALE_AFTER_S,
    ) -> HistoryStore:
        """A store over ``--filepath`` values (files, directories, globs) that follows the
        directories and globs, and the tasks files beside each file. Raises PathError, as
        ``resolve_paths`` does, when nothing given can load now; a file that cannot load among
        others that can is kept, and shown as unreadable with its reason."""
        arguments = list(arguments)
        resolve_paths(arguments)
        sources = [source for argument in arguments for source in sources_for(argument)]
        return cls(
            [s if isinstance(s, PathSpec) else resolved(s) or s.absolute() for s in sources],
            cache_dir=cache_dir,
            disk_cache=disk_cache,
            stale_after_s=stale_after_s,
        )

    @property
    def version(self) -> int:
        """Increases whenever ``current()`` returns different data."""
        return self._version

    def current(self) -> History:
        """The up-to-date history: cached unless a file appeared, left or changed (or a running
        run went stale)."""
        with self._lock:
            self.paths = self._listing()
            left = self._states.keys() - set(self.paths)
            for path in left:
                del self._states[path]
            changed = [path for path in self.paths if self._refresh(path)]
            now = dt.datetime.now(dt.timezone.utc)
            stale = self._crash_check_at is not None and pd.Timestamp(now) >= self._crash_check_at
            if changed or left or stale or self._history is None:
                self._version += 1
                self._history = self._build(now)
            return self._history

    def selected_runs(self, selection: Selection) -> pd.DataFrame:
        """``filter_runs`` of the current runs, filtered once per selection and data version:
        every section of a page asks for the same selection at once. The frame is shared:
        callers must not modify it."""
        return self._selected.get(self.current(), selection)

    def _listing(self) -> list[Path]:
        """The files to load now, in argument order, each once: the files given, and the
        emissions CSVs a directory or glob names at this moment. Cheap on every poll: headers
        are read only for files not seen before, paths are resolved once."""
        found: dict[Path, None] = {}
        resolved_now: dict[Path, Path] = {}
        for source in self._sources:
            if isinstance(source, Path):
                found.setdefault(source, None)
                continue
            for candidate in source.candidates():
                path = self._resolved.get(candidate) or self._resolve(candidate)
                if path is None:
                    continue
                resolved_now[candidate] = path
                if path in found or path in self._states or self._accepts(path, source.tasks_only):
                    found.setdefault(path, None)
        self._resolved = resolved_now
        seen = set(resolved_now.values())
        self._rejected = {key: s for key, s in self._rejected.items() if key[0] in seen}
        return list(found)

    def _resolve(self, candidate: Path) -> Path | None:
        """The real path of a directory's or glob's entry; None (warned once) for a symlink
        loop and the like."""
        path = resolved(candidate)
        if path is None and candidate not in self._unresolvable:
            log.warning("skipping %s: cannot resolve it (a symlink loop?)", candidate)
            self._unresolvable.add(candidate)
        elif path is not None:
            self._unresolvable.discard(candidate)
        return path

    def _accepts(self, path: Path, tasks_only: bool) -> bool:
        """A file new to a directory or glob loads if it is an emissions or tasks CSV (only a
        tasks CSV beside a runs file), or if it cannot be read for lack of permission (it is
        then listed as unreadable, with that reason); another file is not read again until its
        size or mtime changes."""
        try:
            info = path.stat()
        except OSError:
            return False
        signature = (info.st_size, info.st_mtime_ns)
        key = (path, tasks_only)
        if self._rejected.get(key) == signature:
            return False
        try:
            header = read_header(path)
        except PermissionError:
            return True
        except OSError as error:
            problem = os_reason(error)
        else:
            problem = header_problem(header)
            if problem is None and tasks_only and not (header and is_tasks_header(header)):
                problem = "not a tasks CSV"
        if problem is None:
            self._rejected.pop(key, None)
            return True
        if key not in self._rejected and not tasks_only:
            log.info("ignoring %s: %s", path, problem)
        self._rejected[key] = signature
        return False

    def _refresh(self, path: Path) -> bool:
        """Re-read ``path`` if it changed since the last look; True when what it shows changed.
        Never raises: a file that cannot be read is marked, with the reason."""
        state = self._states.setdefault(path, _FileState())
        reported = state.error
        try:
            info = os.stat(path)
        except OSError as error:
            return self._unreadable(path, os_reason(error), reported)
        if not stat.S_ISREG(info.st_mode):
            return self._unreadable(path, NOT_REGULAR, reported, info)
        if info.st_size == state.size and info.st_mtime_ns == state.mtime_ns:
            return False
        try:
            if state.appended_to(path, info.st_size):
                last = state.parsed[-1]
                # the previous read's unfinished last line is read again now: forget its report
                last.skipped[:] = [s for s in last.skipped if s.line < last.next_line]
                read = read_bounded(
                    path,
                    start_offset=last.end_offset,
                    header=state.parsed[0].header,
                    first_line=last.next_line,
                    chunk_bytes=self.chunk_bytes,
                    listed_room=MAX_LISTED_SKIPPED - state.listed,
                )
                state.parsed.append(read.parsed)
                state.unlisted += read.unlisted
            else:
                problem = file_problem(path)
                if problem is not None:
                    return self._unreadable(path, problem, reported, info)
                read = self._read_whole(path, info)
                state = _FileState(parsed=[read.parsed], unlisted=read.unlisted)
            state.size, state.mtime_ns = info.st_size, info.st_mtime_ns
            state.signature = _signature(path, state.parsed[-1].end_offset)
        except Exception as error:  # one bad file never takes the others down
            return self._unreadable(path, os_reason(error), reported, info)
        state.error = read.error
        self._states[path] = state
        if read.error and read.error != reported:
            log.warning("cannot read all of %s (%s): showing the rest", path, read.error)
        return True

    def _unreadable(
        self, path: Path, reason: str, reported: str, info: os.stat_result | None = None
    ) -> bool:
        """Forget what ``path`` held (its runs leave the totals) and warn once (``reported``:
        the reason already given); True when this is news. With ``info``, the file is not read
        again until its size or mtime changes."""
        news = reason != reported
        if news:
            log.warning("cannot read %s (%s): showing the other files", path, reason)
        state = self._states[path] = _FileState(error=reason)
        if info is not None:
            state.size, state.mtime_ns = info.st_size, info.st_mtime_ns
        return news

    def _read_whole(self, path: Path, info: os.stat_result) -> BoundedRead:
        """Read a whole file, through the on-disk cache for large ones (a partial read is not
        cached: it is tried again)."""
        use_cache = self.disk_cache and info.st_size >= DISK_CACHE_MIN_BYTES
        cached = self._cache.load(path, info) if use_cache else None
        if cached is not None:
            return BoundedRead(*cached)
        read = read_bounded(path, chunk_bytes=self.chunk_bytes)
        if use_cache and not read.error:
            self._cache.save(path, info, read.parsed, read.unlisted)
        return read

    def _build(self, now: dt.datetime) -> History:
        runs_parts, task_parts, skipped, files = [], [], [], []
        rows_read = 0
        for path in self.paths:
            state = self._states[path]
            file_skipped = [s for parsed in state.parsed for s in parsed.skipped]
            rows = sum(len(parsed.frame) for parsed in state.parsed)
            rows_read += rows
            skipped.extend(file_skipped)
            files.append(
                FileInfo(
                    str(path),
                    state.kind,
                    rows,
                    len(file_skipped) + state.unlisted,
                    max(state.size, 0),
                    state.error,
                )
            )
            target = task_parts if state.kind == "tasks" else runs_parts
            target.extend(parsed.frame for parsed in state.parsed)
        runs = latest_per_key(concat(runs_parts, "runs"), RUN_KEY)
        runs = runs.sort_values("timestamp", kind="stable").reset_index(drop=True)
        runs = mark_crashed(runs, now, self.stale_after_s)
        tasks = latest_per_key(concat(task_parts, "tasks"), TASK_KEY).reset_index(drop=True)
        running = runs.loc[runs["status"].eq("running"), "timestamp"]
        self._crash_check_at = (
            running.min() + pd.Timedelta(seconds=self.stale_after_s) if len(running) else None
        )
        job_rows = dedupe_job_rows(runs)
        return History(
            job_rows.counted.reset_index(drop=True),
            tasks,
            skipped,
            files,
            self._version,
            rows_read,
            job_rows.duplicates.reset_index(drop=True),
        )
