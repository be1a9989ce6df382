"""What every response of a real server guarantees: only allowed host names are answered, no page
can frame the dashboard, failures are plain 500s (never a debugger page), unknown scripts 404."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import threading

import pytest
from click.testing import CliRunner
from waitress import create_server

from carbonboard import wsgi
from carbonboard.app import create_app
from carbonboard.cli import exposure_warning, main
from carbonboard.data.store import HistoryStore
from carbonboard.web_security import (
    SECURITY_HEADERS,
    allowed_hosts,
    host_allowed,
    host_name,
    is_loopback,
)

from .conftest import sample_history

TEST_NET_HOST = "192.0.2.1"  # RFC 5737: reserved for documentation, on no machine
# A callback id no page has: Dash fails to find it, a genuine server-side failure.
FAILING_CALLBACK = {
    "output": "no-such-component.children",
    "outputs": {"id": "no-such-component", "property": "children"},
    "inputs": [],
    "changedPropIds": [],
}


def serve(app) -> tuple[str, int]:
    """``app`` under waitress on a free loopback port, until the test process ends."""
    server = create_server(app.server, host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    return "127.0.0.1", server.effective_port


def request(
    address: tuple[str, int],
    path: str,
    host: str | None = None,
    method: str = "GET",
    body: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request; ``host`` is sent as the Host header (the browser's name for it)."""
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or f"{address[0]}:{address[1]}")
        if body is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(body.encode())))
        connection.endheaders(body.encode() if body is not None else None)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def server(module_history) -> tuple[str, int]:
    """The dashboard bound to loopback, also reachable as board.lan (``--allowed-host``)."""
    source = HistoryStore.from_arguments([str(p) for p in module_history], disk_cache=False)
    app = create_app(source, allowed_hosts=["Board.LAN"])
    return serve(app)


@pytest.fixture(scope="module")
def debug_server(module_history) -> tuple[str, int]:
    """The dashboard as ``carbonboard --debug`` serves it."""
    source = HistoryStore.from_arguments([str(p) for p in module_history], disk_cache=False)
    return serve(create_app(source, debug=True))


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("localhost:3333", "localhost"),
        ("[::1]:3333", "::1"),
        ("::1", "::1"),
        ("Board.Lan.:80", "board.lan"),
        ("127.0.0.1", "127.0.0.1"),
        ("", ""),
    ],
)
def test_host_name_drops_port_brackets_case_and_trailing_dot(value, name) -> None:
    assert host_name(value) == name


def test_loopback_hosts_and_the_allowed_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert is_loopback("127.0.1.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("board.lan") and not is_loopback("::")
    allowed = allowed_hosts("0.0.0.0", ["board.lan"])
    assert allowed == {"localhost", "127.0.0.1", "::1", "0.0.0.0", "board.lan"}
    assert host_allowed("board.lan:3333", allowed)
    assert not host_allowed("attacker.example:3333", allowed)
    assert not host_allowed("localhost.attacker.example", allowed)
    assert not host_allowed(None, allowed) and not host_allowed("", allowed)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "board.lan:{port}"]
)
def test_bound_and_allowed_names_are_served(server, host) -> None:
    status, _, body = request(server, "/", host=host.format(port=server[1]))
    assert status == 200
    assert b"carbonboard" in body


@pytest.mark.parametrize(
    "host", ["attacker.example:{port}", "attacker.example", "127.0.0.1.attacker.example"]
)
def test_other_host_names_are_refused_dns_rebinding(server, host) -> None:
    """A page on attacker.example whose name now resolves to 127.0.0.1 gets nothing."""
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        status, headers, body = request(server, path, host=host.format(port=server[1]))
        assert status == 400
        assert body == b"Bad Request: unknown host name\n"
        assert b"nlp-bert" not in body
        assert headers["X-Frame-Options"] == "DENY"
    status, _, _ = request(
        server, "/_dash-update-component", host="attacker.example", method="POST", body="{}"
    )
    assert status == 400


def test_every_response_forbids_framing_and_type_sniffing(server) -> None:
    index = request(server, "/")[2].decode()
    script = re.search(r'src="(/_dash-component-suites/[^"]+\.js)"', index).group(1)
    for path, status in (
        ("/", 200),
        ("/_dash-layout", 200),
        (script, 200),
        ("/assets/no-such-file.js", 404),
    ):
        got, headers, _ = request(server, path)
        assert got == status, path
        for name, value in SECURITY_HEADERS.items():
            assert headers[name] == value, (path, name)
    assert SECURITY_HEADERS["Content-Security-Policy"] == "frame-ancestors 'none'"


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/dash/no-such-file.js",
        "/_dash-component-suites/dash/dcc/dash_core_components.v9m1.js.map.nope",
        "/_dash-component-suites/no_such_package/x.js",
        "/_dash-component-suites/os/__init__.py",
        "/assets/../pyproject.toml",
        "/assets/no-such-file.css",
    ],
)
def test_unknown_scripts_and_assets_are_404_without_a_traceback(server, path, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        status, headers, body = request(server, path)
    assert status == 404
    assert b"Traceback" not in body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_debug_never_serves_the_werkzeug_debugger(debug_server, caplog) -> None:
    """A failing request under --debug: a plain 500; the traceback goes to the log only."""
    with caplog.at_level(logging.ERROR):
        status, headers, body = request(
            debug_server,
            "/_dash-update-component",
            method="POST",
            body=json.dumps(FAILING_CALLBACK),
        )
    assert status == 500
    assert body == b"Internal Server Error\n"
    assert headers["Content-Type"].startswith("text/plain")
    for leak in (b"Traceback", b"SECRET", b"__debugger__", b"Werkzeug", b"KeyError", b".py"):
        assert leak not in body
    failures = [r for r in caplog.records if r.exc_info]
    assert failures and "no-such-component" in str(failures[0].exc_info[1])
    # the page itself still works, with Dash's dev-tools panel
    status, _, page = request(debug_server, "/")
    assert status == 200 and b"carbonboard" in page


def test_the_wsgi_entry_point_applies_the_same_rules(tmp_path, monkeypatch) -> None:
    files = sample_history(tmp_path)
    monkeypatch.setenv(wsgi.ENV_FILEPATH, os.pathsep.join(str(p) for p in files))
    monkeypatch.setenv(wsgi.ENV_ALLOWED_HOSTS, "board.example.org, stats.lan")
    address = serve_flask(wsgi.create_server())
    for host, status in (
        ("board.example.org", 200),
        ("stats.lan:8080", 200),
        (f"127.0.0.1:{address[1]}", 200),
        ("attacker.example", 400),
    ):
        got, headers, _ = request(address, "/", host=host)
        assert got == status, host
        assert headers["X-Frame-Options"] == "DENY"


def serve_flask(flask_app) -> tuple[str, int]:
    server = create_server(flask_app, host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    return "127.0.0.1", server.effective_port


def test_exposure_warning_only_off_loopback() -> None:
    assert exposure_warning("127.0.0.1", ()) is None
    assert exposure_warning("localhost", ("board.lan",)) is None
    warning = exposure_warning("0.0.0.0", ("board.lan",))
    assert warning.startswith("--host 0.0.0.0 serves the emissions history, with no login")
    assert "0.0.0.0, 127.0.0.1, ::1, board.lan, localhost" in warning
    assert "--allowed-host" in warning


def test_cli_warns_before_serving_a_non_loopback_host(history_files) -> None:
    """The warning comes first, even when the address then cannot be served (192.0.2.1 is a
    documentation address no machine has, so nothing is exposed by the test)."""
    result = CliRunner().invoke(
        main, ["--filepath", str(history_files[0]), "--host", TEST_NET_HOST, "--port", "3333"]
    )
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"carbonboard: warning: --host {TEST_NET_HOST} serves the emissions")
    assert lines[1].startswith(f"carbonboard: cannot listen on {TEST_NET_HOST}:3333")
    assert result.exit_code != 0
    assert "--allowed-host" in CliRunner().invoke(main, ["--help"]).output
