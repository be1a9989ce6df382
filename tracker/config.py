"""Tracker settings: one table of names, types and defaults, resolved from five places.

Precedence, highest first: constructor arguments, environment variables (``CARBONBOARD_<NAME>``,
then CodeCarbon's ``CODECARBON_<NAME>``), the project config file (``./.carbonboard.config``
section ``[carbonboard]``, then ``./.codecarbon.config`` section ``[codecarbon]``), the user config
file (the same two names in the home folder), then the defaults below. Invalid values raise
``ValueError`` naming the setting and where the value came from, when the tracker is created.
A setting's former name (:data:`ALIASES`, CodeCarbon's ``co2_signal_api_token``) works in every
place; where a place gives both names, the current one wins.
"""

from __future__ import annotations

import configparser
import logging
import math
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRACKING_MODES = ("machine", "process")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# (environment variable prefix, config file name, config section), in precedence order.
ENV_PREFIXES = ("CARBONBOARD_", "CODECARBON_")
CONFIG_FILES = ((".carbonboard.config", "carbonboard"), (".codecarbon.config", "codecarbon"))
# Former names -> the setting they name now, accepted as arguments, environment variables and
# config file keys alike (see :func:`_by_setting`).
ALIASES = {"co2_signal_api_token": "electricitymaps_api_token"}
# What a credential shows instead of its value in a repr, an error or a log line.
SECRET_MASK = "***"


def is_secret(name: str) -> bool:
    """Settings holding a credential (an API token or key): never shown, since settings end up
    in logs, tracebacks and bug reports."""
    return name.endswith(("_token", "api_key", "_secret", "_password"))


def shown_url(url: str) -> str:
    """``url`` as logs and reprs show it: without a user, password or query string, where
    credentials hide. Never raises: a URL too malformed to take apart (a port out of range, an
    unclosed IPv6 bracket) shows as its scheme and a mask, nothing of what followed."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://{SECRET_MASK} (malformed)" if scheme else f"{SECRET_MASK} (malformed)"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def shown_value(name: str, value: Any) -> str:
    """A setting's value as reprs, errors and logs show it: credentials masked, URLs stripped
    of theirs."""
    if is_secret(name) and value:
        return SECRET_MASK
    if name.endswith(("_endpoint", "_url")) and isinstance(value, str) and value:
        return repr(shown_url(value))
    return repr(value)


@dataclass(frozen=True)
class Settings:
    """Every setting a tracker reads, with its default."""

    project_name: str = "default"
    experiment_id: str | None = None
    measure_power_secs: float = 15.0
    output_dir: str = "."
    output_file: str = "emissions.csv"
    save_to_file: bool = True
    gpu_ids: tuple[int | str, ...] | None = None
    tracking_mode: str = "machine"
    log_level: str = "info"
    pue: float = 1.0
    wue: float = 0.0
    force_cpu_power: float | None = None
    force_ram_power: float | None = None
    force_carbon_intensity_g_co2e_kwh: float | None = None
    country_iso_code: str | None = None
    region: str | None = None
    cloud_provider: str | None = None
    cloud_region: str | None = None
    electricitymaps_api_token: str | None = None
    offline: bool = False
    # CodeCarbon 3.3's options, same names and defaults.
    experiment_name: str | None = None
    on_csv_write: str = "append"  # "update": one row per run, replaced by each flush
    api_call_interval: int = 8  # live updates to outputs every N measures; -1: none
    emissions_endpoint: str | None = None  # rows POSTed there as JSON
    database_url: str | None = None  # the team's PostgreSQL (tracker.db.output)
    save_to_logger: bool = False
    logger_preamble: str = ""
    allow_multiple_runs: bool = True
    force_mode_cpu_load: bool = False
    rapl_include_dram: bool = False
    rapl_prefer_psys: bool = False
    # Prometheus (the prometheus extra): /metrics while the run lasts, a node_exporter textfile,
    # and CodeCarbon's push gateway options (same names and default URL).
    prometheus_port: int | None = None
    prometheus_host: str = "127.0.0.1"
    prometheus_textfile_dir: str | None = None
    save_to_prometheus: bool = False
    prometheus_url: str = "localhost:9091"

    @property
    def output_path(self) -> Path:
        return Path(self.output_dir) / self.output_file

    def __repr__(self) -> str:
        """The dataclass repr, credentials masked (see :func:`is_secret`)."""
        shown = (f"{f.name}={shown_value(f.name, getattr(self, f.name))}" for f in fields(self))
        return f"Settings({', '.join(shown)})"


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise ValueError(f"{value!r} is not a boolean (true/false)")


def _parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    number = float(value)  # ValueError on text that is not a number
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _parse_int(value: Any) -> int:
    number = _parse_float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _parse_str(value: Any) -> str:
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value).strip()


def _parse_gpu_ids(value: Any) -> tuple[int | str, ...]:
    """``0,1`` or ``[0, 1]``: indices as ints, anything else (a GPU UUID) as text."""
    items = value.split(",") if isinstance(value, str) else list(value)
    ids = [str(item).strip() for item in items]
    return tuple(int(i) if i.isdigit() else i for i in ids if i)


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "str": _parse_str,
    "float": _parse_float,
    "int": _parse_int,
    "bool": _parse_bool,
    "tuple[int | str, ...]": _parse_gpu_ids,
}
# Field name -> parser, from each field's annotation with its "| None" removed.
PARSERS: dict[str, Callable[[Any], Any]] = {
    f.name: _PARSERS[str(f.type).removesuffix(" | None")] for f in fields(Settings)
}
NAMES: tuple[str, ...] = tuple(PARSERS)


def _by_setting(values: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """setting -> (the name it was given under, its value), for the values one place gives: a
    former name (:data:`ALIASES`) stands for its setting unless that place also gives the
    current name, which then wins. Precedence between places is left to :func:`resolve`."""
    chosen: dict[str, tuple[str, Any]] = {}
    for name, value in values.items():
        setting = ALIASES.get(name, name)
        if setting not in chosen or name == setting:
            chosen[setting] = (name, value)
    return chosen


def _read_config(path: Path, section: str) -> dict[str, str]:
    """The settings a config file's section sets; an unreadable file is logged and skipped."""
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error) as error:
        log.warning("ignoring config file %s: %s", path, error)
        return {}
    if not parser.has_section(section):
        return {}
    values = dict(parser.items(section))
    known = {*NAMES, *ALIASES}
    for unknown in sorted(set(values) - known):
        log.debug("config file %s: setting %r is not used by this tracker", path, unknown)
    given = {name: value for name, value in values.items() if name in known}
    return {setting: value for setting, (_, value) in _by_setting(given).items()}


def _layers(environ: Mapping[str, str], cwd: Path, home: Path) -> list[tuple[str, dict[str, Any]]]:
    """(origin, values) for every place below the constructor, highest precedence first."""
    layers: list[tuple[str, dict[str, Any]]] = []
    for prefix in ENV_PREFIXES:
        given = {
            name: environ[prefix + name.upper()]
            for name in (*NAMES, *ALIASES)
            if environ.get(prefix + name.upper(), "") != ""
        }
        for setting, (name, value) in _by_setting(given).items():
            layers.append((f"environment variable {prefix}{name.upper()}", {setting: value}))
    folders = [cwd] if cwd.resolve() == home.resolve() else [cwd, home]
    for folder in folders:
        for file_name, section in CONFIG_FILES:
            path = folder / file_name
            values = _read_config(path, section)
            if values:
                layers.append((f"config file {path}", values))
    return layers


def resolve(
    arguments: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
) -> Settings:
    """The settings in force: ``arguments`` (``None`` means "not given"; a former name of
    :data:`ALIASES` counts for its setting) over the environment, the config files and the
    defaults. Raises ``ValueError`` for an invalid value."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    home = Path(environ.get("HOME") or Path.home()) if home is None else home
    unknown = set(arguments) - set(NAMES) - set(ALIASES)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    passed = _by_setting({k: v for k, v in arguments.items() if v is not None})
    given = [("argument", {setting: value for setting, (_, value) in passed.items()})]
    chosen: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, values in [*given, *_layers(environ, cwd, home)]:
        for name, value in values.items():
            if name in chosen:
                continue
            try:
                chosen[name] = PARSERS[name](value)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{name} from {origin}: {error}") from None
            origins[name] = origin
            _check(name, chosen[name], origin)
    settings = replace(Settings(), **chosen)
    _check_output_place(settings, origins, cwd, home)
    _check_destinations(origins, cwd, home)
    return settings


def _project_origins(cwd: Path, home: Path) -> set[str]:
    """The origins of the config files found in the working folder (when it is not the home
    folder): anyone can leave one there, in a cloned repository or an unpacked archive."""
    if cwd.resolve() == home.resolve():
        return set()
    return {f"config file {cwd / file_name}" for file_name, _ in CONFIG_FILES}


def _check_output_place(
    settings: Settings, origins: Mapping[str, str], cwd: Path, home: Path
) -> None:
    """A config file in the working folder may not choose where outside it the tracker writes.

    When it sets ``output_dir`` or ``output_file``, the output (symlinks resolved) must be a
    ``.csv`` file inside the working folder or the home folder, with no hidden part on the way
    (``~/.bashrc``, ``~/.config/...``, ``./.git/...``). Anything else is a ``ValueError``:
    writing elsewhere takes an argument, an environment variable or the user's own config file.
    """
    untrusted = _project_origins(cwd, home)
    names = [n for n in ("output_dir", "output_file") if origins.get(n) in untrusted]
    if not names:
        return
    target = (cwd / settings.output_path).resolve()
    problem = ""
    inside = [
        target.relative_to(root)
        for root in (cwd.resolve(), home.resolve())
        if target.is_relative_to(root)
    ]
    if not inside:
        problem = "it is outside the working folder and the home folder"
    elif any(part.startswith(".") for part in inside[0].parts):
        problem = "it is a hidden file or inside a hidden folder"
    elif target.suffix.lower() != ".csv":
        problem = "it is not a .csv file"
    if problem:
        where = " and ".join(f"{n} from {origins[n]}" for n in names)
        raise ValueError(
            f"refusing to write to {target} ({where}): {problem}. A config file in the working "
            "folder may only name a .csv file inside it or inside the home folder; pass "
            "output_dir / output_file as an argument, an environment variable or in the home "
            "folder's config file to write there"
        )


# Settings that send the rows off this machine or expose them: a config file in the working folder
# (anyone's, in a cloned repository) may not choose them.
DESTINATIONS = (
    "database_url",
    "emissions_endpoint",
    "prometheus_url",
    "prometheus_host",
    "prometheus_textfile_dir",
)


def _check_destinations(origins: Mapping[str, str], cwd: Path, home: Path) -> None:
    """A config file in the working folder may not send runs to a database, an HTTP endpoint or
    a push gateway, nor open the metrics port to the network: a cloned repository would
    otherwise report its user's runs (project names, host, location) to whoever wrote it."""
    untrusted = _project_origins(cwd, home)
    names = [name for name in DESTINATIONS if origins.get(name) in untrusted]
    if names:
        where = ", ".join(f"{name} from {origins[name]}" for name in names)
        raise ValueError(
            f"refusing {where}: a config file in the working folder may not choose where runs "
            "are sent; pass it as an argument, an environment variable or in the home folder's "
            "config file"
        )


# Numeric settings: (lowest, highest, why). The upper bounds are far above any real value, so
# they only catch a unit mistake (milliseconds for seconds, a percentage for a ratio).
BOUNDS: dict[str, tuple[float, float, str]] = {
    # Each interval reads every source and fsyncs a checkpoint: 20 a second is already plenty,
    # and a crash loses at most one interval, so more than a day defeats crash safety.
    "measure_power_secs": (0.05, 86_400.0, "seconds: 50 ms to one day"),
    # No data centre uses less energy than its IT load; none reported uses 5 times more.
    "pue": (1.0, 5.0, "a ratio: 1.2 means 20 % overhead"),
    "wue": (0.0, 20.0, "litres per kWh; real sites report 0 to about 2"),
    "force_cpu_power": (0.0, 10_000.0, "watts for this machine's CPUs"),
    "force_ram_power": (0.0, 10_000.0, "watts for this machine's RAM"),
    # The most carbon-intensive grids and fuels (lignite) stay under about 1,300 g/kWh.
    "force_carbon_intensity_g_co2e_kwh": (0.0, 2_000.0, "gCO2e per kWh"),
    "prometheus_port": (1, 65_535, "a TCP port"),
}


def _check(name: str, value: Any, origin: str) -> None:
    """Range checks: a wrong value is a clear error now, not a silently wrong figure later."""
    problem = ""
    if name in BOUNDS and not BOUNDS[name][0] <= value <= BOUNDS[name][1]:
        low, high, why = BOUNDS[name]
        problem = f"must be between {low:g} and {high:g} ({why})"
    elif name == "tracking_mode" and value not in TRACKING_MODES:
        problem = f"must be one of {', '.join(TRACKING_MODES)}"
    elif name == "log_level" and value.lower() not in LOG_LEVELS:
        problem = f"must be one of {', '.join(LOG_LEVELS)}"
    elif name == "on_csv_write" and value not in ("append", "update"):
        problem = "must be append or update"
    elif name == "api_call_interval" and value != -1 and value < 1:
        problem = "must be >= 1 (measures between live updates), or -1 for none"
    elif name == "database_url" and not value.startswith(("postgresql://", "postgres://")):
        problem = "must be a postgresql:// URL"
    elif name in ("project_name", "output_file") and not value:
        problem = "must not be empty"
    if problem:
        raise ValueError(f"{name} {problem}, got {shown_value(name, value)} (from {origin})")
