"""Writing rows safely: file locks, header migration, fallback location, crash checkpoints."""

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

__all__ = [
    "Checkpoint",
    "ForeignFileError",
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
