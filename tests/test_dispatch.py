"""Dispatch (`heatnet dispatch-solve`): the rules of docs/decisions.md §6, each checked by hand.

Two published examples give their documented optima; every other case is small enough that its
optimum is derived in a comment beside it. Property tests check that a result keeps the rules
(storage balance, up and down times, link efficiency, heat balance) whatever the data.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatnet.cli.commands import cli
from heatnet.core.errors import InputError
from heatnet.dispatch import dispatch_from_json, result_to_json, solve_dispatch
from heatnet.dispatch.model import window
from heatnet.dispatch.problem import apply_overrides
from heatnet.dispatch.solve import DispatchSolution
from heatnet.inputs.schema import load_schemas
from heatnet.optimise.stopping import Stop
from tests.conftest import ROOT

TOL = 1e-6


def solve(data: dict[str, Any]) -> dict[str, Any]:
    """Check, solve and return RESULT.json's content."""
    problem = dispatch_from_json(data)
    return result_to_json(problem, solve_dispatch(problem))


def unit(uid: str, node: str, fuel: str, cap: float, **more: Any) -> dict[str, Any]:
    return {"id": uid, "node": node, "fuel": fuel, "efficiency": 1.0, "heat_max_kw": cap, **more}


def fuel(fid: str, node: str, price: Any, **more: Any) -> dict[str, Any]:
    return {"id": fid, "node": node, "price_per_kwh": price, **more}


def by_id(result: dict[str, Any], kind: str, ident: str) -> dict[str, Any]:
    (found,) = [r for r in result[kind] if r.get("id") == ident]
    return found


# --- the two documents' examples ---------------------------------------------------------------


def multi_node() -> dict[str, Any]:
    """A gas plant at A feeds district B through a 60 kW pipe (95 %); an oil boiler backs B up."""
    demand = [
        30
        + 50 * max(0.0, math.sin(math.pi * ((h % 24) - 5) / 6))
        + 40 * max(0.0, math.sin(math.pi * ((h % 24) - 16) / 6))
        for h in range(24)
    ]
    return {
        "steps": {"count": 24, "hours": 1.0, "weight": 1.0},
        "nodes": [{"id": "A"}, {"id": "B", "demand_kw": demand}],
        "fuels": [
            fuel("gas", "A", 0.05, import_max_kw=200),
            fuel("oil", "B", 0.12, import_max_kw=200),
        ],
        "units": [
            unit("central_boiler", "A", "gas", 100, efficiency=0.92, fuel_max_kw=200),
            unit("backup_boiler", "B", "oil", 100, efficiency=0.85, fuel_max_kw=200),
        ],
        "links": [
            {"id": "pipeline", "from": "A", "to": "B", "capacity_kw": 60, "efficiency": 0.95}
        ],
        "options": {"mip_gap": 0.0},
    }


def boiler_status() -> dict[str, Any]:
    """A workshop boiler (min load 40 %, up 2 h, down 1 h, start 0.50) with a tank, TOU gas."""
    demand = [10, 10, 8, 8, 8, 12, 25, 60, 70, 75, 75, 70, 65, 60, 55, 50, 45, 40, 30, 25, 20, 15]
    return {
        "steps": {"count": 24},
        "nodes": [{"id": "workshop", "demand_kw": [*demand, 12, 10]}],
        "fuels": [
            fuel(
                "gas",
                "workshop",
                [0.04 if h < 6 or h >= 22 else 0.12 for h in range(24)],
                import_max_kw=1000,
            )
        ],
        "units": [
            unit(
                "boiler",
                "workshop",
                "gas",
                120,
                efficiency=0.9,
                fuel_max_kw=200,
                min_load_fraction=0.4,
                min_up_h=2,
                min_down_h=1,
                startup_cost=0.5,
            )
        ],
        "storages": [
            {
                "id": "tank",
                "node": "workshop",
                "capacity_kwh": 300,
                "charge_max_kw": 80,
                "discharge_max_kw": 80,
                "eta_charge": 0.98,
                "eta_discharge": 0.98,
                "loss_per_h": 0.005,
            }
        ],
        "options": {"status_boundary": "free", "mip_gap": 0.0},
    }


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


def distribution_case(export_a: float, import_b: float) -> dict[str, Any]:
    """Gas only sold at A (0.05); a gas boiler at B and a power heater at B (0.25); B needs 50."""
    return {
        "steps": {"count": 1},
        "nodes": [{"id": "A"}, {"id": "B", "demand_kw": [50]}],
        "fuels": [fuel("gas", "A", 0.05), fuel("power", "B", 0.25)],
        "units": [unit("boiler", "B", "gas", 100), unit("heater", "B", "power", 100)],
        "fuel_distribution": [
            {"fuel": "gas", "node": "A", "export_max_kw": export_a},
            {"fuel": "gas", "node": "B", "import_max_kw": import_b, "cost_per_kwh": 0.01},
        ],
    }


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


# --- properties --------------------------------------------------------------------------------


@st.composite
def random_problems(draw: st.DrawFn) -> dict[str, Any]:
    """Two nodes, a boiler (status or not), a store and a heater at A, a heater at B (feasible)."""
    count = draw(st.integers(2, 7))
    series = st.lists(st.floats(0, 40), min_size=count, max_size=count)
    hours = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=count, max_size=count))
    boiler = unit(
        "boiler", "A", "gas", 30,
        efficiency=draw(st.sampled_from([0.8, 1.0])),
        min_load_fraction=draw(st.sampled_from([0.0, 0.3, 0.6])),
        min_up_h=draw(st.sampled_from([0, 1, 1.5, 3])),
        min_down_h=draw(st.sampled_from([0, 1, 2.5])),
        startup_cost=draw(st.sampled_from([0.0, 2.0])),
    )  # fmt: skip
    store = {
        "id": "tank", "node": "A", "capacity_kwh": draw(st.sampled_from([0, 20, 60])),
        "charge_max_kw": 25, "eta_charge": draw(st.sampled_from([0.8, 1.0])),
        "eta_discharge": 0.9, "loss_per_h": draw(st.sampled_from([0.0, 0.05])),
    }  # fmt: skip
    return {
        "steps": {"count": count, "hours": hours},
        "nodes": [{"id": "A", "demand_kw": draw(series)}, {"id": "B", "demand_kw": draw(series)}],
        "fuels": [fuel("gas", "A", draw(series.map(lambda xs: [x / 100 for x in xs]))),
                  fuel("power", "B", 0.5), fuel("power", "A", 0.6)],
        "units": [boiler, unit("heater", "B", "power", 200), unit("heater_a", "A", "power", 100)],
        "storages": [store],
        "links": [
            {"id": "pipe", "from": "A", "to": "B", "capacity_kw": draw(st.sampled_from([10, 40])),
             "efficiency": draw(st.sampled_from([0.7, 0.95])), "both_ways": draw(st.booleans())}
        ],
        "options": {"status_boundary": draw(st.sampled_from(["free", "cyclic"])),
                    "mip_gap": 0.0},
    }  # fmt: skip


def kept_for(hours: list[float], t: int, length: float, cyclic: bool) -> list[int]:
    """Steps that start less than ``length`` h after step t starts (the test's own reading)."""
    count, out, elapsed = len(hours), [], hours[t]
    for k in range(1, count):
        if not cyclic and t + k >= count:
            break
        if elapsed >= length - 1e-9:
            break
        out.append((t + k) % count)
        elapsed += hours[(t + k) % count]
    return out


@settings(
    max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
@given(random_problems())
def test_a_result_keeps_every_rule(data):
    result = solve(data)
    assert result["state"] == "optimal", result["reasons"]
    count = data["steps"]["count"]
    hours = data["steps"]["hours"]
    cyclic = data["options"]["status_boundary"] == "cyclic"
    tank, pipe = result["storages"][0], result["links"][0]
    boiler, heater = by_id(result, "units", "boiler"), by_id(result, "units", "heater")
    heater_a = by_id(result, "units", "heater_a")
    spec = data["storages"][0]
    # storage: level_t = level_{t-1}·(1 − loss)^h + η_c·charge·h − discharge·h/η_d, cyclic
    for t in range(count):
        h = hours[t]
        expected = (
            tank["level_kwh"][t - 1] * (1 - spec["loss_per_h"]) ** h
            + spec["eta_charge"] * tank["charge_kw"][t] * h
            - tank["discharge_kw"][t] * h / spec["eta_discharge"]
        )
        assert tank["level_kwh"][t] == pytest.approx(expected, abs=1e-5)
        assert -TOL <= tank["level_kwh"][t] <= spec["capacity_kwh"] + TOL
    # links: arriving = efficiency × entering, at most the capacity each way
    eff, cap = data["links"][0]["efficiency"], data["links"][0]["capacity_kw"]
    back = pipe["back_entering_kw"] or [0.0] * count
    back_arriving = pipe["back_arriving_kw"] or [0.0] * count
    for t in range(count):
        assert pipe["arriving_kw"][t] == pytest.approx(eff * pipe["entering_kw"][t])
        assert back_arriving[t] == pytest.approx(eff * back[t])
        assert max(pipe["entering_kw"][t], back[t]) <= cap + TOL
    # heat balance at both nodes
    demand_a, demand_b = (n["demand_kw"] for n in data["nodes"])
    for t in range(count):
        at_a = (
            boiler["heat_kw"][t] + heater_a["heat_kw"][t] + tank["discharge_kw"][t]
            - tank["charge_kw"][t] - pipe["entering_kw"][t] + back_arriving[t]
        )  # fmt: skip
        at_b = heater["heat_kw"][t] + pipe["arriving_kw"][t] - back[t]
        assert at_a == pytest.approx(demand_a[t], abs=1e-5)
        assert at_b == pytest.approx(demand_b[t], abs=1e-5)
    # status: minimum load, starts exactly where it switched on, up and down windows kept
    spec_u = data["units"][0]
    if boiler["on"] is None:  # no status: nothing more to check
        assert boiler["start"] is None
        assert not any(spec_u[k] for k in ("min_load_fraction", "min_up_h", "min_down_h"))
        return
    on, start = boiler["on"], boiler["start"]
    low = spec_u["min_load_fraction"] * spec_u["heat_max_kw"]
    for t in range(count):
        assert boiler["heat_kw"][t] <= 30 * on[t] + TOL
        assert boiler["heat_kw"][t] >= low * on[t] - TOL
        before = on[t - 1] if t > 0 or cyclic else None
        assert start[t] == (1 if before == 0 and on[t] == 1 else 0)
        if start[t]:
            assert all(on[k] == 1 for k in kept_for(hours, t, spec_u["min_up_h"], cyclic))
        if before == 1 and on[t] == 0:
            assert all(on[k] == 0 for k in kept_for(hours, t, spec_u["min_down_h"], cyclic))
    # costs: the units' costs add up to the objective
    assert result["totals"]["cost"] == pytest.approx(result["objective"], rel=1e-6, abs=1e-6)


# --- input, command line -----------------------------------------------------------------------


def bad_problem() -> dict[str, Any]:
    data = multi_node()
    data["units"] += [
        unit("lost", "Z", "gas", 10),  # unknown node
        unit("odd", "A", "gas", 10, efficiency=-0.5),  # negative efficiency
        unit("coal_fired", "A", "coal", 10),  # a fuel nobody sells
        unit("far", "A", "oil", 10),  # oil is sold at B only and not distributed
    ]
    data["fuels"][0]["price_per_kwh"] = [0.05] * 23  # one short
    return data


BAD_MESSAGES = (
    "$.units[2].node: unknown node 'Z'",
    "$.units[3].efficiency: -0.5 is less than or equal to the minimum of 0",
    "$.units[4].fuel: unknown fuel 'coal'",
    "$.units[5].fuel: 'oil' can be neither bought at node 'A' nor distributed to it",
    "$.fuels[0].price_per_kwh: 23 values, but steps.count is 24",
)


def test_every_problem_of_an_input_is_named_at_once():
    with pytest.raises(InputError) as caught:
        dispatch_from_json(bad_problem(), source="p.json")
    text = str(caught.value)
    assert "(5 error(s))" in text
    for message in BAD_MESSAGES:
        assert message in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["nodes"].append({"id": "A"}), "$.nodes[2]: node 'A' is also in $.nodes[0]"),
        (lambda d: d["links"][0].update({"to": "A"}), "$.links[0]: 'from' and 'to' are both 'A'"),
        (lambda d: d["steps"].update({"hours": [1, 2]}), "$.steps.hours: 2 values"),
        (lambda d: d["nodes"][1].update({"demand_kw": [1, -2]}), "$.nodes[1].demand_kw[1]: -2"),
        (lambda d: d.update({"units": [{"id": "x"}]}), "'node' is a required property"),
        (
            lambda d: d["fuel_distribution"].append({"fuel": "steam", "node": "B"}),
            "$.fuel_distribution[0].fuel: unknown fuel 'steam'",
        ),
        (
            lambda d: d["units"][0].update({"min_load_fraction": 0.5, "fuel_max_kw": 10}),
            "$.units[0].min_load_fraction: the minimum load 50 kW needs more fuel",
        ),
        (lambda d: d["steps"].update({"count": 0}), "$.steps.count: 0 is less than the minimum"),
    ],
)
def test_each_check_names_where(change, message):
    data = copy.deepcopy(multi_node())
    data.setdefault("fuel_distribution", [])
    change(data)
    with pytest.raises(InputError, match=None) as caught:
        dispatch_from_json(data)
    assert message in str(caught.value)


def test_a_fuel_distributed_to_a_node_can_be_used_there():
    data = distribution_case(10, 10)
    dispatch_from_json(data)  # gas reaches B through distribution: valid
    data["fuel_distribution"][0]["export_max_kw"] = 0  # ... not when A may not send it
    with pytest.raises(InputError, match=r"'gas' can be neither bought at node 'B'"):
        dispatch_from_json(data)


def test_overrides_reach_only_the_options():
    data = multi_node()
    assert apply_overrides(data, {"options/mip_gap": "0.01"})["options"]["mip_gap"] == 0.01
    assert apply_overrides(data, {"options/status_boundary": "cyclic"})["options"] == {
        "mip_gap": 0.0, "status_boundary": "cyclic",
    }  # fmt: skip
    with pytest.raises(InputError, match="only options can be set"):
        apply_overrides(data, {"steps/count": "3"})


def test_the_dispatch_schema_is_not_a_table():
    schemas = load_schemas()
    assert "dispatch" not in schemas.inputs
    # the output table of that name is heatnet run's, from its own file
    assert schemas.outputs["dispatch"].description.startswith("The design's plants hour by hour")
    assert (ROOT / "schemas" / "dispatch.schema.json").is_file()


def write(tmp_path, data: dict[str, Any], name: str = "problem.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_cli_bad_input_exits_3_naming_every_problem(runner, tmp_path):
    path = write(tmp_path, bad_problem())
    out = tmp_path / "result.json"
    result = runner.invoke(cli, ["dispatch-solve", str(path), "-o", str(out)])
    assert result.exit_code == 3, result.output
    for message in BAD_MESSAGES:
        assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_solves_and_writes_the_result(runner, tmp_path):
    path = write(tmp_path, multi_node())
    out = tmp_path / "result.json"
    args = ["dispatch-solve", str(path), "-o", str(out), "--set", "options/mip_gap=0.001"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["state"] == "optimal"
    assert written["mip_gap"] == 0.001
    assert written["objective"] == pytest.approx(110.3336, abs=1e-4)
    assert len(written["units"][0]["heat_kw"]) == 24
    # the output exists: refused without --overwrite (exit 2, a usage error), replaced with it
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 2
    assert "use --overwrite" in refused.output
    assert runner.invoke(cli, [*args, "--overwrite"]).exit_code == 0
    # a bad option is invalid input, named
    bad = runner.invoke(cli, [*args, "--overwrite", "--set", "options/status_boundary=x"])
    assert bad.exit_code == 3
    assert "$.options.status_boundary: 'x' is not one of" in bad.output


def test_cli_infeasible_exits_4_with_the_reasons_written(runner, tmp_path):
    data = multi_node()
    data["units"] = data["units"][:1]  # no backup: the pipe cannot carry the peak
    path = write(tmp_path, data)
    out = tmp_path / "result.json"
    result = runner.invoke(cli, ["dispatch-solve", str(path), "-o", str(out)])
    assert result.exit_code == 4, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["state"] == "infeasible"
    assert written["objective"] is None
    assert written["units"] == []
    # the pipe brings 57 kW: the peak hours are short of demand at B
    assert any("node 'B'" in r and "cannot be met" in r for r in written["reasons"])


def test_exit_codes_of_the_states():
    def code(state: str, values: dict[str, Any]) -> int:
        return DispatchSolution(state, "", None, None, None, 0.0, values).exit_code

    assert code("optimal", {"heat": {("b", 0): 1.0}}) == 0
    assert code("feasible", {"heat": {("b", 0): 1.0}}) == 0
    assert code("infeasible", {}) == 4
    assert code("no-solution", {}) == 5
    assert code("error", {}) == 5


def test_a_stop_request_keeps_nothing():
    stop = Stop()
    stop.request()
    with pytest.raises(KeyboardInterrupt):
        solve_dispatch(dispatch_from_json(boiler_status()), stop=stop)


def big_problem() -> dict[str, Any]:
    """A year of hours with six status units: minutes to solve, so an interrupt finds it running."""
    count = 8760
    demand = [60 + 40 * math.sin(2 * math.pi * t / 24) for t in range(count)]
    units = [
        unit(f"b{i}", "N", "gas", 30, min_load_fraction=0.5, min_up_h=3, min_down_h=2,
             startup_cost=1.0 + i)
        for i in range(6)
    ]  # fmt: skip
    return {
        "steps": {"count": count},
        "nodes": [{"id": "N", "demand_kw": demand}],
        "fuels": [fuel("gas", "N", [0.1 + 0.01 * (t % 7) for t in range(count)])],
        "units": units,
        "options": {"mip_gap": 0.0},
    }


@pytest.mark.timeout(60)
def test_an_interrupt_exits_130_and_writes_nothing(tmp_path):
    path = write(tmp_path, big_problem())
    out = tmp_path / "result.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "heatnet", "dispatch-solve", str(path), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        time.sleep(2.5)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130, err
    assert not out.exists()
    assert not list(tmp_path.glob(".result*"))  # no temporary file left behind
