"""Answers kept for the newest version of the data they were worked out from.

``VersionCache`` keeps a source's answers (``HistoryStore``); ``ViewCache`` keeps the views the
board builds from any source's answers (figures and all), one cache per source, so a view shown
again, or worked out ahead while the board was idle (``carbonboard.idle``), is a lookup.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class VersionCache:
    """Answers computed once per key for the newest data version, the last ``size`` kept.

    The sections of a page ask the same questions at the same moment: the first caller computes
    and the others wait for its result (an error reaches them all, and is not kept). A caller
    still on an older snapshot computes for itself and keeps nothing.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._version = 0
        self._entries: OrderedDict[Hashable, Future] = OrderedDict()

    def get(self, version: int, key: Hashable, compute: Callable[[], T]) -> T:
        mine: Future = Future()
        with self._lock:
            if version > self._version:
                self._entries.clear()
                self._version = version
            newest = version == self._version
            found = self._entries.get(key) if newest else None
            if found is not None:
                self._entries.move_to_end(key)
            elif newest:
                self._entries[key] = mine
        if found is not None:
            return found.result()
        try:
            value = compute()
        except BaseException as error:
            mine.set_exception(error)  # the callers waiting for it raise too
            with self._lock:
                if self._entries.get(key) is mine:
                    del self._entries[key]
            raise
        mine.set_result(value)
        with self._lock:
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
            self._trim()
        return value

    def _done(self) -> list[tuple[Hashable, object]]:
        """The answers computed without error, least recently used first."""
        return [
            (key, future.result())
            for key, future in self._entries.items()
            if future.done() and future.exception() is None
        ]

    def _trim(self) -> None:
        """A further bound, called under the lock after each answer."""


class ViewCache(Generic[T]):
    """``view(source, *args)``, a pure function of the source's data, worked out once per data
    version of each source (``source.version()``) and arguments; the last ``size`` kept per
    source. Arguments must be hashable."""

    def __init__(self, view: Callable[..., T], size: int = 64) -> None:
        self._view = view
        self._size = size
        self._lock = threading.Lock()
        self._caches: weakref.WeakKeyDictionary[Any, VersionCache] = weakref.WeakKeyDictionary()

    def __call__(self, source: Any, *args: Hashable) -> T:
        with self._lock:
            cache = self._caches.get(source)
            if cache is None:
                cache = self._caches[source] = VersionCache(self._size)
        return cache.get(source.version(), args, lambda: self._view(source, *args))
