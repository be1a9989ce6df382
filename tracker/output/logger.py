"""The logger output: each row as one JSON message on a ``logging.Logger`` of the program's.

CodeCarbon's ``save_to_logger=True, logging_logger=LoggerOutput(logger)``: the program routes
the messages where it likes (a file, a log collector). Rows are sent on flush, on the final row and
on each live update, as CodeCarbon's ``LoggerOutput`` does.
"""

from __future__ import annotations

import json
import logging

from tracker.emissions_data import EmissionsData
from tracker.output.base import BaseOutput


class LoggerOutput(BaseOutput):
    """Logs each row's fields as a JSON object on ``logger`` at ``severity``."""

    def __init__(self, logger: logging.Logger, severity: int = logging.INFO) -> None:
        self.logger = logger
        self.logging_severity = severity

    def _log(self, data: EmissionsData) -> None:
        self.logger.log(self.logging_severity, json.dumps(data.values))

    live = flushed = finished = _log
