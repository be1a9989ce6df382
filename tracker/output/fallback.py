"""Where a row goes when its output file cannot be written, so a run's figures are never lost.

Candidates, in order: ``$XDG_STATE_HOME/carbonboard`` (default ``~/.local/state/carbonboard``;
``%LOCALAPPDATA%\\carbonboard`` on Windows), then ``<temp dir>/carbonboard``. The file keeps the
output file's name with ``-fallback`` added: ``emissions.csv`` -> ``emissions-fallback.csv``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tracker.output.csv_file import append_row

log = logging.getLogger(__name__)


def fallback_dirs(environ: Mapping[str, str]) -> list[Path]:
    """The folders tried, in order."""
    home = Path(environ.get("HOME") or Path.home())
    if os.name == "nt" and environ.get("LOCALAPPDATA"):
        state = Path(environ["LOCALAPPDATA"])
    else:
        state = Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state")
    return [state / "carbonboard", Path(tempfile.gettempdir()) / "carbonboard"]


def fallback_name(path: Path) -> str:
    return f"{path.stem}-fallback{path.suffix}"


def append_with_fallback(
    path: Path,
    row: Mapping[str, object],
    fieldnames: Sequence[str],
    *,
    environ: Mapping[str, str],
    then: Callable[[], None] | None = None,
) -> Path | None:
    """Append to ``path``, else to the first fallback file that accepts it; the file written, or
    ``None`` (logged) when nothing could be written. ``then`` runs after a successful append."""
    try:
        append_row(path, row, fieldnames, then=then)
        return path
    except OSError as error:
        reason = f"{error.strerror or error}"
    for folder in fallback_dirs(environ):
        target = folder / fallback_name(path)
        try:
            append_row(target, row, fieldnames, then=then)
        except OSError:
            continue
        log.error("cannot write %s (%s): the row was saved to %s instead", path, reason, target)
        return target
    log.error("cannot write %s (%s) nor any fallback file: the row is lost", path, reason)
    return None
