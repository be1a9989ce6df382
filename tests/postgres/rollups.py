"""The rollups as stored and as a full scan of the runs computes them, row by row, in Python:
the tests' one definition of "exact"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tracker.db import ddl

UNIT = Decimal(1).scaleb(-ddl.FIXED_POINT_DIGITS)


def counted(value: float | None) -> Decimal:
    """One row's value as a rollup counts it: below the limit, a whole number of units (Python's
    ``round`` is half to even, as PostgreSQL's float8-to-bigint cast); above, the value as
    PostgreSQL makes a float8 numeric (15 significant digits)."""
    if value is None:
        return Decimal(0)
    if abs(value) < ddl.FIXED_POINT_LIMIT:
        return round(value * 10.0**ddl.FIXED_POINT_DIGITS) * UNIT
    return Decimal(f"{value:.15g}")


def stored(conn: Any, kept: ddl.Rollup = ddl.DAILY_ROLLUP) -> dict[tuple, tuple]:
    """``kept``'s rows: key -> (runs, measures...)."""
    names = ", ".join(["runs", *(m.name for m in kept.measures)])
    found = conn.execute(f"SELECT {kept.key_names}, {names} FROM {kept.table}")
    width = len(kept.keys)
    return {tuple(r[:width]): tuple(r[width:]) for r in found.fetchall()}


def scanned(conn: Any, kept: ddl.Rollup = ddl.DAILY_ROLLUP) -> dict[tuple, tuple]:
    """``kept`` as a full scan of the runs computes it: each row's values, as float8, counted
    (:func:`counted`) and added up here."""
    keys = ", ".join(expr for _, expr in kept.keys)
    values = ", ".join(f"({m.expression})::float8" for m in kept.measures)
    width = len(kept.keys)
    sums: dict[tuple, list] = {}
    for found in conn.execute(f"SELECT {keys}, {values} FROM {ddl.RUNS}").fetchall():
        total = sums.setdefault(tuple(found[:width]), [0, *[Decimal(0)] * len(kept.measures)])
        total[0] += 1
        for position, value in enumerate(found[width:], start=1):
            total[position] += counted(value)
    return {key: tuple(total) for key, total in sums.items()}


def assert_exact(conn: Any) -> None:
    """Every rollup equals its full scan of the runs."""
    for kept in ddl.KEPT:
        assert stored(conn, kept) == scanned(conn, kept), kept.name
