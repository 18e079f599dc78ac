"""A priced forest's pipe loads, and the exact cost of any of its edges at any load.

Local search (:mod:`heatnet.optimise.local`) estimates every move from these: a table lookup
per edge and load instead of sizing and pricing a pipe.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import numpy as np

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.optimise.steiner import Priced, Pricer
from heatnet.problem.definition import PIPE_CLASSES


class Loads:
    """A priced design's pipe loads, and the exact cost of any edge at any load.

    The cost of edge i at a load is a table lookup: the catalogue sorted by capacity, and per
    edge and per first pipe that carries the load, the pipe exact sizing would lay
    (:meth:`heatnet.optimise.prepare.PipePrices.size`: the cheapest that carries it, the
    largest if none does), priced with its heat losses bought at the supply.
    """

    def __init__(self, pricer: Pricer, priced: Priced) -> None:
        data = pricer.data
        p = data.problem
        prices = data.prices
        self.row = {str(e): i for i, e in enumerate(p.edges.index)}
        w = pricer.weights
        length = p.edges["length_m"].to_numpy(float)
        extra = p.edges["extra_pv"].to_numpy(float) * w.get("extra", 1.0)
        per_kwh = data.supplies["per_kwh"].to_numpy(float)
        built = priced.design.supplies["in_network"].to_numpy(bool)
        bought = per_kwh[built] if built.any() else per_kwh
        heat = float(-bought.mean()) * HOURS_PER_YEAR if len(bought) else 0.0
        loss_kw = (
            length[:, None] / 1000.0 * p.catalogue.loss_at_diameter(prices.diameter_mm)[None, :]
        )
        order = np.argsort(prices.capacity_kw, kind="stable")
        self.capacity = prices.capacity_kw[order].tolist()
        total = np.add.reduce([prices.new[c] for c in PIPE_CLASSES])[:, order]
        weighted = np.add.reduce([w[c] * prices.new[c] for c in PIPE_CLASSES])
        cost = (loss_kw * heat - weighted)[:, order]
        # the pipe laid for loads above the j-th capacity: the cheapest of those from j on
        n = len(order)
        pick = np.empty((len(length), n + 1), dtype=np.int64)
        pick[:, n] = n - 1  # beyond the largest: the largest
        best = np.full(len(length), n - 1)
        for j in range(n - 1, -1, -1):
            better = total[:, j] >= total[np.arange(len(length)), best]
            best = np.where(better, j, best)
            pick[:, j] = best
        laid = np.take_along_axis(cost, pick, axis=1)
        laid[length <= 0] = 0.0
        laid -= extra[:, None]
        self.table: list[list[float]] = laid.tolist()
        self.columns: list[list[float]] = laid.T.tolist()
        """``table`` by column: the cost of every edge at one catalogue step."""
        old_loss = (
            length
            / 1000.0
            * p.catalogue.loss_at_diameter(
                np.nan_to_num(prices.existing_mm, nan=float(prices.diameter_mm[0]))
            )
        )
        keep = old_loss * heat - np.add.reduce([w[c] * prices.existing[c] for c in PIPE_CLASSES])
        self.existing_kw: list[float] = np.nan_to_num(prices.existing_kw, nan=-np.inf).tolist()
        self.keep: list[float] = (np.where(length > 0, keep, 0.0) - extra).tolist()
        self.extra: list[float] = (-extra).tolist()
        self.arc_row = {a: self.row[e] for a, e in pricer.arc_edge.items()}
        self.into = {
            h: [(t, a, self.arc_row[a]) for t, a in arcs] for h, arcs in pricer.into.items()
        }
        """Per head vertex: (tail, arc, edge row) of every arc into it."""
        e = priced.design.edges.reindex(p.edges.index)  # by row; NaN off the design
        self.flow_row: list[float] = e["flow_kw"].fillna(0.0).to_numpy(float).tolist()
        """Undiversified peak on each edge's pipe (0 where none)."""
        self.delta_row: list[float] = e["diversity"].fillna(1.0).to_numpy(float).tolist()
        """Each edge's pipe diversity (1 where none)."""
        self.now = {
            a: self.at(pricer.arc_edge[a], self.load(pricer.arc_edge[a], 0.0))
            for a in priced.tree.arc.values()
        }

    def load(self, edge: str, more_kw: float) -> float:
        """The diversified load of a tree edge carrying ``more_kw`` more undiversified peak."""
        i = self.row[edge]
        return self.delta_row[i] * max(self.flow_row[i] + more_kw, 0.0)

    def at(self, edge: str, kw: float) -> float:
        """The exact cost (positive) of edge ``edge``'s pipe carrying ``kw``."""
        i = self.row[edge]
        if kw <= 0:
            return self.extra[i]
        if self.existing_kw[i] >= kw - 1e-9:
            return self.keep[i]
        return self.table[i][bisect.bisect_left(self.capacity, kw - 1e-9)]

    def by_row(self) -> Callable[[int, float], float]:
        """:meth:`at` by edge row (``row``), for the search's hot loops."""
        extra, existing, keep, table = self.extra, self.existing_kw, self.keep, self.table
        capacity, step = self.capacity, bisect.bisect_left

        def cost(i: int, kw: float) -> float:
            if kw <= 0:
                return extra[i]
            least = kw - 1e-9
            if existing[i] >= least:
                return keep[i]
            return table[i][step(capacity, least)]

        return cost

    def column(self, kw: float) -> tuple[list[float], float]:
        """One load's costs by edge row, and the least existing capacity that carries it.

        The cost of row i at ``kw`` is ``keep[i]`` if ``existing_kw[i]`` is at least the second
        figure, else the list's i-th (so :meth:`at` for every edge at one load).
        """
        if kw <= 0:
            return self.extra, math.inf
        return self.columns[bisect.bisect_left(self.capacity, kw - 1e-9)], kw - 1e-9
