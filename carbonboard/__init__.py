"""carbonboard: an offline Dash dashboard over the emissions history written by the tracker."""

from tracker import __version__

__all__ = ["__version__"]
