"""The roles of docs/team.md, created with the page's own SQL: the owner creates the schema with
``python -m tracker sync``, a tracker writes with the writer role, the reader only reads, and
neither can do more than the page says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rollups import assert_exact, scanned, stored

from tracker import OfflineEmissionsTracker
from tracker.db import ddl, migrations
from tracker.schema import COLUMNS, Column

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

ROOT = Path(__file__).resolve().parents[2]
TEAM_PAGE = ROOT / "docs" / "team.md"
PASSWORDS = {"choose-one": "owner-pw", "choose-another": "writer-pw", "and-a-third": "reader-pw"}


def sql_blocks() -> tuple[str, str]:
    """The page's role creation (the first SQL block) and its privileges (the marked one)."""
    text = TEAM_PAGE.read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    marked = re.search(r"<!-- team-roles-sql.*?-->\n```sql\n(.*?)```", text, re.S)
    assert blocks and marked
    return blocks[0], marked.group(1)


def url(server, role: str, password: str, database: str) -> str:
    return server.url(user=role, password=password, database=database)


@pytest.fixture
def team(postgres):
    """The page's roles and a database owned by the owner role; all dropped afterwards."""
    create, grants = sql_blocks()
    name = f"team_{uuid.uuid4().hex[:10]}"
    for placeholder, password in PASSWORDS.items():
        create = create.replace(placeholder, password)
    create = create.replace("CREATE DATABASE carbonboard ", f"CREATE DATABASE {name} ")
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        for statement in filter(str.strip, create.split(";")):
            conn.execute(statement)
    try:
        yield postgres, name, grants
    finally:
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            for role in ("carbonboard_reader", "carbonboard_writer", "carbonboard_owner"):
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_the_owner_creates_the_writer_writes_the_reader_only_reads(team, tmp_path):
    server, name, grants = team
    owner = url(server, "carbonboard_owner", "owner-pw", name)
    writer = url(server, "carbonboard_writer", "writer-pw", name)
    reader = url(server, "carbonboard_reader", "reader-pw", name)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    created = subprocess.run(
        [sys.executable, "-m", "tracker", "sync", "--database", owner],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert f"(schema version {migrations.LATEST})" in created.stdout
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(grants)

    tracker = OfflineEmissionsTracker(
        project_name="team",
        country_iso_code="FRA",
        force_cpu_power=10.0,
        force_ram_power=1.0,
        output_dir=str(tmp_path),
        database_url=writer,
        environ={"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    tracker.start()
    tracker.stop()
    with psycopg.connect(reader) as conn:
        assert conn.execute(f"SELECT run_id, status FROM {ddl.RUNS}").fetchall() == [
            (tracker.run_id, "finished")
        ]
        assert conn.execute(f"SELECT sum(runs) FROM {ddl.DAILY}").fetchone()[0] == 1
    forbidden = {
        reader: [
            f"INSERT INTO {ddl.RUNS} (run_id) VALUES ('x')",
            f"UPDATE {ddl.RUNS} SET duration = 0",
        ],
        writer: [
            f"DELETE FROM {ddl.RUNS}",
            f"TRUNCATE {ddl.RUNS}",
            f"UPDATE {ddl.DAILY} SET runs = 0",
            f"DELETE FROM {ddl.VERSIONS}",
            f"CREATE TABLE {ddl.SCHEMA}.other (x int)",
        ],
    }
    for role_url, statements in forbidden.items():
        with psycopg.connect(role_url, autocommit=True) as conn:
            for statement in statements:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)


def test_a_writer_that_needs_a_schema_upgrade_is_told_who_can_make_it(team, tmp_path):
    server, name, grants = team
    owner = url(server, "carbonboard_owner", "owner-pw", name)
    with psycopg.connect(owner) as conn:
        migrations.migrate(conn)
        conn.execute(grants)
        conn.commit()
    newer_contract = (*COLUMNS, Column("a_column_from_a_newer_version", "str"))
    writer = url(server, "carbonboard_writer", "writer-pw", name)
    with (
        psycopg.connect(writer) as conn,
        pytest.raises(migrations.SchemaError, match="as the schema's owner"),
    ):
        migrations.migrate(conn, columns=newer_contract)
    with psycopg.connect(owner) as conn:
        migrations.migrate(conn, columns=newer_contract)
        assert migrations.state(conn, newer_contract).missing == ()


def test_the_writer_imports_into_an_empty_database_row_by_row_with_exact_rollups(team):
    """Only the owner may rebuild the indexes of an empty table: the writer's import takes
    the plain INSERT, and every rollup still equals its scan of the runs."""
    from click.testing import CliRunner

    from carbonboard.cli import main

    server, name, grants = team
    owner = url(server, "carbonboard_owner", "owner-pw", name)
    with psycopg.connect(owner) as conn:
        migrations.migrate(conn)
        conn.execute(grants)
        conn.commit()
    writer = url(server, "carbonboard_writer", "writer-pw", name)
    history = ROOT / "examples" / "emissions.csv"
    result = CliRunner().invoke(main, ["import", "--database", writer, "--filepath", str(history)])
    assert result.exit_code == 0, result.output
    with psycopg.connect(owner) as conn:
        assert scanned(conn) and stored(conn) == scanned(conn)
        assert_exact(conn)
