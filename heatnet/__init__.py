"""heatnet: design district-heating networks from GIS data.

The public API is the stage functions and the pipeline that chains them; the command line
(`heatnet ...`) is a thin shell over :mod:`heatnet.pipeline`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("heatnet")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
