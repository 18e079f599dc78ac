"""A quick constructive design to start the first MIP from.

Shortest paths from the supplies (edge weight = the pipe's fixed cost, its length where that is
zero) form a forest; buildings are then taken in order of value, each joining along its shortest
path when its value pays for the pipes it adds (required buildings always join). The result is a
tree design HiGHS can complete into a first incumbent, so the branch and bound starts with a
bound to prune against; HiGHS ignores it if a global constraint makes it infeasible.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import networkx as nx

from heatnet.model.data import ModelData

log = logging.getLogger(__name__)


def seed_design(data: ModelData) -> dict[str, dict[Any, float]] | None:
    """Binary values of a constructive design (``dvin``, ``svin``, ``ain``), or None."""
    supplies = list(data.supplies.index)
    if not supplies or data.buildings.empty:
        return None
    arcs = data.arcs
    arc_of = {(t, h): a for a, t, h in zip(arcs.index, arcs["tail"], arcs["head"], strict=True)}
    edge_cost = (-data.edges["fixed"]).clip(lower=0.0) + 1e-6 * data.edges["length_m"]
    cost_of = {str(e): float(c) for e, c in edge_cost.items()}
    arc_cost = {str(a): cost_of[str(e)] for a, e in zip(arcs.index, arcs["edge"], strict=True)}
    graph = nx.DiGraph()
    for (t, h), a in arc_of.items():
        weight = arc_cost[str(a)]
        if not graph.has_edge(t, h) or graph[t][h]["weight"] > weight:
            graph.add_edge(t, h, weight=weight, arc=a)
    reach = [s for s in supplies if s in graph]
    if not reach:
        return None
    _, paths = nx.multi_source_dijkstra(graph, reach, weight="weight")
    b = data.buildings
    order = b.sort_values("value", ascending=False)
    laid: set[str] = set()
    connected: set[str] = set()
    used_supplies: set[str] = set()
    for vertex, row in order.iterrows():
        host = str(row["host"])
        path = paths.get(host) if host not in supplies else [host]
        if path is None:
            continue
        new = [graph[u][v]["arc"] for u, v in itertools.pairwise(path)]
        new = [a for a in new if a not in laid]
        price = sum(arc_cost[a] for a in new)
        if row["required"] or float(row["value"]) > price:
            laid.update(new)
            connected.add(str(vertex))
            used_supplies.add(path[0])
    if not connected:
        return None
    log.debug("seed: %d buildings, %d pipes", len(connected), len(laid))
    return {
        "dvin": {v: float(v in connected) for v in b.index},
        "svin": {s: float(s in used_supplies) for s in supplies},
        "ain": {a: float(a in laid) for a in arcs.index},
    }
