"""The optimiser against brute force: every design of small random networks, priced by hand.

With ``optimiser/prevent-loops`` a design is a tree holding the supply in which every building is
a leaf and every other leaf is the supply, or nothing at all. Small networks (at most 12 edges)
have few enough edge subsets to price every such tree with the pricer below, which follows the
conventions of :mod:`heatnet.optimise.evaluate` but shares no code with it:

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
never claim better, and what it reports must be the hand price of the design it returns; in
both the upper bound must be at least the best enumerated NPV.

The second half of the file does the same with diversity and heat losses on, with its own hand
pricer (conventions there).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heatnet.economics.physics import capacity_kw, heat_loss_w_per_m
from heatnet.optimise.loop import optimise
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
    check_upper_bound(case, solution, best)


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c.seed}" for c in CASES])
def test_linear_never_claims_better_than_the_optimum(case: Case) -> None:
    designs = enumerate_designs(case)
    best = max(designs.values())
    solution = optimise(case.problem("linear"))
    assert solution.objective is not None, case.repro()
    assert solution.objective <= best + 1e-6 * max(1.0, abs(best)), case.repro()
    check_priced(case, solution)
    check_upper_bound(case, solution, best)


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


# --- with diversity and heat losses -------------------------------------------------------------
#
# The same enumeration with ``network/diversity-limit`` < 1 and the ground colder than the water,
# priced by a second hand pricer (again sharing no code with heatnet.optimise.evaluate). Its
# conventions, on a tree (flows are unique):
#
# - f(n) = a + (1 − a) / max(1, k·n) rounded half up to 2 decimals (decimal arithmetic), f(0) = 1;
#   a building's undiversified peak is its given peak / f(its own connections);
# - a used edge's load is the largest of f(connections below) × Σ undiversified peaks below, the
#   largest single given peak below, and the mean kW below plus the losses of every pipe below
#   it, its own included (a pipe's loss is drawn at its downstream end). A building's only edge
#   (a folded connector in heatnet) is the one-building case of the same rule: max(given peak,
#   mean + its own loss);
# - the pipe is the existing one while it carries the load, else the cheapest (here: smallest)
#   catalogue pipe that does; its loss is length × the loss per metre at its diameter. Loads
#   and losses are a fixed point, found by starting with no losses and re-sizing until no
#   diameter changes (the least fixed point: losses only grow loads, loads only grow pipes);
#   a zero-length edge has no pipe and no loss but carries no more than the largest pipe;
# - the supply's load is max(f(all connections) × Σ undiversified peaks, mean + every loss), its
#   output 8760 · (mean + every loss) kWh/yr, and it costs fixed + per_kw · load + heat · kWh.
#
# Two cases in three use :data:`FINE`, a 12-pipe catalogue, so that diversity and losses move
# diameters often (the 4 pipes of CIVIL are a factor 6-10 apart in capacity). Every case is
# checked in both pipe models against the bounds' definitions: the upper bound is never below
# the best design, the objective is the hand price of the design returned and never above the
# best, ``optimal`` is within 1e-4 of the best, and lower bound = objective, gap = (upper −
# lower) / max(|lower|, 1).

ON_CASES_N = 60
ON_TOLERANCE = 1e-6
MODELS = ("discrete", "linear")
FINE = (
    (20.0, 100.0), (25.0, 115.0), (32.0, 130.0), (40.0, 150.0), (50.0, 180.0), (65.0, 220.0),
    (80.0, 270.0), (100.0, 340.0), (125.0, 420.0), (150.0, 500.0), (200.0, 650.0), (250.0, 800.0),
)  # fmt: skip
"""A finer catalogue (diameter mm, ¤/m): about 24 kW to 14 MW."""


@dataclass(frozen=True)
class Pipes:
    """A case's catalogue: diameters, ¤/m and capacity at 90/60 °C, ascending."""

    diameter_mm: np.ndarray
    cost_m: np.ndarray
    capacity_kw: np.ndarray

    @classmethod
    def of(cls, case: Case) -> Pipes:
        if case.civil is None:
            return cls(DIAMETERS, COST_M, CAPACITY)
        d = np.array([x for x, _ in case.civil], dtype=float)
        c = np.array([x for _, x in case.civil], dtype=float)
        return cls(d, c, capacity_kw(d, flow_c=90, return_c=60))

    def size(self, edge: dict[str, Any], load: float) -> tuple[float, float, bool] | None:
        """(diameter, ¤/m, kept existing) for a load; None on a zero-length edge."""
        if edge["length"] <= 0:
            return None
        existing = edge.get("existing")
        if existing is not None and capacity_kw(existing, flow_c=90, return_c=60) >= load:
            return float(existing), float(np.interp(existing, self.diameter_mm, self.cost_m)), True
        k = next(j for j, cap in enumerate(self.capacity_kw) if cap >= load)
        return float(self.diameter_mm[k]), float(self.cost_m[k]), False


def diversity_factor(n: int, limit: float, rate: float) -> float:
    """f(n), worked in decimals from the numbers as written."""
    if n <= 0:
        return 1.0
    a, k = Decimal(repr(limit)), Decimal(repr(rate))
    value = a + (1 - a) / max(Decimal(1), k * n)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def loss_per_m_kw(diameter_mm: float, ground_c: float) -> float:
    """Heat lost per metre of a pipe pair at 90/60 °C (kW/m)."""
    w = heat_loss_w_per_m(diameter_mm, flow_c=90, return_c=60, ground_c=ground_c)
    return float(w) / 1000.0


@dataclass
class Priced:
    """A design priced with diversity and losses (per edge: by edge index)."""

    npv: float
    connected: set[str]
    load_kw: dict[int, float]
    peak_kw: dict[int, float]
    """The diversified peak part of the load: max(f · Σ undiversified, the largest peak)."""
    mean_kw: dict[int, float]
    """Mean kW below, without losses."""
    diameter_mm: dict[int, float | None]
    """The pipe laid or kept (None on a zero-length edge)."""
    loss_kw: dict[int, float]
    supply_load_kw: float
    supply_kwh: float


def _settle_losses(
    case: Case,
    tree: dict[int, tuple[set[str], set[int]]],
    peak: dict[int, float],
    mean: dict[int, float],
) -> tuple[dict[int, float], dict[int, tuple[float, float, bool] | None], dict[int, float]] | None:
    """Loads, pipes and losses at the least fixed point; None if some load outgrows every pipe."""
    pipes = Pipes.of(case)
    loss = dict.fromkeys(tree, 0.0)
    sized: dict[int, tuple[float, float, bool] | None] | None = None
    for _ in range(100):
        load = {
            i: max(peak[i], mean[i] + sum(loss[j] for j in below)) for i, (_, below) in tree.items()
        }
        if any(kw > pipes.capacity_kw[-1] for kw in load.values()):
            return None  # loads only grow from here: no pipe will ever carry it
        again = {i: pipes.size(case.edges[i], load[i]) for i in tree}
        if again == sized:
            return load, sized, loss
        sized = again
        loss = {
            i: 0.0
            if pipe is None
            else case.edges[i]["length"] * loss_per_m_kw(pipe[0], case.ground)
            for i, pipe in sized.items()
        }
    raise AssertionError(f"the losses never settled: {case.repro()}")


def price_on(case: Case, chosen: frozenset[int]) -> Priced | None:
    """A design priced with diversity and losses; None if it is not a feasible design."""
    tree = tree_of(case, chosen)
    if tree is None:
        return None
    b = {f"B:{r['id']}": r for r in case.buildings}
    connected: set[str] = set().union(*(fed for fed, _ in tree.values())) if tree else set()
    conn = {x: int(b[x].get("connections", 1)) for x in connected}
    given = {x: float(b[x]["peak"]) for x in connected}
    undiv = {x: given[x] / diversity_factor(conn[x], case.limit, case.rate) for x in connected}
    mean = {x: b[x]["kwh"] / HOURS for x in connected}
    peak_kw, mean_kw = {}, {}
    for i, (fed, _) in tree.items():
        n = sum(conn[x] for x in fed)
        diversified = diversity_factor(n, case.limit, case.rate) * sum(undiv[x] for x in fed)
        peak_kw[i] = max(diversified, max(given[x] for x in fed))
        mean_kw[i] = sum(mean[x] for x in fed)
    settled = _settle_losses(case, tree, peak_kw, mean_kw)
    if settled is None:
        return None
    load, sized, loss = settled
    repex = replacements(case.lifetime)
    total = sum(
        b[x].get("value", 0.0) - b[x].get("cost", 0.0) + b[x].get("extra", 0.0) for x in connected
    )
    for i, pipe in sized.items():
        if pipe is not None:
            _, cost_m, kept = pipe
            total -= case.edges[i]["length"] * cost_m * (repex if kept else 1 + repex)
    supply_load = supply_kwh = 0.0
    if connected:
        s = case.supply
        n = sum(conn.values())
        mean_all = sum(mean.values()) + sum(loss.values())
        diversified = diversity_factor(n, case.limit, case.rate) * sum(undiv.values())
        supply_load, supply_kwh = max(diversified, mean_all), HOURS * mean_all
        if "peak" in s and supply_load > s["peak"]:
            return None
        total -= s.get("fixed", 0.0) + s.get("per_kw", 0.0) * supply_load
        total -= s.get("heat", 0.0) * supply_kwh
    diameters = {i: None if pipe is None else pipe[0] for i, pipe in sized.items()}
    return Priced(
        total, connected, load, peak_kw, mean_kw, diameters, loss, supply_load, supply_kwh
    )


def enumerate_on(case: Case) -> dict[frozenset[int], Priced]:
    """Every feasible design and its price with diversity and losses (empty: worth 0)."""
    out = {}
    n = len(case.edges)
    for mask in range(1 << n):
        chosen = frozenset(i for i in range(n) if mask >> i & 1)
        priced = price_on(case, chosen)
        if priced is not None:
            out[chosen] = priced
    return out


def random_on_case(seed: int) -> Case:
    """:func:`random_case`'s networks with long edges, diversity and loads that lose heat."""
    base = random_case(seed)
    rng = random.Random(f"on-{seed}")
    junctions = sorted({v for e in base.edges for v in (e["u"], e["v"]) if v.startswith("J:")})
    edges: list[dict[str, Any]] = []
    for e in base.edges:
        rec = {**e, "length": 0.0 if rng.random() < 0.05 else round(rng.uniform(50.0, 400.0), 1)}
        ends = {rec["u"], rec["v"]}
        if SUPPLY in ends and junctions and rng.random() < 0.6:  # share pipes: diversity
            (other,) = ends - {SUPPLY}
            host = rng.choice(junctions)
            if other.startswith("B:") and all(
                {host, other} != {x["u"], x["v"]} for x in base.edges
            ):
                rec["u"], rec["v"] = host, other
        edges.append(rec)
    civil = None if seed % 3 == 0 else FINE
    capacities = Pipes.of(Case(seed, [], [], {}, 50, civil=civil)).capacity_kw
    low, high = rng.choice([(5.0, 60.0), (40.0, 400.0), (300.0, 2500.0)])  # alike: diversity
    near = [float(c) for c in capacities if low <= c <= 1.5 * high]
    buildings = []
    for r in base.buildings:
        rec = {**r, "peak": round(rng.uniform(low, high), 2)}
        if rng.random() < 0.5:
            rec["connections"] = rng.choice([rng.randint(2, 6), rng.randint(7, 40)])
        hours = rng.uniform(6500.0, 9500.0) if rng.random() < 0.4 else rng.uniform(500.0, 4000.0)
        if near and rng.random() < 0.3:  # steady, just under a pipe: its own loss upsizes it
            rec["peak"] = round(rng.choice(near) * rng.uniform(0.8, 0.97), 2)
            hours = rng.uniform(8000.0, 8760.0)
        rec["kwh"] = round(rec["peak"] * hours)  # a steady load (mean near peak): losses size pipes
        rec["value"] = round(rec["kwh"] * rng.uniform(0.2, 1.5), 2)
        buildings.append(rec)
    supply = dict(base.supply)
    if "peak" in supply:
        supply["peak"] = round(rng.uniform(0.5, 1.1) * sum(b["peak"] for b in buildings), 2)
    rate = rng.choice([1.0, round(rng.uniform(0.5, 0.9), 2), round(rng.uniform(0.5, 2.0), 2)])
    ground = rng.choice([8.0, 0.0, round(rng.uniform(-5.0, 20.0), 1)])
    return Case(seed, buildings, edges, supply, base.lifetime, 0.62, rate, ground, civil)


def returned_on(case: Case, solution: Solution) -> Priced:
    """The hand price of a solution's design (which must be a feasible design)."""
    chosen, buildings = returned(case, solution)
    priced = price_on(case, chosen)
    assert priced is not None, f"returned design {sorted(chosen)} is not feasible\n{case.repro()}"
    assert buildings == priced.connected, case.repro()
    return priced


ON_CASES = [random_on_case(seed) for seed in range(ON_CASES_N)]


def test_the_loss_pricer_is_the_plain_pricer_without_diversity_and_losses() -> None:
    """With diversity and losses off, both hand pricers price every design alike."""
    for case in CASES[::2]:
        for mask in range(1 << len(case.edges)):
            chosen = frozenset(i for i in range(len(case.edges)) if mask >> i & 1)
            plain, priced = price(case, chosen), price_on(case, chosen)
            assert (plain is None) == (priced is None), (case.seed, sorted(chosen))
            if plain is not None and priced is not None:
                assert priced.npv == pytest.approx(plain[0], rel=1e-12, abs=1e-9)
                assert priced.connected == plain[1]


def test_diversity_on_paper() -> None:
    """f(n) rounds half up in decimals, and a pipe carries the diversified peak."""
    assert diversity_factor(0, 0.62, 1.0) == 1.0
    assert diversity_factor(1, 0.62, 1.0) == 1.0
    assert diversity_factor(2, 0.62, 1.0) == 0.81
    assert diversity_factor(4, 0.62, 1.0) == 0.72  # 0.715 exactly: up, not binary 0.71
    assert diversity_factor(3, 0.62, 0.5) == 0.87  # 0.62 + 0.38 / 1.5 = 0.8733
    assert diversity_factor(1, 0.62, 2.0) == 0.81
    # two buildings of 2 connections and 81 kW given (100 kW each undiversified) under one pipe:
    # 0.72 · 200 = 144 kW, a 50 mm pipe; each connector carries its 81 kW, also 50 mm
    case = Case(
        -1,
        [
            {"id": 1, "peak": 81.0, "kwh": 8760, "connections": 2, "value": 90000.0},
            {"id": 2, "peak": 81.0, "kwh": 8760, "connections": 2, "value": 90000.0},
        ],
        [
            {"u": SUPPLY, "v": "J:1", "length": 100.0},
            {"u": "J:1", "v": "B:1", "length": 10.0},
            {"u": "J:1", "v": "B:2", "length": 10.0},
        ],
        {"id": "s", "per_kw": 10.0},
        50,
        0.62,
        1.0,
        75.0,
    )
    priced = price_on(case, frozenset({0, 1, 2}))
    assert priced is not None
    assert priced.load_kw == pytest.approx({0: 144.0, 1: 81.0, 2: 81.0})
    assert priced.diameter_mm == {0: 50.0, 1: 50.0, 2: 50.0}
    assert priced.supply_load_kw == pytest.approx(144.0)
    assert priced.npv == pytest.approx(180000.0 - 120 * 200.0 - 1440.0)
    solution = optimise(case.problem("discrete"))
    assert solution.objective == pytest.approx(priced.npv, rel=1e-9)


def test_losses_on_paper() -> None:
    """A 400 m connector: its own loss pushes it from 20 mm to 50 mm, and the plant pays it."""
    ground = 8.0
    w20 = 67.0 * (0.16807 * math.log(0.02) + 0.85684) / 1000.0  # ≈ 0.013356 kW/m
    w50 = 67.0 * (0.16807 * math.log(0.05) + 0.85684) / 1000.0  # ≈ 0.023674 kW/m
    assert loss_per_m_kw(20.0, ground) == pytest.approx(w20)
    assert 20.0 + 400 * w20 > CAPACITY[0] > 20.0  # the 20 mm pipe carries 20 kW, not 25.3
    case = Case(
        -1,
        [{"id": 1, "peak": 20.0, "kwh": 20 * 8760, "value": 200000.0}],
        [{"u": SUPPLY, "v": "B:1", "length": 400.0}],
        {"id": "s", "per_kw": 10.0, "heat": 0.1},
        50,
        0.62,
        1.0,
        ground,
    )
    priced = price_on(case, frozenset({0}))
    assert priced is not None
    assert priced.diameter_mm == {0: 50.0}
    assert priced.loss_kw[0] == pytest.approx(400 * w50)
    mean = 20.0 + 400 * w50
    assert priced.load_kw[0] == pytest.approx(mean)
    assert priced.supply_kwh == pytest.approx(8760 * mean)
    assert priced.npv == pytest.approx(200000.0 - 400 * 200.0 - 10.0 * mean - 0.1 * 8760 * mean)
    solution = optimise(case.problem("discrete"))
    assert solution.objective == pytest.approx(priced.npv, rel=1e-9)
    # an existing 20 mm pipe is not kept: with its own loss the load is above its capacity
    kept = replace(case, edges=[{**case.edges[0], "existing": 20.0}])
    assert price_on(kept, frozenset({0})).diameter_mm == {0: 50.0}  # type: ignore[union-attr]


def test_the_loss_cases_cover_the_interesting_features() -> None:
    """Diversity and losses change prices, diameters and best designs (guards a dull generator)."""

    def best_of(designs: dict[frozenset[int], Priced]) -> tuple[frozenset[int], Priced]:
        return max(designs.items(), key=lambda kv: kv[1].npv)

    positive = nothing = diversity_moves = loss_decides = shrunk = grown = 0
    for case in ON_CASES:
        designs = enumerate_on(case)
        chosen, best = best_of(designs)
        positive += best.npv > 0
        nothing += best.npv == 0
        plain = best_of(enumerate_on(replace(case, limit=1.0)))[1].npv
        diversity_moves += abs(plain - best.npv) > 1e-6 * max(1.0, abs(best.npv))
        loss_decides += best_of(enumerate_on(replace(case, ground=75.0)))[0] != chosen
        pipes = Pipes.of(case)
        b = {f"B:{r['id']}": r for r in case.buildings}
        smaller = larger = False  # in any design: diversity shrinks a pipe, losses grow one
        for design, p in designs.items():
            for i, (fed, _) in (tree_of(case, design) or {}).items():
                if p.diameter_mm[i] is None:
                    continue
                whole = max(sum(b[x]["peak"] for x in fed), p.load_kw[i])
                undiversified = pipes.size(case.edges[i], whole)
                lossless = pipes.size(case.edges[i], max(p.peak_kw[i], p.mean_kw[i]))
                smaller |= undiversified is not None and undiversified[0] > p.diameter_mm[i]
                larger |= lossless is not None and lossless[0] < p.diameter_mm[i]
        shrunk += smaller
        grown += larger
    assert positive >= ON_CASES_N // 2
    assert nothing >= 3
    assert diversity_moves >= ON_CASES_N // 3
    assert loss_decides >= 4
    assert shrunk >= 5
    assert grown >= 10


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("case", ON_CASES, ids=[f"seed{c.seed}" for c in ON_CASES])
def test_bounds_hold_with_diversity_and_losses(case: Case, model: str) -> None:
    best = max(p.npv for p in enumerate_on(case).values())
    solution = optimise(case.problem(model))
    where = f"{model}: {case.repro()}"
    tol = ON_TOLERANCE * max(1.0, abs(best))
    # (b) the design written is what it says, and no better than the best there is
    assert solution.objective is not None, where
    priced = returned_on(case, solution)
    assert solution.objective == pytest.approx(priced.npv, rel=1e-6, abs=1e-6), where
    assert solution.objective <= best + tol, (
        f"objective {solution.objective} > best {best}\n{where}"
    )
    # (a) the upper bound is proven: no design beats it
    assert solution.upper_bound is not None, where
    assert solution.upper_bound >= best - tol, (
        f"upper {solution.upper_bound} < best {best}\n{where}"
    )
    # (c) optimal means optimal
    if solution.state == "optimal":
        assert solution.objective >= best - 1e-4 * max(1.0, abs(best)), (
            f"optimal at {solution.objective} < best {best}\n{where}"
        )
    # (d) lower bound: the design; upper: the relaxation; the gap between them
    assert solution.lower_bound == solution.objective, where
    lower, upper = solution.lower_bound, solution.upper_bound
    gap = max(
        0.0, (upper - lower) / max(1.0, abs(lower))
    )  # (upper − lower)/|lower| for |lower| ≥ 1
    assert solution.mip_gap == pytest.approx(gap, rel=1e-9, abs=1e-12), where
