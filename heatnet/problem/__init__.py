"""Stage 3, the problem: what the optimiser needs, with no geometry.

- :class:`~heatnet.problem.definition.Problem`: the graph, the money each element is worth,
  the pipe catalogue and the parameters;
- :func:`~heatnet.problem.from_network.network_problem`: built from the inputs and their network;
- :mod:`heatnet.problem.json_form`: its JSON form (``heatnet problem`` / ``heatnet solve``).
"""

from heatnet.problem.definition import Problem
from heatnet.problem.from_network import network_problem
from heatnet.problem.json_form import read_problem, write_problem

__all__ = ["Problem", "network_problem", "read_problem", "write_problem"]
