"""The optimiser against brute force: every design of small random networks, priced by hand.

Every tree design of each network (at most 12 edges) is enumerated and priced by the hand pricer
of ``tests/bruteforce.py`` (its conventions are there), which shares no code with
:mod:`heatnet.optimise.evaluate`. The ``discrete`` model must find the best enumerated NPV; the
``linear`` model may do worse but never claim better, and what it reports must be the hand price
of the design it returns; in both the upper bound must be at least the best enumerated NPV.

The same with diversity and heat losses on: ``tests/test_optimise_bruteforce_losses.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from heatnet.optimise.loop import optimise
from tests.bruteforce import (
    CAPACITY,
    CASES,
    N_CASES,
    SUPPLY,
    Case,
    check_priced,
    check_upper_bound,
    enumerate_designs,
    npv,
    price,
)

# --- the tests ----------------------------------------------------------------------------------


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
