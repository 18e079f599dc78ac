"""Cost classes: what every money figure is, in the format's spelling, and their groups.

A class is written ``pipe-capex`` in the parameters (``objective/use-pipe-capex``) and in line
items, and ``pipe_capex`` in column names (``pv_pipe_capex``, ``fixed_supply_capex``) and the
problem and solution JSON: :attr:`CostClass.column` is the one place the two meet.
"""

from __future__ import annotations

from enum import StrEnum


class CostClass(StrEnum):
    """A cost class; its value is the format's spelling (``pipe-capex``).

    Nine classes are switched by ``objective/use-*`` parameters; ``extra`` (``extra_pv``) always
    counts. The order is that of the ``pv_*`` columns.
    """

    CONNECTION_CAPEX = "connection-capex"
    CONNECTION_REPEX = "connection-repex"
    CONNECTION_OPEX = "connection-opex"
    SUPPLY_CAPEX = "supply-capex"
    SUPPLY_REPEX = "supply-repex"
    SUPPLY_OPEX = "supply-opex"
    PIPE_CAPEX = "pipe-capex"
    PIPE_REPEX = "pipe-repex"
    TARIFFS = "tariffs"
    EXTRA = "extra"

    @property
    def column(self) -> str:
        """The spelling in column names and JSON keys: ``pipe_capex``."""
        return self.name.lower()

    @property
    def switch(self) -> str | None:
        """The parameter field switching the class in the objective: ``use_pipe_capex``.

        None for ``extra``, which always counts.
        """
        return None if self is CostClass.EXTRA else f"use_{self.column}"


SWITCHED = tuple(c for c in CostClass if c is not CostClass.EXTRA)
"""The nine classes the ``objective/use-*`` switches gate."""
CONNECTION = (CostClass.CONNECTION_CAPEX, CostClass.CONNECTION_REPEX, CostClass.CONNECTION_OPEX)
"""A building's connection costs (``connection_cost_pv``)."""
SUPPLY = (CostClass.SUPPLY_CAPEX, CostClass.SUPPLY_OPEX, CostClass.SUPPLY_REPEX)
"""A supply's plant costs (``plant_pv``), in the order of the problem's supply columns."""
PIPE = (CostClass.PIPE_CAPEX, CostClass.PIPE_REPEX)
"""What a laid pipe costs by its diameter."""
PATH = (*PIPE, CostClass.EXTRA)
"""What a used path costs (``cost_pv``): its pipe and its ``extra_pv``."""
