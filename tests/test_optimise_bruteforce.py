"""The optimiser against brute force: every design of small random networks, priced by hand.

With ``optimiser/prevent-loops`` a design is a tree holding the supply in which every building is
a leaf and every other leaf is the supply, or nothing at all. Small networks (at most 12 edges)
have few enough edge subsets to price every such tree with the pricer below, which follows the
conventions of :mod:`heatnet.model.evaluate` but shares no code with it:

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

The ``discrete`` model must find the best enumerated NPV; the ``linear`` model may do worse but
never claim better, and what it reports must be the hand price of the design it returns.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest

from heatnet.economics.physics import capacity_kw
from heatnet.optimise import Solution, optimise
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

    def params(self, model: str) -> dict[str, str]:
        return {
            "heatnet/pipe-model": model,
            "optimiser/prevent-loops": "true",
            "finance/distribution-lifetime": str(self.lifetime),
        }

    def problem(self, model: str) -> Any:
        return make_problem(self.buildings, self.edges, [self.supply], params=self.params(model))

    def repro(self) -> str:
        return (
            f"make_problem(\n    {self.buildings!r},\n    {self.edges!r},\n    [{self.supply!r}],\n"
            f"    params={self.params('discrete')!r},\n)"
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
    out: dict[int, set[str]] = {}
    for v in reversed(order[1:]):
        i, up = parent[v]  # type: ignore[misc]
        out[i] = below[v]
        below[up] |= below[v]
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


# --- the tests ----------------------------------------------------------------------------------

CASES = [random_case(seed) for seed in range(N_CASES)]


def test_the_cases_cover_the_interesting_features() -> None:
    """The generator exercises every rule (guards against a silently dull suite)."""
    assert all(len(c.edges) <= 12 for c in CASES)
    assert sum(c.lifetime == 5 for c in CASES) >= 10
    best = {c.seed: max(enumerate_designs(c).items(), key=lambda kv: kv[1]) for c in CASES}
    assert sum(v > 0 for _, v in best.values()) >= N_CASES // 2  # something worth building
    assert sum(v == 0 for _, v in best.values()) >= 3  # and sometimes nothing is
    in_best = [[c.edges[i] for i in best[c.seed][0]] for c in CASES]
    assert sum(any("existing" in e for e in edges) for edges in in_best) >= 10
    assert sum(any(e["length"] == 0 for e in edges) for edges in in_best) >= 5
    assert sum(sum(b["peak"] for b in c.buildings) > CAPACITY[-1] for c in CASES) >= 3
    capped = [c for c in CASES if "peak" in c.supply]
    binding = [
        c
        for c in capped
        if max(
            enumerate_designs(
                replace(c, supply={k: v for k, v in c.supply.items() if k != "peak"})
            ).values()
        )
        > best[c.seed][1]
    ]
    assert len(binding) >= 3


def test_pricer_on_a_hand_case() -> None:
    """The pricer on a case worked on paper."""
    case = Case(
        -1,
        [
            {"id": 1, "peak": 20.0, "kwh": 40000, "value": 50000.0, "cost": 3000.0},
            {"id": 2, "peak": 200.0, "kwh": 400000, "value": 30000.0, "cost": 3000.0},
        ],
        [
            {"u": "S:s", "v": "J:1", "length": 50.0},
            {"u": "J:1", "v": "B:1", "length": 10.0},
            {"u": "J:1", "v": "B:2", "length": 20.0},
            {"u": "S:s", "v": "B:2", "length": 80.0, "existing": 50.0},
        ],
        {"id": "s", "fixed": 1000.0, "per_kw": 10.0, "heat": 0.05},
        50,
    )
    # B1 alone over E1 (20 kW: 20 mm) and E2: 47000 − 50·100 − 10·100 − supply
    supply_b1 = 1000 + 10 * 20 + 0.05 * 40000
    assert npv(case, frozenset({0, 1})) == pytest.approx(47000 - 6000 - supply_b1)
    # both over E1 (220 kW: 50 mm), E2, E3 (200 kW: 50 mm)
    supply_both = 1000 + 10 * 220 + 0.05 * 440000
    expect = 74000 - 50 * 200 - 10 * 100 - 20 * 200 - supply_both
    assert npv(case, frozenset({0, 1, 2})) == pytest.approx(expect)
    # B2 over the existing 50 mm pipe is free, B1 over E1 and E2
    expect = 74000 - 50 * 100 - 10 * 100 - supply_both
    assert npv(case, frozenset({0, 1, 3})) == pytest.approx(expect)
    assert price(case, frozenset({0})) is None  # pipe to nowhere
    assert price(case, frozenset({0, 2, 3})) is None  # a loop
    assert price(case, frozenset({1, 2})) is None  # no supply
    assert price(case, frozenset()) == (0.0, set())
    lifetime5 = Case(-1, case.buildings, case.edges, case.supply, 5)
    # lifetime 5: new pipes twice, the existing 50 mm once
    expect = 74000 - 2 * (50 * 100 + 10 * 100) - 80 * 200 - supply_both
    assert npv(lifetime5, frozenset({0, 1, 3})) == pytest.approx(expect)
    capped = Case(-1, case.buildings, case.edges, {**case.supply, "peak": 100.0}, 50)
    assert price(capped, frozenset({0, 1, 3})) is None
    assert price(capped, frozenset({0, 1})) is not None


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c.seed}" for c in CASES])
def test_discrete_finds_the_enumerated_optimum(case: Case) -> None:
    designs = enumerate_designs(case)
    best = max(designs.values())
    solution = optimise(case.problem("discrete"))
    assert solution.state == "optimal", case.repro()
    assert solution.objective == pytest.approx(best, rel=1e-6, abs=1e-6), case.repro()
    check_priced(case, solution)


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c.seed}" for c in CASES])
def test_linear_never_claims_better_than_the_optimum(case: Case) -> None:
    designs = enumerate_designs(case)
    best = max(designs.values())
    solution = optimise(case.problem("linear"))
    assert solution.objective is not None, case.repro()
    assert solution.objective <= best + 1e-6 * max(1.0, abs(best)), case.repro()
    check_priced(case, solution)


# --- minimal cases where heatnet and the enumeration disagree -----------------------------------


def _one_supply_case(buildings: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Case:
    return Case(-1, buildings, edges, {"id": "s"}, 50)


def test_a_building_above_the_largest_pipe_cannot_connect_at_the_supply() -> None:
    case = _one_supply_case(
        [{"id": 1, "peak": 9000.0, "kwh": 1_000_000, "value": 1_000_000.0}],
        [{"u": SUPPLY, "v": "B:1", "length": 10.0}],
    )
    assert max(enumerate_designs(case).values()) == 0.0
    solution = optimise(case.problem("discrete"))
    assert solution.objective == pytest.approx(0.0, abs=1e-6)


def test_a_mean_load_above_the_peak_can_still_be_supplied() -> None:
    case = _one_supply_case(
        [{"id": 1, "peak": 10.0, "kwh": 20 * 8760, "value": 10_000.0}],
        [{"u": SUPPLY, "v": "B:1", "length": 10.0}],
    )
    best = max(enumerate_designs(case).values())
    assert best == pytest.approx(10_000.0 - 10 * 100.0)  # 20 kW mean: 20 mm
    solution = optimise(case.problem("discrete"))
    assert solution.objective == pytest.approx(best, rel=1e-6)


def test_a_folded_connector_carries_the_mean_load_too() -> None:
    case = _one_supply_case(
        [
            {"id": 1, "peak": 20.0, "kwh": 25 * 8760, "value": 10_000.0},
            {"id": 2, "peak": 100.0, "kwh": 1000, "value": 10_000.0},
        ],
        [{"u": SUPPLY, "v": "B:1", "length": 10.0}, {"u": SUPPLY, "v": "B:2", "length": 10.0}],
    )
    best = max(enumerate_designs(case).values())
    assert best == pytest.approx(20_000.0 - 2 * 10 * 200.0)  # both connectors 50 mm
    solution = optimise(case.problem("discrete"))
    assert solution.objective == pytest.approx(best, rel=1e-6)
