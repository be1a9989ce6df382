"""The spool: rows waiting for the database, one small fsynced file each, in a private folder.

A tracker never writes to the database on the program's path: each row goes to a file here first
(written to a temporary name, fsynced, renamed, the folder fsynced: a crash leaves the previous
file or the new one, whole), and a background thread delivers the files and removes them once the
database has committed the rows. Whatever is left (the database was down, the program ended) is
delivered by the next tracker start or by ``python -m tracker sync``.

Folder: ``<state folder>/spool/<host>-<port>-<database>-<hash>/`` (the state folders of
:mod:`tracker.output.fallback`, created ``0700``): one folder per database, so rows meant for one
database never reach another. ``database.txt`` there names it (without user or password). A row
that can never be written (no ``run_id``...) is moved to ``rejected/`` beside the rows, with the
reason, and reported: it is never silently dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tracker.config import shown_url
from tracker.output.fallback import PRIVATE_MODE, ensure_private_dir, fallback_dirs

SPOOL = "spool"
REJECTED = "rejected"
NAME_FILE = "database.txt"
SUFFIX = ".json"
FORMAT = 1
STALE_TEMPORARY_S = 3600.0  # a temporary file this old was left by a crash mid-write
_counter = itertools.count()


def database_key(url: str) -> tuple[str, int, str]:
    """What names a database in ``url``: host (or socket folder), port, database name."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    host = (parts.hostname or query.get("host", ["localhost"])[0]).lower()
    port = parts.port or int(query.get("port", ["5432"])[0])
    name = urllib.parse.unquote(parts.path.lstrip("/")) or query.get("dbname", [""])[0]
    return host, port, name


def folder_name(url: str) -> str:
    """``<host>-<port>-<database>-<hash>``: readable, and distinct for distinct databases."""
    host, port, name = database_key(url)
    digest = hashlib.sha256(f"{host}\0{port}\0{name}".encode()).hexdigest()[:10]

    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._]+", "_", text).strip("._")[:40] or "_"

    return f"{slug(host)}-{port}-{slug(name)}-{digest}"


def spool_roots(environ: Mapping[str, str]) -> list[Path]:
    """Where spools may be, in the order a tracker tries them."""
    return [folder / SPOOL for folder in fallback_dirs(environ)]


@dataclass(frozen=True)
class Entry:
    """A spooled row read back."""

    path: Path
    table: str  # "runs" | "tasks"
    row: dict[str, object]


class Spool:
    """One database's folder of waiting rows."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_database(cls, url: str, environ: Mapping[str, str]) -> Spool:
        """The first usable spool folder for ``url``, created (``0700``) when needed. Raises
        ``OSError`` (an unsafe folder is an ``UnsafeFolderError``) when none is."""
        failure: OSError | None = None
        for root in spool_roots(environ):
            try:
                for folder in (root.parent, root, root / folder_name(url)):
                    ensure_private_dir(folder)
            except OSError as error:
                failure = error
                continue
            spool = cls(root / folder_name(url))
            spool._name_database(url)
            return spool
        assert failure is not None
        raise failure

    @classmethod
    def existing(cls, environ: Mapping[str, str]) -> list[Spool]:
        """Every spool folder of every database, in every root."""
        found = []
        for root in spool_roots(environ):
            with contextlib.suppress(OSError):
                found += [cls(p) for p in sorted(root.iterdir()) if p.is_dir()]
        return found

    def _name_database(self, url: str) -> None:
        path = self.folder / NAME_FILE
        if not path.exists():
            _write_durably(path, shown_url(url).encode("utf-8"))

    @property
    def database(self) -> str:
        """The database these rows wait for, as logs show it."""
        try:
            return (self.folder / NAME_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return self.folder.name

    def put(self, table: str, row: Mapping[str, object]) -> Path:
        """Write one row durably; its file."""
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):06d}.{table}{SUFFIX}"
        body = json.dumps({"format": FORMAT, "table": table, "row": dict(row)}, default=str)
        path = self.folder / name
        _write_durably(path, body.encode("utf-8"))
        return path

    def pending(self) -> list[Path]:
        """The rows waiting, oldest first."""
        try:
            names = sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX))
        except OSError:
            return []
        return [p for p in names if not p.name.startswith(".")]

    def read(self, path: Path) -> Entry:
        """A spooled row; ``ValueError`` for a file that is not one."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("table") not in ("runs", "tasks"):
            raise ValueError("not a spooled row")
        if not isinstance(data.get("row"), dict):
            raise ValueError("not a spooled row")
        return Entry(path, data["table"], data["row"])

    def remove(self, path: Path) -> None:
        """Delivered (or superseded by a newer row of the run): gone. Another process may have
        removed it first."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def set_aside(self, path: Path, reason: str) -> Path:
        """A row the database can never take: moved to ``rejected/`` with its reason."""
        rejected = self.folder / REJECTED
        ensure_private_dir(rejected)
        target = rejected / path.name
        os.replace(path, target)
        _write_durably(target.with_suffix(".reason.txt"), reason.encode("utf-8"))
        return target

    def remove_stale_temporaries(self, now_s: float | None = None) -> None:
        """Temporary files of a write a crash interrupted (the row before it is still here)."""
        now_s = time.time() if now_s is None else now_s
        with contextlib.suppress(OSError):
            for path in self.folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    if now_s - path.stat().st_mtime > STALE_TEMPORARY_S:
                        path.unlink()


def _write_durably(path: Path, body: bytes) -> None:
    """Temporary file (``0600``), fsync, rename over ``path``, fsync the folder."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(temporary, flags, PRIVATE_MODE & 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if os.name == "posix":
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
