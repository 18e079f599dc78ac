"""Local search on exact prices: key-path exchange, insertion and drop on a priced forest.

A *key vertex* of a forest is a supply, a vertex with connected buildings, or one where the
forest branches; a *key path* runs from a key vertex up to the next one through vertices that
are none of these. Three moves, with costs that depend on the load:

- **exchange**: removing a key path cuts the subtree below it off; it is joined back by the
  cheapest path from any other part of the forest, possibly entering the subtree at another
  vertex, which then becomes its top (the pipes between reverse). This is the key-path
  exchange of the Steiner-tree local searches (Uchoa & Werneck, *Fast local search for Steiner
  trees in graphs*, ALENEX 2010);
- **drop**: the subtree goes with its key path, when its buildings are worth less than its
  pipes and what its load costs on every pipe above (prune, :mod:`heatnet.optimise.steiner`,
  counts only the pipes that serve the branch alone);
- **insertion**: a vertex left out whose buildings would pay is joined by its cheapest path.

A pipe's cost at a load is its exact price (the catalogue diameter that carries it, its heat
losses bought at the supply), as :func:`heatnet.optimise.evaluate.evaluate` prices it. Moving
a load relieves every pipe from the old top to the supply and loads every pipe above the new
join: both are counted, so moving a branch towards the supply (a shorter route for a large
load) can pay even where the pipes cost more.

These are estimates (the diversity of a moved subtree and the losses are taken as they were):
every move is priced exactly (:meth:`heatnet.optimise.steiner.Pricer.price`) and checked, and
kept only if the exact objective improves. So the search never makes a design worse and never
keeps an invalid one; it stops at a deadline, or when a pass over every key path finds nothing.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from heatnet.optimise.loads import Loads
from heatnet.optimise.prepare import ModelData
from heatnet.optimise.steiner import Priced, Pricer, Tree, better, prune

log = logging.getLogger(__name__)

GAIN = 1e-6
"""An estimated gain below this share of the objective is not worth an exact pricing."""
TRIES_PER_PASS = 200
"""Moves a pass tries at most (the best estimated first)."""
BATCH_FROM = 100
"""A pass with at least this many moves tries them in batches first (large forests: a pass
estimates for seconds); with fewer, one at a time, each exactly (measured on the district:
1,196,191 one at a time from its greedy construction, 1,171,839 in batches)."""
REROOT_MOST = 300
"""An exchange may enter the subtree it moves at about this many of its vertices, the nearest
to its top first (:func:`_reroot_costs`). A subtree near the supply holds most of the forest, and each of its vertices
was a start of the move's shortest-path search. Measured, local search from the greedy
construction for 150 s on the 10,000-building grid: 53,414,666 / 53,415,205 / 53,415,733 with
300 (three runs), 53,319,433 with 1,000, and 52,694,722 to 53,137,516 with no limit (three
runs); the 2,000-building grid and the district end at the same designs with 300 as with no
limit (9,823,073 in 12.5 s instead of 13.0 s; 1,196,021), and 100 is too few there
(9,758,997). Run to convergence on the 10,000-building grid (after the estimates went by edge
row): 53,565,822 in 132.8 s with 300, 53,573,431 in 256.7 s with 1,000, 53,664,089 in 314.6 s
with no limit; from the 300 optimum, searching on with no limit finds nothing (one pass), so the
difference is the path taken, not a wider local optimum."""


@dataclass(frozen=True)
class Move:
    """Cut the key path above ``bottom`` (its vertices ``freed``) and join by ``path``.

    ``path`` is the new chain of (vertex, arc into it) from ``start``, a vertex of the rest of
    the forest, down to ``entry`` in the subtree (the last element); ``gain`` is the estimated
    improvement. An empty ``path`` drops the subtree with its key path.
    """

    bottom: str
    freed: tuple[str, ...]
    start: str
    path: tuple[tuple[str, str], ...]
    entry: str
    gain: float

    @property
    def region(self) -> set[str]:
        """The vertices it cuts or lays (two moves whose regions meet are not made together)."""
        return {self.bottom, *self.freed, *(v for v, _ in self.path)}


def search(
    data: ModelData,
    starts: list[Priced],
    seconds: float,
    stopped: Callable[[], bool] = lambda: False,
) -> Iterator[Priced]:
    """:func:`improve` from each start in turn while ``seconds`` last in all (none when <= 0)."""
    end = time.perf_counter() + seconds
    pricer = Pricer(data)
    for start in starts:
        if time.perf_counter() >= end or stopped():
            return
        yield improve(pricer, start, end, stopped)


def improve(
    pricer: Pricer,
    priced: Priced,
    deadline: float,
    stopped: Callable[[], bool] = lambda: False,
) -> Priced:
    """Key-path exchanges (then a prune) while they pay, until ``deadline`` (perf_counter s).

    Each pass estimates every move. With many (:data:`BATCH_FROM`), it first tries the best ones
    that touch separate parts of the forest all at once (one exact pricing); if that is not
    better, the better half of them, and so on down to the best alone. Otherwise, or if none of
    these is better, it tries the moves one by one (batches converge sooner, single moves
    further). ``stopped`` is asked between exact pricings (a stop
    request ends the search at once).
    """
    best = priced
    passes = 0
    counts = [0, 0]  # exact pricings, moves kept
    while time.perf_counter() < deadline and not stopped():
        passes += 1
        moves = sorted(exchanges(pricer, best, deadline, stopped), key=lambda m: -m.gain)
        moves = moves[:TRIES_PER_PASS]
        found = None
        if len(moves) >= BATCH_FROM:
            found = _batched(pricer, best, _separate(moves), deadline, stopped, counts)
        if found is None:
            found = _one_by_one(pricer, best, moves, deadline, stopped, counts)
        if found is None:
            break
        best = prune(pricer, found, estimated_first=False)
    log.info(
        "local search: %d pass(es), %d exact pricings, %d moves kept: %.6g -> %.6g",
        passes, counts[0], counts[1], priced.objective, best.objective,
    )  # fmt: skip
    return best


def _batched(
    pricer: Pricer,
    best: Priced,
    batch: list[Move],
    deadline: float,
    stopped: Callable[[], bool],
    counts: list[int],
) -> Priced | None:
    """The k best moves together, k halved until the design improves (None: it never did)."""
    k = len(batch)
    while k > 0 and time.perf_counter() < deadline and not stopped():
        tree, applied = best.tree, 0
        for move in batch[:k]:
            moved = apply(pricer, tree, move)
            if moved is not None:
                tree, applied = moved, applied + 1
        if applied:
            trial = pricer.price(tree)
            counts[0] += 1
            if _improves(trial, best):
                counts[1] += applied
                return trial
        k //= 2
    return None


def _one_by_one(
    pricer: Pricer,
    best: Priced,
    moves: list[Move],
    deadline: float,
    stopped: Callable[[], bool],
    counts: list[int],
) -> Priced | None:
    """Each move on its own, kept if it improves (a later one overlapping a kept one is left)."""
    touched: set[str] = set()
    found = None
    for move in moves:
        if time.perf_counter() >= deadline or stopped():
            break
        region = move.region
        now = best if found is None else found
        tree = None if region & touched else apply(pricer, now.tree, move)
        if tree is None:
            continue
        trial = pricer.price(tree)
        counts[0] += 1
        if _improves(trial, now):
            found = trial
            counts[1] += 1
            touched |= region
    return found


def _improves(trial: Priced, best: Priced) -> bool:
    """A valid design that beats the best (:func:`heatnet.optimise.steiner.better`)."""
    return trial.valid and better(trial, best)


def _separate(moves: list[Move]) -> list[Move]:
    """The moves, best first, that cut or lay no vertex an earlier one cuts or lays.

    Two may join the same vertex; a move inside a subtree another moves is still priced exactly.
    """
    out: list[Move] = []
    touched: set[str] = set()
    for move in moves:
        region = move.region
        if not region & touched:
            out.append(move)
            touched |= region
    return out


def exchanges(
    pricer: Pricer,
    priced: Priced,
    deadline: float,
    stopped: Callable[[], bool] = lambda: False,
) -> list[Move]:
    """Every move estimated to pay: each key path's best exchange, each paying vertex's insertion.

    The vertices inserted are those left out whose buildings would pay for themselves.
    """
    if not priced.tree.parent:
        return []
    search = _Exchanges(pricer, priced)
    tol = GAIN * max(1.0, abs(priced.objective))
    out: list[Move] = []
    for bottom in priced.tree.parent:
        if bottom not in search.key:
            continue
        if time.perf_counter() >= deadline or stopped():
            return out
        move = search.best(bottom)
        if move is not None and move.gain > tol:
            out.append(move)
    for v in sorted(pricer.terminals() - search.in_tree):
        if time.perf_counter() >= deadline or stopped():
            break
        move = search.insertion(v)
        if move is not None and move.gain > tol:
            out.append(move)
    return out


class _Exchanges:
    """One priced forest: its key paths, and the cheapest ways to join a subtree or a vertex."""

    def __init__(self, pricer: Pricer, priced: Priced) -> None:
        self.pricer, self.tree = pricer, priced.tree
        self.loads = loads = Loads(pricer, priced)
        self.cost = loads.by_row()
        self.kids = self.tree.children()
        tree, row = self.tree, loads.arc_row
        self.order: list[str] = []  # preorder: a subtree is a slice of it
        self.first: dict[str, int] = {}
        self.end: dict[str, int] = {}
        stack = [(r, False) for r in sorted(tree.roots)]
        while stack:
            v, done = stack.pop()
            if done:
                self.end[v] = len(self.order)
                continue
            self.first[v] = len(self.order)
            self.order.append(v)
            stack.append((v, True))
            stack.extend((c, False) for c in self.kids[v])
        # the forest is what the supplies reach: a circulation of required pipes that carries
        # nothing (a ring laid because it must be, fed by nobody) is never joined or climbed
        self.in_tree = set(self.order)
        connected_at = {pricer.host[b] for b in priced.connected}
        self.key = {
            v
            for v in self.in_tree
            if v in self.tree.roots or len(self.kids[v]) != 1 or v in connected_at
        }
        self.up = {
            x: (p, row[tree.arc[x]], loads.now[tree.arc[x]])
            for x, p in tree.parent.items()
            if x in self.in_tree
        }
        """Per non-root: (parent, row of the edge above, that pipe's cost now)."""
        self.back = {
            x: row[b]
            for x, p in tree.parent.items()
            if x in self.in_tree and (b := pricer.arc_between.get((x, p))) is not None
        }
        """Per non-root with an arc up to its parent: that arc's edge row."""
        # sums over a prefix of the order: a subtree's is a difference of two
        self.now_sum = list(
            itertools.accumulate(
                (self.up[x][2] if x in self.up else 0.0 for x in self.order), initial=0.0
            )
        )
        self.needed_sum = list(
            itertools.accumulate((int(pricer.needed(x)) for x in self.order), initial=0)
        )
        self.prize_sum = list(
            itertools.accumulate((pricer.vertex_prize(x) for x in self.order), initial=0.0)
        )

    def best(self, bottom: str) -> Move | None:
        """The best estimated exchange of the key path above ``bottom`` (None: none found)."""
        tree, loads = self.tree, self.loads
        row = self.up[bottom][1]
        peak = loads.flow_row[row]
        if peak <= 0:
            return None
        freed: list[str] = []  # up through non-key vertices to the top (a key vertex)
        v = tree.parent[bottom]
        while v not in self.key:
            freed.append(v)
            v = tree.parent[v]
        top = v
        removed = loads.now[tree.arc[bottom]] + sum(loads.now[tree.arc[f]] for f in freed)
        relief = self._relief(top, peak)
        below = set(self.order[self.first[bottom] : self.end[bottom]])
        found = self._search(
            self._reroot_costs(bottom, peak),
            below,
            peak,
            loads.delta_row[row],
            set(freed),
            removed,
            relief,
        )
        dropped = self._drop_gain(bottom, removed + next(reversed(relief.values()), 0.0))
        if dropped is not None and (found is None or dropped > found[0]):
            return Move(bottom, tuple(freed), top, (), bottom, dropped)
        if found is None:
            return None
        gain, start, path = found
        if not path or (start == top and not freed and path[0][1] == tree.arc[bottom]):
            return None  # the same pipe back
        return Move(bottom, tuple(freed), start, tuple(path), path[-1][0], gain)

    def _drop_gain(self, bottom: str, saved: float) -> float | None:
        """What dropping the subtree of ``bottom`` gains: its pipes, less its worth.

        ``saved`` is what the key path above and the relief of the pipes above it save. Prune
        (:func:`heatnet.optimise.steiner.prune`) leaves that relief out; here it counts. None
        when the subtree serves a required building. The subtree's sums are differences of
        the prefix sums over the preorder.
        """
        lo, hi = self.first[bottom], self.end[bottom]
        if self.needed_sum[hi] > self.needed_sum[lo]:
            return None
        inside = self.now_sum[hi] - self.now_sum[lo] - self.up[bottom][2]
        return saved + inside - (self.prize_sum[hi] - self.prize_sum[lo])

    def _relief(self, top: str, peak: float) -> dict[str, float]:
        """Relief of the pipes from ``top`` up to its supply without ``peak``, summed upwards.

        Keyed by vertex, from the top up: the relief of the pipes into top … into that vertex
        (the supply repeats the whole way's).
        """
        up, cost, flow, delta = self.up, self.cost, self.loads.flow_row, self.loads.delta_row
        relief: dict[str, float] = {}
        total = 0.0
        x = top
        while (step := up.get(x)) is not None:
            parent, i, now = step
            total += now - cost(i, delta[i] * max(flow[i] - peak, 0.0))
            relief[x] = total
            x = parent
        relief[x] = total
        return relief

    def _reroot_costs(self, bottom: str, peak: float) -> dict[str, float]:
        """Extra cost of entering the subtree of ``bottom`` at each of its vertices.

        Entering at w reverses the pipes from w up to ``bottom``: the pipe above x then carries
        everything of the subtree except what is below x. A vertex whose way up cannot be
        reversed (no arc that way) is left out. Vertices are taken breadth first from
        ``bottom``, and no more once :data:`REROOT_MOST` are in (the last one's children
        complete it).
        """
        up, back, kids, cost = self.up, self.back, self.kids, self.cost
        flow, delta = self.loads.flow_row, self.loads.delta_row
        out = {bottom: 0.0}
        queue = collections.deque([bottom])
        while queue and len(out) < REROOT_MOST:
            v = queue.popleft()
            for c in kids[v]:
                j = back.get(c)
                if j is None:
                    continue
                out[c] = out[v] + cost(j, delta[j] * max(peak - flow[j], 0.0)) - up[c][2]
                queue.append(c)
        return out

    def insertion(self, v: str) -> Move | None:
        """The best estimated way to join vertex ``v`` (not in the forest) and its buildings."""
        pricer = self.pricer
        prize = pricer.vertex_prize(v)
        peak = sum(pricer.peak[b] for b in pricer.hosted.get(v, ()) if pricer.joins(b, True))
        if prize <= 0 or peak <= 0:
            return None
        found = self._search({v: 0.0}, {v}, peak, 1.0, set(), prize, {})
        if found is None:
            return None
        gain, start, path = found
        return Move(v, (), start, tuple(path), v, gain) if path else None

    def _search(
        self,
        sources: dict[str, float],
        blocked: set[str],
        peak: float,
        delta: float,
        freed: set[str],
        removed: float,
        relief: dict[str, float],
    ) -> tuple[float, str, list[tuple[str, str]]] | None:
        """Dijkstra backwards from ``sources`` (vertex: cost of entering there) to the forest.

        ``blocked`` is what is being joined (never crossed), ``peak`` its undiversified load and
        ``delta`` its diversity; ``removed`` what the move saves or earns before the new path,
        ``relief`` that on the old way up (:meth:`_relief`). The search is bounded by what the
        move can gain at most; returns (estimated gain, the vertex joined, the new path down to
        the entry).
        """
        loads = self.loads
        new_kw = delta * peak
        budget = removed + next(reversed(relief.values()), 0.0)
        column, least = loads.column(new_kw)
        keep, existing, into = loads.keep, loads.existing_kw, loads.into
        upstream = _Upstream(self, peak, relief)
        dist = dict(sources)
        heap = [(c, w) for w, c in dist.items()]
        heapq.heapify(heap)
        nxt: dict[str, tuple[str, str]] = {}  # vertex → (next vertex towards the subtree, arc)
        best: tuple[float, str] | None = None
        while heap:
            d, h = heapq.heappop(heap)
            if d > dist.get(h, math.inf) or d >= budget:
                continue
            for t, a, i in into.get(h, ()):
                cost = d + (keep[i] if existing[i] >= least else column[i])
                if t in blocked or cost >= dist.get(t, math.inf) or cost >= budget:
                    continue
                dist[t], nxt[t] = cost, (h, a)
                if t in self.in_tree and t not in freed:  # joins the rest of the forest here
                    gain = removed - cost - upstream.cost_above(t)
                    if best is None or gain > best[0]:
                        best = (gain, t)
                else:
                    heapq.heappush(heap, (cost, t))
        if best is None:
            return None
        path: list[tuple[str, str]] = []
        v = best[1]
        while v in nxt:
            v, a = nxt[v]
            path.append((v, a))
        return best[0], best[1], path


class _Upstream:
    """Cost of a subtree's load on the pipes above a joining vertex, less the top's relief.

    Where the two ways to the supply meet, the pipes above carry the load either way: only the
    pipes below the meeting vertex count, on both sides. One per search (a load, a relief):
    the climb from each vertex is remembered, so vertices sharing a way up climb it once.
    """

    def __init__(self, search: _Exchanges, peak: float, relief: dict[str, float]) -> None:
        self.up, self.cost = search.up, search.cost
        self.flow, self.delta = search.loads.flow_row, search.loads.delta_row
        self.peak, self.relief = peak, relief
        self.total = next(reversed(relief.values()), 0.0)
        self.memo: dict[str, float] = {}

    def cost_above(self, r: str) -> float:
        """The load's added cost above ``r`` less the relief it meets (see the class)."""
        up, cost, flow, delta, memo = self.up, self.cost, self.flow, self.delta, self.memo
        peak, relief = self.peak, self.relief
        climbed: list[tuple[str, float]] = []
        x = r
        while x not in memo and x not in relief and (step := up.get(x)) is not None:
            parent, i, now = step
            climbed.append((x, cost(i, delta[i] * max(flow[i] + peak, 0.0)) - now))
            x = parent
        if x in memo:
            above = memo[x]
        elif x not in relief:  # another supply's tree: the top's whole way up is relieved
            above = -self.total
        else:
            above = -_relief_below(relief, x)
        for v, added in reversed(climbed):
            above += added
            memo[v] = above
        return memo.get(r, above)


def _relief_below(relief: dict[str, float], meet: str) -> float:
    """Relief of the pipes from the top up to (not including the pipe above) ``meet``."""
    below = 0.0
    for v, total in relief.items():
        if v == meet:
            return below
        below = total
    return below


def apply(pricer: Pricer, tree: Tree, move: Move) -> Tree | None:
    """The forest after ``move``; None if it would not be a forest."""
    if not move.path:  # a drop: the key path and everything below it
        return tree.without([move.freed[-1] if move.freed else move.bottom])
    parent, arc = dict(tree.parent), dict(tree.arc)
    for v in (move.bottom, *move.freed):
        parent.pop(v, None)
        arc.pop(v, None)
    chain = [move.entry]  # from the entry up to the old bottom: these pipes reverse
    while chain[-1] != move.bottom:
        up = tree.parent.get(chain[-1])
        if up is None:
            return None
        chain.append(up)
    for lower in chain:
        parent.pop(lower, None)
        arc.pop(lower, None)
    for lower, upper in itertools.pairwise(chain):
        back = pricer.arc_between.get((lower, upper))
        if back is None:
            return None
        parent[upper], arc[upper] = lower, back
    prev = move.start
    for head, a in move.path:
        if head in parent and head != move.entry:
            return None
        parent[head], arc[head] = prev, a
        prev = head
    out = Tree(set(tree.roots), parent, arc)
    return out if _is_forest(out) else None


def _is_forest(tree: Tree) -> bool:
    """Every vertex reaches a root by its parents (no cycle, no vertex hanging from nothing)."""
    good = set(tree.roots)
    for v in tree.parent:
        walk = []
        x = v
        while x not in good:
            if x in walk or x not in tree.parent:
                return False
            walk.append(x)
            x = tree.parent[x]
        good.update(walk)
    return True
