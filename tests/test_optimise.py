"""The optimiser on micro networks whose optimum is derived on paper.

Under :data:`tests.problems.EXACT` (rate 0, term 10, distribution lifetime 50, no losses, no
diversity, gap 0) every PV is a plain sum: a pipe of length L at diameter d costs L·cost_m(d)
with cost_m = 100/200/400/800 ¤/m for 20/50/100/200 mm, which carry ~24.4/261.1/1485.7/8223.5 kW
at 90/60 °C. Heat costs ``heat`` ¤ per kWh/yr; a building is worth ``value``. Each test writes
its derivation; every design is priced with catalogue diameters, so the ``linear`` and
``discrete`` pipe models must both reach the paper optimum unless a comment says otherwise.

Here: choices of buildings, pipes and supplies, loops on a ring, infeasible problems. Constraint
rows and the kWh objective: ``tests/test_optimise_constraints.py``; time limits:
``tests/test_optimise_time_limits.py``. Shared helpers and networks: ``tests/micro_networks.py``.
"""

from __future__ import annotations

import pytest

from heatnet.economics.physics import capacity_kw
from heatnet.optimise.solution import Solution
from tests.micro_networks import (
    ABC,
    MODELS,
    TWO_SUPPLY_EDGES,
    assert_optimum,
    built,
    connected,
    diameters,
    solve,
    used,
)

CAP20, CAP50, CAP100, CAP200 = capacity_kw([20, 50, 100, 200], flow_c=90, return_c=60)


# 1. one supply, a profitable and an unprofitable building ------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_profitable_building_connects_unprofitable_does_not(model):
    # S:1 -E1 10 m- J; a and b hang off J on 10 m connectors; heat 0.1 ¤/kWh; peaks 10 kW → 20 mm.
    # a: 5000 − connector 1000 − heat 100 = +3900 marginal; b: 500 − 1000 − 100 = −600 → out.
    # Optimum {a}: 3900 − trunk 1000 = 2900.
    s = solve(
        [
            {"id": "a", "kwh": 1000, "peak": 10, "value": 5000},
            {"id": "b", "kwh": 1000, "peak": 10, "value": 500},
        ],
        [("S:1", "J", 10), ("J", "B:a", 10), ("J", "B:b", 10)],
        [{"id": "1", "heat": 0.1}],
        model,
    )
    assert_optimum(s, 2900, {"B:a"})
    assert used(s) == {"E1", "E2"}
    assert diameters(s) == {"E1": 20.0, "E2": 20.0}
    assert built(s) == {"S:1"}
    assert s.design.supplies.at["S:1", "load_kwh"] == pytest.approx(1000)


# 2. demand groups ----------------------------------------------------------------------------

GROUP_BUILDINGS = [
    {"id": "a", "kwh": 1000, "peak": 5, "value": 5000},
    {"id": "b", "kwh": 1000, "peak": 5, "value": 500},
    {"id": "c", "kwh": 1000, "peak": 5, "value": 0},
]
GROUP_EDGES = [("S:1", "J", 30), ("J", "B:a", 10), ("J", "B:b", 10), ("J", "B:c", 20)]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("group", "objective", "expected"),
    [
        # no group: marginals a 5000−1000 = +4000, b 500−1000 = −500, c 0−2000 = −2000;
        # trunk 3000 → {a}: 1000.
        (None, 1000, {"B:a"}),
        # a and b together or neither: 4000 − 500 − 3000 = 500 > 0 → {a, b}: 500 (b rides along).
        ("ab", 500, {"B:a", "B:b"}),
        # a and c together or neither: 4000 − 2000 − 3000 = −1000; b alone −3500 → nothing: 0.
        ("ac", 0, set()),
    ],
)
def test_demand_group(model, group, objective, expected):
    rows = [{**r, "group": "g" if group and r["id"] in group else None} for r in GROUP_BUILDINGS]
    s = solve(rows, GROUP_EDGES, [{"id": "1"}], model)
    assert_optimum(s, objective, expected)


# 3. a required building forces a loss --------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("required", [False, True])
def test_required_building_forces_a_loss(model, required):
    # a is worth 100 but costs trunk 1000 + connector 1000: optional → nothing (0); required →
    # 100 − 2000 = −1900. b (500 − 1000 = −500 marginal) stays out either way.
    s = solve(
        [
            {"id": "a", "kwh": 100, "peak": 10, "value": 100, "required": required},
            {"id": "b", "kwh": 100, "peak": 10, "value": 500},
        ],
        [("S:1", "J", 10), ("J", "B:a", 10), ("J", "B:b", 10)],
        [{"id": "1"}],
        model,
    )
    if required:
        assert_optimum(s, -1900, {"B:a"})
    else:
        assert_optimum(s, 0, set())


# 4. diversity shrinks a pipe -----------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("limit", "trunk_mm", "objective"),
    [
        # f(2) = round_half_up(0.62 + 0.38/2, 2) = 0.81: trunk load 0.81 × 300 = 243 kW ≤ 261.1
        # → 50 mm, 100 m × 200 = 20000; connectors carry one 150 kW building each (f(1) = 1)
        # → 50 mm, 2 × 10 m × 200 = 4000. NPV 2 × 100000 − 24000 = 176000.
        ("0.62", 50.0, 176000),
        # no diversity: 300 kW > 261.1 → 100 mm, 100 m × 400 = 40000. NPV 200000 − 44000.
        ("1", 100.0, 156000),
        # a limit of 0 is a diversity, not a division by zero: f(2) = 1/2, 150 kW → 50 mm
        ("0", 50.0, 176000),
    ],
)
def test_diversity_sizes_the_trunk(model, limit, trunk_mm, objective):
    assert 0.81 * 300 <= CAP50 < 300 <= CAP100
    s = solve(
        [
            {"id": "a", "kwh": 1000, "peak": 150, "value": 100000},
            {"id": "b", "kwh": 1000, "peak": 150, "value": 100000},
        ],
        [("S:1", "J", 100), ("J", "B:a", 10), ("J", "B:b", 10)],
        [{"id": "1"}],
        model,
        params={"network/diversity-limit": limit},
    )
    assert_optimum(s, objective, {"B:a", "B:b"})
    assert diameters(s) == {"E1": trunk_mm, "E2": 50.0, "E3": 50.0}
    e = s.design.edges
    factor = {"0.62": 0.81, "1": 1.0, "0": 0.5}[limit]
    assert e.at["E1", "diversity"] == pytest.approx(factor)
    assert e.at["E1", "load_kw"] == pytest.approx(factor * 300)


# 5. an existing pipe: reused for its repex, or upgraded --------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("upgrade", [False, True])
def test_existing_pipe_reused_or_upgraded(model, upgrade):
    # Term 10, lifetime 5, rate 0: one repex (year 5) inside the term, so a new pipe costs
    # 2·L·c and a kept existing one L·c. E1 (100 m) has an existing 50 mm pipe (261.1 kW).
    # Reused: a peaks at 100 kW: E1 repex 100 × 200 = 20000; connector 10 m at 50 mm new
    # 2 × 2000 = 4000 → 50000 − 24000 = 26000.
    # Upgraded: a peaks at 300 kW > 261.1: E1 is a new 100 mm pipe, 2 × 100 × 400 = 80000; the
    # connector 2 × 10 × 400 = 8000 → 100000 − 88000 = 12000.
    peak, value = (300, 100000) if upgrade else (100, 50000)
    s = solve(
        [{"id": "a", "kwh": 1000, "peak": peak, "value": value}],
        [{"u": "S:1", "v": "J", "length": 100, "existing": 50}, ("J", "B:a", 10)],
        [{"id": "1"}],
        model,
        params={"finance/npv-term": 10, "finance/distribution-lifetime": 5},
    )
    assert_optimum(s, 12000 if upgrade else 26000, {"B:a"})
    e = s.design.edges
    assert bool(e.at["E1", "existing"]) is not upgrade
    assert e.at["E1", "diameter_mm"] == (100.0 if upgrade else 50.0)
    assert e.at["E1", "pv_pipe_capex"] == pytest.approx(-40000 if upgrade else 0, abs=1e-9)
    assert e.at["E1", "pv_pipe_repex"] == pytest.approx(-40000 if upgrade else -20000)


# 6. two supplies: the cheaper heat until its capacity runs out -------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("cap", [40, 20])
def test_cheap_supply_until_its_capacity_runs_out(model, cap):
    # a, b: 105120 kWh (mean 12 kW), peak 15 kW, worth 10000 each, 10 m connectors (20 mm,
    # 1000 each). C: heat 0.01, peak capacity `cap`; D: heat 0.05, fixed 1000.
    # cap 40: C alone: E1 carries 30 kW → 50 mm 2000; heat 0.01 × 210240 = 2102.4
    #   → 20000 − 4000 − 2102.4 = 13897.6 (adding D only adds its fixed cost).
    # cap 20: C gives at most 20 kW mean (175200 kWh, 1752), D the other 4 kW (35040 kWh ×
    #   0.05 = 1752) and the peak above C's; E1 (load 20) and E2 (15) both 20 mm
    #   → 20000 − 4000 − 3504 − 1000 = 11496. D alone: E2 50 mm 2000, heat 10512 → 4488;
    #   C alone can feed one building (30 kW > 20): 10000 − 2000 − 1051.2 = 6948.8.
    s = solve(
        [
            {"id": "a", "kwh": 105120, "peak": 15, "value": 10000},
            {"id": "b", "kwh": 105120, "peak": 15, "value": 10000},
        ],
        TWO_SUPPLY_EDGES,
        [{"id": "C", "peak": cap, "heat": 0.01}, {"id": "D", "heat": 0.05, "fixed": 1000}],
        model,
    )
    sup = s.design.supplies
    if cap == 40:
        assert_optimum(s, 13897.6, {"B:a", "B:b"})
        assert built(s) == {"S:C"}
        assert diameters(s) == {"E1": 50.0, "E3": 20.0, "E4": 20.0}
        assert sup.at["S:C", "load_kwh"] == pytest.approx(210240)
    else:
        assert_optimum(s, 11496, {"B:a", "B:b"})
        assert built(s) == {"S:C", "S:D"}
        assert diameters(s) == {"E1": 20.0, "E2": 20.0, "E3": 20.0, "E4": 20.0}
        assert sup.at["S:C", "load_kwh"] == pytest.approx(175200)
        assert sup.at["S:D", "load_kwh"] == pytest.approx(35040)


@pytest.mark.parametrize("model", MODELS)
def test_two_supplies_share_one_building(model):
    # a: 262800 kWh (mean 30 kW), peak 40 kW, worth 100000; connector 40 kW → 50 mm 2000.
    # C: heat 0.01, fixed 100, peak capacity 20 kW; D: heat 0.05, fixed 1000.
    # Both: C mean 20 kW (1752), D mean 10 kW (4380); C→J load 20, D→J peak ≥ 20 (≤ 24.4 when
    # C gives ≥ 15.6 at peak): both 20 mm → 100000 − 4000 − 6132 − 1100 = 88768.
    # D alone: D→J 50 mm 2000, heat 13140 → 100000 − 4000 − 13140 − 1000 = 81860.
    s = solve(
        [{"id": "a", "kwh": 262800, "peak": 40, "value": 100000}],
        [("S:C", "J", 10), ("S:D", "J", 10), ("J", "B:a", 10)],
        [
            {"id": "C", "peak": 20, "heat": 0.01, "fixed": 100},
            {"id": "D", "heat": 0.05, "fixed": 1000},
        ],
        model,
    )
    assert_optimum(s, 88768, {"B:a"})
    assert built(s) == {"S:C", "S:D"}


# 7. prevent loops on a ring ------------------------------------------------------------------

# Ring S:1 -E1 10- J1 -E2 1- J2 -E3 1- J3 -E4 10- S:1; a on J1 (6 kW), b on J2 (30 kW), c on J3
# (6 kW), 1 m connectors (a, c 20 mm 100; b 50 mm 200), each worth 10000.
# Trees (drop one ring edge): drop E1: E4 carries 42 kW → 50 mm 2000, E3 36 → 50 mm 200, E2 6 →
# 100: 2300 (E4 symmetric); drop E2: E1 6 → 1000, E4 36 → 2000, E3 30 → 200: 3200 (E3 likewise).
# Loop: b fed x kW from J1 and 30 − x from J3 with 11.58 ≤ x ≤ 18.42 keeps all four ring edges
# at 20 mm: 1000 + 100 + 100 + 1000 = 2200. NPV: 30000 − 400 − 2200 = 27400 (loop) or 27300.
RING_EDGES = [
    ("S:1", "J1", 10), ("J1", "J2", 1), ("J2", "J3", 1), ("J3", "S:1", 10),
    ("J1", "B:a", 1), ("J2", "B:b", 1), ("J3", "B:c", 1),
]  # fmt: skip
RING_BUILDINGS = [
    {"id": "a", "kwh": 100, "peak": 6, "value": 10000},
    {"id": "b", "kwh": 100, "peak": 30, "value": 10000},
    {"id": "c", "kwh": 100, "peak": 6, "value": 10000},
]


def incoming(solution: Solution) -> dict[str, int]:
    e = solution.design.edges
    return e.loc[e["in_network"], "head"].value_counts().to_dict()


@pytest.mark.parametrize("model", MODELS)
def test_prevent_loops_on_a_ring(model):
    s = solve(RING_BUILDINGS, RING_EDGES, [{"id": "1"}], model, {"optimiser/prevent-loops": True})
    assert_optimum(s, 27300, ABC)
    assert max(incoming(s).values()) == 1
    assert len(used(s)) == 6  # three ring edges and three connectors: a tree


def test_ring_with_loops_feeds_a_vertex_from_both_sides():
    s = solve(RING_BUILDINGS, RING_EDGES, [{"id": "1"}], "discrete")
    assert_optimum(s, 27400, ABC)
    assert incoming(s)["J2"] == 2
    assert {d for e, d in diameters(s).items() if e in {"E1", "E2", "E3", "E4"}} == {20.0}


def test_ring_with_loops_linear_never_beats_discrete():
    # The linear model prices pipes on one straight line per edge, which cannot see that two
    # 20 mm halves beat one 50 mm trunk, so it may settle on a tree (27300); its written
    # objective is still an honest catalogue price, so it can never exceed the loop (27400).
    s = solve(RING_BUILDINGS, RING_EDGES, [{"id": "1"}], "linear")
    assert s.state == "optimal"
    assert connected(s) == ABC
    assert s.objective <= 27400 + 1e-6
    assert s.objective in (pytest.approx(27300), pytest.approx(27400))


# 8. infeasible problems and their reasons ---------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_required_building_and_no_buildings_allowed(model):
    # required a and max-buildings 0 cannot both hold; each row needs slack 1 (scale 1) in the
    # elastic model, so it names one of them (or both).
    s = solve(
        [{"id": "a", "kwh": 100, "peak": 10, "value": 100, "required": True}],
        [("S:1", "B:a", 10)],
        [{"id": "1"}],
        model,
        {"constraint/max-buildings": 0},
    )
    assert s.state == "infeasible"
    assert s.design is None
    assert s.objective is None
    kinds = {kind for kind, _ in s.reasons}
    assert kinds
    assert kinds <= {"required_building", "max_buildings"}


def required_beyond_supply(model: str) -> Solution:
    # required a peaks at 30 kW, the only supply gives 20 kW.
    return solve(
        [{"id": "a", "kwh": 100, "peak": 30, "value": 100, "required": True}],
        [("S:1", "J", 10), ("J", "B:a", 10)],
        [{"id": "1", "peak": 20}],
        model,
    )


@pytest.mark.parametrize("model", MODELS)
def test_required_building_beyond_supply_capacity(model):
    s = required_beyond_supply(model)
    assert s.state == "infeasible"
    assert s.design is None
    kinds = {kind for kind, _ in s.reasons}
    assert kinds
    assert kinds <= {"required_building", "supply_peak_capacity"}


@pytest.mark.parametrize("model", MODELS)
def test_required_building_beyond_supply_capacity_names_the_supply(model):
    # Elastic slacks: the capacity row short by 10 kW at scale 20 (0.5) is cheaper than dropping
    # the required building (1), so the supply's capacity is the reason to name.
    s = required_beyond_supply(model)
    assert "supply_peak_capacity" in {kind for kind, _ in s.reasons}
