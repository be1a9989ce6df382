"""Where a row goes when its output file cannot be written, so a run's figures are never lost.

Candidates, in order: the user's state folder (:func:`tracker.folders.user_state_dir`:
``$XDG_STATE_HOME/carbonboard``, else ``~/.local/state/carbonboard`` on Linux,
``~/Library/Application Support/carbonboard`` on macOS, ``%LOCALAPPDATA%\\carbonboard`` on
Windows), then ``<temp dir>/carbonboard``. The file keeps the output file's name with
``-fallback`` added: ``emissions.csv`` -> ``emissions-fallback.csv``.

The temp folder is shared by every user of the machine, so a fallback folder is created ``0700``
and used only when it is a real folder (not a symlink), owned by this user and writable by no one
else; anything else is refused with a warning. Otherwise another user could plant a symlink there
and have the tracker append to a file of their choosing.

An output file that is not an emissions CSV (:class:`ForeignFileError`) is never written: the row
goes to ``emissions.carbonboard.csv`` beside it, else to the fallback folders.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tracker.folders import APP_NAME, user_state_dir
from tracker.output.csv_file import ForeignFileError, Write, append_row, sibling_path

log = logging.getLogger(__name__)

PRIVATE_MODE = 0o700


class UnsafeFolderError(PermissionError):
    """A folder others could write into (or a symlink, or not ours): not used."""


def fallback_dirs(environ: Mapping[str, str]) -> list[Path]:
    """The folders tried, in order. ``TMPDIR`` in ``environ`` names the temp folder on POSIX."""
    temp = (os.name == "posix" and environ.get("TMPDIR")) or tempfile.gettempdir()
    return [user_state_dir(environ), Path(temp) / APP_NAME]


def fallback_name(path: Path) -> str:
    return f"{path.stem}-fallback{path.suffix}"


def ensure_private_dir(folder: Path) -> None:
    """Create ``folder`` (mode 0700) if missing, then check it is safe to write into.

    Raises :class:`UnsafeFolderError` when it is a symlink or not a folder, is owned by another
    user, or can be written by group or others; ``OSError`` when it cannot be created.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # checked below, whoever made it
        folder.mkdir(mode=PRIVATE_MODE)
    if os.name != "posix":  # no owner or mode bits to check
        return
    info = os.lstat(folder)
    problem = ""
    if stat.S_ISLNK(info.st_mode):
        problem = "it is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "it is not a folder"
    elif info.st_uid != os.geteuid():
        problem = f"it belongs to user id {info.st_uid}, not to this user ({os.geteuid()})"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"others can write into it (mode {stat.S_IMODE(info.st_mode):04o})"
    if problem:
        raise UnsafeFolderError(f"refusing to use {folder}: {problem}")


def _reason(error: BaseException) -> str:
    if isinstance(error, ForeignFileError):
        return f"not an emissions CSV, {error}; it was left untouched"
    if isinstance(error, OSError):
        return str(error.strerror or error)
    return f"{type(error).__name__}: {error}"


def append_with_fallback(
    path: Path,
    row: Mapping[str, object],
    fieldnames: Sequence[str],
    *,
    environ: Mapping[str, str],
    then: Callable[[], None] | None = None,
    write: Write = os.write,
) -> Path | None:
    """Append to ``path``, else to the first fallback file that accepts it; the file written, or
    ``None`` (logged) when nothing could be written. ``then`` runs after a successful append.

    Any failure (not only ``OSError``: a ``UnicodeDecodeError``, a bug) moves on to the next
    candidate; nothing is raised. ``write`` replaces ``os.write`` (tests play a full disk).
    """
    try:
        append_row(path, row, fieldnames, then=then, write=write)
        return path
    except Exception as error:
        reason = _reason(error)
        first = [sibling_path(path)] if isinstance(error, ForeignFileError) else []
    try:
        folders = fallback_dirs(environ)
    except Exception as error:  # no home folder to be found
        log.warning("no fallback folder: %s", _reason(error))
        folders = []
    for target in [*first, *(folder / fallback_name(path) for folder in folders)]:
        try:
            if target.parent in folders:
                ensure_private_dir(target.parent)
            append_row(target, row, fieldnames, then=then, write=write)
        except UnsafeFolderError as error:
            log.warning("%s", error)
            continue
        except Exception as error:
            log.debug("cannot write the fallback %s: %s", target, _reason(error))
            continue
        log.error("cannot write %s (%s): the row was saved to %s instead", path, reason, target)
        return target
    log.error("cannot write %s (%s) nor any fallback file: the row is lost", path, reason)
    return None
