"""The on-disk cache of parsed files: a restart on a million rows does not parse the CSV again.

Stored as NumPy ``.npz`` archives read with ``allow_pickle=False``: plain arrays and a JSON
description, nothing that can run code when loaded (unlike a pickle). Text is stored as UTF-8
joined by NUL, a categorical column as its codes and its categories. One entry per file, named
after the file's path, so a new entry replaces the old one; it holds the key it was written for
(loader and pandas versions, the contract's columns, path, size, mtime) and is used only when
all of it matches. Any failure to read an entry means "parse the CSV", never an error. An entry
is written in the background (``save_later``: a forked process, else a thread), so a first start
does not wait for it; a ``load`` of the same file in this process waits for that write, and a
process ending waits too.

The folder is created 0700 and used only while it is a real directory owned by the user and
closed to others: anyone who can write into it could otherwise choose what the board shows. By
default it is ``$CARBONBOARD_CACHE_DIR``, else the user's cache folder
(:func:`tracker.folders.user_cache_dir`: ``$XDG_CACHE_HOME/carbonboard``, else the platform's).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from carbonboard.data.loader import LOADER_VERSION, Parsed, Skipped
from carbonboard.data.parallel import can_fork
from carbonboard.data.paths import open_regular
from tracker import schema
from tracker.folders import user_cache_dir

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUFFIX = ".npz"
LEGACY_SUFFIXES = (".pkl", ".pkl.tmp")  # the pickles of earlier versions: pruned, never read
STALE_TEMPORARY_S = 3600.0  # a temporary file this old was left by a process that died


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$CARBONBOARD_CACHE_DIR``, else the user's cache folder for carbonboard."""
    environ = os.environ if environ is None else environ
    configured = environ.get("CARBONBOARD_CACHE_DIR")
    return Path(configured) if configured else user_cache_dir(environ)


class Unsupported(ValueError):
    """A frame this format cannot store exactly; the file is then parsed on every start."""


def _encode_text(values: list[str]) -> np.ndarray:
    """Strings as one UTF-8 buffer joined by NUL (fixed-width NumPy strings would cost 4 bytes a
    character of the longest value, for every value)."""
    if any("\0" in value for value in values):
        raise Unsupported("text holds a NUL character")
    return np.frombuffer("\0".join(values).encode("utf-8"), dtype=np.uint8)


def _decode_text(buffer: np.ndarray, count: int) -> list[str]:
    values = buffer.tobytes().decode("utf-8").split("\0") if count else []
    if len(values) != count:
        raise ValueError(f"expected {count} strings, found {len(values)}")
    return values


SCALAR_TYPES = (str, int, float)  # what a category of a text column can hold, by index


def _scalar_type(value: object) -> int:
    """The index in SCALAR_TYPES of a category's Python type (pandas may infer numbers from
    text), so the value comes back exactly as it was."""
    for index, kind in enumerate(SCALAR_TYPES):
        if type(value) is kind:
            return index
    raise Unsupported(f"a category of type {type(value).__name__}")


def _is_text(dtype: object) -> bool:
    """A plain text column: Python strings (pandas 2) or pandas' string dtype (pandas 3)."""
    return pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype)


def _store_column(name: str, series: pd.Series, arrays: dict[str, np.ndarray]) -> dict:
    """Add the arrays of one column, return its description."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        if not _is_text(categories.dtype):
            raise Unsupported(f"{name}: categories of {categories.dtype}")
        arrays[f"{name}/codes"] = series.cat.codes.to_numpy()
        arrays[f"{name}/categories"] = _encode_text([str(v) for v in categories])
        arrays[f"{name}/types"] = np.array([_scalar_type(v) for v in categories], dtype=np.uint8)
        return {
            "encoding": "categorical",
            "categories_dtype": str(categories.dtype),
            "count": len(categories),
        }
    if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        tz = getattr(dtype, "tz", None)
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None) if tz is not None else series
        values = naive.to_numpy()
        arrays[name] = values.view("int64")
        unit = np.datetime_data(values.dtype)[0]
        return {"encoding": "datetime", "unit": unit, "tz": "" if tz is None else str(tz)}
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        arrays[name] = series.to_numpy()
        return {"encoding": "numbers"}
    if _is_text(dtype):
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype=object)
        if not all(isinstance(v, str) for v in values[~missing]):
            raise Unsupported(f"{name}: not only text")
        arrays[f"{name}/missing"] = missing
        arrays[name] = _encode_text(["" if m else v for v, m in zip(values, missing, strict=True)])
        return {"encoding": "text", "count": len(values)}
    raise Unsupported(f"{name}: {dtype}")


def _load_column(name: str, spec: dict, archive) -> pd.Series:
    encoding = spec["encoding"]
    if encoding == "categorical":
        texts = _decode_text(archive[f"{name}/categories"], spec["count"])
        types = archive[f"{name}/types"]
        if len(types) != len(texts):
            raise ValueError(f"{name}: categories do not match their types")
        values = [SCALAR_TYPES[kind](text) for kind, text in zip(types, texts, strict=True)]
        categories = pd.Index(values, dtype=spec["categories_dtype"])
        codes = archive[f"{name}/codes"]
        return pd.Series(pd.Categorical.from_codes(codes, categories=categories))
    if encoding == "datetime":
        values = pd.Series(archive[name].view(f"datetime64[{spec['unit']}]"))
        return values.dt.tz_localize("UTC").dt.tz_convert(spec["tz"]) if spec["tz"] else values
    if encoding == "numbers":
        return pd.Series(archive[name])
    if encoding == "text":
        missing = archive[f"{name}/missing"]
        values = pd.Series(_decode_text(archive[name], spec["count"]), dtype=spec["dtype"])
        return values.mask(missing) if missing.any() else values
    raise ValueError(f"unknown encoding {encoding!r}")


def to_arrays(parsed: Parsed, unlisted: int, key: dict) -> dict[str, np.ndarray]:
    """``parsed`` as named arrays for ``np.savez``; raises Unsupported for a frame it cannot
    store exactly."""
    frame = parsed.frame
    if not pd.api.types.is_integer_dtype(frame.index.dtype):
        raise Unsupported(f"index of {frame.index.dtype}")
    arrays: dict[str, np.ndarray] = {"index": frame.index.to_numpy(dtype="int64")}
    columns = []
    for position, name in enumerate(frame.columns):
        spec = _store_column(f"column{position}", frame[name], arrays)
        columns.append({"name": str(name), "dtype": str(frame[name].dtype), **spec})
    skipped = parsed.skipped
    arrays["skipped/lines"] = np.array([s.line for s in skipped], dtype="int64")
    arrays["skipped/files"] = _encode_text([s.file for s in skipped])
    arrays["skipped/reasons"] = _encode_text([s.reason for s in skipped])
    description = {
        "format": FORMAT_VERSION,
        "key": key,
        "kind": parsed.kind,
        "header": parsed.header,
        "end_offset": parsed.end_offset,
        "next_line": parsed.next_line,
        "unlisted": unlisted,
        "rows": len(frame),
        "skipped": len(skipped),
        "columns": columns,
    }
    arrays["description"] = np.frombuffer(json.dumps(description).encode(), dtype=np.uint8)
    return arrays


def from_arrays(archive, key: dict) -> tuple[Parsed, int] | None:
    """The ``Parsed`` and unlisted count ``to_arrays`` stored, or None when it was stored for
    another key. Raises on anything malformed."""
    description = json.loads(archive["description"].tobytes().decode("utf-8"))
    if description.get("format") != FORMAT_VERSION or description.get("key") != key:
        return None
    rows = description["rows"]
    index = pd.Index(archive["index"])
    data = {}
    for position, spec in enumerate(description["columns"]):
        series = _load_column(f"column{position}", spec, archive)
        if len(series) != rows or str(series.dtype) != spec["dtype"]:
            raise ValueError(f"column {spec['name']} does not match its description")
        if spec["encoding"] == "categorical" and (
            str(series.cat.categories.dtype) != spec["categories_dtype"]
        ):
            raise ValueError(f"column {spec['name']}: categories do not match")
        # a Series keeps its dtype (from a bare array, pandas 3 would make object text "str")
        data[spec["name"]] = series.set_axis(index)
    frame = pd.DataFrame(data, index=index) if data else pd.DataFrame(index=index)
    count = description["skipped"]
    lines = archive["skipped/lines"]
    files = _decode_text(archive["skipped/files"], count)
    reasons = _decode_text(archive["skipped/reasons"], count)
    if len(lines) != count:
        raise ValueError("skipped rows do not match their description")
    skipped = [Skipped(f, int(n), r) for f, n, r in zip(files, lines, reasons, strict=True)]
    parsed = Parsed(
        description["kind"],
        list(description["header"]),
        frame,
        skipped,
        int(description["end_offset"]),
        int(description["next_line"]),
    )
    return parsed, int(description["unlisted"])


def cache_key(path: Path, info: os.stat_result) -> dict:
    """What an entry must have been written for: the parsed layout and the columns of the
    contract (an entry from before a column was added lacks it), the library that built the
    frames, and the file as it is now."""
    return {
        "loader": LOADER_VERSION,
        "columns": list(schema.FIELDNAMES),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "path": os.path.abspath(path),
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
    }


def folder_problem(directory: Path) -> str | None:
    """Why ``directory`` is not safe to keep the cache in, or None. Creates it (0700) if
    missing."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
    except OSError as error:
        return error.strerror or str(error)
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory (a symbolic link?)"
    if hasattr(os, "getuid"):  # POSIX: owner and mode mean something
        if info.st_uid != os.getuid():
            return f"owned by user id {info.st_uid}, not by you (user id {os.getuid()})"
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            return f"mode {mode:04o} lets other users in (run: chmod 700 {directory})"
    return None


class ParsedCache:
    """Parsed files on disk, one entry per file, in a folder only the user can write to."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._reported = ""  # the folder problem already logged
        # entry -> its latest writer: a thread or a process
        self._writers: dict[Path, threading.Thread | multiprocessing.process.BaseProcess] = {}
        self._writers_lock = threading.Lock()

    def usable(self) -> bool:
        """The folder exists, is the user's own and closed to others; says so once if not."""
        problem = folder_problem(self.directory)
        if problem and problem != self._reported:
            log.warning("not using the cache folder %s: %s", self.directory, problem)
        self._reported = problem or ""
        return problem is None

    def entry(self, path: Path) -> Path:
        """The one entry of ``path``: named by its path alone, so a newer entry replaces it."""
        digest = hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogateescape"))
        return self.directory / (digest.hexdigest()[:32] + SUFFIX)

    def load(self, path: Path, info: os.stat_result) -> tuple[Parsed, int] | None:
        """What was parsed from ``path`` as it is now (size, mtime), or None: missing, stale,
        or unreadable, which only costs a parse."""
        entry = self.entry(path)
        self.wait(path)
        if not self.usable() or not entry.exists():
            return None
        try:
            with open_regular(entry) as handle, np.load(handle, allow_pickle=False) as archive:
                return from_arrays(archive, cache_key(path, info))
        except Exception as error:  # any bad entry means: parse the CSV
            log.warning("ignoring the unreadable cache entry %s: %s", entry, error)
            return None

    def save_later(self, path: Path, info: os.stat_result, parsed: Parsed, unlisted: int) -> None:
        """``save`` in the background: writing a million rows' entry takes about a fifth of a
        first start, which the board need not wait for. Written by a forked copy of this
        process where one can be forked (:func:`carbonboard.data.parallel.can_fork`), so the
        write does not compete with the board for the interpreter; else by a thread. Neither is
        a daemon: the interpreter lets it finish (a killed process leaves a temporary file,
        pruned later)."""
        snapshot = replace(parsed, header=list(parsed.header), skipped=list(parsed.skipped))
        forked = can_fork()
        kind = multiprocessing.get_context("fork").Process if forked else threading.Thread
        writer = kind(
            target=self._save_ignoring_interrupts if forked else self.save,
            args=(path, info, snapshot, unlisted),
            name=f"carbonboard-cache-{path.name}",
        )
        with self._writers_lock:
            self.wait(path)
            self._writers[self.entry(path)] = writer
            if not forked:
                writer.start()
                return
            # The child starts with Ctrl+C held until it ignores it; the parent gets any at once.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                writer.start()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def _save_ignoring_interrupts(self, *args: object) -> None:
        """``save`` in a forked writer: Ctrl+C, which a terminal sends to every process of the
        command, stops the board, which waits for this write (a short one) as it exits."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        self.save(*args)  # type: ignore[arg-type]

    def wait(self, path: Path) -> None:
        """Return once no write of ``path``'s entry is under way in this process."""
        writer = self._writers.get(self.entry(path))
        if writer is not None and writer is not threading.current_thread():
            writer.join()

    def save(self, path: Path, info: os.stat_result, parsed: Parsed, unlisted: int) -> None:
        """Best effort: an unwritable folder or a frame the format cannot hold only costs the
        next start a parse."""
        if not self.usable():
            return
        self._prune()
        try:
            arrays = to_arrays(parsed, unlisted, cache_key(path, info))
        except Unsupported as error:
            log.info("not caching %s: %s", path, error)
            return
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(temporary, self.entry(path))
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            log.warning("cannot write the cache entry for %s: %s", path, error)

    def _prune(self) -> None:
        """Remove what earlier versions left (pickles, one per restart) and temporary files of
        processes that died mid-write."""
        now = time.time()
        try:
            for item in self.directory.iterdir():
                name = item.name
                legacy = name.endswith(LEGACY_SUFFIXES)
                stale = name.endswith(".tmp") and now - item.lstat().st_mtime > STALE_TEMPORARY_S
                if legacy or stale:
                    item.unlink(missing_ok=True)
        except OSError as error:
            log.debug("cannot prune the cache folder %s: %s", self.directory, error)
