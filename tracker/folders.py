"""The per-user folders carbonboard keeps files in: one function per kind, used everywhere.

- :func:`user_state_dir`: what must survive (rows that could not reach their file, the database
  spool). ``~/.local/state/carbonboard`` on Linux, ``~/Library/Application Support/carbonboard``
  on macOS, ``%LOCALAPPDATA%\\carbonboard`` on Windows.
- :func:`user_cache_dir`: what can be rebuilt (live intensity answers, the board's parsed files).
  ``~/.cache/carbonboard`` on Linux, ``~/Library/Caches/carbonboard`` on macOS,
  ``%LOCALAPPDATA%\\carbonboard\\Cache`` on Windows.

``platformdirs`` knows each platform's convention. ``$XDG_STATE_HOME`` / ``$XDG_CACHE_HOME``, when
set to an absolute path, move the folder on every platform (the XDG spec ignores relative ones).
Callers that replace the environment (tests, embedding: the tracker's ``environ``) pass it; its
``HOME`` then stands for the user's home in the platform's default. ``platform`` (a
``platformdirs`` class, this machine's by default) lets a test ask for another platform's
convention. ``platformdirs`` is imported only when a folder is asked for, so importing the tracker
stays light.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

APP_NAME = "carbonboard"


def user_state_dir(
    environ: Mapping[str, str] | None = None, platform: Callable[..., Any] | None = None
) -> Path:
    """This user's state folder for carbonboard (not created here)."""
    return _user_dir("XDG_STATE_HOME", "user_state_dir", environ, platform)


def user_cache_dir(
    environ: Mapping[str, str] | None = None, platform: Callable[..., Any] | None = None
) -> Path:
    """This user's cache folder for carbonboard (not created here)."""
    return _user_dir("XDG_CACHE_HOME", "user_cache_dir", environ, platform)


def _user_dir(
    variable: str,
    kind: str,
    environ: Mapping[str, str] | None,
    platform: Callable[..., Any] | None,
) -> Path:
    environ = os.environ if environ is None else environ
    override = environ.get(variable, "")
    if os.path.isabs(override):
        return Path(override) / APP_NAME
    if platform is None:
        import platformdirs

        platform = platformdirs.PlatformDirs
    default = Path(getattr(platform(APP_NAME, appauthor=False), kind))
    home = environ.get("HOME")
    if not home or environ is os.environ:
        return default
    try:  # the platform's place, in the given home rather than this process's
        return Path(home) / default.relative_to(Path.home())
    except ValueError:  # not under the home (a system-wide setting): as it is
        return default
