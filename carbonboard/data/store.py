"""The file source: CSV files, directories and globs as a ``RunSource``, parsed once and kept on
the server; re-read only when a file changes.

``HistoryStore.history()`` lists the directories and globs it follows, stats the files (cheap) and
returns the cached ``History`` unless a file appeared, left, or changed size or mtime: a file that
only grew is parsed from where the last read stopped, anything else is parsed again. Large files
are also cached on disk (``ParsedCache``: arrays, never a pickle) so a restart on a million rows
does not re-parse the CSV. ``version()`` increases with every change, so pages poll it cheaply and
recompute only when it moved. What the files hold becomes a ``History`` in
:mod:`carbonboard.data.history` (pure); the ``RunSource`` answers (:mod:`carbonboard.data.source`)
are computed from it once per data version and selection.

One file never takes the others down: whatever goes wrong reading it (a FIFO, a symlink loop, a
permission, a binary swapped in, a parser error) marks that file with a short reason, shown in the
page header and logged once, and the rest is served. Files are read in bounded chunks, so a file
that grows by gigabytes of junk costs time, not memory: its bad rows are counted, the first
``MAX_LISTED_SKIPPED`` of them listed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import functools
import logging
import os
import stat
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from carbonboard.data import aggregate
from carbonboard.data.aggregate import Totals, validate_selection
from carbonboard.data.cache import ParsedCache
from carbonboard.data.history import FileInfo, History, build_history, next_crash_check
from carbonboard.data.jobs import job_totals
from carbonboard.data.loader import Parsed, Skipped, concat, empty_frame, parse
from carbonboard.data.parallel import MIN_PART_BYTES, Prefetch, default_workers, part_bytes
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
    shown_path,
    sources_for,
)
from carbonboard.data.selections import SelectionRows
from carbonboard.data.source import (
    Breakdown,
    Description,
    FilterOptions,
    RunDetail,
    RunsPage,
)
from carbonboard.data.versioned import VersionCache
from carbonboard.regional.baseline import LOCATION_KEYS, location_mix
from carbonboard.selection import Selection
from tracker.schema import is_tasks_header

log = logging.getLogger(__name__)

DISK_CACHE_MIN_BYTES = 8 * 1024 * 1024  # smaller files parse faster than a cache round trip
# The largest part a read is cut into (parallel.part_bytes), the most read into memory at once:
# a line longer than its part is skipped.
CHUNK_BYTES = 64 * 1024 * 1024
MAX_LISTED_SKIPPED = 1000  # bad rows listed per file; all of them are counted
# A read that hands its parts on (an import) keeps each worker this many parts ahead of it: the
# workers never wait for the read, and a large file is never all in memory at once.
PARTS_AHEAD_PER_WORKER = 2
STALE_AFTER_S = 30 * 60.0  # a "running" run silent for longer than this has crashed
SELECTION_CACHE_SIZE = 8  # selections kept per data version
ANSWER_CACHE_SIZE = 256  # small answers (totals, breakdowns, series) kept per data version
# What each answer computes from a selection's runs, and the columns of them it reads (or, given
# how many runs the selection holds, which).
Computed = tuple[
    Callable[[pd.DataFrame], object], tuple[str, ...] | Callable[[int], tuple[str, ...]]
]
BREAKDOWN_OF: dict[str, Computed] = {
    "project": (aggregate.per_project, ("project_name", *aggregate.SUMMED)),
    "experiment": (aggregate.per_experiment, ("experiment_id", *aggregate.SUMMED)),
    "place": (aggregate.locations, (*aggregate.PLACE_KEYS, *aggregate.SUMMED)),
    "component": (
        aggregate.energy_split,
        tuple(column for column, _ in aggregate.ENERGY_COMPONENTS),
    ),
}
TOTALS: Computed = (aggregate.totals, aggregate.SUMMED)
SERIES: Computed = (aggregate.emissions_series, aggregate.series_columns)  # labels per run only
LOCATION_MIX: Computed = (location_mix, (*LOCATION_KEYS, "energy_consumed", "emissions", "pue"))
T = TypeVar("T")


def default_cache_dir() -> Path:
    """``$CARBONBOARD_CACHE_DIR``, else the platform's user cache folder."""
    configured = os.environ.get("CARBONBOARD_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "carbonboard"


@dataclass
class _FileState:
    size: int = -1
    mtime_ns: int = -1
    parsed: list[Parsed] = field(default_factory=list)
    error: str = ""
    signature: bytes = b""  # the bytes just before the last read stopped
    unlisted: int = 0  # bad rows counted but not listed (beyond MAX_LISTED_SKIPPED)
    identity: tuple[int, int] = (-1, -1)  # the file read (device, inode): a swap is a new file

    def appended_to(self, path: Path, info: os.stat_result) -> bool:
        """The file only grew since the last read: the same file, the same bytes where that
        read stopped."""
        if not self.parsed or self.parsed[0].kind == "empty" or info.st_size <= self.size:
            return False
        if _identity(info) != self.identity:  # replaced (a header migration's os.replace)
            return False
        return _signature(path, self.parsed[-1].end_offset) == self.signature

    def add_appended(self, part: Parsed) -> None:
        """Keep the rows appended since the last read, merged with the parts before while the
        new part holds a quarter of its predecessor's rows or more: a file read in n appends
        keeps O(log n) parts (each refresh joins them all, under the store's lock)."""
        parts = self.parsed
        parts.append(part)
        while len(parts) > 1 and len(parts[-1].frame) * 4 >= len(parts[-2].frame):
            newer, older = parts.pop(), parts[-1]
            parts[-1] = replace(
                older,
                frame=concat([older.frame, newer.frame], older.kind),
                skipped=older.skipped + newer.skipped,
                end_offset=newer.end_offset,
                next_line=newer.next_line,
            )

    @property
    def kind(self) -> str:
        return self.parsed[0].kind if self.parsed else ("unreadable" if self.error else "empty")

    @property
    def listed(self) -> int:
        return sum(len(parsed.skipped) for parsed in self.parsed)


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


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
    processes: int = 1  # how many processes parsed it


def read_bounded(
    path: Path,
    *,
    start_offset: int = 0,
    header: list[str] | None = None,
    first_line: int = 2,
    chunk_bytes: int = CHUNK_BYTES,
    listed_room: int = MAX_LISTED_SKIPPED,
    workers: int = 1,
    prefetch: Prefetch | None = None,
    min_part_bytes: int = MIN_PART_BYTES,
    take_part: Callable[[Parsed], None] | None = None,
) -> BoundedRead:
    """``parse`` ``path`` from ``start_offset`` to its end, part by part (:func:`~carbonboard.
    data.parallel.part_bytes`: at most ``chunk_bytes``, an eighth of the bytes read when that is
    smaller but not under ``min_part_bytes``), one part in memory at a time (plus the rows
    kept): a line longer than a part is skipped and reported, and at most ``listed_room`` bad
    rows are listed, the others only counted. An exception stops the read there: the rows
    before it are kept, the reason is in ``error``. With ``workers`` > 1, the parts are parsed
    at once by that many processes where they can be forked (:mod:`carbonboard.data.parallel`),
    or by ``prefetch``, started earlier for this read and closed by it; the read is the same.
    ``take_part``, when given, is handed each part as it is read (its rows, their kind, where
    it ends in the file), in order, instead of keeping the rows (``parsed.frame`` is then
    empty): an import writes a part while the next ones are parsed, at most
    :data:`PARTS_AHEAD_PER_WORKER` per worker. What it raises stops the read and is raised."""
    end = os.stat(path).st_size
    if prefetch is not None:
        chunk_bytes = prefetch.chunk_bytes
    else:
        chunk_bytes = part_bytes(end - start_offset, chunk_bytes, min_part_bytes)
        prefetch = Prefetch.start(
            path,
            start_offset=start_offset,
            header=header,
            first_line=first_line,
            chunk_bytes=chunk_bytes,
            listed_room=listed_room,
            workers=workers,
            ahead=None if take_part is None else PARTS_AHEAD_PER_WORKER * workers,
        )
    try:
        read = _read_chunks(
            path,
            start_offset,
            header,
            first_line,
            chunk_bytes,
            listed_room,
            end,
            prefetch,
            take_part,
        )
    finally:
        if prefetch is not None:
            prefetch.close()
    return read if prefetch is None else replace(read, processes=prefetch.workers)


def _read_chunks(
    path: Path,
    offset: int,
    header: list[str] | None,
    line: int,
    chunk_bytes: int,
    listed_room: int,
    end: int,
    prefetch: Prefetch | None = None,
    take_part: Callable[[Parsed], None] | None = None,
) -> BoundedRead:
    """``read_bounded``'s loop over the chunks from ``offset`` (the first on ``line``) to
    ``end``: each parsed here, or taken from ``prefetch`` when a worker parsed it; its rows
    kept, or handed to ``take_part``."""
    source = shown_path(path)
    frames: list[pd.DataFrame] = []
    skipped: list[Skipped] = []
    unlisted = 0
    kind = "runs"
    error = ""
    while True:
        chunk_start = offset
        try:
            taken = prefetch.take(offset, header, line) if prefetch is not None else None
            if taken is None:
                part = parse(
                    path, start_offset=offset, header=header, first_line=line, max_bytes=chunk_bytes
                )
                taken = part, 0
            part, dropped = taken
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
        unlisted += len(whole) - len(listed) + dropped
        skipped.extend(listed)
        if take_part is not None:
            take_part(part)
        elif len(part.frame):
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


class _SelectionCache(VersionCache):
    """The runs of the last few selections, each filtered once. Bounded twice:
    SELECTION_CACHE_SIZE selections, and filtered copies of at most the table's row count in all
    (a selection of everything is the table itself, shared, and costs nothing)."""

    def __init__(self, size: int = SELECTION_CACHE_SIZE) -> None:
        super().__init__(size)
        self._table = pd.DataFrame()

    def runs(self, history: History, rows: SelectionRows, selection: Selection) -> pd.DataFrame:
        key = replace(selection, run_ids=())  # the runs picked play no part
        with self._lock:
            if history.version >= self._version:
                self._table = history.runs
        return self.get(history.version, key, lambda: rows.rows(key))

    def _trim(self) -> None:
        """Drop the least recently used copies until they hold at most the table's rows."""
        copies = [(key, len(runs)) for key, runs in self._done() if runs is not self._table]
        excess = sum(rows for _, rows in copies) - len(self._table)
        for key, rows in copies:  # oldest first; the newest alone is within the bound
            if excess <= 0:
                break
            del self._entries[key]
            excess -= rows


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> None:
    """Give the memory freed after a parse back to the system. Parsing a million rows leaves
    about 300 MB of freed chunk frames in the C heap, which glibc would otherwise keep: the
    server's RSS then counts them though nothing uses them."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class HistoryStore:
    """The parsed history of files, directories and globs, refreshed on change; thread-safe. The
    board's ``RunSource`` over CSV files.

    ``paths``: a path is a file, loaded for as long as the store lives (gone or unreadable, it
    shows as unreadable, with the reason); a ``PathSpec`` is a directory, glob or the tasks files
    beside a runs file, listed again on every ``history()`` so the emissions CSVs that appear in
    it are loaded and those that leave it drop out. ``from_arguments`` builds one from
    ``--filepath`` values.
    """

    prepares_ahead = True  # a view's answers are computed from the rows: worth working out ahead

    def __init__(
        self,
        paths: Sequence[str | os.PathLike | PathSpec],
        *,
        cache_dir: Path | None = None,
        disk_cache: bool = True,
        stale_after_s: float = STALE_AFTER_S,
        chunk_bytes: int = CHUNK_BYTES,
        cache_in_background: bool = False,
        parse_workers: int | None = None,
    ) -> None:
        self._sources = [p if isinstance(p, PathSpec) else Path(p) for p in paths]
        # a server writes the on-disk cache in a thread: a first start need not wait for it
        self.cache_in_background = cache_in_background
        self.paths: list[Path] = []  # the files loaded, as of the last history()
        self.cache_dir = cache_dir or default_cache_dir()
        self.disk_cache = disk_cache
        self._cache = ParsedCache(self.cache_dir)
        self.stale_after_s = stale_after_s
        self.chunk_bytes = chunk_bytes
        # processes parsing a large file's chunks at once (one: parse in this process)
        self.parse_workers = default_workers() if parse_workers is None else parse_workers
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
        self._answers = VersionCache(ANSWER_CACHE_SIZE)
        self._rows_lock = threading.Lock()
        self._rows: SelectionRows | None = None  # of the newest history seen
        self._rows_version = 0
        # files being parsed ahead of the first history(), with their size and mtime then
        self._ahead: dict[Path, tuple[int, int, Prefetch]] = {}

    @classmethod
    def from_arguments(
        cls,
        arguments: Iterable[str | os.PathLike],
        *,
        cache_dir: Path | None = None,
        disk_cache: bool = True,
        stale_after_s: float = STALE_AFTER_S,
        cache_in_background: bool = False,
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
            cache_in_background=cache_in_background,
        )

    def load_ahead(self) -> int:
        """Start parsing the large files without a cache entry in worker processes now, so the
        parse runs while the caller does other work (a server imports its page meanwhile);
        the first ``history()`` takes the parts. Returns their bytes, what this start reads
        anew (parsed here where workers cannot be forked)."""
        unread = 0
        with self._lock:
            for path in self._listing():
                try:
                    info = os.stat(path)
                    if info.st_size < DISK_CACHE_MIN_BYTES or (
                        self.disk_cache and self._cache.entry(path).exists()
                    ):
                        continue
                    unread += info.st_size
                    prefetch = Prefetch.start(
                        path,
                        start_offset=0,
                        header=None,
                        first_line=2,
                        chunk_bytes=part_bytes(info.st_size, self.chunk_bytes),
                        listed_room=MAX_LISTED_SKIPPED,
                        workers=self.parse_workers,
                    )
                except OSError:
                    continue  # history() says what is wrong with it
                if prefetch is not None:
                    self._ahead[path] = (info.st_size, info.st_mtime_ns, prefetch)
        return unread

    def version(self) -> int:
        """The current snapshot's version (the files stat'ed, re-read if they changed):
        increases whenever ``history()`` returns different data."""
        return self.history().version

    def history(self) -> History:
        """The up-to-date history: cached unless a file appeared, left or changed (or a running
        run went stale)."""
        with self._lock:
            self.paths = self._listing()
            left = self._states.keys() - set(self.paths)
            for path in left:
                del self._states[path]
            changed = [path for path in self.paths if self._refresh(path)]
            for _, _, unused in self._ahead.values():  # a file that turned out unreadable
                unused.close()
            self._ahead.clear()
            now = dt.datetime.now(dt.timezone.utc)
            stale = self._crash_check_at is not None and pd.Timestamp(now) >= self._crash_check_at
            if changed or left or stale or self._history is None:
                self._version += 1
                self._history = self._build(now)
                self._crash_check_at = next_crash_check(self._history, self.stale_after_s)
                return_freed_memory()
            return self._history

    # RunSource: every answer from the up-to-date history, computed once per data version.

    def describe(self) -> Description:
        return Description.of(self.history())

    def filter_options(self, selection: Selection) -> FilterOptions:
        project = selection.project
        history = self.history()
        rows = self._selection_rows(history)
        span = self._answer("dates", lambda h: aggregate.date_range(h.runs)) or (None, None)
        return self._answers.get(
            history.version,
            ("filter_options", project),
            lambda: FilterOptions(tuple(rows.projects()), tuple(rows.experiments(project)), *span),
        )

    def validate(self, selection: Selection) -> tuple[Selection, list[str]]:
        valid, notices = self._answer(
            ("validate", selection), lambda h: validate_selection(selection, h.runs)
        )
        return valid, list(notices)  # the caller's own list: the answer is kept

    def totals(self, selection: Selection) -> Totals:
        return self._of_selection("totals", selection, TOTALS)

    def breakdown(self, selection: Selection, by: Breakdown) -> pd.DataFrame:
        return self._of_selection(("breakdown", by), selection, BREAKDOWN_OF[by])

    def emissions_series(self, selection: Selection) -> pd.DataFrame:
        return self._of_selection("emissions_series", selection, SERIES)

    def prepare(self, selection: Selection) -> None:
        """Every answer the overview and regional views read for ``selection``
        (``sections/project.py``, ``equivalents.py``, ``filters.py``, ``regional.py``), into the
        answer cache of the current snapshot."""
        for answer in (
            self.totals,
            self.filter_options,
            self.last_run,
            self.emissions_series,
            self.location_mix,
        ):
            answer(selection)
        for by in ("experiment", "place", "component"):
            self.breakdown(selection, by)

    def location_mix(self, selection: Selection) -> pd.DataFrame:
        return self._of_selection("location_mix", selection, LOCATION_MIX)

    def last_run(self, selection: Selection) -> pd.Series | None:
        history = self.history()
        picked = replace(selection, run_ids=())
        rows = self._selection_rows(history)

        def latest() -> pd.Series | None:  # the latest time's first row, found in one column
            stamps = rows.rows(picked, ("timestamp",))["timestamp"]
            return None if stamps.empty else history.runs.loc[stamps.idxmax()]

        return self._answers.get(history.version, ("last_run", picked), latest)

    def runs_page(
        self,
        selection: Selection,
        *,
        offset: int,
        limit: int,
        sort_by: Sequence[Mapping[str, str]] = (),
        filter_query: str | None = None,
    ) -> RunsPage:
        history = self.history()
        picked = replace(selection, run_ids=())
        selection_rows = self._selection_rows(history)
        limit = max(limit, 1)
        page = max(offset, 0) // limit
        if aggregate.sorts_or_filters(list(sort_by), filter_query):
            runs = selection_rows.rows(picked, aggregate.RUN_TABLE_COLUMNS)
            rows, _, matching = aggregate.page_runs(
                runs, page=page, page_size=limit, sort_by=list(sort_by), filter_query=filter_query
            )
            selected = len(runs)
        else:  # the newest runs from a position: only the page's rows are read
            positions = selection_rows.positions(picked)
            if positions is None:
                positions = np.arange(len(history.runs))
            selected = matching = len(positions)
            _, first, stop = aggregate.page_span(matching, page, limit)
            newest = positions[::-1][first:stop]
            columns = history.runs.columns.get_indexer(list(aggregate.RUN_TABLE_COLUMNS))
            rows = history.runs.iloc[newest, columns]
        shown = min(page, max(matching - 1, 0) // limit) * limit
        return RunsPage(rows, shown, matching, selected)

    def run_detail(self, run_id: str) -> RunDetail | None:
        history = self.history()
        matches = history.runs[history.runs["run_id"] == run_id]
        if matches.empty:
            return None
        run = matches.iloc[-1]
        job_id = run["job_id"]
        job = job_totals(history.runs, history.duplicates, job_id) if job_id else None
        return RunDetail(run, job)

    def tasks(self, run_id: str) -> pd.DataFrame:
        tasks = self.history().tasks
        return tasks[tasks["run_id"] == run_id]

    def runs_by_id(self, run_ids: Sequence[str]) -> pd.DataFrame:
        return aggregate.runs_by_id(self.history().runs, list(run_ids))

    def selected_runs(self, selection: Selection) -> pd.DataFrame:
        """``filter_runs`` of the current runs, filtered once per selection and data version:
        every section of a page asks for the same selection at once."""
        history = self.history()
        return self._selected.runs(history, self._selection_rows(history), selection)

    def running_runs(self) -> pd.DataFrame:
        return self._answer(
            "running", lambda history: history.runs[history.runs["status"].eq("running")]
        )

    def _answer(self, key: Hashable, compute: Callable[[History], T]) -> T:
        """``compute(history)``, once per ``key`` and data version."""
        history = self.history()
        return self._answers.get(history.version, key, lambda: compute(history))

    def _of_selection(self, key: Hashable, selection: Selection, computed: Computed) -> T:
        """What ``computed`` computes from the selection's runs (only the columns it reads, no
        copy of the rest), once per selection and data version."""
        history = self.history()
        picked = replace(selection, run_ids=())  # the runs picked play no part
        compute, columns = computed
        rows = self._selection_rows(history)

        def answer() -> object:
            read = columns(rows.count(picked)) if callable(columns) else columns
            return compute(rows.rows(picked, read))

        return self._answers.get(history.version, (key, picked), answer)

    def _selection_rows(self, history: History) -> SelectionRows:
        """Where each selection's runs are in ``history``, listed once per data version."""
        with self._rows_lock:
            if self._rows is not None and self._rows.runs is history.runs:
                return self._rows
            rows = SelectionRows(history.runs)
            if history.version >= self._rows_version:  # not a caller on an older snapshot
                self._rows, self._rows_version = rows, history.version
            return rows

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
                known = None if candidate.is_symlink() else self._resolved.get(candidate)
                path = known or self._resolve(candidate)  # a link may point elsewhere now
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
            read = self._read_appended(path, state) if state.appended_to(path, info) else None
            if read is not None and _identity(os.stat(path)) != _identity(info):
                read = None  # swapped during the read: it may have gone on in the new file
            if read is not None:
                state.add_appended(read.parsed)
                state.unlisted += read.unlisted
            else:
                problem = file_problem(path)
                if problem is not None:
                    return self._unreadable(path, problem, reported, info)
                read = self._read_whole(path, info)
                state = _FileState(parsed=[read.parsed], unlisted=read.unlisted)
            state.size, state.mtime_ns = info.st_size, info.st_mtime_ns
            state.identity = _identity(info)
            state.signature = _signature(path, state.parsed[-1].end_offset)
        except Exception as error:  # one bad file never takes the others down
            return self._unreadable(path, os_reason(error), reported, info)
        state.error = read.error
        self._states[path] = state
        if read.error and read.error != reported:
            log.warning("cannot read all of %s (%s): showing the rest", path, read.error)
        return True

    def _read_appended(self, path: Path, state: _FileState) -> BoundedRead:
        """What was appended to ``path`` since ``state``'s last read."""
        last = state.parsed[-1]
        # the previous read's unfinished last line is read again now: forget its report
        last.skipped[:] = [s for s in last.skipped if s.line < last.next_line]
        return read_bounded(
            path,
            start_offset=last.end_offset,
            header=state.parsed[0].header,
            first_line=last.next_line,
            chunk_bytes=self.chunk_bytes,
            listed_room=MAX_LISTED_SKIPPED - state.listed,
            workers=self.parse_workers,
        )

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
        size, mtime_ns, prefetch = self._ahead.pop(path, (-1, -1, None))
        if prefetch is not None and (size, mtime_ns) != (info.st_size, info.st_mtime_ns):
            prefetch.close()  # the file changed since: parse it as it is now
            prefetch = None
        use_cache = self.disk_cache and info.st_size >= DISK_CACHE_MIN_BYTES
        cached = self._cache.load(path, info) if use_cache and prefetch is None else None
        if cached is not None:
            return BoundedRead(*cached)
        read = read_bounded(
            path, chunk_bytes=self.chunk_bytes, workers=self.parse_workers, prefetch=prefetch
        )
        if use_cache and not read.error:
            save = self._cache.save_later if self.cache_in_background else self._cache.save
            save(path, info, read.parsed, read.unlisted)
        return read

    def _build(self, now: dt.datetime) -> History:
        runs_parts, task_parts, skipped, files = [], [], [], []
        for path in self.paths:
            state = self._states[path]
            file_skipped = [s for parsed in state.parsed for s in parsed.skipped]
            skipped.extend(file_skipped)
            files.append(
                FileInfo(
                    shown_path(path),
                    state.kind,
                    sum(len(parsed.frame) for parsed in state.parsed),
                    len(file_skipped) + state.unlisted,
                    max(state.size, 0),
                    state.error,
                )
            )
            target = task_parts if state.kind == "tasks" else runs_parts
            target.extend(parsed.frame for parsed in state.parsed)
        return build_history(
            runs_parts,
            task_parts,
            skipped=skipped,
            files=files,
            now=now,
            stale_after_s=self.stale_after_s,
            version=self._version,
        )
