"""Topology: from validated buildings, paths and supplies to a clean network graph.

:func:`build_network` nodes the paths, connects buildings and supplies, builds the graph, marks
unreachable and peripheral elements and reduces the graph for the optimiser. It does no I/O and
keeps no state; every output row traces back to an input row (``source_fid``).
"""

from heatnet.topology.build import Network, build_network
from heatnet.topology.graph import ModelGraph

__all__ = ["ModelGraph", "Network", "build_network"]
