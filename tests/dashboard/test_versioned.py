"""Views kept per data version (``carbonboard.data.versioned.ViewCache``): worked out once for
each source, data version and arguments; new data, or another source, works them out again."""

from __future__ import annotations

import gc

import pytest

from carbonboard.data.versioned import ViewCache


class Source:
    """A source whose data version moves when told (the cache reads only ``version()``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.data_version = 1

    def version(self) -> int:
        return self.data_version


def test_a_view_is_worked_out_once_per_source_version_and_arguments() -> None:
    built: list[tuple[str, int, str]] = []

    def view(source: Source, project: str) -> str:
        built.append((source.name, source.data_version, project))
        return f"{source.name}/{project}@{source.data_version}"

    views = ViewCache(view)
    files, database = Source("files"), Source("database")
    assert views(files, "alpha") == "files/alpha@1"
    assert views(files, "alpha") == "files/alpha@1"  # a lookup
    assert views(files, "beta") == "files/beta@1"
    assert views(database, "alpha") == "database/alpha@1"  # each source its own
    files.data_version = 2  # new data: worked out again
    assert views(files, "alpha") == "files/alpha@2"
    assert views(database, "alpha") == "database/alpha@1"
    assert built == [
        ("files", 1, "alpha"),
        ("files", 1, "beta"),
        ("database", 1, "alpha"),
        ("files", 2, "alpha"),
    ]


def test_a_view_that_fails_is_not_kept_and_a_source_gone_takes_its_views_along() -> None:
    attempts: list[int] = []

    def view(source: Source) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("the database went away")
        return len(attempts)

    views = ViewCache(view)
    source = Source("files")
    with pytest.raises(OSError, match="went away"):  # the failure reaches the caller
        views(source)
    assert views(source) == 2 and views(source) == 2  # worked out again, then kept
    del source
    gc.collect()
    assert len(views._caches) == 0
