"""carbonboard's tracker: measure the energy and CO2 emissions of running code.

Importing this package stays cheap: no pandas, numpy, dash or plotly, and the tracker classes are
imported on first use (``from tracker import EmissionsTracker``).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["EmissionsTracker", "OfflineEmissionsTracker", "__version__", "track_emissions"]

_LAZY = {"EmissionsTracker", "OfflineEmissionsTracker", "track_emissions"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from tracker import emissions_tracker

        return getattr(emissions_tracker, name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
