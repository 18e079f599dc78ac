"""Dispatch (`heatnet dispatch-solve`): the rules of docs/decisions.md §6, each checked by hand.

Two published examples give their documented optima; every other case is small enough that its
optimum is derived in a comment beside it. Property tests check that a result keeps the rules
whatever the data (``tests/test_dispatch_properties.py``); the input checks and the command line
are in ``tests/test_dispatch_input.py``. Shared problems and helpers: ``tests/dispatch_cases.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from heatnet.dispatch import dispatch_from_json, solve_dispatch
from heatnet.dispatch.model import window
from tests.dispatch_cases import (
    TOL,
    boiler_status,
    by_id,
    distribution_case,
    fuel,
    multi_node,
    solve,
    unit,
)

# --- the two documents' examples ---------------------------------------------------------------


def test_multi_node_example_gives_its_documented_optimum():
    result = solve(multi_node())
    assert result["state"] == "optimal"
    assert result["objective"] == pytest.approx(110.3336, abs=1e-4)
    assert result["bound"] == pytest.approx(result["objective"], rel=1e-9)
    pipe = by_id(result, "links", "pipeline")
    # the pipe carries what it can (60 kW in, 57 kW out) whenever demand exceeds 57 kW
    demand = result["nodes"][1]["demand_kw"]
    for d, entering in zip(demand, pipe["entering_kw"], strict=True):
        assert entering == pytest.approx(min(60.0, d / 0.95), abs=TOL)
    assert pipe["totals"]["hours_at_capacity"] == sum(d >= 57 - TOL for d in demand)
    assert result["totals"]["cost"] == pytest.approx(result["objective"], rel=1e-9)


@pytest.mark.parametrize("boundary", ["free", "cyclic"])
def test_boiler_status_example_gives_its_documented_optimum(boundary):
    data = boiler_status()
    data["options"]["status_boundary"] = boundary
    result = solve(data)
    assert result["state"] == "optimal"
    assert result["objective"] == pytest.approx(84.1621, abs=1e-4)
    assert result["gap"] <= 1e-4
    boiler = by_id(result, "units", "boiler")
    # the document: "Boiler ran 17/24 hours, with 2 startups"
    assert sum(boiler["on"]) == 17
    assert boiler["totals"]["starts"] == 2
    assert boiler["totals"]["running_hours"] == 17
    for heat, on in zip(boiler["heat_kw"], boiler["on"], strict=True):
        if on == 0:
            assert heat == pytest.approx(0, abs=TOL)
        else:
            assert 48 - TOL <= heat <= 120 + TOL


# --- micro cases, optimum by hand --------------------------------------------------------------


def one_node(demand: list[float], **parts: Any) -> dict[str, Any]:
    """Node N with ``demand``; gas at N for 0.1, electricity at N for 0.3 (1-hour steps)."""
    return {
        "steps": {"count": len(demand)},
        "nodes": [{"id": "N", "demand_kw": demand}],
        "fuels": [fuel("gas", "N", 0.1), fuel("power", "N", 0.3)],
        "options": {"mip_gap": 0.0},
        **parts,
    }


def test_minimum_load_forces_a_store():
    # 10 kW for 4 h, a boiler that runs at 20-40 kW: without the store nothing can make 10 kW
    # (infeasible); with a lossless store the boiler makes the 40 kWh in runs of >= 20 kW
    # and the store carries the rest: 40 kWh · 0.1 = 4.0
    boiler = unit("boiler", "N", "gas", 40, min_load_fraction=0.5)
    store = {"id": "tank", "node": "N", "capacity_kwh": 100, "charge_max_kw": 100}
    result = solve(one_node([10.0] * 4, units=[boiler], storages=[store]))
    assert result["objective"] == pytest.approx(4.0, abs=TOL)
    heat = by_id(result, "units", "boiler")["heat_kw"]
    assert all(h == 0 or 20 - TOL <= h <= 40 + TOL for h in heat)
    assert by_id(result, "storages", "tank")["totals"]["charged_kwh"] > 0
    # without the store: proven infeasible, and the reason names the node
    problem = dispatch_from_json(one_node([10.0] * 4, units=[boiler]))
    solution = solve_dispatch(problem)
    assert solution.state == "infeasible"
    assert solution.exit_code == 4
    assert any("node 'N'" in r for r in solution.reasons)


def startup_case(startup_cost: float, boundary: str) -> dict[str, Any]:
    """Demand 10, 0, 10, 0; a boiler at 10-20 kW; a store that keeps half of what it takes in.

    Heat the boiler makes beyond demand must go into the store; the store can also lose it
    (charging and discharging at once, half lost), so "on all the time" is feasible.
    """
    boiler = unit("boiler", "N", "gas", 20, min_load_fraction=0.5, startup_cost=startup_cost)
    store = {
        "id": "tank", "node": "N", "capacity_kwh": 100, "charge_max_kw": 100, "eta_charge": 0.5,
    }  # fmt: skip
    data = one_node([10.0, 0.0, 10.0, 0.0], units=[boiler], storages=[store])
    data["options"]["status_boundary"] = boundary
    return data


@pytest.mark.parametrize(
    ("startup_cost", "objective", "starts"),
    [
        # cyclic, S per start. On in steps 0 and 2 only: 20 kWh of gas, 2 starts: 2 + 2S.
        # On all the time: >= 10 kW every step, 40 kWh, no start: 4.0. On 3 steps: 3 + S.
        (2.0, 4.0, 0),  # 2 + 4 = 6, 3 + 2 = 5, 4: a start-up cost worth the longer run
        (0.5, 3.0, 2),  # 2 + 1 = 3, 3.5, 4: cheap starts, two short runs
    ],
)
def test_a_startup_cost_is_worth_a_longer_run(startup_cost, objective, starts):
    result = solve(startup_case(startup_cost, "cyclic"))
    assert result["objective"] == pytest.approx(objective, abs=TOL)
    boiler = by_id(result, "units", "boiler")
    assert boiler["totals"]["starts"] == starts
    assert boiler["totals"]["startup_cost"] == pytest.approx(starts * startup_cost)


@pytest.mark.parametrize(
    ("boundary", "objective", "on_at_0"),
    [
        # S = 1.5. Gas is 20 kWh only when the boiler runs at steps 0 and 2 alone; any other
        # pattern burns >= 30 kWh (a third step at >= 10 kW, or heat through the store at 50 %).
        # free: there is no step before step 0, so a run from step 0 starts nothing: on at
        # steps 0-2 (10 kW each, step 1's heat lost through the store) is 3.0 with no start,
        # beating 0 and 2 alone (2 + 1.5 = 3.5)
        ("free", 3.0, 1),
        # cyclic: step 0 follows step 3, so every run starts: 0 and 2 alone 2 + 3 = 5, one run
        # of 3 steps 3 + 1.5 = 4.5, on throughout (40 kWh, no start) 4.0
        ("cyclic", 4.0, 1),
    ],
)
def test_free_and_cyclic_status_boundaries(boundary, objective, on_at_0):
    result = solve(startup_case(1.5, boundary))
    assert result["objective"] == pytest.approx(objective, abs=TOL)
    boiler = by_id(result, "units", "boiler")
    assert boiler["totals"]["starts"] == 0
    assert boiler["on"][0] == on_at_0


def up_down_case(demand: list[float], boundary: str = "free", **status: float) -> dict[str, Any]:
    """A gas boiler at 10-20 kW (0.1/kWh) with ``status``; a power heater (0.3/kWh), no store."""
    data = one_node(
        demand,
        units=[
            unit("boiler", "N", "gas", 20, min_load_fraction=0.5, **status),
            unit("heater", "N", "power", 100),
        ],
    )
    data["options"]["status_boundary"] = boundary
    return data


@pytest.mark.parametrize(
    ("min_up_h", "boundary", "objective"),
    [
        # demand 5, 20, 5, 20: the boiler cannot run at 5 kW (no store), so it runs at steps
        # 1 and 3 only. No minimum: 40 kWh gas 4.0 + 10 kWh power 3.0 = 7.0
        (0, "free", 7.0),
        # 2 h up: a run at step 1 would need step 2 too (5 kW): impossible; a start at the last
        # step has no window left (free): gas 20 · 0.1 + power 30 · 0.3 = 11.0
        (2, "free", 11.0),
        # 1.5 h is two 1-hour steps, as 2 h
        (1.5, "free", 11.0),
        # cyclic: a start at step 3 needs step 0 (5 kW): no run at all, power 50 · 0.3 = 15.0
        (2, "cyclic", 15.0),
    ],
)
def test_minimum_up_time(min_up_h, boundary, objective):
    result = solve(up_down_case([5.0, 20.0, 5.0, 20.0], boundary, min_up_h=min_up_h))
    assert result["objective"] == pytest.approx(objective, abs=TOL)


@pytest.mark.parametrize(
    ("min_down_h", "boundary", "objective"),
    [
        # demand 20, 5, 20, 20: off at step 1 only: gas 60 · 0.1 + power 5 · 0.3 = 7.5
        (0, "free", 7.5),
        # 2 h down: off at steps 1 and 2 (or 0 and 1): gas 40 · 0.1 + power 25 · 0.3 = 11.5
        (2, "free", 11.5),
        (2, "cyclic", 11.5),
        # 3 h down, cyclic: step 1 is off (5 kW), so its off run is >= 3 of the 4 steps and
        # the boiler runs one step at most: gas 20 · 0.1 + power 45 · 0.3 = 15.5
        (3, "cyclic", 15.5),
    ],
)
def test_minimum_down_time(min_down_h, boundary, objective):
    result = solve(up_down_case([20.0, 5.0, 20.0, 20.0], boundary, min_down_h=min_down_h))
    assert result["objective"] == pytest.approx(objective, abs=TOL)


def test_windows_count_hours_over_steps_of_unequal_length():
    hours = [0.5, 0.5, 1.0, 2.0, 1.0]
    # on at step 0 for 1.5 h: steps 1 (starts 0.5 h later) and 2 (1.0 h later); step 3 starts
    # 2.0 h later
    assert window(hours, 0, 1.5, cyclic=False) == [1, 2]
    assert window(hours, 0, 2.0, cyclic=False) == [1, 2]
    assert window(hours, 0, 2.01, cyclic=False) == [1, 2, 3]
    assert window(hours, 3, 2.5, cyclic=False) == [4]  # free: no wrap
    assert window(hours, 3, 2.5, cyclic=True) == [4]  # step 4 ends 3 h after step 3 starts
    assert window(hours, 3, 3.25, cyclic=True) == [4, 0]
    assert window(hours, 3, 100, cyclic=True) == [4, 0, 1, 2]  # never more than the others
    assert window(hours, 1, 0, cyclic=True) == []


def test_a_link_at_capacity():
    # B needs 50 kW for 2 h; gas at A costs 0.05, oil at B 0.2. Heat sent from A costs
    # 0.05 / 0.9 < 0.2 per kWh arriving, so the pipe is full: 30 kW in, 27 kW out; oil makes
    # 23 kW. Per step 30 · 0.05 + 23 · 0.2 = 6.1; two steps 12.2
    data = {
        "steps": {"count": 2},
        "nodes": [{"id": "A"}, {"id": "B", "demand_kw": 50}],
        "fuels": [fuel("gas", "A", 0.05), fuel("oil", "B", 0.2)],
        "units": [unit("plant", "A", "gas", 100), unit("backup", "B", "oil", 100)],
        "links": [{"id": "pipe", "from": "A", "to": "B", "capacity_kw": 30, "efficiency": 0.9}],
    }
    result = solve(data)
    assert result["objective"] == pytest.approx(12.2, abs=TOL)
    pipe = by_id(result, "links", "pipe")
    assert pipe["entering_kw"] == pytest.approx([30, 30])
    assert pipe["arriving_kw"] == pytest.approx([27, 27])
    assert pipe["at_capacity"] == [True, True]
    assert pipe["totals"]["hours_at_capacity"] == 2
    assert pipe["totals"]["losses_kwh"] == pytest.approx(6.0)


def test_a_link_both_ways_carries_heat_back():
    # demand 10 kW at A, the only plant at B, a link A -> B that works both ways at 80 %:
    # 12.5 kW enters at B, 10 arrive at A: 12.5 · 0.1 = 1.25. One-way only: infeasible
    data = {
        "steps": {"count": 1},
        "nodes": [{"id": "A", "demand_kw": [10]}, {"id": "B"}],
        "fuels": [fuel("gas", "B", 0.1)],
        "units": [unit("plant", "B", "gas", 100)],
        "links": [
            {"id": "pipe", "from": "A", "to": "B", "capacity_kw": 50, "efficiency": 0.8,
             "both_ways": True}
        ],
    }  # fmt: skip
    result = solve(data)
    assert result["objective"] == pytest.approx(1.25, abs=TOL)
    pipe = by_id(result, "links", "pipe")
    assert pipe["back_entering_kw"] == pytest.approx([12.5])
    assert pipe["back_arriving_kw"] == pytest.approx([10.0])
    data["links"][0]["both_ways"] = False
    assert solve(data)["state"] == "infeasible"


@pytest.mark.parametrize(
    ("export_a", "import_b", "objective", "moved"),
    [
        # A sends at most 20: gas 20 · 0.05 + B's distribution 20 · 0.01 + power 30 · 0.25 = 8.7
        (20, 1000, 8.7, 20),
        # B takes at most 15: 0.75 + 0.15 + 35 · 0.25 = 9.65
        (1000, 15, 9.65, 15),
        # neither binds: 50 kWh of gas at 0.06 = 3.0
        (1000, 1000, 3.0, 50),
    ],
)
def test_fuel_distribution_limits_bind(export_a, import_b, objective, moved):
    result = solve(distribution_case(export_a, import_b))
    assert result["objective"] == pytest.approx(objective, abs=TOL)
    (a, b) = result["fuel_distribution"]
    assert a["amount_kw"] == pytest.approx([-moved])
    assert b["amount_kw"] == pytest.approx([moved])
    assert by_id(result, "fuels", "gas")["bought_kw"] == pytest.approx([moved])
    assert result["totals"]["cost"] == pytest.approx(objective, abs=TOL)


def test_storage_losses_over_steps_of_unequal_length():
    # price 0.1 in step 0 (1 h), 0.3 in step 1 (2 h, 10 kW = 20 kWh). A store losing 10 %/h:
    # what it holds after step 0 is worth 0.9^2 = 0.81 after step 1, so 20 kWh need
    # 20 / 0.81 kWh stored, bought for 0.1: 2 / 0.81 = 2.469136 (< 20 · 0.3 = 6)
    data = {
        "steps": {"count": 2, "hours": [1.0, 2.0]},
        "nodes": [{"id": "N", "demand_kw": [0, 10]}],
        "fuels": [fuel("gas", "N", [0.1, 0.3])],
        "units": [unit("boiler", "N", "gas", 100)],
        "storages": [
            {"id": "tank", "node": "N", "capacity_kwh": 100, "charge_max_kw": 100,
             "loss_per_h": 0.1}
        ],
    }  # fmt: skip
    result = solve(data)
    assert result["objective"] == pytest.approx(2 / 0.81, abs=TOL)
    assert by_id(result, "storages", "tank")["level_kwh"] == pytest.approx([20 / 0.81, 0], abs=TOL)


def test_weights_and_unit_limits():
    # weight 2 and 3: a step counts that often (starts too). The boiler is limited by its fuel
    # (fuel_max 10 kW at efficiency 0.5: 5 kW of heat) and by what can be bought (import_max
    # 8 kW of gas: 4 kW): 4 kW from gas at 0.1/0.5 = 0.2 per kWh, 6 kW of power at 0.3:
    # per step 0.8 + 1.8 = 2.6, + start-up 1 in the first step (free: not counted) and none
    # after (it stays on): 2.6 · (2 + 3) = 13.0
    data = {
        "steps": {"count": 2, "weight": [2, 3]},
        "nodes": [{"id": "N", "demand_kw": 10}],
        "fuels": [fuel("gas", "N", 0.1, import_max_kw=8), fuel("power", "N", 0.3)],
        "units": [
            unit("boiler", "N", "gas", 100, efficiency=0.5, fuel_max_kw=10, startup_cost=1),
            unit("heater", "N", "power", 100),
        ],
    }
    result = solve(data)
    assert result["objective"] == pytest.approx(13.0, abs=TOL)
    boiler = by_id(result, "units", "boiler")
    assert boiler["heat_kw"] == pytest.approx([4, 4])
    assert boiler["totals"]["heat_kwh"] == pytest.approx(20)  # 4 kW · (2 + 3) h
    assert boiler["totals"]["full_load_hours"] == pytest.approx(0.2)  # 20 kWh / 100 kW
    # cyclic: the boiler is on throughout, still no start
    data["options"] = {"status_boundary": "cyclic"}
    assert solve(data)["objective"] == pytest.approx(13.0, abs=TOL)
