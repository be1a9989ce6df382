"""Parse emissions and tasks CSVs into typed DataFrames, skipping (and reporting) bad rows.

Built on the tracker's CSV contract (``tracker.schema``): every historical CodeCarbon header is
read, missing columns become NaN (numbers) or "" (text). Every source ends up with the same
dtypes, decided by ``column_dtype`` alone, on pandas 2 and 3, so files of any kind concatenate.
Parsing is vectorised with pandas' C parser and explicit dtypes; a file with a wrong-typed value
takes a slower path that finds the offending rows instead of rejecting the file. A body the C
parser rejects or misreads (a row cut inside a quoted cell by a writer killed mid-row) is split
into records line by line first: the broken lines are skipped and reported, the C parser reads
the rest, and Python's ``csv`` module reads the same records if pandas fails on them again. Reads
can start at a byte offset so a growing file is parsed incrementally; an unfinished last line (a
writer mid-flush) is left for the next read.
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
from pandas.api.types import infer_dtype

from carbonboard.data.paths import open_regular, shown_path
from tracker import schema
from tracker.power.ram import RAM_TOTAL_DECIMALS

LOADER_VERSION = 3  # bump when the parsed layout changes: invalidates on-disk caches
NUMERIC_KINDS = ("float", "int")
# Text columns with few distinct values are stored as categories: ~1 byte a cell instead of a
# Python string, which keeps a million-row history in a few hundred MB. Those nearly unique per
# row stay Python str: a category per row would cost more than the strings (``metrics``, a JSON
# object per run, is kept as its text and parsed only by the efficiency view).
UNIQUE_TEXT = ("run_id", "metrics")
NUMBER_DTYPE = np.dtype("float64")  # integer columns too: a missing count is NaN
TEXT_DTYPE = np.dtype("object")  # Python str: the same on pandas 2 and 3 (pandas 3's "str" is not)
TIMESTAMP_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
LINE_DTYPE = np.dtype("int64")
CATEGORY = "category"  # always over an object Index of Python str (see ``column_dtype``)
EARLIEST = pd.Timestamp.min.tz_localize("UTC")  # the range of TIMESTAMP_DTYPE
LATEST = pd.Timestamp.max.tz_localize("UTC")
# What the loader fills in for CodeCarbon rows, which record neither a status nor an intensity.
STATUS_UNRECORDED = "finished"  # a row is written when a run ends (or flushes, then again)
DERIVED_SOURCE = "derived"  # intensity = emissions / energy, the row's own figures
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
INT_ABOVE = float(np.nextafter(2.0**63, 0))  # a count beyond this fits no 64-bit integer
REQUIRED_TEXT = ("project_name", "run_id")
REQUIRED_NUMBERS = ("duration", "emissions")
SKIPPED_LINE = re.compile(r"Skipping line (\d+): (.*)")
MAX_VALUE_SHOWN = 40
# A quoted cell may hold line breaks; a record still open after this many lines is a row cut
# inside a quoted cell, not a cell: its first line is skipped and reading resumes after it.
MAX_RECORD_LINES = 64
CUT_ROW = "unterminated quoted field"
OPEN_AT_END = -1  # the lines of a record whose quoted cell is still open where the data ends
UNFINISHED = "incomplete last line (still being written?)"


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


def column_dtype(name: str) -> np.dtype | pd.DatetimeTZDtype | str:
    """The dtype of column ``name`` in every normalised frame, whatever file or pandas made it.

    From the column's kind in ``tracker.schema``: numbers (integers too) are float64, timestamps
    ``datetime64[ns, UTC]``, ``line_number`` int64, the nearly unique ``run_id`` and ``metrics``
    object (Python str) and every other text column (``source_file`` and foreign columns too)
    ``"category"`` whose categories are always an object Index of Python str. Never pandas 3's
    ``str`` dtype, nor the numbers read_csv infers for categories like "2016": two frames of one
    column then always have one dtype, and ``concat`` can join any mix of files on pandas 2 and
    3 alike.
    """
    if name == "line_number":
        return LINE_DTYPE
    kind = schema.column_kind(name)
    if kind in NUMERIC_KINDS:
        return NUMBER_DTYPE
    if kind == "datetime":
        return TIMESTAMP_DTYPE
    return TEXT_DTYPE if name in UNIQUE_TEXT else CATEGORY


def has_column_dtype(values: pd.Series, name: str) -> bool:
    """``values`` already is as ``as_column_dtype`` makes it: ``column_dtype(name)``, no missing
    text, and for a categorical, categories that are all Python str."""
    dtype = column_dtype(name)
    if dtype == TEXT_DTYPE:  # an empty cell, read as NaN or None, is still to become ""
        return values.dtype == dtype and not values.isna().any()
    if not isinstance(dtype, str):
        return values.dtype == dtype
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return False
    categories = values.cat.categories
    return (
        categories.dtype == TEXT_DTYPE
        and all(type(category) is str for category in categories)
        and not (values.cat.codes.to_numpy() < 0).any()
    )


def as_column_dtype(values: pd.Series, name: str) -> pd.Series:
    """``values`` converted to ``column_dtype(name)``; missing text becomes "", a timestamp
    outside the representable years (1677-2262) NaT. Unchanged when already converted."""
    if has_column_dtype(values, name):
        return values
    dtype = column_dtype(name)
    if isinstance(dtype, str):
        return _categorical(values)
    if dtype == TEXT_DTYPE:
        return pd.Series(_python_text(values), index=values.index, dtype=TEXT_DTYPE)
    if dtype == TIMESTAMP_DTYPE:
        return _timestamps(values)
    return values.astype(dtype)


def _python_text(values: pd.Series) -> np.ndarray:
    """An object array of Python str, "" where ``values`` is missing."""
    text = values.to_numpy(dtype=object, na_value="")
    if infer_dtype(text, skipna=False) not in ("string", "empty"):
        text = np.array([str(value) for value in text], dtype=object)
    return text


def _categorical(values: pd.Series) -> pd.Series:
    """Text as a categorical over an object Index of Python str; missing values are ""."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, categories = values.cat.codes.to_numpy(), values.cat.categories
    else:  # missing values get code -1
        codes, categories = pd.factorize(values.to_numpy(dtype=object))
    names = [value if isinstance(value, str) else str(value) for value in categories]
    if (codes < 0).any():
        if "" not in names:
            names.append("")
        codes = np.where(codes < 0, names.index(""), codes)
    if len(set(names)) < len(names):  # 1 and "1" were two values: they are one text
        codes, uniques = pd.factorize(np.asarray(names, dtype=object)[codes])
        names = list(uniques)
    result = pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=TEXT_DTYPE))
    return pd.Series(result, index=values.index, name=values.name)


def _timestamps(values: pd.Series) -> pd.Series:
    """ISO 8601 text (naive taken as UTC) or datetimes as TIMESTAMP_DTYPE; unparseable: NaT."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        values = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    if values.dtype != TIMESTAMP_DTYPE:  # pandas 3 parses to microseconds, whose range is wider
        values = values.dt.tz_convert("UTC")
        values = values.where(values.isna() | values.between(EARLIEST, LATEST))
        values = values.astype(TIMESTAMP_DTYPE)
    return values


class _Body(NamedTuple):
    """The rows of a body as parsed, before validation."""

    frame: pd.DataFrame
    bad: list[tuple[int, str]]  # (line within the body, 1-based; why) of each malformed line
    lines: np.ndarray  # the line within the body (1-based) of each row of ``frame``
    numeric: bool  # numeric columns are float64 already (else text, still to be converted)
    # lines read: all of the body's, but those of a last record whose quoted cell is still open
    # at the end of the data (cut by the read's end: read again from its first line)
    read_lines: int | None = None


def _read_dtypes(names: list[str], *, numeric: bool) -> dict[str, object]:
    """read_csv dtypes: floats for numbers (when ``numeric``), Python str for everything else
    (never read_csv's categories, which pandas 3 may give numeric categories)."""
    dtypes: dict[str, object] = {}
    for name in names:
        number = numeric and schema.column_kind(name) in NUMERIC_KINDS
        dtypes[name] = NUMBER_DTYPE if number else TEXT_DTYPE
    return dtypes


def _read(data: bytes, names: list[str], *, numeric: bool) -> tuple[pd.DataFrame, list]:
    """read_csv on ``data`` (no header line); returns every column and the bad lines."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pd.read_csv(
            io.BytesIO(data),
            header=None,
            names=names,
            index_col=False,
            dtype=_read_dtypes(names, numeric=numeric),
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
    return frame, [(int(line), reason.strip()) for line, reason in bad]


def _parse_body(data: bytes, names: list[str], lines: int) -> _Body:
    """The C parser on the whole body; when it raises or its rows are not the body's lines (a
    row cut inside a quoted cell makes it read the next lines as part of that cell, or fail at
    the end of the data; a quoted cell holding a line break is one row on two lines), the body's
    records are found line by line first (``_read_records``). ``lines``: how many ``data``
    holds."""
    read = _read_c(data, names)
    if read is not None and len(read[0]) + len(read[1]) == lines:
        frame, bad, numeric = read
        return _Body(frame, bad, _line_numbers(1, len(frame), [line for line, _ in bad]), numeric)
    return _read_records(data, names)


def _read_c(data: bytes, names: list[str]) -> tuple[pd.DataFrame, list, bool] | None:
    """``_read`` with numbers typed, then as text (a wrong-typed value fails the first: the text
    read finds its rows); with whether numbers are typed. None when the C parser fails."""
    for numeric in (True, False):
        try:
            frame, bad = _read(data, names, numeric=numeric)
        except pd.errors.ParserError:
            return None
        except Exception:
            continue
        return frame, bad, numeric
    return None


def _read_records(data: bytes, names: list[str]) -> _Body:
    """The records ``_split_records`` finds, the well-formed ones read by the C parser, the others
    skipped on their first line; read by Python's ``csv`` module (``_read_exact``) when the C
    parser fails on them too or disagrees."""
    lines = data.split(b"\n")[:-1]
    records, bad, open_from = _split_records(lines, len(names))
    if open_from is not None:
        lines = lines[:open_from]
    skipped = {line - 1 for line, _ in bad}
    kept = b"".join(line + b"\n" for index, line in enumerate(lines) if index not in skipped)
    read = _read_c(kept, names)
    if read is None or read[1] or len(read[0]) != len(records):
        return _read_exact(lines, records, bad, names)._replace(read_lines=open_from)
    frame, _, numeric = read
    starts = np.asarray([first + 1 for first, _ in records], dtype=LINE_DTYPE)
    return _Body(frame, bad, starts, numeric, open_from)


def _split_records(
    lines: list[bytes], width: int
) -> tuple[list[tuple[int, int]], list[tuple[int, str]], int | None]:
    """(first line, 0-based; lines) of each well-formed record, (line, 1-based; why) of each
    line that is not one, and the first line of a last record still open at the end of
    ``lines`` (None without one). A line without a quote is a record of its commas plus one
    fields; a quote is followed by Python's ``csv`` module, through the next lines while it
    stays open. A record still open after MAX_RECORD_LINES lines, or that does not read as one
    record of ``width`` fields with the lines it needs, is a row cut inside a quoted cell: its
    first line is skipped, reading resumes on the next. A record open at the end of the lines,
    none of whose next lines is a whole row, is a multi-line cell cut by the read's end: the
    lines end before it. A one-line record of more than ``width`` fields is skipped, as
    read_csv skips it."""
    records: list[tuple[int, int]] = []
    bad: list[tuple[int, str]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if b'"' not in line:
            fields, span = line.count(b",") + 1, 1
        else:
            fields, span = _quoted(lines, index)
            if span == OPEN_AT_END and not _any_whole_row(lines[index + 1 :], width):
                return records, bad, index
        if fields and (fields <= width if span == 1 else fields == width):
            records.append((index, span))
            index += span
            continue
        wide = span == 1 and fields > width
        bad.append((index + 1, f"expected {width} fields, saw {fields}" if wide else CUT_ROW))
        index += 1
    return records, bad, None


def _any_whole_row(lines: list[bytes], width: int) -> bool:
    """Some line holds a whole row by itself: the record before it was cut (a writer killed
    mid-row), not a cell still being read."""
    return any(line.count(b",") + 1 >= width for line in lines)


def _quoted(lines: list[bytes], first: int) -> tuple[int, int]:
    """(fields, lines) of the record starting on line ``first``, which holds a quote; (0, 0)
    when its quote does not close as a record within MAX_RECORD_LINES lines, (0,
    OPEN_AT_END) when it is still open at the end of ``lines``."""
    text = lines[first].decode("utf-8", "replace")
    for span in range(1, MAX_RECORD_LINES + 1):
        try:
            return len(next(csv.reader([text], strict=True))), span
        except csv.Error as error:
            if "end of data" not in str(error):  # a stray quote: read as read_csv reads it
                fields = _fields(text) if span == 1 else None
                return (0, 0) if fields is None else (len(fields), 1)
        if first + span >= len(lines):
            return 0, OPEN_AT_END
        text += "\n" + lines[first + span].decode("utf-8", "replace")
    return 0, 0


def _fields(record: str) -> list[str] | None:
    """A record's fields as read_csv reads them (a quote after a cell's first character is kept
    as text); None when even that fails (a cell over the csv module's size limit)."""
    try:
        return next(csv.reader([record]), [])
    except csv.Error:
        return None


def _read_exact(
    lines: list[bytes],
    records: list[tuple[int, int]],
    bad: list[tuple[int, str]],
    names: list[str],
) -> _Body:
    """The records read by Python's ``csv`` module: slower than read_csv, but it never gives up
    on a body, whatever pandas does with it."""
    width = len(names)
    rows: list[list[str]] = []
    starts: list[int] = []
    bad = list(bad)
    for first, span in records:
        fields = _fields(b"\n".join(lines[first : first + span]).decode("utf-8", "replace"))
        if fields is None:
            bad.append((first + 1, CUT_ROW))
            continue
        if len(fields) > width:  # as read_csv would say of it
            bad.append((first + 1, f"expected {width} fields, saw {len(fields)}"))
            continue
        rows.append(fields + [""] * (width - len(fields)))
        starts.append(first + 1)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    frame = pd.DataFrame(
        {name: _missing_as_none(column) for name, column in zip(names, columns, strict=True)},
        index=pd.RangeIndex(len(rows)),
    )
    return _Body(frame, sorted(bad), np.asarray(starts, dtype=LINE_DTYPE), numeric=False)


def _missing_as_none(column: tuple[str, ...]) -> pd.Series:
    """Text cells as read_csv leaves them: an empty cell is missing."""
    values = np.array(column, dtype=object)
    values[values == ""] = None
    return pd.Series(values, dtype=TEXT_DTYPE)


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
        frame[name] = numbers.astype(NUMBER_DTYPE)


def _note_blank_and_junk(frame: pd.DataFrame, reasons: _Reasons) -> None:
    """Blank lines (dropped silently) and lines holding a single value, such as a junk line
    without a comma (skipped and reported), told apart before any value is converted."""
    rows = len(frame)
    candidates = np.arange(rows)
    if frame.shape[1] > 1:  # only a row without a second value can hold fewer than two
        candidates = np.flatnonzero(frame.iloc[:, 1].isna().to_numpy())
    counts = frame.iloc[candidates].notna().sum(axis=1).to_numpy().copy()
    single = candidates[counts == 1]
    if len(single):  # a line of spaces holds one value, and is blank
        first = frame.iloc[single, 0].astype(TEXT_DTYPE)
        spaces = first.str.strip().eq("").to_numpy(dtype=bool)
        counts[np.flatnonzero(counts == 1)[spaces]] = 0
        single = single[~spaces]
    reasons.blank = np.zeros(rows, dtype=bool)
    reasons.blank[candidates[counts == 0]] = True
    reasons.note(reasons.blank, "empty line")
    junk = np.zeros(rows, dtype=bool)
    junk[single] = True
    reasons.note(junk, "malformed row: a single value (not a CSV row of this file)")


def _validate(frame: pd.DataFrame, reasons: _Reasons) -> None:
    """Note every row that lacks a required value or holds an impossible number."""
    reasons.note(frame["timestamp"].isna(), "timestamp missing or not a date")
    for name in REQUIRED_TEXT:
        reasons.note(_blank_text(frame[name]), f"{name} missing")
    for name in REQUIRED_NUMBERS:
        reasons.note(frame[name].isna(), f"{name} missing")
    for name in frame.columns:
        kind = schema.column_kind(name)
        if kind not in NUMERIC_KINDS:
            continue
        values = frame[name].to_numpy()
        low, high = RANGES.get(name, (0.0, ABSURD_ABOVE.get(name, np.inf)))
        if kind == "int":
            high = min(high, INT_ABOVE)
        with np.errstate(invalid="ignore"):
            reasons.note(np.isinf(values), f"{name} is infinite")
            reasons.note(
                values < low, f"{name} out of range ({'negative' if low == 0 else 'below'})"
            )
            reasons.note(values > high, f"{name} absurdly large")
            if kind == "int":  # a count of 2.5 CPUs is not a measurement
                fractional = np.isfinite(values) & (values != np.floor(values))
                reasons.note(fractional, f"{name} is not a whole number")


def _blank_text(column: pd.Series) -> np.ndarray:
    """Missing or only white space (a categorical's few categories are checked, not every row;
    ``str.isspace`` per value is several times faster than pandas' ``str.strip``)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        blank = column.cat.categories.astype(TEXT_DTYPE).str.strip() == ""
        return column.cat.codes.isin(np.flatnonzero(blank)).to_numpy() | column.isna().to_numpy()
    values = column.to_numpy(dtype=object)
    blank = pd.isna(values)
    present = np.flatnonzero(~blank)
    blank[present] = [
        isinstance(value, str) and (not value or value.isspace()) for value in values[present]
    ]
    return blank


def _line_numbers(first_line: int, rows: int, bad_lines: list[int]) -> np.ndarray:
    """The file line of each parsed row, given the lines the parser skipped."""
    lines = np.arange(first_line, first_line + rows + len(bad_lines), dtype=LINE_DTYPE)
    if bad_lines:
        lines = lines[~np.isin(lines, np.asarray(bad_lines) + first_line - 1)]
    return lines[:rows] if len(lines) >= rows else np.arange(first_line, first_line + rows)


def empty_frame(kind: str) -> pd.DataFrame:
    """A zero-row frame with the contract's columns and dtypes (``normalise`` adds each)."""
    return normalise(pd.DataFrame(index=pd.RangeIndex(0)), kind, "")


def normalise(frame: pd.DataFrame, kind: str, source: str) -> pd.DataFrame:
    """The contract's columns, each with ``column_dtype``: missing ones added (NaN, NaT or ""),
    ``source_file`` and ``line_number`` added, and what CodeCarbon does not record filled in
    (``_fill_unrecorded``)."""
    out = {}
    for name in fieldnames_for(kind):
        values = frame[name] if name in frame.columns else _missing(name, frame.index)
        out[name] = as_column_dtype(values, name)
    _fill_unrecorded(out)
    out["source_file"] = as_column_dtype(pd.Series(source, index=frame.index), "source_file")
    line = frame["line_number"] if "line_number" in frame.columns else pd.Series(0, frame.index)
    out["line_number"] = as_column_dtype(line, "line_number")
    return pd.DataFrame(out, index=frame.index)


def _missing(name: str, index: pd.Index) -> pd.Series:
    """A column the file lacks: NaN, NaT or ""."""
    dtype = column_dtype(name)
    if dtype == NUMBER_DTYPE:
        return pd.Series(np.nan, index=index, dtype=NUMBER_DTYPE)
    if dtype == TIMESTAMP_DTYPE:
        return pd.Series(pd.NaT, index=index, dtype=TIMESTAMP_DTYPE)
    if dtype == CATEGORY:  # built as one: no text to factorize
        blank = pd.Index([""], dtype=TEXT_DTYPE)
        codes = np.zeros(len(index), dtype=np.int8)
        return pd.Series(pd.Categorical.from_codes(codes, categories=blank), index=index)
    return pd.Series("", index=index, dtype=TEXT_DTYPE)


def _fill_unrecorded(columns: dict[str, pd.Series]) -> None:
    """Show CodeCarbon's rows as ours: a status where none is recorded (``finished``: CodeCarbon
    writes a row when a run stops or flushes), the installed RAM rounded as our tracker writes
    it, and, for a row without an intensity, the one its own emissions and energy imply
    (gCO2e/kWh = kg x 1000 / kWh), with the source ``derived``."""
    status = columns["status"]
    columns["status"] = set_text_where(status, status.eq(""), STATUS_UNRECORDED)
    columns["ram_total_size"] = columns["ram_total_size"].round(RAM_TOTAL_DECIMALS)
    intensity = columns["carbon_intensity_g_co2e_kwh"]
    source = columns["carbon_intensity_source"]
    energy, emissions = columns["energy_consumed"], columns["emissions"]
    derivable = intensity.isna() & source.eq("") & energy.gt(0) & emissions.notna()
    if derivable.any():
        columns["carbon_intensity_g_co2e_kwh"] = intensity.mask(
            derivable, emissions * 1000 / energy
        )
        columns["carbon_intensity_source"] = set_text_where(source, derivable, DERIVED_SOURCE)


def set_text_where(values: pd.Series, mask: pd.Series, value: str) -> pd.Series:
    """A text column of ``column_dtype`` "category" with ``value`` where ``mask`` holds. A new
    category is added as an object Index: pandas 3 would otherwise make the categories ``str``,
    and the column would no longer concatenate with others."""
    if not mask.any():
        return values
    if value not in values.cat.categories:
        values = values.cat.add_categories(pd.Index([value], dtype=TEXT_DTYPE))
    return values.mask(mask, value)


def split_header(data: bytes) -> tuple[list[str], int] | None:
    """The header line at the start of ``data`` (a UTF-8 byte order mark skipped) as column
    names, and where the body starts; None when ``data`` holds no whole, non-blank first line."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    newline = data.find(b"\n", start)
    if newline < 0:
        return None
    line = data[start:newline].decode("utf-8", "replace").strip("\r")
    header = next(csv.reader([line]), []) if line.strip() else []
    return (header, newline + 1) if header else None


def parse(
    path: Path,
    *,
    start_offset: int = 0,
    header: list[str] | None = None,
    first_line: int = 2,
    max_bytes: int = -1,
) -> Parsed:
    """Parse ``path`` from ``start_offset`` (0: the whole file, header included).

    Reads only whole lines: an unfinished last line is reported as skipped and left unconsumed,
    so the next incremental read picks it up once the writer has completed it. ``max_bytes``
    (-1: no limit) bounds the read: what is cut off is read by the next call, from
    ``end_offset``. Only regular files are opened (``open_regular``: never blocks on a FIFO).
    """
    source = shown_path(path)
    with open_regular(path) as handle:
        handle.seek(start_offset)
        data = handle.read(max_bytes)
    offset = start_offset
    if header is None:
        found = split_header(data)
        if found is None:  # empty, or a header still being written: read again later
            return Parsed("empty", [], empty_frame("runs"), [], start_offset, 1)
        header, body_start = found
        data, offset, first_line = data[body_start:], offset + body_start, 2
    kind = "tasks" if schema.is_tasks_header(header) else "runs"
    complete = data.rfind(b"\n") + 1
    body, tail = data[:complete], data[complete:]
    skipped: list[Skipped] = []
    last_line = first_line + body.count(b"\n")
    if tail.strip():
        skipped.append(Skipped(source, last_line, UNFINISHED))
    usecols = [name for name in fieldnames_for(kind) if name in header]
    if not body or body.isspace() or not usecols:  # isspace: no copy of a large body
        return Parsed(kind, header, empty_frame(kind), skipped, offset + complete, last_line)
    lines = last_line - first_line
    frame, read_lines = _frame(body, lines, header, usecols, first_line, source, skipped)
    if read_lines < lines:  # the last record's quoted cell is still open: read it again later
        for _ in range(lines - read_lines):
            complete = body.rfind(b"\n", 0, complete - 1) + 1
        last_line = first_line + read_lines
        skipped[:] = [s for s in skipped if s.line < last_line]  # the tail is part of it
        skipped.append(Skipped(source, last_line, UNFINISHED))
    return Parsed(
        kind, header, normalise(frame, kind, source), skipped, offset + complete, last_line
    )


def _frame(
    body: bytes,
    lines: int,
    header: list[str],
    usecols: list[str],
    first_line: int,
    source: str,
    skipped: list[Skipped],
) -> tuple[pd.DataFrame, int]:
    """Parse the ``lines`` lines of ``body``, drop and record the bad rows; with the lines read
    (fewer when the last record is a quoted cell still open at the body's end)."""
    body_lines = lines
    parsed = _parse_body(body, _unique(header), lines)
    frame = parsed.frame
    reasons = _Reasons(len(frame))
    _note_blank_and_junk(frame, reasons)
    frame = frame[usecols].copy(deep=False)
    for name in schema.REQUIRED_FIELDNAMES:  # a header without them: every row says so
        if name not in frame.columns:
            number = schema.column_kind(name) in NUMERIC_KINDS
            frame[name] = pd.Series(np.nan, frame.index, NUMBER_DTYPE if number else TEXT_DTYPE)
    if not parsed.numeric:
        _coerce_numbers(frame, reasons)
    for name in frame.columns:  # text as categories now: only the categories are checked
        if name != "timestamp":
            frame[name] = as_column_dtype(frame[name], name)
    lines = parsed.lines + (first_line - 1)
    skipped.extend(
        Skipped(source, line + first_line - 1, f"malformed row: {why}") for line, why in parsed.bad
    )
    frame["timestamp"] = _timestamps(frame["timestamp"])
    _validate(frame, reasons)
    frame["line_number"] = lines
    reported = reasons.bad & ~reasons.blank
    for line, reason in zip(lines[reported], reasons.text[reported], strict=True):
        skipped.append(Skipped(source, int(line), reason))
    skipped.sort(key=lambda s: s.line)
    kept = frame[~reasons.bad] if reasons.bad.any() else frame
    return kept, body_lines if parsed.read_lines is None else parsed.read_lines


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
    """Concatenate parsed frames, keeping categorical columns categorical (union of categories).

    Every column is brought to ``column_dtype`` first (a no-op for frames from ``normalise``),
    and each categorical column to the union of its parts' categories (in order of appearance),
    so every column's parts share one dtype whatever mix of files they came from, and pandas
    joins the frames block by block (one copy of the rows, not one per column and another to
    stack them).
    """
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame(kind)
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    parts = [frame.copy(deep=False) for frame in frames]  # columns are replaced, never the data
    for name in parts[0].columns:
        given = [part[name] for part in parts]
        values = [as_column_dtype(column, name) for column in given]
        if isinstance(column_dtype(name), str):
            every = np.concatenate([v.cat.categories.to_numpy(dtype=object) for v in values])
            categories = pd.Index(pd.unique(every), dtype=TEXT_DTYPE)
            values = [v.cat.set_categories(categories) for v in values]
        for part, column, value in zip(parts, given, values, strict=True):
            if value is not column:
                part[name] = value
    return pd.concat(parts, ignore_index=True)
