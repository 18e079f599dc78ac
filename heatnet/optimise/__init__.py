"""Stage 4, optimise: choose buildings, pipes, diameters and supplies to maximise NPV, proven.

In the order a solve runs:

- :mod:`~heatnet.optimise.prepare`: the numbers the MIP needs, from a problem (no Pyomo);
  with :mod:`~heatnet.optimise.flow_bounds` (flow bounds per arc) and
  :mod:`~heatnet.optimise.envelope` (the pipe price envelope and loss cuts);
- :mod:`~heatnet.optimise.build`: the Pyomo model, one builder per component;
- :mod:`~heatnet.optimise.highs`: the one place that talks to HiGHS;
- :mod:`~heatnet.optimise.heuristic`: a constructive start design;
- :mod:`~heatnet.optimise.evaluate`: a design priced exactly and checked;
- :mod:`~heatnet.optimise.tune`: correct diversity and loss parameters between solves;
- :mod:`~heatnet.optimise.proof`: bounds, gap and state;
- :mod:`~heatnet.optimise.infeasible`: why a problem has no design;
- :mod:`~heatnet.optimise.loop`: the search that chains them, :func:`optimise`.
"""

from heatnet.optimise.loop import optimise
from heatnet.optimise.solution import Solution

__all__ = ["Solution", "optimise"]
