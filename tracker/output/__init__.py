"""Where rows go: the output interface and its outputs, and writing CSV rows safely (file locks,
header migration, fallback location, crash checkpoints). ``BaseOutput``, ``LoggerOutput``,
``EmissionsData`` and ``OutputMethod`` are importable from here as from ``codecarbon.output``."""

from tracker.emissions_data import EmissionsData
from tracker.output.base import BaseOutput, OutputMethod
from tracker.output.checkpoint import Checkpoint, recover_crashed, runs_dir
from tracker.output.csv_file import (
    ForeignFileError,
    append_row,
    format_value,
    migrate,
    read_header,
    sibling_path,
)
from tracker.output.fallback import append_with_fallback, fallback_dirs, fallback_name
from tracker.output.lock import lock_path, locked
from tracker.output.logger import LoggerOutput

__all__ = [
    "BaseOutput",
    "Checkpoint",
    "EmissionsData",
    "ForeignFileError",
    "LoggerOutput",
    "OutputMethod",
    "append_row",
    "append_with_fallback",
    "fallback_dirs",
    "fallback_name",
    "format_value",
    "lock_path",
    "locked",
    "migrate",
    "read_header",
    "recover_crashed",
    "runs_dir",
    "sibling_path",
]
