"""Warnings said once per process: a program that runs a tracked function a thousand times hears
about an unreadable RAPL counter or an unknown location once, not a thousand times.

A condition is named by a key (the message itself when it names its file, or a fixed word); the
first time a key is seen it is logged at WARNING, every later time at DEBUG, so the detail is
still there for whoever turns debug logging on. :data:`PROCESS_NOTICES` is the process's memory;
a component takes a :class:`Notices` as a parameter so a test can give it a fresh one.
"""

from __future__ import annotations

import logging
import threading


class Notices:
    """Keys already warned about: each is a WARNING the first time, DEBUG after."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        """Whether ``key`` is seen for the first time (it is remembered from now on)."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True

    def warn(self, logger: logging.Logger, key: str, message: str, *args: object) -> None:
        """``logger.warning(message, *args)`` the first time ``key`` is seen, else at DEBUG."""
        logger.log(logging.WARNING if self.first(key) else logging.DEBUG, message, *args)


# The process's notices: what every tracker of this process shares.
PROCESS_NOTICES = Notices()
