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
    "log_metrics",
    "track_emissions",
]

# Name -> module it lives in; CodeCarbon's top-level names plus EmissionsData.
_LAZY = {
    "EmissionsTracker": "tracker.emissions_tracker",
    "OfflineEmissionsTracker": "tracker.emissions_tracker",
    "track_emissions": "tracker.emissions_tracker",
    "log_metrics": "tracker.emissions_tracker",
    "OutputMethod": "tracker.output.base",
    "EmissionsData": "tracker.emissions_data",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tracker' has no attribute {name!r}")


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext tracker`` in IPython or Jupyter: registers ``%%carbon``, ``%carbon_start``
    and ``%carbon_stop`` (see :mod:`tracker.jupyter`; IPython is imported only then)."""
    from tracker.jupyter import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext tracker``: a notebook session still measured is stopped and written."""
    from tracker.jupyter import unload_ipython_extension as unload

    unload(shell)
