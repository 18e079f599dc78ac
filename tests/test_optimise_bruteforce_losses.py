"""The optimiser against brute force with diversity and heat losses on.

The enumeration of ``tests/test_optimise_bruteforce.py`` with ``network/diversity-limit`` < 1
and the ground colder than the water, priced by a second hand pricer (again sharing no code with
heatnet.optimise.evaluate). Its conventions, on a tree (flows are unique):

- f(n) = a + (1 − a) / max(1, k·n) rounded half up to 2 decimals (decimal arithmetic), f(0) = 1;
  a building's undiversified peak is its given peak / f(its own connections);
- a used edge's load is the largest of f(connections below) × Σ undiversified peaks below, the
  largest single given peak below, and the mean kW below plus the losses of every pipe below
  it, its own included (a pipe's loss is drawn at its downstream end). A building's only edge
  (a folded connector in heatnet) is the one-building case of the same rule: max(given peak,
  mean + its own loss);
- the pipe is the existing one while it carries the load, else the cheapest (here: smallest)
  catalogue pipe that does; its loss is length × the loss per metre at its diameter. Loads
  and losses are a fixed point, found by starting with no losses and re-sizing until no
  diameter changes (the least fixed point: losses only grow loads, loads only grow pipes);
  a zero-length edge has no pipe and no loss but carries no more than the largest pipe;
- the supply's load is max(f(all connections) × Σ undiversified peaks, mean + every loss), its
  output 8760 · (mean + every loss) kWh/yr, and it costs fixed + per_kw · load + heat · kWh.

Two cases in three use :data:`FINE`, a 12-pipe catalogue, so that diversity and losses move
diameters often (the 4 pipes of CIVIL are a factor 6-10 apart in capacity). Every case is
checked in both pipe models against the bounds' definitions: the upper bound is never below
the best design, the objective is the hand price of the design returned and never above the
best, ``optimal`` is within 1e-4 of the best, and lower bound = objective, gap = (upper −
lower) / max(|lower|, 1).

The random cases, the tree enumeration and the plain hand pricer are in ``tests/bruteforce.py``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest

from heatnet.economics.physics import capacity_kw, heat_loss_w_per_m
from heatnet.optimise.loop import optimise
from heatnet.optimise.solution import Solution
from tests.bruteforce import (
    CAPACITY,
    CASES,
    COST_M,
    DIAMETERS,
    HOURS,
    SUPPLY,
    Case,
    price,
    random_case,
    replacements,
    returned,
    tree_of,
)

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
