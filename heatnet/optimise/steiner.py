"""Prize-collecting Steiner constructions, priced exactly: designs the MIP must beat.

Two constructions, each a forest rooted at supplies, are priced with
:func:`heatnet.optimise.evaluate.evaluate` (flows computed on the tree, losses iterated until the
diameters stop changing, as the search settles a design) and checked with
:func:`heatnet.optimise.evaluate.check_design`:

``steiner``
    networkx's Steiner tree approximation (Mehlhorn) over a virtual root joined to every supply
    and the vertices of the buildings that pay for themselves (their value, folded connector
    included, less the heat and capacity they cost at the cheapest supply), on the edges
    weighted by the pipe's fixed cost, oriented away from the supplies (an edge heat cannot
    cross that way is cut with what lies beyond it).
``greedy``
    From the supplies, repeatedly add the building with the best ratio of prize to the cost of
    its cheapest path from the tree (one multi-source Dijkstra, updated as the tree grows),
    until every paying building is in.

Both are then pruned: bottom up, a branch is dropped when its buildings do not pay for the
pipes that serve only them, a supply when its tree does not pay for its fixed cost; a prune is
kept only if the exact objective improves. The search (:mod:`heatnet.optimise.loop`) prices them
before any MIP and starts the first MIP from the best design, so the written design is never
worse than these; ``bench/baseline.py`` prints them beside heatnet's figures.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.economics import objective_weights
from heatnet.optimise.evaluate import Design, check_design, evaluate
from heatnet.optimise.prepare import ModelData
from heatnet.problem.definition import PATH_CLASSES

ROOT = "__baseline_root__"
PRICE_ROUNDS = 10
"""Exact pricings per design at most while losses and diameters settle."""
PRUNE_ROUNDS = 8
"""Prune rounds by exact pipe prices at most (each accepted only if the objective improves)."""
IMPROVES = 1e-6


@dataclass
class Tree:
    """A forest rooted at supplies: ``parent`` and ``arc`` (the arc into it) per non-root."""

    roots: set[str]
    parent: dict[str, str] = field(default_factory=dict)
    arc: dict[str, str] = field(default_factory=dict)

    def vertices(self) -> set[str]:
        """Every vertex of the forest."""
        return set(self.roots) | set(self.parent)

    def children(self) -> dict[str, list[str]]:
        """The children of every vertex."""
        out: dict[str, list[str]] = {v: [] for v in self.vertices()}
        for child, up in self.parent.items():
            out[up].append(child)
        return out

    def postorder(self) -> list[str]:
        """Every vertex after its children (roots last)."""
        kids = self.children()
        order: list[str] = []
        stack = list(self.roots)
        while stack:
            v = stack.pop()
            order.append(v)
            stack.extend(kids[v])
        order.reverse()
        return order

    def without(self, tops: Iterable[str]) -> Tree:
        """The forest with the branches below (and including) ``tops`` removed."""
        kids = self.children()
        gone: set[str] = set()
        stack = [t for t in tops if t in kids]
        while stack:
            v = stack.pop()
            if v not in gone:
                gone.add(v)
                stack.extend(kids[v])
        return Tree(
            {r for r in self.roots if r not in gone},
            {c: p for c, p in self.parent.items() if c not in gone},
            {c: a for c, a in self.arc.items() if c not in gone},
        )


@dataclass(frozen=True)
class Priced:
    """A tree priced exactly."""

    tree: Tree
    design: Design
    problems: tuple[str, ...]
    connected: frozenset[str]

    @property
    def objective(self) -> float:
        """The design's exact objective."""
        return float(self.design.objective)

    @property
    def valid(self) -> bool:
        """Whether the design passes every check."""
        return not self.problems


class Pricer:
    """Prices trees of one prepared problem exactly; knows the graph and the prizes."""

    def __init__(self, data: ModelData) -> None:
        self.data = data
        self.calls = 0
        b, arcs, edges = data.buildings, data.arcs, data.edges
        self.weights = objective_weights(data.params)
        self.supplies = [str(s) for s in data.supplies.index]
        self.fixed = {str(s): float(v) for s, v in data.supplies["fixed"].items()}
        self.required_supplies = {str(s) for s, r in data.supplies["required"].items() if bool(r)}
        length = edges["length_m"].to_numpy(float)
        cost = (-edges["fixed"].to_numpy(float)).clip(min=0.0) + 1e-6 * length
        self.edge_cost = dict(zip(map(str, edges.index), cost.tolist(), strict=True))
        self.arc_edge = dict(zip(map(str, arcs.index), map(str, arcs["edge"]), strict=True))
        self.arc_cost = {a: self.edge_cost[e] for a, e in self.arc_edge.items()}
        # the cheapest arc per (tail, head): the one a tree uses between two vertices
        self.arc_between: dict[tuple[str, str], str] = {}
        self.out: dict[str, list[tuple[str, float, str]]] = {}
        for a, t, h in zip(map(str, arcs.index), map(str, arcs["tail"]), map(str, arcs["head"]), strict=True):  # fmt: skip
            known = self.arc_between.get((t, h))
            if known is None or self.arc_cost[a] < self.arc_cost[known]:
                self.arc_between[t, h] = a
        self.into: dict[str, list[tuple[str, str]]] = {}  # per head: (tail, arc)
        for (t, h), a in self.arc_between.items():
            self.out.setdefault(t, []).append((h, self.arc_cost[a], a))
            self.into.setdefault(h, []).append((t, a))
        self.host = {str(v): str(h) for v, h in b["host"].items()}
        self.peak = {str(v): float(x) for v, x in b["peak_kw"].items()}
        self.mean = {str(v): float(x) for v, x in b["mean_kw"].items()}
        self.required = {str(v) for v, r in b["required"].items() if bool(r)}
        self.too_big = {str(v) for v, r in b["too_big"].items() if bool(r)}
        self.prize = self._prizes(float(data.sigma.min()) if len(data.sigma) else 1.0)
        self.hosted: dict[str, list[str]] = {}
        for v, h in self.host.items():
            self.hosted.setdefault(h, []).append(v)

    def _prizes(self, sigma: float) -> dict[str, float]:
        """Per building: its value less its heat and capacity at the cheapest supply."""
        s, b = self.data.supplies, self.data.buildings
        if s.empty:
            return {str(v): float(x) for v, x in b["value"].items()}
        curve = np.array(
            [
                v[-1] / k[-1] if len(k) and k[-1] > 0 else 0.0
                for k, v in zip(s["curve_kw"], s["curve_value"], strict=True)
            ]
        )
        per_kw = s["per_kw"].to_numpy(float) + curve
        per_kwh = s["per_kwh"].to_numpy(float)
        kw = b["peak_kw"].to_numpy(float)[:, None] * sigma
        kwh = b["mean_kw"].to_numpy(float)[:, None] * HOURS_PER_YEAR
        heat = (kw * per_kw[None, :] + kwh * per_kwh[None, :]).max(axis=1)
        value = b["value"].to_numpy(float) + heat
        return dict(zip(map(str, b.index), value.tolist(), strict=True))

    def joins(self, building: str, vertex_in_tree: bool) -> bool:
        """Whether a building drawn at a tree vertex is connected."""
        if building in self.too_big or not vertex_in_tree:
            return False
        unfolded = self.host[building] == building  # an arc into it needs it connected
        return building in self.required or unfolded or self.prize[building] > 0

    def vertex_prize(self, v: str) -> float:
        """What connecting the buildings drawn at ``v`` is worth (those that would join)."""
        return sum(self.prize[b] for b in self.hosted.get(v, ()) if self.joins(b, True))

    def needed(self, v: str) -> bool:
        """Whether a required building is drawn at ``v``."""
        return any(b in self.required for b in self.hosted.get(v, ()))

    def terminals(self) -> set[str]:
        """Vertices whose buildings pay for themselves (or are required)."""
        out: set[str] = set()
        for v, members in self.hosted.items():
            if any(b in self.too_big for b in members):
                continue
            if self.needed(v) or self.vertex_prize(v) > 0:
                out.add(v)
        return out

    # --- exact pricing ------------------------------------------------------------------------

    def price(self, tree: Tree) -> Priced:
        """Price a forest exactly: flows on the tree, losses iterated to settled diameters."""
        kids = tree.children()
        order = tree.postorder()
        members = set(order)
        connected = frozenset(
            b for v in order for b in self.hosted.get(v, ()) if self.joins(b, v in members)
        )
        lost: dict[str, float] = {}
        design: Design | None = None
        sizes: np.ndarray | None = None
        for _ in range(PRICE_ROUNDS):
            values = self._values(tree, kids, order, connected, lost)
            design = evaluate(self.data, values)
            self.calls += 1
            now = np.nan_to_num(design.edges["diameter_mm"].to_numpy(float), nan=-1.0)
            if sizes is not None and np.array_equal(now, sizes):
                break
            sizes = now
            edges = design.edges
            loss = dict(zip(map(str, edges.index.tolist()), edges["loss_kw"].tolist(), strict=True))
            lost = {a: float(loss.get(self.arc_edge[a], 0.0)) for a in tree.arc.values()}
            lost = {a: 0.0 if math.isnan(x) else x for a, x in lost.items()}
        assert design is not None
        problems = tuple(check_design(self.data, design))
        return Priced(tree, design, problems, connected)

    def _values(
        self,
        tree: Tree,
        kids: dict[str, list[str]],
        order: list[str],
        connected: frozenset[str],
        lost: dict[str, float],
    ) -> dict[str, pd.Series]:
        """Solver-like values of a forest: decisions and the flows they imply."""
        peak: dict[str, float] = {}
        mean: dict[str, float] = {}
        fp: dict[str, float] = {}
        fm: dict[str, float] = {}
        for v in order:  # children first
            here = [b for b in self.hosted.get(v, ()) if b in connected]
            peak[v] = sum(self.peak[b] for b in here) + sum(peak[c] for c in kids[v])
            mean[v] = sum(self.mean[b] for b in here) + sum(mean[c] for c in kids[v])
            if v in tree.arc:
                a = tree.arc[v]
                mean[v] += lost.get(a, 0.0)
                fp[a], fm[a] = peak[v], mean[v]
        roots = sorted(tree.roots)
        return {
            "dvin": pd.Series(dict.fromkeys(connected, 1.0), dtype=float),
            "svin": pd.Series(dict.fromkeys(roots, 1.0), dtype=float),
            "ain": pd.Series(dict.fromkeys(tree.arc.values(), 1.0), dtype=float),
            "fp": pd.Series(fp, dtype=float),
            "fm": pd.Series(fm, dtype=float),
            "supp": pd.Series({s: peak[s] for s in roots}, dtype=float),
            "supm": pd.Series({s: mean[s] for s in roots}, dtype=float),
        }

    def exact_costs(self, priced: Priced) -> dict[str, float]:
        """Per arc of the tree: its pipe's exact objective cost (positive) in that design."""
        e = priced.design.edges
        pv = sum(e[f"pv_{c}"].to_numpy(float) * self.weights[c] for c in PATH_CLASSES)
        by_edge = dict(zip(map(str, e.index), (-np.asarray(pv)).tolist(), strict=True))
        return {a: by_edge[self.arc_edge[a]] for a in priced.tree.arc.values()}

    def exact_prizes(self, priced: Priced) -> dict[str, float]:
        """Per building: value less heat and capacity at its supply's diversity in that design."""
        s = priced.design.supplies
        built = s[s["in_network"].to_numpy(bool)]
        sigma = float(built["diversity"].min()) if len(built) else float(self.data.sigma.min())
        return self._prizes(sigma)


# --- pruning ----------------------------------------------------------------------------------


def _branches(pricer: Pricer, tree: Tree, arc_cost: dict[str, float]) -> list[tuple[float, str]]:
    """Branches (their top vertex) and supplies whose worth does not pay, worst first.

    Bottom up: worth(v) = prize(v) + Σ over kept children (worth(c) − cost of the pipe to c); a
    child is kept when that is positive or it leads to a required building; a supply is dropped
    when its worth does not pay for its fixed cost.
    """
    kids = tree.children()
    worth: dict[str, float] = {}
    needed: dict[str, bool] = {}
    drop: list[tuple[float, str]] = []
    for v in tree.postorder():
        total = pricer.vertex_prize(v)
        need = pricer.needed(v)
        for c in kids[v]:
            margin = worth[c] - arc_cost[tree.arc[c]]
            if needed[c] or margin > 0:
                total += margin
                need = need or needed[c]
            else:
                drop.append((margin, c))
        worth[v], needed[v] = total, need
    for r in tree.roots:
        margin = worth[r] + pricer.fixed[r]
        if margin <= 0 and not needed[r] and r not in pricer.required_supplies:
            drop.append((margin, r))
    drop.sort()
    return drop


def prune(pricer: Pricer, priced: Priced, *, estimated_first: bool = True) -> Priced:
    """Drop branches that do not pay, keeping a prune only if the exact objective improves."""
    best = priced
    for round_ in range(PRUNE_ROUNDS):
        if round_ == 0 and estimated_first:
            costs = {a: pricer.arc_cost[a] for a in best.tree.arc.values()}
        else:
            costs = pricer.exact_costs(best)
            pricer.prize = pricer.exact_prizes(best)
        drop = _branches(pricer, best.tree, costs)
        improved = False
        k = len(drop)
        while k > 0:
            trial = pricer.price(best.tree.without(c for _, c in drop[:k]))
            if better(trial, best):
                best, improved = trial, True
                break
            k //= 2
        if not improved and not (round_ == 0 and estimated_first):
            break
    return best


def better(a: Priced, b: Priced) -> bool:
    """``a`` beats ``b``: valid beats invalid, then the objective."""
    if a.valid != b.valid:
        return a.valid
    return a.objective > b.objective + IMPROVES * max(1.0, abs(b.objective))


# --- constructions ----------------------------------------------------------------------------


def steiner(pricer: Pricer) -> Tree:
    """Networkx's Steiner tree over the supplies and the paying vertices, oriented."""
    data = pricer.data
    graph = nx.Graph()
    for e, u, v in zip(map(str, data.edges.index), map(str, data.edges["u"]), map(str, data.edges["v"]), strict=True):  # fmt: skip
        w = pricer.edge_cost[e]
        if u != v and (not graph.has_edge(u, v) or graph[u][v]["weight"] > w):
            graph.add_edge(u, v, weight=w)
    for s in pricer.supplies:
        graph.add_edge(ROOT, s, weight=0.0)
    reach = nx.node_connected_component(graph, ROOT)
    terminals = sorted(t for t in pricer.terminals() if t in reach)
    if not terminals:
        return Tree(set())
    # only the supplies' part: Mehlhorn's method fails on a vertex no terminal reaches (a
    # required path cut off from every supply, say)
    approx = nx.algorithms.approximation.steiner_tree(
        graph.subgraph(reach), [ROOT, *terminals], weight="weight", method="mehlhorn"
    )
    return _orient(pricer, approx)


def _orient(pricer: Pricer, forest: nx.Graph) -> Tree:
    """Root an undirected tree at the supplies; edges heat cannot cross are cut."""
    roots = {s for s in pricer.supplies if s in forest}
    tree = Tree(roots)
    seen = set(roots) | {ROOT}
    stack = list(roots)
    while stack:
        v = stack.pop()
        for w in forest.neighbors(v):
            if w in seen:
                continue
            a = pricer.arc_between.get((v, w))
            if a is None:  # into a supply, out of a building, or useless: cut here
                continue
            seen.add(w)
            tree.parent[w], tree.arc[w] = v, a
            stack.append(w)
    return _trimmed(pricer, tree)


def greedy(pricer: Pricer) -> Tree:
    """Grow a forest from the supplies, best prize-to-path-cost ratio first.

    Every paying vertex is joined (the ratio decides the shape, not where to stop: a building
    whose path alone does not pay may pay together with its neighbours); :func:`prune` then
    keeps what pays, priced exactly.
    """
    tree = Tree(set(pricer.supplies))
    dist: dict[str, float] = {}
    pred: dict[str, tuple[str, str]] = {}
    terminals = pricer.terminals()
    prize = {t: pricer.vertex_prize(t) for t in terminals}
    must = {t for t in terminals if pricer.needed(t)}
    heap: list[tuple[float, float, str]] = []

    def offer(v: str) -> None:
        if v in terminals and v not in tree.parent and v not in tree.roots:
            d = dist[v]
            ratio = math.inf if v in must else prize[v] / max(d, 1e-12)
            heapq.heappush(heap, (-ratio, d, v))

    def relax(sources: Iterable[str]) -> None:
        queue = []
        for s in sources:
            dist[s] = 0.0
            queue.append((0.0, s))
        heapq.heapify(queue)
        while queue:
            d, v = heapq.heappop(queue)
            if d > dist.get(v, math.inf):
                continue
            for w, c, a in pricer.out.get(v, ()):
                if d + c < dist.get(w, math.inf):
                    dist[w] = d + c
                    pred[w] = (v, a)
                    heapq.heappush(queue, (d + c, w))
                    offer(w)

    relax(tree.roots)
    while heap:
        _, d, v = heapq.heappop(heap)
        if v in tree.parent or v in tree.roots or d != dist.get(v):
            continue  # stale: joined since, or a shorter path was found
        added = []
        while v not in tree.parent and v not in tree.roots:
            up, a = pred[v]
            tree.parent[v], tree.arc[v] = up, a
            added.append(v)
            v = up
        relax(added)
    return _trimmed(pricer, tree)


def _trimmed(pricer: Pricer, tree: Tree) -> Tree:
    """The forest without supplies that serve nobody (unless required)."""
    kids = tree.children()
    keep = {r for r in tree.roots if kids[r] or r in pricer.required_supplies}
    return Tree(keep, tree.parent, tree.arc)


def constructions(data: ModelData) -> list[Priced]:
    """Both constructions, pruned and priced exactly, best first (valid ones before invalid)."""
    out = []
    for build in (steiner, greedy):
        pricer = Pricer(data)
        tree = build(pricer)
        if not tree.roots:
            continue
        out.append(prune(pricer, pricer.price(tree)))
    return sorted(out, key=lambda p: (not p.valid, -p.objective))


def polish(data: ModelData, design: Design) -> Priced | None:
    """A design with its branches that do not pay pruned, priced exactly; None if not a forest.

    The design's laid arcs become a forest rooted at its built supplies (a vertex fed from two
    sides is not a forest: None); pipes that carry nothing and branches whose buildings do not
    pay for them are dropped as :func:`prune` drops them, each prune kept only if the exact
    objective improves. The caller keeps the result only if it beats ``design``.
    """
    pricer = Pricer(data)
    tree = _tree_of(pricer, design)
    return None if tree is None else prune(pricer, pricer.price(tree), estimated_first=False)


def _tree_of(pricer: Pricer, design: Design) -> Tree | None:
    """The forest of a design's laid arcs, or None when a vertex is fed twice."""
    e = design.edges
    on = e[e["in_network"].to_numpy(bool)]
    arcs = pricer.data.arcs
    arc_of = {
        (str(edge), str(tail)): str(a)
        for a, edge, tail in zip(arcs.index, arcs["edge"], arcs["tail"], strict=True)
    }
    s = design.supplies
    tree = Tree({str(v) for v in s.index[s["in_network"].to_numpy(bool)]})
    folded = set(map(str, pricer.data.buildings["edge"]))  # a building's own connector
    for edge, tail, head in zip(map(str, on.index), on["tail"], on["head"], strict=True):
        a = arc_of.get((edge, str(tail)))
        if a is None and edge in folded:
            continue
        if a is None or str(head) in tree.parent or str(head) in tree.roots:
            return None
        tree.parent[str(head)], tree.arc[str(head)] = str(tail), a
    return tree
