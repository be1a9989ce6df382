"""The HTTP output: each kept row POSTed as JSON to ``emissions_endpoint``, off the critical path.

CodeCarbon's ``emissions_endpoint``: a flush or the final row is sent as a JSON object of the
row's fields. Requests run on one daemon thread, each with a short timeout, so a slow or dead
server never delays the program; ``close()`` waits at most ``drain_timeout_s`` for what is still
queued and says how many rows were not delivered (they are in the CSV all the same).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.request

from tracker.config import shown_url
from tracker.emissions_data import EmissionsData
from tracker.output.base import BaseOutput

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 2.0


class HttpOutput(BaseOutput):
    """POSTs rows to ``url`` (``Content-Type: application/json``), one request per row."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = REQUEST_TIMEOUT_S,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"emissions_endpoint must be an http:// or https:// URL, not {url!r}")
        self.url = url
        self._shown_url = shown_url(url)
        self._timeout_s = timeout_s
        self._drain_timeout_s = drain_timeout_s
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._warned = False
        self._queued = 0
        self._done = 0  # delivered or failed
        self.delivered = 0

    def flushed(self, data: EmissionsData) -> None:
        self._send(data)

    def finished(self, data: EmissionsData) -> None:
        self._send(data)

    def close(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(self._drain_timeout_s)
        if thread.is_alive():
            log.warning(
                "emissions_endpoint %s: gave up waiting after %.0f s; %d row(s) not sent "
                "(they are in the CSV)",
                self._shown_url,
                self._drain_timeout_s,
                self._queued - self._done,
            )

    def _send(self, data: EmissionsData) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._deliver, name="carbonboard-http-output", daemon=True
            )
            self._thread.start()
        self._queued += 1
        self._queue.put(json.dumps(data.values).encode("utf-8"))

    def _deliver(self) -> None:
        while (body := self._queue.get()) is not None:
            started = time.monotonic()
            request = urllib.request.Request(
                self.url,
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                    response.read()
                self.delivered += 1
            except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts are OSErrors
                self._warn(error, time.monotonic() - started)
            self._done += 1

    def _warn(self, error: Exception, elapsed_s: float) -> None:
        if self._warned:
            log.debug("emissions_endpoint %s failed again: %s", self._shown_url, error)
            return
        self._warned = True
        log.warning(
            "emissions_endpoint %s: row not sent (%s, after %.1f s); the CSV keeps it",
            self._shown_url,
            error,
            elapsed_s,
        )
