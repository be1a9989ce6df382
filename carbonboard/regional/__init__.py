"""Where should this have run? The selection's energy replayed on other grids and cloud regions.

Everything here is pure: runs and static intensity tables in, small DataFrames, sentences and
``go.Figure`` out (see docs/comparisons.md for the assumptions).

* :mod:`~carbonboard.regional.baseline`: the selection reduced to energy per location, once;
* :mod:`~carbonboard.regional.tables`: the static grid and cloud tables, and the same energy
  replayed on them (rankings, savings);
* :mod:`~carbonboard.regional.text`: the summary, recommendation and assumptions sentences;
* :mod:`~carbonboard.regional.figures`: the charts;
* :mod:`~carbonboard.regional.views`: every view by name, for the dashboard's tab and the report.
"""
