"""Pendant trees priced exactly: cuts that bound what a tree hanging off the network is worth.

Most of a street network's edges can lie on *pendant trees*: parts that hang off the rest by a
single vertex and contain no supply (on the district sample 276 of its 427 edges are bridges).
Heat enters such a tree only through its root arc a = p → v, and every design feeds it along
the tree's unique paths, so its pipes' loads follow from which of its buildings connect. The
MIP's LP relaxation does not see that: it prices each pipe on the chord of its concave price
over every load the edge could carry (docs/bounds.md, "Where the gap comes from").

For every arc a into a pendant subtree T (the subtree below v, with a's own edge), a dynamic
programme over T computes g(P): the most T's own objective terms (its buildings' values, its
pipes' PVs) can be worth in any design whose undiversified peak into T is P, every pipe priced
as exact sizing would price it at the least load a design can put on it
(``delta`` × undiversified peak beyond it, at least the given peak of a building it enters).
Its least concave majorant, as lines ``icpt_j + slope_j·P``, gives the valid inequalities

    Σ_{b ∈ T} value_b·dvin[b] + Σ_{e ∈ T} pv_e ≤ icpt_j + slope_j·fp[a]     (every j).

Every design satisfies them at its own exact prices, so adding them keeps the MIP a relaxation
of exact pricing (docs/bounds.md): they cut off fractional points, and integer points that
price a pipe below exact sizing, never a design.

Loads are counted on a grid of ``h`` kW per tree (each building's peak rounded *down* to it),
so g is computed on a coarser, more optimistic problem: loads are never overstated, prices
(nondecreasing in load) never too high, and the cut stays valid. The value tables are max-plus
convolutions over each vertex's items (its buildings, the subtrees of its child edges), kept in
two versions: any configuration, and those that connect something (only they lay the edge
above).
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.optimise.indices import Indices
from heatnet.optimise.prepare import ModelData

log = logging.getLogger(__name__)

CELLS = 4000
"""Load grid cells per pendant tree (its whole undiversified peak); finer is tighter and slower."""

Table = NDArray[np.float64]
NONE = -np.inf


@dataclass(frozen=True, slots=True)
class PendantCut:
    """``Σ value_b·dvin[b] + Σ pv_e ≤ intercept[j] + slope[j]·fp[arc]`` for every j.

    ``edges``: the subtree's edges, the arc's own first; ``buildings``: the buildings drawn in
    it (those that can connect). The same sum, recursively: the arc's own edge, ``own`` (the
    buildings drawn at the vertex it enters) and the sums of the cuts ``children`` (indices in
    the list :func:`pendant_cuts` returns, always before this one); a subtree heat cannot enter
    has no cut and adds nothing to any design.
    """

    arc: str
    edges: tuple[str, ...]
    buildings: tuple[str, ...]
    intercept: tuple[float, ...]
    slope: tuple[float, ...]
    own: tuple[str, ...] = ()
    children: tuple[int, ...] = ()


def _convolve(a: Table, b: Table) -> Table:
    """Max-plus convolution: out[k] = max_{i+j=k} a[i] + b[j]."""
    if len(a) < len(b):
        a, b = b, a
    out = np.full(len(a) + len(b) - 1, NONE)
    for j in np.flatnonzero(np.isfinite(b)):
        np.maximum(out[j : j + len(a)], a + b[j], out=out[j : j + len(a)])
    return out


def _upper_hull(xs: NDArray[np.float64], ys: NDArray[np.float64]) -> list[tuple[float, float]]:
    """Lines (intercept, slope) of the least concave majorant of points sorted by x."""
    hull: list[int] = []
    for k in range(len(xs)):
        while len(hull) >= 2:
            i, j = hull[-2], hull[-1]
            # drop j if it lies on or below the segment i → k
            if (ys[j] - ys[i]) * (xs[k] - xs[i]) <= (ys[k] - ys[i]) * (xs[j] - xs[i]):
                hull.pop()
            else:
                break
        hull.append(k)
    lines = []
    for i, j in itertools.pairwise(hull):
        slope = (ys[j] - ys[i]) / (xs[j] - xs[i])
        if slope < 0:  # the points are nondecreasing; rounding only
            slope = 0.0
        lines.append((float(ys[i] - slope * xs[i]), float(slope)))
    flat = (float(ys[hull[-1]]), 0.0)  # beyond the most the tree is worth
    if not lines or lines[-1] != flat:
        lines.append(flat)
    return lines


def _pendant_forest(data: ModelData) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Peel non-supply leaves: the peeled vertices (leaves first) and each one's (parent, edge)."""
    supplies = set(map(str, data.supplies.index))
    incident: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for eid, u, v in zip(data.edges.index, data.edges["u"], data.edges["v"], strict=True):
        u, v = str(u), str(v)
        incident[u].append((str(eid), v))
        incident[v].append((str(eid), u))  # a self-loop counts twice: never peeled
    degree = {v: len(ends) for v, ends in incident.items()}
    removed: set[str] = set()
    queue = [v for v, d in degree.items() if d == 1 and v not in supplies]
    order: list[str] = []
    parent: dict[str, tuple[str, str]] = {}
    while queue:
        v = queue.pop()
        if v in removed or degree[v] != 1:
            continue
        eid, p = next((e, o) for e, o in incident[v] if o not in removed)
        removed.add(v)
        order.append(v)
        parent[v] = (p, eid)
        degree[p] -= 1
        if degree[p] == 1 and p not in supplies and p not in removed:
            queue.append(p)
    return order, parent


def heat_price(data: ModelData) -> float:
    """The least objective PV a kW of heat lost all year costs (at the cheapest supply), ≥ 0."""
    per_kwh = data.supplies["per_kwh"].to_numpy(float)
    if not len(per_kwh):
        return 0.0
    return max(0.0, float(-per_kwh.max()) * HOURS_PER_YEAR)


def pendant_cuts(
    data: ModelData, idx: Indices, *, price: float = 0.0, cells: int = CELLS
) -> list[PendantCut]:
    """The cuts of every arc into a pendant subtree (module docstring).

    ``price`` (¤ per kW lost all year, ≥ 0) puts the subtree's heat losses into the cut:
    Σ value·dvin + Σ pv − price·Σ lost ≤ icpt + slope·fp (every design pays at least that for
    the heat its pipes lose).
    """
    if data.edges.empty:
        return []
    order, parent = _pendant_forest(data)
    prices = _Prices.of(data, price)
    peak = {str(k): float(v) for k, v in data.buildings["peak_kw"].items()}
    value = {str(k): float(v) for k, v in data.buildings["value"].items()}
    # each tree's grid: its whole peak over ``cells`` (a root's parent was not peeled)
    peeled = set(order)
    root_of: dict[str, str] = {}
    for v in reversed(order):  # parents before children
        p = parent[v][0]
        root_of[v] = root_of[p] if p in peeled else v
    total: dict[str, float] = defaultdict(float)
    for v in order:
        total[root_of[v]] += sum(peak[x] for x in _buildings_at(v, idx, prices))
    arc_to = {(idx.tail[a], idx.head[a]): a for a in idx.edge_of}
    items: dict[str, list[Table]] = defaultdict(list)  # by vertex: its children's edge tables
    child_cuts: dict[str, list[int]] = defaultdict(list)  # by vertex: its children's cuts
    below: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    cuts: list[PendantCut] = []
    for v in order:  # leaves first: a vertex's children are done before it
        h = max(total[root_of[v]], 1e-9) / cells
        edges, buildings = below.pop(v, ([], []))
        mine = []
        own = _buildings_at(v, idx, prices)
        for x in own:
            item = np.full(int(peak[x] // h) + 1, NONE)
            item[-1] = value[x]
            mine.append(item)
            buildings.append(x)
        some = np.full(1, NONE)  # configurations connecting something, by load cell
        for item in [*mine, *items.pop(v, [])]:
            anything = some.copy()
            anything[0] = max(anything[0], 0.0)  # or nothing, worth 0 at load 0
            joined = _convolve(anything, item)
            some = np.maximum(_pad(some, len(joined)), joined)
        p, eid = parent[v]
        edges = [eid, *edges]
        up = below[p]
        up[0].extend(edges)
        up[1].extend(buildings)
        arc = arc_to.get((p, v))
        table = prices.edge_table(v, eid, some, h)
        if arc is None or not np.isfinite(table).any():
            continue  # heat cannot enter the subtree
        items[p].append(table)
        child_cuts[p].append(len(cuts))
        cut = _cut(arc, edges, buildings, table, h)
        cuts.append(replace(cut, own=tuple(own), children=tuple(child_cuts.pop(v, ()))))
    log.debug("pendant cuts: %d arcs, %d lines", len(cuts), sum(len(c.slope) for c in cuts))
    return cuts


def _buildings_at(v: str, idx: Indices, prices: _Prices) -> list[str]:
    return [x for x in idx.hosted.get(v, ()) if x in prices.usable]


def _pad(table: Table, n: int) -> Table:
    return np.concatenate([table, np.full(n - len(table), NONE)]) if len(table) < n else table


@dataclass(frozen=True, slots=True)
class _Prices:
    """What a pipe is worth by its load, per edge, as the cuts price it."""

    capacity: NDArray[np.float64]
    steps: dict[str, NDArray[np.float64]]
    have: dict[str, float]
    keep: dict[str, float]
    delta: dict[str, float]
    given: dict[str, float]
    usable: frozenset[str]

    @classmethod
    def of(cls, data: ModelData, price: float) -> _Prices:
        e, b, cat = data.edges, data.buildings, data.problem.catalogue
        ids = list(map(str, e.index))
        keep_loss = cat.loss_at_diameter(e["existing_diameter_mm"].to_numpy(float))
        keep_loss = np.asarray(keep_loss, float) * e["length_m"].to_numpy(float) / 1000.0
        # what the pipe exact sizing lays for a load is worth, less its loss at ``price``; a
        # larger load never gets more (the best of every step from there up), so pricing a
        # design's pipes at loads below their own never prices them too low
        steps = {
            i: np.maximum.accumulate(
                (np.asarray(pv, float) - price * np.asarray(lost, float))[::-1]
            )[::-1]
            for i, pv, lost in zip(ids, e["step_pv"], e["step_loss"], strict=True)
        }
        return cls(
            np.asarray(cat.capacity_kw, dtype=float),
            steps,
            dict(zip(ids, e["existing_kw"].to_numpy(float), strict=True)),
            dict(zip(ids, e["existing_fixed"].to_numpy(float) - price * keep_loss, strict=True)),
            {str(k): float(v) for k, v in data.delta.items()},
            {str(k): float(v) for k, v in b["given_peak_kw"].items()},
            frozenset(str(k) for k, big in b["too_big"].items() if not big),
        )

    def edge_table(self, child: str, eid: str, below: Table, h: float) -> Table:
        """The subtree below ``child`` with its edge, by load cell, when it connects something."""
        load = np.arange(len(below)) * h * self.delta[eid]
        if child in self.usable:  # a pipe into a building carries its given peak
            load = np.maximum(load, self.given[child])
        step = self.steps[eid]
        k = np.searchsorted(self.capacity, load - 1e-9)  # the first pipe that carries the load
        price = np.where(k < len(self.capacity), step[np.minimum(k, len(step) - 1)], NONE)
        if np.isfinite(self.have[eid]):  # the existing pipe, while it carries the load
            price = np.where(
                load <= self.have[eid] + 1e-9, np.maximum(price, self.keep[eid]), price
            )
        return below + price


def _cut(arc: str, edges: list[str], buildings: list[str], table: Table, h: float) -> PendantCut:
    """The lines of the concave majorant of the best worth at loads up to each cell."""
    worth = table.copy()
    worth[0] = max(worth[0], 0.0)  # the edge not laid, nothing connected
    best = np.maximum.accumulate(worth)
    keep = np.flatnonzero(np.isfinite(best))
    xs = keep * h
    lines = _upper_hull(xs.astype(float), best[keep])
    return PendantCut(
        arc,
        tuple(edges),
        tuple(buildings),
        tuple(i for i, _ in lines),
        tuple(s for _, s in lines),
    )
