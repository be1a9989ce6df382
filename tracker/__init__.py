"""carbonboard's tracker: measure the energy and CO2 emissions of running code.

Importing this package stays cheap: no pandas, numpy, dash or plotly.
"""

__version__ = "0.1.0"
