"""A quick constructive design to start the first MIP from.

Shortest paths from the supplies (edge weight = the pipe's fixed cost, its length where that is
zero) form a forest; each building is worth its value less the heat and capacity it costs at the
cheapest supply; bottom up, a branch of the forest is kept when what it is worth pays for its
pipes or it leads to a required building. If the design that results is worth less than building
nothing and nothing is required, the empty design is the start instead. HiGHS completes
the start into a first incumbent, so the branch and bound starts with a bound to prune against
(and a run stopped early never returns a design worse than the start); HiGHS ignores a start a
global constraint makes infeasible.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.optimise.prepare import ModelData

log = logging.getLogger(__name__)


def seed_design(data: ModelData) -> dict[str, dict[Any, float]] | None:
    """Binary values of a constructive design (``dvin``, ``svin``, ``ain``), or None."""
    supplies = list(data.supplies.index)
    if not supplies or data.buildings.empty:
        return None
    graph, arc_cost = _cheapest_arcs(data)
    reach = [s for s in supplies if s in graph]
    if not reach:
        return None
    _, paths = nx.multi_source_dijkstra(graph, reach, weight="weight")
    children: dict[str, list[str]] = {}
    for path in paths.values():
        for u, v in itertools.pairwise(path):
            children.setdefault(u, [])
            if v not in children[u]:
                children[u].append(v)
    b = data.buildings
    net = (b["value"] + _supply_value(data)).groupby(b["host"].astype(str)).sum().to_dict()
    must = set(b.loc[b["required"].astype(bool), "host"].astype(str))
    worth: dict[str, float] = {}
    needed: dict[str, bool] = {}
    for root in reach:  # bottom up: keep a branch that pays for its pipes or is required
        for v in reversed(_preorder(children, root)):
            keep = [c for c in children.get(v, []) if _pays(c, v, worth, needed, graph, arc_cost)]
            worth[v] = float(net.get(v, 0.0)) + sum(
                worth[c] - arc_cost[str(graph[v][c]["arc"])] for c in keep
            )
            needed[v] = v in must or any(needed[c] for c in keep)
            children[v] = keep
    fixed = data.supplies["fixed"].to_dict()
    used = {s for s in reach if needed.get(s) or worth.get(s, 0.0) + float(fixed[s]) > 0}
    total = sum(worth.get(s, 0.0) + float(fixed[s]) for s in used)
    if total <= 0 and not b["required"].any():
        log.debug("seed: the empty design (the best tree design is worth %.6g)", total)
        used = set()
    hosts: set[str] = set()
    laid: set[str] = set()
    for s in used:
        for v in _preorder(children, s):
            hosts.add(v)
            laid.update(str(graph[v][c]["arc"]) for c in children.get(v, []))
    connected = {str(v) for v, h in zip(b.index, b["host"].astype(str), strict=True) if h in hosts}
    log.debug("seed: %d buildings, %d pipes, worth %.6g", len(connected), len(laid), total)
    return {
        "dvin": {v: float(v in connected) for v in b.index},
        "svin": {s: float(s in used) for s in supplies},
        "ain": {a: float(a in laid) for a in data.arcs.index},
    }


def _preorder(children: dict[str, list[str]], root: str) -> list[str]:
    """Vertices of the tree below ``root``, each before its children."""
    order, stack = [], [root]
    while stack:
        v = stack.pop()
        order.append(v)
        stack.extend(children.get(v, []))
    return order


def _cheapest_arcs(data: ModelData) -> tuple[nx.DiGraph, dict[str, float]]:
    """The arcs as a digraph weighted by the pipe's fixed cost (its length where that is 0)."""
    arcs = data.arcs
    edge_cost = (-data.edges["fixed"]).clip(lower=0.0) + 1e-6 * data.edges["length_m"]
    cost_of = {str(e): float(c) for e, c in edge_cost.items()}
    arc_cost = {str(a): cost_of[str(e)] for a, e in zip(arcs.index, arcs["edge"], strict=True)}
    graph = nx.DiGraph()
    for a, t, h in zip(arcs.index, arcs["tail"], arcs["head"], strict=True):
        weight = arc_cost[str(a)]
        if not graph.has_edge(t, h) or graph[t][h]["weight"] > weight:
            graph.add_edge(t, h, weight=weight, arc=a)
    return graph, arc_cost


def _pays(
    child: str,
    parent: str,
    worth: dict[str, float],
    needed: dict[str, bool],
    graph: nx.DiGraph,
    arc_cost: dict[str, float],
) -> bool:
    """Whether the branch below ``child`` is worth its pipe from ``parent`` (or is required)."""
    return needed[child] or worth[child] > arc_cost[str(graph[parent][child]["arc"])]


def _supply_value(data: ModelData) -> pd.Series:
    """Per building, the objective PV its demand costs at the cheapest supply (≤ 0).

    Its annual heat at the supply's ``per_kwh`` and its peak, at the most optimistic
    diversity, at the supply's ``per_kw`` and the average ¤/kW of its cost curve.
    """
    s = data.supplies
    if s.empty:
        return pd.Series(0.0, index=data.buildings.index)
    curve = np.array(
        [
            v[-1] / k[-1] if len(k) and k[-1] > 0 else 0.0
            for k, v in zip(s["curve_kw"], s["curve_value"], strict=True)
        ]
    )
    per_kw = s["per_kw"].to_numpy(float) + curve
    per_kwh = s["per_kwh"].to_numpy(float)
    sigma = float(data.sigma.min()) if len(data.sigma) else 1.0
    b = data.buildings
    kw = b["peak_kw"].to_numpy(float)[:, None] * sigma
    kwh = b["mean_kw"].to_numpy(float)[:, None] * HOURS_PER_YEAR
    cost = kw * per_kw[None, :] + kwh * per_kwh[None, :]
    return pd.Series(cost.max(axis=1), index=b.index)
