"""WSGI entry point for running the dashboard under a WSGI server of your choice.

    export CARBONBOARD_FILEPATH=/data/emissions.csv
    waitress-serve --listen=127.0.0.1:3333 --call carbonboard.wsgi:create_server
    gunicorn -b 127.0.0.1:3333 'carbonboard.wsgi:create_server()'

Name the address to listen on: ``waitress-serve`` alone listens on every interface.

``CARBONBOARD_FILEPATH`` holds one or more paths (files, directories, globs) separated by
``os.pathsep`` (``:`` on Linux/macOS, ``;`` on Windows). ``CARBONBOARD_REFRESH_S`` sets how often
pages poll for new data (default 5). ``CARBONBOARD_ALLOWED_HOSTS`` lists, comma-separated, the
host names browsers use to reach the server besides the loopback ones (e.g. the machine's name
behind a reverse proxy): requests naming any other host are refused with a 400.
"""

from __future__ import annotations

import os

import flask

from carbonboard.app import create_app
from carbonboard.data.store import HistoryStore

ENV_FILEPATH = "CARBONBOARD_FILEPATH"
ENV_REFRESH = "CARBONBOARD_REFRESH_S"
ENV_ALLOWED_HOSTS = "CARBONBOARD_ALLOWED_HOSTS"


def create_server() -> flask.Flask:
    """The Flask server of a dashboard over ``$CARBONBOARD_FILEPATH``."""
    value = os.environ.get(ENV_FILEPATH, "")
    paths = [p for p in value.split(os.pathsep) if p]
    if not paths:
        raise RuntimeError(f"set {ENV_FILEPATH} to the emissions CSV(s) to serve")
    refresh_s = float(os.environ.get(ENV_REFRESH, "5"))
    allowed = [name for name in os.environ.get(ENV_ALLOWED_HOSTS, "").split(",") if name.strip()]
    source = HistoryStore.from_arguments(paths, cache_in_background=True)
    return create_app(source, refresh_interval_s=refresh_s, allowed_hosts=allowed).server
