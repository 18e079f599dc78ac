"""Stage 5, outputs: from a solution back to GIS layers and the format's output tables.

- :func:`~heatnet.outputs.results.results`: the updated layers, ``cashflow``,
  ``solution_summary`` and ``infeasible_reasons``, every money figure from one set of line items;
- :func:`~heatnet.outputs.gpkg.write_layers`: the atomic GeoPackage write, with the default
  QGIS styles of :mod:`~heatnet.outputs.styles`;
- :mod:`heatnet.outputs.solution_json`: the solution's JSON form (``heatnet solve``).
"""

from heatnet.outputs.gpkg import write_layers
from heatnet.outputs.results import Results, RunInfo, results

__all__ = ["Results", "RunInfo", "results", "write_layers"]
