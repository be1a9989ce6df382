"""Parse emissions and tasks CSVs into typed DataFrames, skipping (and reporting) bad rows.

Built on the tracker's CSV contract (``tracker.schema``): every historical CodeCarbon header is
read, missing columns become NaN (numbers) or "" (text). Parsing is vectorised with pandas' C
parser and explicit dtypes; a file with a wrong-typed value takes a slower path that finds the
offending rows instead of rejecting the file. Reads can start at a byte offset so a growing file
is parsed incrementally; an unfinished last line (a writer mid-flush) is left for the next read.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from tracker import schema

LOADER_VERSION = 1  # bump when the parsed layout changes: invalidates on-disk caches
NUMERIC_KINDS = ("float", "int")
# Text columns with few distinct values are stored as categories: ~1 byte a cell instead of a
# Python string, which keeps a million-row history in a few hundred MB.
UNIQUE_TEXT = ("run_id",)
# Values beyond these are corrupt, not measurements (a run of > 10 years, > 1 TWh, ...).
ABSURD_ABOVE = {
    "duration": 10 * 366 * 86400.0,
    "emissions": 1e9,
    "emissions_rate": 1e3,
    "cpu_power": 1e7,
    "gpu_power": 1e7,
    "ram_power": 1e7,
    "cpu_energy": 1e9,
    "gpu_energy": 1e9,
    "ram_energy": 1e9,
    "energy_consumed": 1e9,
    "water_consumed": 1e12,
    "cpu_count": 1e6,
    "gpu_count": 1e6,
    "ram_total_size": 1e7,
    "cpu_utilization_percent": 1e4,
    "gpu_utilization_percent": 1e4,
    "ram_utilization_percent": 1e4,
    "ram_used_gb": 1e7,
    "pue": 100.0,
    "wue": 1e4,
    "carbon_intensity_g_co2e_kwh": 1e5,
}
RANGES = {"longitude": (-180.0, 180.0), "latitude": (-90.0, 90.0)}
REQUIRED_TEXT = ("project_name", "run_id")
REQUIRED_NUMBERS = ("duration", "emissions")
SKIPPED_LINE = re.compile(r"Skipping line (\d+): (.*)")
MAX_VALUE_SHOWN = 40


class Skipped(NamedTuple):
    """A row left out of the history, and why: shown to the user with its line number."""

    file: str
    line: int
    reason: str


@dataclass
class Parsed:
    """One read of a file (whole or from an offset)."""

    kind: str  # "runs" | "tasks" | "empty"
    header: list[str]
    frame: pd.DataFrame
    skipped: list[Skipped] = field(default_factory=list)
    end_offset: int = 0  # bytes consumed: the next incremental read starts here
    next_line: int = 2  # line number of the first line after end_offset


def fieldnames_for(kind: str) -> tuple[str, ...]:
    """The contract's columns of a runs or tasks file."""
    return schema.TASK_FIELDNAMES if kind == "tasks" else schema.FIELDNAMES


def _dtypes(columns: list[str], *, numeric: bool) -> dict[str, str]:
    """read_csv dtypes: floats for numbers (when ``numeric``), categories for repetitive text."""
    dtypes = {}
    for name in columns:
        kind = schema.column_kind(name)
        if kind in NUMERIC_KINDS:
            dtypes[name] = "float64" if numeric else "str"
        elif kind == "str" and name not in UNIQUE_TEXT:
            dtypes[name] = "category"
        else:
            dtypes[name] = "str"
    return dtypes


def _read(data: bytes, names: list[str], usecols: list[str], *, numeric: bool):
    """read_csv on ``data`` (no header line); returns the contract's columns and the bad lines.

    Every column is parsed (``usecols`` would hide rows with too many fields), then the foreign
    ones are dropped.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pd.read_csv(
            io.BytesIO(data),
            header=None,
            names=names,
            index_col=False,
            dtype=_dtypes(names, numeric=numeric),
            engine="c",
            on_bad_lines="warn",
            skip_blank_lines=False,
            encoding="utf-8",
            encoding_errors="replace",
            na_values=[""],
            keep_default_na=False,
        )
    bad = []
    for warning in caught:
        bad.extend(SKIPPED_LINE.findall(str(warning.message)))
    return frame[usecols], [(int(line), reason.strip()) for line, reason in bad]


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_VALUE_SHOWN else text[:MAX_VALUE_SHOWN] + "…"


class _Reasons:
    """The first reason each row is unusable; rows without one are kept (vectorised)."""

    def __init__(self, rows: int) -> None:
        self.bad = np.zeros(rows, dtype=bool)
        self.text = np.full(rows, None, dtype=object)
        self.blank = np.zeros(rows, dtype=bool)

    def note(self, mask: pd.Series | np.ndarray, reason: str, detail: pd.Series | None = None):
        """Mark rows in ``mask`` not already bad; ``detail`` (per row) is appended to reason."""
        new = np.asarray(mask, dtype=bool) & ~self.bad
        if new.any():
            if detail is None:
                self.text[new] = reason
            else:
                self.text[new] = [reason + _shown(v) for v in detail.to_numpy()[new]]
            self.bad |= new


def _coerce_numbers(frame: pd.DataFrame, reasons: _Reasons) -> None:
    """Convert text-read numeric columns to floats, noting rows with a non-number."""
    for name in frame.columns:
        if schema.column_kind(name) not in NUMERIC_KINDS:
            continue
        text = frame[name]
        numbers = pd.to_numeric(text, errors="coerce")
        reasons.note(text.notna() & numbers.isna(), f"{name} is not a number: ", text)
        frame[name] = numbers.astype("float64")


def _validate(frame: pd.DataFrame, reasons: _Reasons) -> None:
    """Note every row that is blank, lacks a required value, or holds an impossible number."""
    reasons.blank = frame.isna().all(axis=1).to_numpy()
    reasons.note(reasons.blank, "empty line")
    reasons.note(frame["timestamp"].isna(), "timestamp missing or not a date")
    for name in REQUIRED_TEXT:
        column = frame[name]
        reasons.note(column.isna() | column.astype("str").str.strip().eq(""), f"{name} missing")
    for name in REQUIRED_NUMBERS:
        reasons.note(frame[name].isna(), f"{name} missing")
    for name in frame.columns:
        if schema.column_kind(name) not in NUMERIC_KINDS:
            continue
        values = frame[name].to_numpy()
        low, high = RANGES.get(name, (0.0, ABSURD_ABOVE.get(name, np.inf)))
        with np.errstate(invalid="ignore"):
            reasons.note(np.isinf(values), f"{name} is infinite")
            reasons.note(
                values < low, f"{name} out of range ({'negative' if low == 0 else 'below'})"
            )
            reasons.note(values > high, f"{name} absurdly large")


def _line_numbers(first_line: int, rows: int, bad_lines: list[int]) -> np.ndarray:
    """The file line of each parsed row, given the lines the parser skipped."""
    lines = np.arange(first_line, first_line + rows + len(bad_lines), dtype="int64")
    if bad_lines:
        lines = lines[~np.isin(lines, np.asarray(bad_lines) + first_line - 1)]
    return lines[:rows] if len(lines) >= rows else np.arange(first_line, first_line + rows)


def empty_frame(kind: str) -> pd.DataFrame:
    """A zero-row frame with the contract's columns and dtypes (``normalise`` adds each)."""
    return normalise(pd.DataFrame(index=pd.RangeIndex(0)), kind, "")


def normalise(frame: pd.DataFrame, kind: str, source: str) -> pd.DataFrame:
    """Add the contract's missing columns, fill text NaN with "", add ``source_file``."""
    out = {}
    rows = len(frame)
    for name in fieldnames_for(kind):
        column_kind = schema.column_kind(name)
        if name in frame.columns:
            values = frame[name]
        elif column_kind in NUMERIC_KINDS:
            values = pd.Series(np.full(rows, np.nan), index=frame.index)
        elif column_kind == "datetime":
            values = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
        else:
            values = pd.Series("", index=frame.index)
        if column_kind == "str":
            values = _text(values, categorical=name not in UNIQUE_TEXT)
        elif column_kind in NUMERIC_KINDS:
            values = values.astype("float64")
        out[name] = values
    out["source_file"] = pd.Series(source, index=frame.index, dtype="category")
    line = frame["line_number"] if "line_number" in frame.columns else pd.Series(0, frame.index)
    out["line_number"] = line.astype("int64")
    return pd.DataFrame(out, index=frame.index)


def _text(values: pd.Series, *, categorical: bool) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        if "" not in values.cat.categories:
            values = values.cat.add_categories("")
        return values.fillna("") if categorical else values.astype("str").fillna("")
    values = values.astype("str").fillna("")
    return values.astype("category") if categorical else values


def parse(
    path: Path, *, start_offset: int = 0, header: list[str] | None = None, first_line: int = 2
) -> Parsed:
    """Parse ``path`` from ``start_offset`` (0: the whole file, header included).

    Reads only whole lines: an unfinished last line is reported as skipped and left unconsumed,
    so the next incremental read picks it up once the writer has completed it.
    """
    source = str(path)
    with path.open("rb") as handle:
        handle.seek(start_offset)
        data = handle.read()
    offset = start_offset
    if header is None:
        if data.startswith(b"\xef\xbb\xbf"):
            data, offset = data[3:], offset + 3
        newline = data.find(b"\n")
        header_bytes = data if newline < 0 else data[:newline]
        line = header_bytes.decode("utf-8", "replace").strip("\r")
        header = next(csv.reader([line]), []) if line.strip() else []
        if not header or newline < 0:  # empty, or a header still being written: read again later
            return Parsed("empty", [], empty_frame("runs"), [], start_offset, 1)
        data, offset, first_line = data[newline + 1 :], offset + newline + 1, 2
    kind = "tasks" if schema.is_tasks_header(header) else "runs"
    complete = data.rfind(b"\n") + 1
    body, tail = data[:complete], data[complete:]
    skipped: list[Skipped] = []
    last_line = first_line + body.count(b"\n")
    if tail.strip():
        skipped.append(Skipped(source, last_line, "incomplete last line (still being written?)"))
    usecols = [name for name in fieldnames_for(kind) if name in header]
    if not body.strip() or not usecols:
        return Parsed(kind, header, empty_frame(kind), skipped, offset + complete, last_line)
    frame = _frame(body, header, usecols, first_line, source, skipped)
    return Parsed(
        kind, header, normalise(frame, kind, source), skipped, offset + complete, last_line
    )


def _frame(
    body: bytes,
    header: list[str],
    usecols: list[str],
    first_line: int,
    source: str,
    skipped: list[Skipped],
) -> pd.DataFrame:
    """Parse the body lines, drop and record the bad rows; fast path first."""
    names = _unique(header)
    try:
        frame, bad = _read(body, names, usecols, numeric=True)
        reasons = _Reasons(len(frame))
    except ValueError:
        frame, bad = _read(body, names, usecols, numeric=False)
        reasons = _Reasons(len(frame))
        _coerce_numbers(frame, reasons)
    lines = _line_numbers(first_line, len(frame), [line for line, _ in bad])
    skipped.extend(
        Skipped(source, line + first_line - 1, f"malformed row: {why}") for line, why in bad
    )
    frame["timestamp"] = pd.to_datetime(
        frame["timestamp"], utc=True, errors="coerce", format="ISO8601"
    )
    _validate(frame, reasons)
    frame["line_number"] = lines
    reported = reasons.bad & ~reasons.blank
    for line, reason in zip(lines[reported], reasons.text[reported], strict=True):
        skipped.append(Skipped(source, int(line), reason))
    skipped.sort(key=lambda s: s.line)
    return frame[~reasons.bad] if reasons.bad.any() else frame


def _unique(header: list[str]) -> list[str]:
    """Column names made unique (a repeated header name would make read_csv fail)."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}.{count}")
    return names


def concat(frames: list[pd.DataFrame], kind: str) -> pd.DataFrame:
    """Concatenate parsed frames, keeping categorical columns categorical (union of categories)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame(kind)
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    out = {}
    for name in frames[0].columns:
        parts = [f[name] for f in frames]
        if isinstance(parts[0].dtype, pd.CategoricalDtype):
            out[name] = pd.Series(union_categoricals(parts, ignore_order=True))
        else:
            out[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out)
