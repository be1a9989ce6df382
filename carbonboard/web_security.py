"""What every response of the dashboard's server guarantees, whoever runs it (the CLI's waitress,
or ``carbonboard.wsgi`` under any WSGI server).

* Only requests naming an allowed host in their ``Host`` header are answered (400 otherwise): a
  page on another site cannot reach the dashboard through DNS rebinding, where the attacker's
  name is made to resolve to 127.0.0.1 and the browser sends that name as the host.
* No page may frame the dashboard, and browsers never guess a content type (clickjacking, and
  scripts smuggled as another type).
* A failing request is a plain 500, its traceback in the server log only: never Werkzeug's
  debugger page, which shows source code and the debugger's secret.
* A script path Dash did not register is a 404, not a logged traceback.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

import flask
from dash import Dash
from dash.fingerprint import check_fingerprint
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
COMPONENT_SUITES = "/_dash-component-suites/"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def host_name(value: str) -> str:
    """The host part of a ``Host`` header or a ``--host`` value, lower case, without the port,
    the IPv6 brackets or a trailing dot: ``[::1]:3333`` -> ``::1``, ``Board.lan.:80`` ->
    ``board.lan``."""
    text = value.strip().lower()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        text = text.partition(":")[0]
    return text.rstrip(".")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server private to this machine."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a request may give as its host: the loopback names, the bound host and the
    names given explicitly (e.g. the machine's name on the network)."""
    names = [*LOOPBACK_NAMES, bind_host, *extra]
    return frozenset(host_name(name) for name in names if host_name(name))


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request's ``Host`` header names one of the ``allowed`` hosts."""
    return bool(header) and host_name(header) in allowed


def _registered_script(app: Dash, path: str) -> bool:
    """Whether ``/_dash-component-suites/<package>/<file>`` names a file Dash registered."""
    package, _, fingerprinted = path[len(COMPONENT_SUITES) :].partition("/")
    in_package, _ = check_fingerprint(fingerprinted)
    return in_package in app.registered_paths.get(package, ())


def _plain_error(error: Exception) -> flask.Response | HTTPException:
    """HTTP errors (404, 405...) as they are; any other failure a plain 500, logged."""
    if isinstance(error, HTTPException):
        return error
    request = flask.request
    log.error("%s %s failed", request.method, request.path, exc_info=error)
    return flask.Response("Internal Server Error\n", status=500, mimetype="text/plain")


def secure(app: Dash, allowed: frozenset[str]) -> None:
    """Install the guarantees above on ``app``'s server (after ``enable_dev_tools``, whose error
    handler this one replaces)."""
    server = app.server

    @server.before_request
    def check_request() -> flask.Response | None:
        request = flask.request
        if not host_allowed(request.headers.get("Host"), allowed):
            log.warning("refused a request for host %r", request.headers.get("Host", "")[:200])
            return flask.Response(
                "Bad Request: unknown host name\n", status=400, mimetype="text/plain"
            )
        if request.path.startswith(COMPONENT_SUITES) and not _registered_script(app, request.path):
            return flask.Response("Not Found\n", status=404, mimetype="text/plain")
        return None

    @server.after_request
    def add_headers(response: flask.Response) -> flask.Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    server.register_error_handler(Exception, _plain_error)
