"""The board on PostgreSQL: ``PostgresSource`` passes the ``RunSource`` contract unchanged (the
same tests, the same hand-worked history, imported with ``carbonboard import``), and the
overview's figures drawn from the database equal those drawn from the CSV files (#12)."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from carbonboard.cli import main
from carbonboard.data.source import BREAKDOWNS
from carbonboard.data.store import HistoryStore
from carbonboard.sections.header import files_text
from carbonboard.selection import Selection
from tracker.schema import TASK_FIELDNAMES

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install -e '.[test]'"
)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
contract = importlib.import_module("tests.dashboard.test_source_contract")
helpers = importlib.import_module("tests.dashboard.conftest")

from carbonboard.data.postgres_source import PostgresSource  # noqa: E402
from tracker.db import writes  # noqa: E402

# Every contract test, run here against the database (the `source` fixture reads `served`).
globals().update(
    {name: value for name, value in vars(contract).items() if name.startswith("test_")}
)
source = contract.source


def import_csv(url: str, *paths: Path) -> None:
    arguments = ["import", "--database", url]
    for path in paths:
        arguments += ["--filepath", str(path)]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output


@pytest.fixture
def served(database, tmp_path: Path) -> contract.Served:
    """The contract's history imported into a fresh database, served by PostgresSource; runs
    added later arrive by another import, as from another machine."""
    history = tmp_path / "history"
    history.mkdir()
    helpers.write_csv(history / "emissions.csv", contract.known_runs())
    helpers.write_csv(
        history / "emissions_tasks.csv", contract.known_tasks(), fieldnames=TASK_FIELDNAMES
    )
    import_csv(database.url, history)
    added = []

    def add_runs(rows: list[dict]) -> None:
        path = tmp_path / f"added_{len(added)}.csv"
        added.append(path)
        helpers.write_csv(path, rows)
        import_csv(database.url, path)

    return contract.Served(PostgresSource.from_url(database.url), add_runs)


def test_the_header_names_the_database_not_its_password(served, database) -> None:
    described = served.source.describe()
    (info,) = described.files
    assert info.kind == "database" and info.rows == 7  # six runs and the rank row set apart
    assert database.name in info.path and "@" not in info.path
    assert files_text(described) == f"database: {info.path}"


def test_a_filter_value_is_data_never_sql(source) -> None:
    hostile = "x' OR '1'='1"
    page = source.runs_page(
        contract.EVERYTHING, offset=0, limit=10, filter_query=f"{{run_id}} eq {hostile}"
    )
    assert page.matching == 0
    page = source.runs_page(
        contract.EVERYTHING, offset=0, limit=10, filter_query="{run_id} contains %"
    )
    assert page.matching == 0  # a LIKE wildcard in a value is a literal character


def test_the_overview_figures_equal_the_files(served, tmp_path: Path) -> None:
    """Every figure's data of the overview and regional views, for several selections, from
    the database and from the same files."""
    files = HistoryStore.from_arguments([str(tmp_path / "history")], disk_cache=False)
    database = served.source
    selections = [
        Selection(),
        contract.ALPHA,
        Selection(project="gamma", experiment="g1"),
        Selection(date_from="2026-03-02", date_to="2026-03-05"),
    ]
    for selection in selections:
        ours, theirs = database.totals(selection), files.totals(selection)
        assert ours.runs == theirs.runs
        assert (ours.energy_kwh, ours.emissions_kg, ours.duration_s) == pytest.approx(
            (theirs.energy_kwh, theirs.emissions_kg, theirs.duration_s)
        )
        for by in BREAKDOWNS:
            compare_frames(database.breakdown(selection, by), files.breakdown(selection, by))
        compare_frames(database.emissions_series(selection), files.emissions_series(selection))
        compare_frames(database.location_mix(selection), files.location_mix(selection))
        assert database.filter_options(selection) == files.filter_options(selection)
        newest, expected = database.last_run(selection), files.last_run(selection)
        assert (newest["run_id"], newest["status"]) == (expected["run_id"], expected["status"])
        shown = ["run_id", "timestamp", "status", "energy_consumed", "country_name", "rank"]
        compare_frames(
            database.selected_runs(selection)[shown], files.selected_runs(selection)[shown]
        )


def compare_frames(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(
        ours.reset_index(drop=True),
        theirs.reset_index(drop=True),
        check_dtype=False,
        check_categorical=False,
        check_exact=False,
        rtol=1e-9,
    )


def upsert_run(url: str, **fields: object) -> None:
    """What a tracker's database output does with one row: the idempotent upsert."""
    target = writes.runs_target()
    with writes.connect(url) as conn, conn.cursor() as cur:
        writes.upsert(cur, target, [writes.db_values(helpers.run_row(**fields), target.columns)])


def test_a_tracker_s_rows_show_without_a_restart(served, database) -> None:
    board = served.source
    before = board.version()
    now = dt.datetime.now(dt.timezone.utc)
    upsert_run(database.url, run_id="fresh", project="beta", status="running", when=now)
    checkpoint = board.version()
    assert checkpoint > before
    assert contract.ids_of(board.running_runs()) == ["fresh"]
    assert board.totals(Selection(project="beta")).runs == 2
    upsert_run(
        database.url, run_id="fresh", project="beta", when=now + dt.timedelta(seconds=5)
    )  # the same run finished: an update, not a new run
    assert board.version() > checkpoint
    assert board.running_runs().empty
    assert board.totals(Selection(project="beta")).runs == 2
    assert board.version() == board.version()  # nothing new: the marker holds still


def test_a_read_only_role_serves_the_board(served, database) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    database.admin(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-secret'")
    try:
        database.admin(f"GRANT CONNECT ON DATABASE {database.name} TO {role}")
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(f"GRANT USAGE ON SCHEMA carbonboard TO {role}")
            conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA carbonboard TO {role}")
        url = database.server.url(user=role, password="reader-secret", database=database.name)
        board = PostgresSource.from_url(url)
        assert board.totals(contract.EVERYTHING).runs == 6
        page = board.runs_page(contract.EVERYTHING, offset=0, limit=2)
        assert contract.ids_of(page.rows) == ["c1", "j0"]
        assert board.run_detail("j0").job.duplicates == 1
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            board._rows("CREATE TEMPORARY TABLE scratch (x int)")  # read-only, even if allowed
    finally:
        with psycopg.connect(database.url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")  # its grants, in this database
        database.admin(f"DROP ROLE {role}")
