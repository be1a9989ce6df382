"""Work the board does while nobody waits for it, in one background thread: tasks to do once
after a start (compressing a bundle the first page will ask for), then each project's views,
worked out ahead.

A view's first showing costs its source's answers (tens of milliseconds for a project at 100,000
runs, a fifth of a second at a million; more for the whole history); once worked out they are
cached until the data changes. So after a start, and after new data, the board asks its source
to prepare (``RunSource.prepare``) the whole history, which every page shows first, then each
project. Every step waits until no request has been in flight for :data:`QUIET_S`: a page being
drawn does not wait for this work. A source whose answers are cheap anyway
(``RunSource.prepares_ahead`` false: a database reading its rollups) is not asked to prepare; the
views the board builds from its answers (figures and all: :class:`carbonboard.data.versioned.
ViewCache`) are worked out ahead for every source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from carbonboard.data.source import RunSource
from carbonboard.selection import Selection

log = logging.getLogger(__name__)

QUIET_S = 0.25  # no request for this long: the board is idle
PREPARED_PROJECTS_MAX = 50  # the largest projects first; a long tail is worked out on visit


class Requests:
    """The requests in flight (``started``/``finished`` from the web server's hooks), and a
    wait for a quiet moment."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._served = 0
        self._since = clock()

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._since = self._clock()

    def finished(self) -> None:
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            self._served += 1
            self._since = self._clock()

    def quiet(self) -> bool:
        """A request has been served (the server is up: a start is not slowed), none is in
        flight, and none for :data:`QUIET_S`."""
        with self._lock:
            return (
                self._served > 0 and self._in_flight == 0 and self._clock() - self._since >= QUIET_S
            )

    def wait_quiet(self, poll_s: float = 0.05) -> None:
        while not self.quiet():
            time.sleep(poll_s)


class Preparer:
    """The board's idle work, in a background thread, each step while the board is quiet: the
    ``once`` tasks after a start, then every project of the source's current data; asked again
    (new data) while at it, it starts over once done."""

    def __init__(
        self,
        source: RunSource,
        requests: Requests,
        once: Sequence[Callable[[], object]] = (),
        views: Sequence[Callable[[RunSource, Selection], object]] = (),
    ) -> None:
        self._source = source
        self._requests = requests
        self._once = list(once)  # only the worker thread takes from it
        self._views = tuple(views)
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def schedule(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._run, name="carbonboard-prepare", daemon=True).start()

    def _run(self) -> None:
        while True:
            while self._once:
                self._requests.wait_quiet()
                task = self._once.pop(0)
                try:
                    task()
                except Exception:  # what it would have done ahead is done when asked for
                    log.debug("idle task failed", exc_info=True)
            try:
                self.prepare_projects()
            except Exception:  # the views work it out on visit instead
                log.debug("preparing the projects' views failed", exc_info=True)
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def prepare_projects(self) -> None:
        """The whole history (every page's first view), then each project, largest first, each
        once the board is quiet: the source's answers (where it works them out ahead), then the
        ``views`` built from them."""
        if not (self._source.prepares_ahead or self._views):
            return
        self._prepare(Selection())
        projects = self._source.breakdown(Selection(), "project")["project"]
        for project in list(projects)[:PREPARED_PROJECTS_MAX]:
            self._prepare(Selection(project=str(project)))

    def _prepare(self, selection: Selection) -> None:
        self._requests.wait_quiet()
        if self._source.prepares_ahead:
            self._source.prepare(selection)
        for view in self._views:
            self._requests.wait_quiet()
            view(self._source, selection)
