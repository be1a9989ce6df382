"""Exports of the runs behind a view: CSV in the tracker's contract, JSON, and file names.

Pure functions (DataFrame in, text out) so the dashboard's downloads and the command line share
them. The CSV is meant to be opened in spreadsheets, so text cells that a spreadsheet would run as
a formula are neutralised; numbers are written as numbers, so a negative longitude stays numeric.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterable
from numbers import Integral, Real

import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from tracker import schema

# A spreadsheet evaluates a cell starting with one of these as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMERIC_KINDS = ("float", "int")
ALL_PROJECTS_SLUG = "all-projects"
# One name of a file name: a file system takes 255 bytes at most, and a name a person reads.
SLUG_MAX_CHARS = 60
METRICS_COLUMN = "metrics"  # JSON text in the CSV, an object in the JSON export


def neutralise_formula(text: str) -> str:
    """Prefix a quote to text a spreadsheet would evaluate, so it is shown, never run."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _number_text(value: Real, kind: str) -> str:
    if isinstance(value, Integral):
        return str(int(value))
    number = float(value)
    if not math.isfinite(number):
        return ""
    if kind == "int" and number.is_integer():
        return str(int(number))
    return repr(number)


def _cell_value(value: object, kind: str) -> object:
    """A JSON-ready value: None for missing, numbers as numbers, timestamps as ISO 8601 text."""
    if _is_missing(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if kind in NUMERIC_KINDS and _is_number(value):
        number = float(value)
        if not math.isfinite(number):
            return None
        is_whole = isinstance(value, Integral) or (kind == "int" and number.is_integer())
        return int(number) if is_whole else number
    if isinstance(value, bool):
        return value
    return str(value)


def csv_cell(value: object, kind: str) -> str:
    """The CSV text of one cell; only non-numeric text is neutralised against formulas."""
    if _is_missing(value):
        return ""
    if kind in NUMERIC_KINDS and _is_number(value):
        return _number_text(value, kind)
    return neutralise_formula(str(_cell_value(value, kind)))


def _numbers(series: pd.Series, kind: str) -> list:
    """A numeric column as Python numbers (ints for a whole ``int`` column), None if missing."""
    numbers = series.astype("float64")
    finite = numbers.abs() < math.inf  # False for NaN and infinities
    if kind == "int" and (numbers[finite] % 1 == 0).all():
        return numbers.where(finite).astype("Int64").astype(object).where(finite, None).tolist()
    return numbers.astype(object).where(finite, None).tolist()


def _column(series: pd.Series, kind: str, *, neutralise: bool) -> list:
    """One column's JSON-ready values, vectorised for the contract's dtypes (a million rows must
    not take a Python call per cell); any other dtype goes cell by cell."""
    if kind in NUMERIC_KINDS and is_numeric_dtype(series) and not is_bool_dtype(series):
        return _numbers(series, kind)
    if kind == "str":
        text = series.astype("string")
        if neutralise and isinstance(series.dtype, pd.CategoricalDtype):
            # One call per distinct value, not per row.
            neutralised = series.map(
                lambda value: neutralise_formula(str(value)), na_action="ignore"
            )
            text = neutralised.astype("string")
        elif neutralise:
            text = text.mask(text.str.startswith(FORMULA_TRIGGERS, na=False), "'" + text)
        return text.astype(object).where(text.notna(), None).tolist()
    if is_datetime64_any_dtype(series):
        return (
            series.map(pd.Timestamp.isoformat).astype(object).where(series.notna(), None).tolist()
        )
    if neutralise:
        return [csv_cell(value, kind) for value in series.tolist()]
    return [_cell_value(value, kind) for value in series.tolist()]


def _contract_columns(
    runs: pd.DataFrame, fieldnames: tuple[str, ...], *, neutralise: bool
) -> list[list]:
    """Each contract column's values; a column the frame lacks is missing in every row."""
    missing = [None] * len(runs)
    return [
        _column(runs[name], schema.column_kind(name), neutralise=neutralise)
        if name in runs.columns
        else missing
        for name in fieldnames
    ]


def runs_to_csv(runs: pd.DataFrame, fieldnames: tuple[str, ...] = schema.FIELDNAMES) -> str:
    """The runs as an emissions CSV that carbonboard (and CodeCarbon readers) load back.

    The header is the contract's, whatever extra columns the loader added to the frame. Floats
    are written by ``repr`` (csv's default), so they read back exactly.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; quotes a bare CR
    writer.writerow(fieldnames)
    columns = _contract_columns(runs, fieldnames, neutralise=True)
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue()


def _reject_constant(name: str) -> None:
    raise ValueError(f"not a finite number: {name}")


def metrics_value(text: object) -> object:
    """A ``metrics`` cell for JSON: the object it holds (so readers get numbers, not a string),
    None when empty, and the text as written when it is not a JSON object of finite values (the
    file is untrusted; nothing is dropped)."""
    if text is None or text == "":
        return None
    try:
        value = json.loads(str(text), parse_constant=_reject_constant)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def runs_to_records(
    runs: pd.DataFrame, fieldnames: tuple[str, ...] = schema.FIELDNAMES
) -> list[dict[str, object]]:
    """The runs as JSON-ready dicts in contract order (missing values are ``None``; ``metrics``
    an object, see :func:`metrics_value`)."""
    columns = _contract_columns(runs, fieldnames, neutralise=False)
    if METRICS_COLUMN in fieldnames:
        position = fieldnames.index(METRICS_COLUMN)
        columns[position] = [metrics_value(cell) if cell else None for cell in columns[position]]
    return [dict(zip(fieldnames, values, strict=True)) for values in zip(*columns, strict=True)]


def runs_to_json(runs: pd.DataFrame, fieldnames: tuple[str, ...] = schema.FIELDNAMES) -> str:
    """The runs as JSON, with the schema version and each column's unit so the file documents
    itself."""
    document = {
        "schema_version": schema.SCHEMA_VERSION,
        "units": {name: schema.BY_NAME[name].unit for name in fieldnames if name in schema.BY_NAME},
        "runs": runs_to_records(runs, fieldnames),
    }
    return json.dumps(document, allow_nan=False)


def slugify(text: str) -> str:
    """Lower-case ASCII letters, digits, dots and dashes: safe in a file name on every system.

    The one rule for every name carbonboard gives a file (downloads, and the chart images of the
    plotly tool bar via ``components.graph``), so the same text always gives the same name.
    """
    slug = re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.")
    return slug[:SLUG_MAX_CHARS].rstrip("-.") or "untitled"


def file_stem(project: str | None, parts: Iterable[str] = ()) -> str:
    """``project_part_part``: a downloaded file says which view it came from."""
    words = [slugify(project) if project else ALL_PROJECTS_SLUG, *map(slugify, parts)]
    return "_".join(words)


def export_filename(project: str | None, parts: Iterable[str], extension: str) -> str:
    """A meaningful download name, e.g. ``nlp-bert_emissions-over-time.png``."""
    return file_stem(project, parts) + "." + slugify(extension)
