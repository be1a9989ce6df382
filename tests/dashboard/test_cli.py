"""The command line: one clear line and a non-zero exit for every user error; a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from carbonboard import __version__, cli, wsgi
from carbonboard.cli import main

from .conftest import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("carbonboard: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_path(tmp_path) -> None:
    assert_one_line_error(run_cli(f"--filepath={tmp_path / 'nope.csv'}"), "does not exist")


def test_database_without_a_database_source_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(cli, "POSTGRES_SOURCE_MODULE", "carbonboard.data.no_such_source")
    result = run_cli("--database", "postgresql://board@db.example/runs")
    assert_one_line_error(result, "--database is not available yet", "--filepath")


def test_files_and_a_database_at_once_are_refused(history_files) -> None:
    result = run_cli("--filepath", str(history_files[0]), "--database", "postgresql://x/y")
    assert_one_line_error(result, "give --filepath or --database, not both")


def test_not_a_csv(tmp_path) -> None:
    binary = tmp_path / "weights.pt"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(run_cli("--filepath", str(binary)), "is not a CSV file")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    assert_one_line_error(run_cli("--filepath", str(other)), "is not an emissions CSV")


def test_unreadable_file(tmp_path, history_files) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    emissions, _ = history_files
    emissions.chmod(0)
    assert_one_line_error(run_cli("--filepath", str(emissions)), "cannot read")


def test_port_in_use(history_files) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("--filepath", str(history_files[0]), "--port", str(port))
    assert_one_line_error(result, f"port {port}", "already in use")


def test_no_filepath_help_and_version() -> None:
    assert_one_line_error(run_cli(), "no --filepath given")
    help_text = run_cli("--help").output
    for option in ("--filepath", "--port", "--host", "--debug", "--version", "--refresh"):
        assert option in help_text
    assert "Werkzeug" in help_text and "report" in help_text
    assert run_cli("--version").output.strip() == f"carbonboard, version {__version__}"


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\x00" * 64])
def test_malformed_inputs_answer_clearly(tmp_path, content) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    if b"\x00" in content:
        assert_one_line_error(run_cli("--filepath", str(path)), "is not a CSV file")
    else:  # empty: accepted (friendly empty page), so fail on the port instead of serving
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = str(busy.getsockname()[1])
            assert_one_line_error(run_cli("--filepath", str(path), "--port", port), "in use")


def test_wsgi_entry_point_reads_the_environment(history_files, monkeypatch) -> None:
    monkeypatch.setenv(wsgi.ENV_FILEPATH, os.pathsep.join(str(p) for p in history_files))
    server = wsgi.create_server()
    assert server.test_client().get("/").status_code == 200
    monkeypatch.delenv(wsgi.ENV_FILEPATH)
    with pytest.raises(RuntimeError, match="CARBONBOARD_FILEPATH"):
        wsgi.create_server()


def test_a_real_subprocess_serves_http(history_files, tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CARBONBOARD_CACHE_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carbonboard",
            f"--filepath={history_files[0].parent}",
            f"--port={port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    assert b"carbonboard" in response.read()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "server did not answer within 30 s"
                time.sleep(0.2)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert f"Open http://127.0.0.1:{port}/" in out
    assert "42 runs from 2 file(s)" in out
    assert "Traceback" not in err


def test_the_server_imports_the_page_without_ipython_and_leaves_it_importable() -> None:
    """Dash imports IPython for its notebook mode when it is installed: a fifth of a second of
    a start the server never needs; hidden for that import only."""
    pytest.importorskip("IPython")
    code = (
        "import sys\n"
        "from carbonboard.cli import _ipython_hidden\n"
        "with _ipython_hidden():\n"
        "    import carbonboard.app\n"
        "assert not any(name.startswith('IPython') for name in sys.modules), 'imported'\n"
        "import IPython\n"
        "with _ipython_hidden():\n"  # once imported, it stays
        "    assert sys.modules['IPython'] is IPython\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "url", ["postgresql://board:s3cret@[::1/runs", "postgresql://board:s3cret@127.0.0.1:99999/x"]
)
def test_a_malformed_database_url_is_one_line_without_its_password(url) -> None:
    pytest.importorskip("psycopg")
    result = run_cli("--database", url)
    assert_one_line_error(result, "cannot open the database")
    assert "s3cret" not in result.output


@pytest.mark.parametrize("value", ["nan", "inf", "1e300"])
def test_a_refresh_that_is_not_a_number_of_seconds_is_refused(history_files, value) -> None:
    result = run_cli("--filepath", str(history_files[0]), "--refresh", value)
    assert result.exit_code == 2 and "--refresh" in result.output
