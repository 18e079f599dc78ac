"""Flow bounds per arc from bridges and reachability (docs/decisions.md §8.5, tightened).

The graph is first cut at its bridges (edges whose removal disconnects it). Contracting each
2-edge-connected component to a node turns the bridges into a forest, the *bridge tree*. A bridge
splits its component exactly in two: heat crossing it from side U to side W can serve at most the
demand in W and at most what the supplies in U can give, and the pipe is only useful if W holds
a building and U a supply. Arcs inside a 2-edge-connected component get the bounds of the whole
connected component (any building in it might be fed through them).

Every aggregate is a subtree sum (or minimum) over an Euler tour of the bridge tree, so the whole
computation is linear in the size of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from numpy.typing import NDArray

SUMS = ("peak_kw", "mean_kw", "connections", "supply_kw", "supplies", "buildings")
"""Per-vertex quantities summed over a side: undiversified peak demand, mean demand, connections,
supply capacity in undiversified kW, number of supplies, number of buildings."""


@dataclass(frozen=True, slots=True)
class ArcBounds:
    """Bounds of every arc (tail → head), aligned with the arcs given.

    Attributes
    ----------
    peak_kw
        Most undiversified peak heat the arc can carry (0: the arc is useless).
    mean_kw
        Most mean heat demand downstream (losses not included).
    connections
        Most connections downstream.
    min_peak_kw
        Smallest single building peak downstream (given peak); 0 if a building without demand
        is downstream.
    useful
        Whether a supply is upstream and a building downstream.
    """

    peak_kw: NDArray[np.float64]
    mean_kw: NDArray[np.float64]
    connections: NDArray[np.float64]
    min_peak_kw: NDArray[np.float64]
    useful: NDArray[np.bool_]


def arc_bounds(
    edges: pd.DataFrame, vertices: pd.DataFrame, tails: list[str], heads: list[str]
) -> ArcBounds:
    """Bounds for arcs of an undirected multigraph.

    Parameters
    ----------
    edges
        ``u``, ``v`` per edge (parallel edges allowed).
    vertices
        Per vertex (every end of ``edges``): the :data:`SUMS` columns and ``min_peak_kw``
        (smallest building peak at the vertex, ``inf`` where there is none).
    tails, heads
        The arcs to bound; each must be an edge's two ends.

    Returns
    -------
    ArcBounds
        One entry per arc.
    """
    graph = nx.MultiGraph()
    graph.add_nodes_from(vertices.index)
    graph.add_edges_from(zip(edges["u"], edges["v"], strict=True))
    bridges = {frozenset(b) for b in nx.bridges(graph)}
    inner = nx.Graph()
    inner.add_nodes_from(graph)
    inner.add_edges_from((u, v) for u, v in graph.edges() if frozenset((u, v)) not in bridges)
    comp_of: dict[str, int] = {}
    for i, comp in enumerate(nx.connected_components(inner)):
        for vtx in comp:
            comp_of[vtx] = i
    n_comp = max(comp_of.values(), default=-1) + 1
    index = np.array([comp_of[v] for v in vertices.index], dtype=np.int64)
    sums = np.zeros((n_comp, len(SUMS)))
    np.add.at(sums, index, vertices[list(SUMS)].to_numpy(dtype=float))
    mins = np.full(n_comp, np.inf)
    np.minimum.at(mins, index, vertices["min_peak_kw"].to_numpy(dtype=float))
    tree = nx.Graph()
    tree.add_nodes_from(range(n_comp))
    tree.add_edges_from((comp_of[u], comp_of[v]) for u, v in (tuple(b) for b in bridges))
    tour = _Tour(tree, sums, mins)
    out = {k: np.zeros(len(tails)) for k in ("peak", "mean", "conn", "minp")}
    useful = np.zeros(len(tails), dtype=bool)
    col = {k: SUMS.index(k) for k in SUMS}
    for i, (t, h) in enumerate(zip(tails, heads, strict=True)):
        ct, ch = comp_of[t], comp_of[h]
        if ct == ch:  # inside a component: the whole connected component, both ways
            down = up = tour.whole(ct)
            down_min = tour.whole_min(ct)
        else:
            down, down_min = tour.side(ch, ct)
            up, _ = tour.side(ct, ch)
        supply_kw = up[col["supply_kw"]]
        out["peak"][i] = min(down[col["peak_kw"]], supply_kw)
        out["mean"][i] = down[col["mean_kw"]]
        out["conn"][i] = down[col["connections"]]
        out["minp"][i] = 0.0 if not np.isfinite(down_min) else down_min
        useful[i] = up[col["supplies"]] > 0 and down[col["buildings"]] > 0
    return ArcBounds(out["peak"], out["mean"], out["conn"], out["minp"], useful)


class _Tour:
    """Subtree sums and minima of a forest via an Euler tour.

    A subtree is a contiguous range of the tour; the rest of its tree is the tree's range minus
    it. Sums come from prefix sums, minima from a sparse table (constant time per query).
    """

    def __init__(
        self, tree: nx.Graph, sums: NDArray[np.float64], mins: NDArray[np.float64]
    ) -> None:
        n = tree.number_of_nodes()
        self.tin = np.zeros(n, dtype=np.int64)
        self.tout = np.zeros(n, dtype=np.int64)
        self.parent = np.full(n, -1, dtype=np.int64)
        self.root = np.zeros(n, dtype=np.int64)
        visited = np.zeros(n, dtype=bool)
        order: list[int] = []
        for root in range(n):
            if visited[root]:
                continue
            visited[root] = True
            self.root[root], self.tin[root] = root, len(order)
            order.append(root)
            stack = [(root, iter(sorted(tree.adj[root])))]
            while stack:
                node, children = stack[-1]
                child = next((c for c in children if not visited[c]), None)
                if child is None:
                    self.tout[node] = len(order)
                    stack.pop()
                    continue
                visited[child] = True
                self.parent[child], self.root[child], self.tin[child] = node, root, len(order)
                order.append(child)
                stack.append((child, iter(sorted(tree.adj[child]))))
        seq = np.array(order, dtype=np.int64)
        self.prefix = np.vstack([np.zeros((1, sums.shape[1])), np.cumsum(sums[seq], axis=0)])
        levels = [mins[seq]]
        width = 1
        while 2 * width <= len(seq):
            prev = levels[-1]
            levels.append(np.minimum(prev[:-width], prev[width:]))
            width *= 2
        self.levels = levels

    def _range_sum(self, a: int, b: int) -> NDArray[np.float64]:
        return np.asarray(self.prefix[b] - self.prefix[a])

    def _range_min(self, a: int, b: int) -> float:
        if b <= a:
            return float("inf")
        k = (b - a).bit_length() - 1
        level = self.levels[k]
        return float(min(level[a], level[b - (1 << k)]))

    def whole(self, node: int) -> NDArray[np.float64]:
        """Sums over the tree (connected component) holding ``node``."""
        root = int(self.root[node])
        return self._range_sum(int(self.tin[root]), int(self.tout[root]))

    def whole_min(self, node: int) -> float:
        """Minimum over the tree holding ``node``."""
        root = int(self.root[node])
        return self._range_min(int(self.tin[root]), int(self.tout[root]))

    def side(self, node: int, other: int) -> tuple[NDArray[np.float64], float]:
        """Sums and minimum on ``node``'s side of the tree edge ``node``–``other``."""
        if self.parent[node] == other:  # node's subtree
            a, b = int(self.tin[node]), int(self.tout[node])
            return self._range_sum(a, b), self._range_min(a, b)
        # other is node's child: node's side is its tree minus other's subtree
        root = int(self.root[node])
        lo, hi = int(self.tin[root]), int(self.tout[root])
        a, b = int(self.tin[other]), int(self.tout[other])
        sums = self._range_sum(lo, hi) - self._range_sum(a, b)
        return sums, min(self._range_min(lo, a), self._range_min(b, hi))
