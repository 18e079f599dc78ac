"""The optimiser's constraint rows and its kWh objective, on micro networks solved on paper.

Every ``constraint/*`` row, inactive and active, on the star of three buildings whose designs are
all priced in a table (``tests/micro_networks.py``), and on two supplies and two islands; then
``optimiser/objective = kwh`` as a knapsack. Pricing as in ``tests/test_optimise.py``
(:data:`tests.problems.EXACT`): both pipe models must reach the paper optimum unless a comment
says otherwise.
"""

from __future__ import annotations

import pytest

from tests.micro_networks import (
    AB,
    ABC,
    MODELS,
    STAR,
    STAR_BUILDINGS,
    STAR_EDGES,
    TWO_SUPPLY_EDGES,
    assert_optimum,
    built,
    solve,
)

# 1. constraint rows, inactive and active -----------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("key", "limit", "expected"),
    [
        (None, None, "ab"),  # unconstrained: the best row of the table
        ("min-kwh", 5000, "ab"),  # ab has 6000
        ("min-kwh", 7000, "abc"),  # ac 1500, bc 0, abc 3000
        ("max-kwh", 7000, "ab"),
        ("max-kwh", 5000, "a"),  # a 2000, b 500
        ("min-network-length", 30, "ab"),  # 30 only with connectors counted (trunk is 10)
        ("min-network-length", 35, "abc"),  # ac 1500, bc 0, abc 3000
        ("max-network-length", 30, "ab"),
        ("max-network-length", 25, "a"),  # a 20 m, b 20 m
        ("min-buildings", 2, "ab"),
        ("min-buildings", 3, "abc"),
        ("max-buildings", 2, "ab"),
        ("max-buildings", 1, "a"),
        ("min-connections", 3, "ab"),
        ("min-connections", 4, "abc"),  # only abc has 4
        ("max-connections", 3, "ab"),
        ("max-connections", 2, "a"),  # a 2000, ac 1500, b 500
        ("min-npv", 3500, "ab"),  # active min-npv would be infeasible: see below
        ("max-npv", 4000, "ab"),
        ("max-npv", 3200, "abc"),  # abc 3000 > a 2000 > ac 1500
        ("min-linear-density", 150, "ab"),
        ("min-linear-density", 210, "abc"),  # ac 250 (1500), abc 240 (3000)
        ("max-linear-density", 250, "ab"),
        ("max-linear-density", 150, "b"),  # only b (2000 ≤ 150 × 20) and nothing
    ],
)
def test_constraint_rows(model, key, limit, expected):
    params = {f"constraint/{key}": limit} if key else {}
    s = solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], model, params=params)
    objective, buildings = STAR[expected]
    # constraint/max-npv is not a relaxation of exact pricing: the optimum is found, unproven
    assert_optimum(s, objective, buildings, proven=key != "max-npv")


@pytest.mark.parametrize("model", MODELS)
def test_min_npv_above_the_optimum_is_infeasible(model):
    # The objective is NPV, so min-npv either leaves the optimum (3500) alone or, above it,
    # leaves nothing: 4000 → infeasible, named by the min_npv row.
    s = solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], model, {"constraint/min-npv": 4000})
    assert s.state == "infeasible"
    assert s.design is None
    assert {kind for kind, _ in s.reasons} == {"min_npv"}


@pytest.mark.parametrize("model", MODELS)
def test_max_npv_holds_for_the_priced_design(model):
    # The star with a supply costing 10 ¤/kW of peak: ab 3500 − 120 = 3380, abc 3000 − 180 =
    # 2820, a 2000 − 60 = 1940. max-npv 3350 leaves abc (2820) as the best honest design.
    s = solve(
        STAR_BUILDINGS, STAR_EDGES, [{"id": "1", "per_kw": 10}], model, {"constraint/max-npv": 3350}
    )
    assert s.objective <= 3350 + 1e-6
    assert_optimum(s, 2820, ABC, proven=False)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("limit", "objective", "supplies", "dirty_kwh"),
    [
        # a, b: 43800 kWh, peak 10 kW, worth 20000 each; 10 m everywhere (20 mm, 1000 each).
        # C: 0.1 kg/kWh, heat 0.05; D: 0.3 kg/kWh, heat 0.01; both fixed 100.
        # No limit or 0.35: D alone, 40000 − 3000 − 876 − 100 = 36024 (factor 0.3).
        (None, 36024, {"S:D"}, 87600),
        (0.35, 36024, {"S:D"}, 87600),
        # 0.2: 0.3·D + 0.1·(87600 − D) ≤ 0.2 × 87600 → D ≤ 43800. Mix: pipes 4000, heat
        # 0.05 × 43800 + 0.01 × 43800 = 2628, fixed 200 → 33172; C alone 40000 − 3000 − 4380
        # − 100 = 32520.
        (0.2, 33172, {"S:C", "S:D"}, 43800),
        # 0.1: C alone, 32520.
        (0.1, 32520, {"S:C"}, 0),
    ],
)
def test_max_emissions_factor(model, limit, objective, supplies, dirty_kwh):
    params = {"constraint/max-emissions-factor": limit} if limit is not None else {}
    s = solve(
        [
            {"id": "a", "kwh": 43800, "peak": 10, "value": 20000},
            {"id": "b", "kwh": 43800, "peak": 10, "value": 20000},
        ],
        TWO_SUPPLY_EDGES,
        [
            {"id": "C", "emissions": 0.1, "heat": 0.05, "fixed": 100},
            {"id": "D", "emissions": 0.3, "heat": 0.01, "fixed": 100},
        ],
        model,
        params=params,
    )
    assert_optimum(s, objective, {"B:a", "B:b"})
    assert built(s) == supplies
    kwh = s.design.supplies["load_kwh"].fillna(0.0)
    assert kwh.get("S:D", 0.0) == pytest.approx(dirty_kwh, abs=1e-3)
    assert kwh.sum() == pytest.approx(87600)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("limit", [None, 2, 1])
def test_max_supplies(model, limit):
    # Two islands: S:1 -10 m- J1 -10 m- a (worth 5000), S:2 -10 m- J2 -10 m- b (3000); each
    # supply costs 100. a: 5000 − 2000 − 100 = 2900, b: 3000 − 2000 − 100 = 900.
    # Both: 3800; max-supplies 1: a's island, 2900.
    params = {"constraint/max-supplies": limit} if limit is not None else {}
    s = solve(
        [
            {"id": "a", "kwh": 10, "peak": 5, "value": 5000},
            {"id": "b", "kwh": 10, "peak": 5, "value": 3000},
        ],
        [("S:1", "J1", 10), ("J1", "B:a", 10), ("S:2", "J2", 10), ("J2", "B:b", 10)],
        [{"id": "1", "fixed": 100}, {"id": "2", "fixed": 100}],
        model,
        params=params,
    )
    if limit == 1:
        assert_optimum(s, 2900, {"B:a"})
        assert built(s) == {"S:1"}
    else:
        assert_optimum(s, 3800, {"B:a", "B:b"})
        assert built(s) == {"S:1", "S:2"}


# 2. maximise delivered kWh -------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("params", "kwh", "npv", "buildings"),
    [
        # Knapsack on length ≤ 40 (trunk 10 + connectors a 10, b 10, c 20): ac 10000 kWh
        # (40 m) beats bc 8000 and ab 6000; abc needs 50 m. NPV of ac: 1500.
        ({"constraint/max-network-length": 40}, 10000, 1500, {"B:a", "B:c"}),
        # NPV ≥ 2500: abc (3000) is allowed and delivers everything, 12000 kWh.
        ({"constraint/min-npv": 2500}, 12000, 3000, ABC),
        # NPV ≥ 3200: only ab (3500) qualifies: 6000 kWh.
        ({"constraint/min-npv": 3200}, 6000, 3500, AB),
    ],
)
def test_objective_kwh_knapsack(model, params, kwh, npv, buildings):
    params = {**params, "optimiser/objective": "kwh"}
    s = solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], model, params=params)
    assert_optimum(s, kwh, buildings, npv=npv)
    assert s.design.kwh == pytest.approx(kwh)
