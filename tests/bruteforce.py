"""Small random networks and a hand pricer for the optimiser's brute-force tests.

Used by ``tests/test_optimise_bruteforce*.py`` and ``tests/test_local_search.py``. With
``optimiser/prevent-loops`` a design is a tree holding the supply in which every building is a
leaf and every other leaf is the supply, or nothing at all. Small networks (at most 12 edges)
have few enough edge subsets to price every such tree with the pricer here (:func:`price`,
:func:`enumerate_designs`), which follows the conventions of :mod:`heatnet.optimise.evaluate` but
shares no code with it:

- a connected building is worth tariff − connection cost + extra;
- a used edge carries the peaks (and mean kW) of the buildings below it (no diversity, no losses
  under :data:`tests.problems.EXACT`): the cheapest catalogue pipe whose capacity covers that
  load, or the existing pipe for its repex only while it covers it; zero-length edges cost
  nothing but carry no more than the largest pipe;
- the supply costs fixed + per_kw · load + heat · kWh once anything is connected, and cannot
  exceed its peak capacity.

Rate 0 and term 10 make every PV a plain sum: a pipe of length L and cost c ¤/m costs L·c once,
plus L·c again for each replacement inside the term (one at year 5 when the distribution
lifetime is 5, none when it is 50).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heatnet.economics.physics import capacity_kw
from heatnet.optimise.solution import Solution
from tests.problems import CIVIL, make_problem

TERM = 10
HOURS = 8760.0
DIAMETERS = CIVIL["diameter_mm"].to_numpy(dtype=float)
COST_M = CIVIL["cost_m"].to_numpy(dtype=float)
CAPACITY = capacity_kw(DIAMETERS, flow_c=90, return_c=60)
EXISTING = (20.0, 35.0, 50.0, 80.0, 100.0, 150.0, 200.0)
SUPPLY = "S:s"
N_CASES = 60


@dataclass
class Case:
    """A random network in :func:`tests.problems.make_problem`'s terms."""

    seed: int
    buildings: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    supply: dict[str, Any]
    lifetime: int
    limit: float = 1.0
    """``network/diversity-limit`` (1: no diversity, as in :data:`tests.problems.EXACT`)."""
    rate: float = 1.0
    """``network/diversity-rate``."""
    ground: float = 75.0
    """``optimiser/ground-temperature`` (75 = the mean water temperature: no heat loss)."""
    civil: tuple[tuple[float, float], ...] | None = None
    """Pipe catalogue as (diameter mm, ¤/m) rows; None: :data:`tests.problems.CIVIL`."""

    def params(self, model: str) -> dict[str, str]:
        out = {
            "heatnet/pipe-model": model,
            "optimiser/prevent-loops": "true",
            "finance/distribution-lifetime": str(self.lifetime),
        }
        if (self.limit, self.rate, self.ground) != (1.0, 1.0, 75.0):
            out["network/diversity-limit"] = repr(self.limit)
            out["network/diversity-rate"] = repr(self.rate)
            out["optimiser/ground-temperature"] = repr(self.ground)
        return out

    def problem(self, model: str) -> Any:
        return make_problem(
            self.buildings,
            self.edges,
            [self.supply],
            params=self.params(model),
            civil_costs=None if self.civil is None else civil_table(self.civil),
        )

    def repro(self) -> str:
        civil = "" if self.civil is None else f"    civil_costs=civil_table({self.civil!r}),\n"
        return (
            f"make_problem(\n    {self.buildings!r},\n    {self.edges!r},\n    [{self.supply!r}],\n"
            f"    params={self.params('discrete')!r},\n{civil})"
        )


def civil_table(rows: tuple[tuple[float, float], ...]) -> pd.DataFrame:
    """A one-dig-type ``civil_costs`` table from (diameter mm, ¤/m) rows."""
    return pd.DataFrame(
        {
            "diameter_mm": [float(d) for d, _ in rows],
            "civil_cost_id": [1] * len(rows),
            "cost_m": [float(c) for _, c in rows],
        }
    )


def random_case(seed: int) -> Case:
    """Supply + 1–4 junctions in a random tree, 2–5 buildings hung on them, a few extra edges."""
    rng = random.Random(seed)
    n_b, n_j = rng.randint(2, 5), rng.randint(1, 4)
    junctions = [f"J:{i}" for i in range(1, n_j + 1)]
    names = [f"B:{i}" for i in range(1, n_b + 1)]
    pairs: list[tuple[str, str]] = []
    spine = [SUPPLY]
    for j in rng.sample(junctions, len(junctions)):
        pairs.append((rng.choice(spine), j))
        spine.append(j)
    for b in names:
        hosts = spine + [x for x in names if x != b] if rng.random() < 0.2 else spine
        pairs.append((rng.choice(hosts), b))
    everything = [SUPPLY, *junctions, *names]
    for _ in range(rng.randint(0, 4)):
        u, v = rng.sample(everything, 2)
        if len(pairs) < 12 and {u, v} not in [set(p) for p in pairs]:
            pairs.append((u, v))
    if rng.random() < 0.1:  # sometimes cut the network
        pairs.pop(rng.randrange(len(pairs)))
    edges = []
    for u, v in rng.sample(pairs, len(pairs)):
        rec: dict[str, Any] = {"u": u, "v": v, "length": 0.0}
        if rng.random() > 0.1:
            rec["length"] = round(rng.uniform(5.0, 150.0), 1)
        if rng.random() < 0.25:
            rec["existing"] = rng.choice(EXISTING)
        edges.append(rec)
    buildings = []
    heavy = rng.random() < 0.15  # big loads: some trees need more than the largest pipe
    for i in range(1, n_b + 1):
        low, high = rng.choices(
            [(2.0, 30.0), (20.0, 300.0), (200.0, 2000.0), (1500.0, 5000.0)],
            [0, 0, 1, 4] if heavy else [3, 4, 2, 1],
        )[0]
        peak = round(rng.uniform(low, high), 2)
        kwh = round(peak * rng.uniform(500.0, 4000.0))
        rec = {
            "id": i,
            "peak": peak,
            "kwh": kwh,
            "value": round(kwh * rng.uniform(0.2, 1.5), 2),
            "cost": round(rng.uniform(0.0, 20000.0), 2),
        }
        if rng.random() < 0.2:
            rec["extra"] = round(rng.uniform(-5000.0, 5000.0), 2)
        buildings.append(rec)
    supply: dict[str, Any] = {
        "id": "s",
        "fixed": round(rng.uniform(0.0, 50000.0), 2),
        "per_kw": round(rng.uniform(0.0, 100.0), 3),
        "heat": round(rng.uniform(0.0, 0.6), 4),
    }
    if rng.random() < 0.3:
        supply["peak"] = round(rng.uniform(0.3, 1.1) * sum(b["peak"] for b in buildings), 2)
    lifetime = 5 if rng.random() < 0.35 else 50
    return Case(seed, buildings, edges, supply, lifetime)


# --- the hand pricer ----------------------------------------------------------------------------


def replacements(lifetime: int) -> int:
    """Repex events inside the term (years 0 < y < T with y mod L = 0)."""
    return sum(1 for y in range(1, TERM) if y % lifetime == 0)


def tree_below(case: Case, chosen: frozenset[int]) -> dict[int, set[str]] | None:
    """For a valid design, each chosen edge → the buildings it feeds; None if not a design."""
    tree = tree_of(case, chosen)
    return None if tree is None else {i: fed for i, (fed, _) in tree.items()}


def tree_of(case: Case, chosen: frozenset[int]) -> dict[int, tuple[set[str], set[int]]] | None:
    """For a valid design, each chosen edge → (the buildings it feeds, the edges at or below it).

    None if the edges are not a design.
    """
    if not chosen:
        return {}
    adj: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for i in chosen:
        e = case.edges[i]
        adj[e["u"]].append((i, e["v"]))
        adj[e["v"]].append((i, e["u"]))
    if SUPPLY not in adj or len(adj) != len(chosen) + 1:
        return None
    for v, around in adj.items():
        if v.startswith("B:") and len(around) != 1:
            return None  # heat never passes through a building
        if v.startswith("J:") and len(around) == 1:
            return None  # no pipe to nowhere
    parent: dict[str, tuple[int, str] | None] = {SUPPLY: None}
    order = [SUPPLY]
    for v in order:
        for i, w in adj[v]:
            if w not in parent:
                parent[w] = (i, v)
                order.append(w)
    if len(order) != len(adj):
        return None  # not connected (so, with |V| = |E| + 1, not a tree)
    below: dict[str, set[str]] = {v: ({v} if v.startswith("B:") else set()) for v in order}
    pipes: dict[str, set[int]] = {v: set() for v in order}
    out: dict[int, tuple[set[str], set[int]]] = {}
    for v in reversed(order[1:]):
        i, up = parent[v]  # type: ignore[misc]
        out[i] = (below[v], pipes[v] | {i})
        below[up] |= below[v]
        pipes[up] |= out[i][1]
    return out


def price(case: Case, chosen: frozenset[int]) -> tuple[float, set[str]] | None:
    """NPV of a design and its connected buildings; None if it is not a feasible design."""
    below = tree_below(case, chosen)
    if below is None:
        return None
    b = {f"B:{r['id']}": r for r in case.buildings}
    connected = set().union(*below.values()) if below else set()
    repex = replacements(case.lifetime)
    total = sum(
        b[x].get("value", 0.0) - b[x].get("cost", 0.0) + b[x].get("extra", 0.0) for x in connected
    )
    for i, feeds in below.items():
        e = case.edges[i]
        peak = sum(b[x]["peak"] for x in feeds)
        load = max(peak, sum(b[x]["kwh"] for x in feeds) / HOURS)
        if load > CAPACITY[-1]:
            return None
        if e["length"] <= 0:
            continue
        existing = e.get("existing")
        if existing is not None and capacity_kw(existing, flow_c=90, return_c=60) >= load:
            total -= e["length"] * float(np.interp(existing, DIAMETERS, COST_M)) * repex
        else:
            k = next(j for j, cap in enumerate(CAPACITY) if cap >= load)
            total -= e["length"] * COST_M[k] * (1 + repex)
    if connected:
        s = case.supply
        peak = sum(b[x]["peak"] for x in connected)
        kwh = sum(b[x]["kwh"] for x in connected)
        load = max(peak, kwh / HOURS)
        if "peak" in s and load > s["peak"]:
            return None
        total -= s.get("fixed", 0.0) + s.get("per_kw", 0.0) * load + s.get("heat", 0.0) * kwh
    return total, connected


def npv(case: Case, chosen: frozenset[int]) -> float | None:
    priced = price(case, chosen)
    return None if priced is None else priced[0]


def enumerate_designs(case: Case) -> dict[frozenset[int], float]:
    """Every feasible design (edge indices) and its NPV; the empty design is worth 0."""
    out = {}
    n = len(case.edges)
    for mask in range(1 << n):
        chosen = frozenset(i for i in range(n) if mask >> i & 1)
        priced = price(case, chosen)
        if priced is not None:
            out[chosen] = priced[0]
    return out


def returned(case: Case, solution: Solution) -> tuple[frozenset[int], set[str]]:
    """The edge indices and connected buildings of a solution's design."""
    design = solution.design
    assert design is not None
    edges = design.edges
    index = {f"E{n}": n - 1 for n in range(1, len(case.edges) + 1)}
    chosen = frozenset(index[e] for e in edges.index[edges["in_network"].to_numpy(bool)])
    b = design.buildings
    return chosen, set(b.index[b["in_network"].to_numpy(bool)])


def check_priced(case: Case, solution: Solution) -> None:
    """The solution's design is a design, and its reported objective is its hand price."""
    chosen, buildings = returned(case, solution)
    priced = price(case, chosen)
    assert priced is not None, f"returned design {sorted(chosen)} is not a feasible tree"
    npv, connected = priced
    assert buildings == connected
    assert solution.objective == pytest.approx(npv, rel=1e-6, abs=1e-6)


def check_upper_bound(case: Case, solution: Solution, best: float) -> None:
    """The solution's upper bound is proven: no design is worth more."""
    assert solution.upper_bound is not None, case.repro()
    assert solution.upper_bound >= best - 1e-6 * max(1.0, abs(best)), (
        f"upper bound {solution.upper_bound} < best design {best}\n{case.repro()}"
    )


CASES = [random_case(seed) for seed in range(N_CASES)]
"""The random networks (seeds 0 … N_CASES − 1) the brute-force and local search tests share."""
