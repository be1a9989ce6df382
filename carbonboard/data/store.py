"""The history, parsed once and kept on the server; re-read only when a file changes.

``HistoryStore.current()`` stats the files (cheap) and returns the cached ``History`` unless a
file's size or mtime changed: a file that only grew is parsed from where the last read stopped,
anything else is parsed again. Large files are also cached on disk (a pickle keyed on path, size
and mtime) so a restart on a million rows does not re-parse the CSV. ``version`` increases with
every change, so pages poll it cheaply and recompute only when it moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from carbonboard.data.aggregate import filter_runs
from carbonboard.data.loader import LOADER_VERSION, Parsed, Skipped, concat, parse
from carbonboard.selection import Selection

log = logging.getLogger(__name__)

DISK_CACHE_MIN_BYTES = 8 * 1024 * 1024  # smaller files parse faster than a pickle round trip
STALE_AFTER_S = 30 * 60.0  # a "running" run silent for longer than this has crashed
SELECTION_CACHE_SIZE = 8
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


class HistoryStore:
    """The parsed history of a fixed list of files, refreshed on change; thread-safe."""

    def __init__(
        self,
        paths: list[Path] | list[str],
        *,
        cache_dir: Path | None = None,
        disk_cache: bool = True,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.cache_dir = cache_dir or default_cache_dir()
        self.disk_cache = disk_cache
        self.stale_after_s = stale_after_s
        self._states = {path: _FileState() for path in self.paths}
        self._lock = threading.Lock()
        self._history: History | None = None
        self._version = 0
        self._crash_check_at: pd.Timestamp | None = None
        self._selected: OrderedDict[tuple, pd.DataFrame] = OrderedDict()

    @property
    def version(self) -> int:
        """Increases whenever ``current()`` returns different data."""
        return self._version

    def current(self) -> History:
        """The up-to-date history: cached unless a file changed (or a running run went stale)."""
        with self._lock:
            changed = [path for path in self.paths if self._refresh(path)]
            now = dt.datetime.now(dt.timezone.utc)
            stale = self._crash_check_at is not None and pd.Timestamp(now) >= self._crash_check_at
            if changed or stale or self._history is None:
                self._version += 1
                self._history = self._build(now)
            return self._history

    def selected_runs(self, selection: Selection) -> pd.DataFrame:
        """``filter_runs`` of the current runs, memoised: every section of a page asks for the
        same selection at once, and filtering a million rows is worth doing once."""
        history = self.current()
        key = (history.version, id(history.runs), json.dumps(selection.to_dict(), sort_keys=True))
        with self._lock:
            if key in self._selected:
                self._selected.move_to_end(key)
                return self._selected[key]
        runs = filter_runs(history.runs, selection)
        with self._lock:
            self._selected[key] = runs
            while len(self._selected) > SELECTION_CACHE_SIZE:
                self._selected.popitem(last=False)
        return runs

    def _refresh(self, path: Path) -> bool:
        """Re-read ``path`` if it changed since the last look; True when it did."""
        state = self._states[path]
        try:
            stat = path.stat()
        except OSError as error:
            changed = state.error != (error.strerror or "unreadable")
            self._states[path] = _FileState(error=error.strerror or "unreadable")
            return changed
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
            self._states[path] = _FileState(error=error.strerror or "unreadable")
        return True

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
