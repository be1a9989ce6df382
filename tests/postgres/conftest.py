"""A real PostgreSQL for the team-store tests: one throwaway server per session, one fresh
database per test. No mocks: every test talks to the server over TCP with a password.

Without PostgreSQL (or psycopg) the tests skip with the reason, except under CI=true, where that
is a failure: CI must prove the store works (``.ci/run`` installs Debian's ``postgresql``).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pg_server import TemporaryPostgres, find_bin_dir


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[TemporaryPostgres]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed: pip install -e '.[test]'")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable("PostgreSQL is not installed (apt-get install postgresql; see .ci/run)")
    server = TemporaryPostgres(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


def _admin(server: TemporaryPostgres, sql: str) -> None:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def database(postgres: TemporaryPostgres) -> Iterator[SimpleNamespace]:
    """A new empty database: ``url`` (superuser), ``name``, ``server``, ``admin(sql)``."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    _admin(postgres, f"CREATE DATABASE {name}")
    yield SimpleNamespace(
        name=name,
        url=postgres.url(database=name),
        server=postgres,
        admin=lambda sql: _admin(postgres, sql),
    )
    _restart_if_stopped(postgres)
    _admin(postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _restart_if_stopped(server: TemporaryPostgres) -> None:
    """A test may stop the server (an outage): the next tests need it."""
    import psycopg

    try:
        psycopg.connect(server.url(), connect_timeout=2).close()
    except psycopg.OperationalError:
        server.start()
