"""The history, parsed once and kept on the server; re-read only when a file changes.

``HistoryStore.current()`` lists the directories and globs it follows, stats the files (cheap) and
returns the cached ``History`` unless a file appeared, left, or changed size or mtime: a file that
only grew is parsed from where the last read stopped, anything else is parsed again. Large files
are also cached on disk (a pickle keyed on path, size and mtime) so a restart on a million rows
does not re-parse the CSV. ``version`` increases with every change, so pages poll it cheaply and
recompute only when it moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from carbonboard.data.aggregate import filter_runs
from carbonboard.data.loader import LOADER_VERSION, Parsed, Skipped, concat, parse
from carbonboard.data.paths import PathSpec, is_history_csv, parse_argument, resolve_paths
from carbonboard.selection import Selection

log = logging.getLogger(__name__)

DISK_CACHE_MIN_BYTES = 8 * 1024 * 1024  # smaller files parse faster than a pickle round trip
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
    """A loaded file, for the header: what it is and how much of it was usable."""

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
    ``tasks``: the same per task for tasks CSVs. ``skipped``: rows left out, with the reason.
    """

    runs: pd.DataFrame
    tasks: pd.DataFrame
    skipped: list[Skipped]
    files: list[FileInfo]
    version: int = 0
    rows_read: int = 0

    @property
    def is_empty(self) -> bool:
        return self.runs.empty


@dataclass
class _FileState:
    size: int = -1
    mtime_ns: int = -1
    parsed: list[Parsed] = field(default_factory=list)
    error: str = ""
    signature: bytes = b""  # the bytes just before the last read stopped

    def appended_to(self, path: Path, size: int) -> bool:
        """The file only grew since the last read: same bytes where that read stopped."""
        if not self.parsed or self.parsed[0].kind == "empty" or size <= self.size:
            return False
        return _signature(path, self.parsed[-1].end_offset) == self.signature

    @property
    def kind(self) -> str:
        return self.parsed[0].kind if self.parsed else ("unreadable" if self.error else "empty")


def _signature(path: Path, end_offset: int, length: int = 256) -> bytes:
    """The ``length`` bytes before ``end_offset``: if they change, the file was rewritten."""
    with path.open("rb") as handle:
        handle.seek(max(end_offset - length, 0))
        return handle.read(min(length, end_offset))


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
    status = runs["status"]
    if "crashed" not in status.cat.categories:
        status = status.cat.add_categories("crashed")
    runs["status"] = status.mask(stale, "crashed")
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

    ``paths``: a path is a file, loaded for as long as the store lives (gone, it shows as
    unreadable); a ``PathSpec`` is a directory or glob, listed again on every ``current()`` so
    the emissions CSVs that appear in it are loaded and those that leave it drop out.
    ``from_arguments`` builds one from ``--filepath`` values.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike | PathSpec],
        *,
        cache_dir: Path | None = None,
        disk_cache: bool = True,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self._sources = [p if isinstance(p, PathSpec) else Path(p) for p in paths]
        self.paths: list[Path] = []  # the files loaded, as of the last current()
        self.cache_dir = cache_dir or default_cache_dir()
        self.disk_cache = disk_cache
        self.stale_after_s = stale_after_s
        self._states: dict[Path, _FileState] = {}
        self._rejected: dict[Path, tuple[int, int]] = {}  # other CSVs seen: size and mtime
        self._resolved: dict[Path, Path] = {}  # a directory's or glob's files, resolved
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
        directories and globs. Raises PathError, as ``resolve_paths`` does, for a value that
        cannot load now."""
        arguments = list(arguments)
        resolve_paths(arguments)
        sources = [parse_argument(argument) for argument in arguments]
        return cls(
            [s if isinstance(s, PathSpec) else s.resolve() for s in sources],
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
        resolved: dict[Path, Path] = {}
        for source in self._sources:
            if isinstance(source, Path):
                found.setdefault(source, None)
                continue
            for candidate in source.candidates():
                path = resolved[candidate] = self._resolved.get(candidate) or candidate.resolve()
                if path in self._states or self._accepts(path):
                    found.setdefault(path, None)
        self._resolved = resolved
        seen = set(resolved.values())
        self._rejected = {p: s for p, s in self._rejected.items() if p in seen}
        return list(found)

    def _accepts(self, path: Path) -> bool:
        """A file new to a directory or glob loads if it is an emissions or tasks CSV; another
        CSV is not read again until its size or mtime changes."""
        try:
            stat = path.stat()
        except OSError:
            return False
        signature = (stat.st_size, stat.st_mtime_ns)
        if self._rejected.get(path) == signature:
            return False
        if is_history_csv(path):
            self._rejected.pop(path, None)
            return True
        if path not in self._rejected:
            log.info("ignoring %s: not an emissions CSV", path)
        self._rejected[path] = signature
        return False

    def _refresh(self, path: Path) -> bool:
        """Re-read ``path`` if it changed since the last look; True when it did."""
        state = self._states.setdefault(path, _FileState())
        try:
            stat = path.stat()
        except OSError as error:
            return self._unreadable(path, error)
        if stat.st_size == state.size and stat.st_mtime_ns == state.mtime_ns:
            return False
        try:
            if state.appended_to(path, stat.st_size):
                last = state.parsed[-1]
                state.parsed.append(
                    parse(
                        path,
                        start_offset=last.end_offset,
                        header=state.parsed[0].header,
                        first_line=last.next_line,
                    )
                )
                # the previous read's incomplete last line is re-read now: forget its report
                last.skipped[:] = [s for s in last.skipped if s.line < last.next_line]
            else:
                state.parsed = [self._parse_whole(path, stat)]
            state.size, state.mtime_ns, state.error = stat.st_size, stat.st_mtime_ns, ""
            state.signature = _signature(path, state.parsed[-1].end_offset)
        except OSError as error:
            self._unreadable(path, error)
        return True

    def _unreadable(self, path: Path, error: OSError) -> bool:
        """Forget what ``path`` held (its runs leave the totals) and warn once; True when this
        is news."""
        reason = error.strerror or "unreadable"
        news = self._states[path].error != reason
        if news:
            log.warning("cannot read %s (%s): showing the other files", path, reason)
        self._states[path] = _FileState(error=reason)
        return news

    def _cache_file(self, path: Path, stat: os.stat_result) -> Path:
        key = f"{LOADER_VERSION}:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return self.cache_dir / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".pkl")

    def _parse_whole(self, path: Path, stat: os.stat_result) -> Parsed:
        """Parse a whole file, through the on-disk cache for large ones."""
        use_cache = self.disk_cache and stat.st_size >= DISK_CACHE_MIN_BYTES
        cached = self._cache_file(path, stat) if use_cache else None
        if cached is not None and cached.is_file():
            try:
                with cached.open("rb") as handle:
                    return pickle.load(handle)
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as error:
                log.warning("ignoring unreadable cache %s: %s", cached, error)
        parsed = parse(path)
        if cached is not None:
            self._write_cache(cached, parsed)
        return parsed

    def _write_cache(self, cached: Path, parsed: Parsed) -> None:
        """Best effort: a read-only or full disk only costs the next restart some time."""
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            for old in cached.parent.glob("*.pkl.tmp"):
                old.unlink(missing_ok=True)
            temporary = cached.with_suffix(".pkl.tmp")
            with temporary.open("wb") as handle:
                pickle.dump(parsed, handle, protocol=pickle.HIGHEST_PROTOCOL)
            temporary.replace(cached)
        except OSError as error:
            log.warning("cannot write cache %s: %s", cached, error)

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
                    str(path), state.kind, rows, len(file_skipped), max(state.size, 0), state.error
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
        return History(runs, tasks, skipped, files, self._version, rows_read)
