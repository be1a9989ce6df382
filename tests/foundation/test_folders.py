"""The per-user folders: one function per kind (state, cache), every user of them going through
it, the documented environment overrides, and each platform's convention from platformdirs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from platformdirs.macos import MacOS
from platformdirs.unix import Unix

from carbonboard.data.cache import default_cache_dir
from tracker.db.spool import spool_roots
from tracker.folders import user_cache_dir, user_state_dir
from tracker.intensity import live
from tracker.output.fallback import fallback_dirs

XDG = ("XDG_STATE_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home with no XDG variable set, in the given environment or this process's."""
    for name in (*XDG, "CARBONBOARD_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def test_xdg_variables_move_the_folders_on_every_platform(home):
    environ = {"HOME": str(home), "XDG_STATE_HOME": "/srv/state", "XDG_CACHE_HOME": "/srv/cache"}
    for platform in (None, Unix, MacOS):
        assert user_state_dir(environ, platform) == Path("/srv/state/carbonboard")
        assert user_cache_dir(environ, platform) == Path("/srv/cache/carbonboard")


def test_a_relative_xdg_variable_is_ignored_as_the_spec_says(home):
    environ = {"HOME": str(home), "XDG_STATE_HOME": "state", "XDG_CACHE_HOME": ""}
    assert user_state_dir(environ, Unix) == home / ".local" / "state" / "carbonboard"
    assert user_cache_dir(environ, Unix) == home / ".cache" / "carbonboard"


def test_linux_defaults_are_in_the_given_home(home):
    environ = {"HOME": str(home)}
    assert user_state_dir(environ, Unix) == home / ".local" / "state" / "carbonboard"
    assert user_cache_dir(environ, Unix) == home / ".cache" / "carbonboard"


def test_macos_defaults_are_the_library_folders(home):
    environ = {"HOME": str(home)}
    library = home / "Library"
    assert user_state_dir(environ, MacOS) == library / "Application Support" / "carbonboard"
    assert user_cache_dir(environ, MacOS) == library / "Caches" / "carbonboard"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="this machine's convention: XDG")
def test_this_process_environment_is_the_default(home, monkeypatch):
    monkeypatch.setenv("HOME", str(home))
    assert user_state_dir() == home / ".local" / "state" / "carbonboard"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "c"))
    assert user_cache_dir() == home / "c" / "carbonboard"


def test_the_fallback_and_the_spool_use_the_state_folder(home, tmp_path):
    environ = {"HOME": str(home), "TMPDIR": str(tmp_path / "tmp")}
    state = home / ".local" / "state" / "carbonboard"
    assert fallback_dirs(environ) == [state, tmp_path / "tmp" / "carbonboard"]
    assert spool_roots(environ)[0] == state / "spool"
    moved = {**environ, "XDG_STATE_HOME": str(tmp_path / "s")}
    assert fallback_dirs(moved)[0] == tmp_path / "s" / "carbonboard"


def test_the_caches_use_the_cache_folder(home, monkeypatch, tmp_path):
    assert default_cache_dir({"HOME": str(home)}) == home / ".cache" / "carbonboard"
    board = {"HOME": str(home), "CARBONBOARD_CACHE_DIR": str(tmp_path / "board")}
    assert default_cache_dir(board) == tmp_path / "board"  # the board's own variable first
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert live.default_cache_dir() == tmp_path / "xdg" / "carbonboard" / "electricitymaps"
    assert default_cache_dir() == tmp_path / "xdg" / "carbonboard"
