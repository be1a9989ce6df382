"""A real HTTP server on 127.0.0.1 playing Electricity Maps, geo-IP and the cloud metadata services.

Tests declare routes (status, body, headers, delay) per test; the server records every request so a
test can check what the client actually sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Route:
    status: int = 200
    body: Any = ""  # str or bytes are sent as is; anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    require_headers: dict[str, str] = field(default_factory=dict)  # else 401, like the real ones


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeServices:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Seen] = []
        self.url = ""

    def route(self, method: str, path: str, **kwargs: Any) -> None:
        self.routes[(method, path)] = Route(**kwargs)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def reset(self) -> None:
        self.routes.clear()
        self.requests.clear()


def _handler(services: FakeServices) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            return None

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            services.requests.append(
                Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()))
            )
            route = services.routes.get((self.command, parts.path))
            if route is None:
                self.send_error(404)
                return
            time.sleep(route.delay_s)
            missing = any(self.headers.get(k) != v for k, v in route.require_headers.items())
            status = 401 if missing else route.status
            body = route.body
            if not isinstance(body, (str, bytes)):
                body = json.dumps(body)
            payload = body.encode() if isinstance(body, str) else body
            try:
                self.send_response(status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out first
                return

        do_GET = do_PUT = _answer

    return Handler


@pytest.fixture(scope="session")
def services_server() -> Iterator[FakeServices]:
    services = FakeServices()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(services))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    services.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield services
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def services(services_server: FakeServices) -> Iterator[FakeServices]:
    services_server.reset()
    yield services_server
    services_server.reset()
