"""The rollups as stored and as a full scan of the runs computes them, row by row: the tests'
one definition of "exact"."""

from __future__ import annotations

from typing import Any

from tracker.db import ddl


def stored(conn: Any, kept: ddl.Rollup = ddl.DAILY_ROLLUP) -> dict[tuple, tuple]:
    """``kept``'s rows: key -> (runs, measures...)."""
    names = ", ".join(["runs", *(m.name for m in kept.measures)])
    found = conn.execute(f"SELECT {kept.key_names}, {names} FROM {kept.table}")
    width = len(kept.keys)
    return {tuple(r[:width]): tuple(r[width:]) for r in found.fetchall()}


def scanned(conn: Any, kept: ddl.Rollup = ddl.DAILY_ROLLUP) -> dict[tuple, tuple]:
    """``kept`` as a full scan of the runs computes it, each row's value made numeric alone."""
    keys = ", ".join(expr for _, expr in kept.keys)
    sums = ", ".join(f"sum(coalesce(({m.expression})::numeric, 0))" for m in kept.measures)
    positions = ", ".join(str(i + 1) for i in range(len(kept.keys)))
    found = conn.execute(f"SELECT {keys}, count(*), {sums} FROM {ddl.RUNS} GROUP BY {positions}")
    width = len(kept.keys)
    return {tuple(r[:width]): tuple(r[width:]) for r in found.fetchall()}


def assert_exact(conn: Any) -> None:
    """Every rollup equals its full scan of the runs."""
    for kept in ddl.KEPT:
        assert stored(conn, kept) == scanned(conn, kept), kept.name
