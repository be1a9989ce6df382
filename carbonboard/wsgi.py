"""WSGI entry point for running the dashboard under a WSGI server of your choice.

    CARBONBOARD_FILEPATH=/data/emissions.csv waitress-serve --call carbonboard.wsgi:create_server
    CARBONBOARD_FILEPATH=/data/runs gunicorn 'carbonboard.wsgi:create_server()'

``CARBONBOARD_FILEPATH`` holds one or more paths (files, directories, globs) separated by
``os.pathsep`` (``:`` on Linux/macOS, ``;`` on Windows). ``CARBONBOARD_REFRESH_S`` sets how often
pages poll for new data (default 5).
"""

from __future__ import annotations

import os

import flask

from carbonboard.app import create_app

ENV_FILEPATH = "CARBONBOARD_FILEPATH"
ENV_REFRESH = "CARBONBOARD_REFRESH_S"


def create_server() -> flask.Flask:
    """The Flask server of a dashboard over ``$CARBONBOARD_FILEPATH``."""
    value = os.environ.get(ENV_FILEPATH, "")
    paths = [p for p in value.split(os.pathsep) if p]
    if not paths:
        raise RuntimeError(f"set {ENV_FILEPATH} to the emissions CSV(s) to serve")
    refresh_s = float(os.environ.get(ENV_REFRESH, "5"))
    return create_app(paths, refresh_interval_s=refresh_s).server
