"""carbonboard's tracker: measure the energy and CO2 emissions of running code.

Importing this package stays cheap: no pandas, numpy, dash or plotly, and the tracker classes are
imported on first use (``from tracker import EmissionsTracker``).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "EmissionsData",
    "EmissionsTracker",
    "OfflineEmissionsTracker",
    "OutputMethod",
    "__version__",
    "track_emissions",
]

# Name -> module it lives in; CodeCarbon's top-level names plus EmissionsData.
_LAZY = {
    "EmissionsTracker": "tracker.emissions_tracker",
    "OfflineEmissionsTracker": "tracker.emissions_tracker",
    "track_emissions": "tracker.emissions_tracker",
    "OutputMethod": "tracker.output.base",
    "EmissionsData": "tracker.emissions_data",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")
