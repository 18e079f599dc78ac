"""A horizon solved in windows (``heatnet.dispatch.windows``): state carried across the seams.

Each micro case is two windows of three 1-hour steps, its dispatch derived by hand in a comment
beside it. Property tests check that windowed dispatches keep the rules over the whole
horizon (heat and storage balance, starts, minimum up and down times across seams) and that
each seam is exact: the last window from its start state sees the horizon's own rules.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatnet.cli.commands import cli
from heatnet.dispatch import dispatch_from_json, dispatch_solve, result_to_json, solve_dispatch
from heatnet.dispatch.model import build_model, held
from heatnet.dispatch.problem import InitialState, UnitState
from heatnet.dispatch.windows import (
    end_state,
    solve_in_windows,
    start_state,
    window_problem,
    window_ranges,
)
from heatnet.optimise.highs import Solver, SolverOptions
from heatnet.optimise.stopping import Stop
from tests.dispatch_cases import boiler_status, by_id, fuel, kept_for, unit

TOL = 1e-6


def windowed(data: dict[str, Any], window_steps: int = 3) -> tuple[Any, dict[str, Any]]:
    """Check, solve in windows; the solution and RESULT.json's content."""
    problem = dispatch_from_json(data)
    solution = solve_in_windows(problem, window_steps)
    return solution, result_to_json(problem, solution)


def node(demand: list[float], gas: Any = 0.1, **parts: Any) -> dict[str, Any]:
    """Node N with ``demand`` (1-hour steps); gas at ``gas``, power at 1.0 for a heater."""
    return {
        "steps": {"count": len(demand)},
        "nodes": [{"id": "N", "demand_kw": demand}],
        "fuels": [fuel("gas", "N", gas), fuel("power", "N", 1.0)],
        "options": {"mip_gap": 0.0},
        **parts,
    }


HEATER = unit("heater", "N", "power", 100)


def test_window_ranges():
    assert window_ranges(8760, 168)[-1] == (8736, 8760)  # 52 weeks and a day
    assert len(window_ranges(8760, 168)) == 53
    assert window_ranges(6, 3) == [(0, 3), (3, 6)]
    assert window_ranges(6, 0) == window_ranges(6, 6) == window_ranges(6, 10) == [(0, 6)]
    with pytest.raises(ValueError, match="window_steps"):
        window_ranges(6, -1)


def test_a_store_filled_in_one_window_is_used_in_the_next():
    # Window 1 (demand 0, 0, 10): the boiler runs at 20-40 kW, so making the 10 kWh at step 2
    # makes at least 20 (power would cost 10 · 1.0 = 10, gas 20 · 0.1 = 2.0); the lossless
    # store cannot shed heat, so it ends window 1 holding 10 kWh. Window 2 (10, 0, 0) starts
    # from that level and spends it at step 3: nothing burnt. Objective 2.0.
    boiler = unit("boiler", "N", "gas", 40, min_load_fraction=0.5)
    store = {"id": "tank", "node": "N", "capacity_kwh": 50, "charge_max_kw": 100}
    data = node([0, 0, 10, 10, 0, 0], units=[boiler, HEATER], storages=[store])
    solution, result = windowed(data)
    assert solution.objective == pytest.approx(2.0, abs=TOL)
    assert [w.objective for w in solution.windows] == pytest.approx([2.0, 0.0], abs=TOL)
    tank = by_id(result, "storages", "tank")
    assert tank["level_kwh"][2] == pytest.approx(10.0, abs=TOL)
    assert tank["discharge_kw"][3] == pytest.approx(10.0, abs=TOL)
    assert tank["level_kwh"][3:] == pytest.approx([0.0, 0.0, 0.0], abs=TOL)
    assert sum(by_id(result, "units", "boiler")["heat_kw"][3:]) == pytest.approx(0.0, abs=TOL)


def test_a_unit_keeps_its_minimum_up_time_across_the_seam():
    # Window 1 (demand 0, 0, 30; gas 0.1): the boiler starts at step 2 (30 · 0.1 + 1 = 4.0,
    # power 30). Up 3 h: it must stay on at steps 3 and 4, which start 1 and 2 h after step 2,
    # but not step 5 (3 h). In window 2 gas costs 2.0, twice power: without the carried state
    # it would switch off and use the heater (40); held on at >= 20 kW it burns 2 · 20 kWh of
    # gas: 80. Step 5: free to switch off, and off (power 20 < gas 40). Objective 104.
    boiler = unit("boiler", "N", "gas", 40, min_load_fraction=0.5, min_up_h=3, startup_cost=1)
    gas = [0.1, 0.1, 0.1, 2.0, 2.0, 2.0]
    data = node([0, 0, 30, 20, 20, 20], gas, units=[boiler, HEATER])
    solution, result = windowed(data)
    assert solution.objective == pytest.approx(104.0, abs=TOL)
    b = by_id(result, "units", "boiler")
    assert b["on"] == [0, 0, 1, 1, 1, 0]
    assert b["start"] == [0, 0, 1, 0, 0, 0]
    assert b["heat_kw"][3:5] == pytest.approx([20.0, 20.0], abs=TOL)
    # the state window 2 started from: on for 1 h (since step 2 started)
    problem = dispatch_from_json(data)
    part = window_problem(problem, 0, 3, InitialState(levels={}, units={}))
    assert end_state(part, solve_dispatch(part).values, 3).units == {"boiler": UnitState(True, 1.0)}
    # held for 3 h from the switch: steps starting 1 and 2 h after it, not 3
    assert held(problem.units[0], UnitState(True, 1.0), [1.0] * 3) == [0, 1]
    assert held(problem.units[0], UnitState(True, 3.0), [1.0] * 3) == []
    assert held(problem.units[0], UnitState(True), [1.0] * 3) == []  # never switched: free


def test_a_unit_keeps_its_minimum_down_time_across_the_seam():
    # Window 1 (demand 30, 30, 0): the boiler runs from step 0 (free: no start), stops at
    # step 2. Down 3 h: off at steps 3 and 4, so window 2 (30 each step, gas 0.1) uses power
    # there: 60; the boiler restarts at step 5 (30 · 0.1 + 1). Window 1: 6.0. Objective 70.
    boiler = unit("boiler", "N", "gas", 40, min_load_fraction=0.5, min_down_h=3, startup_cost=1)
    solution, result = windowed(node([30, 30, 0, 30, 30, 30], units=[boiler, HEATER]))
    assert solution.objective == pytest.approx(70.0, abs=TOL)
    b = by_id(result, "units", "boiler")
    assert b["on"] == [1, 1, 0, 0, 0, 1]
    assert b["start"] == [0, 0, 0, 0, 0, 1]


def test_no_start_is_counted_at_a_seam_where_the_unit_stays_on():
    # The boiler starts at step 2 (30 · 0.1 + 5 = 8, power 30) and runs on through window 2
    # (2 · 30 · 0.1 = 6): it was on at the end of window 1, so no start at step 3. Step 5:
    # no demand, off. Objective 14; one start in the horizon.
    boiler = unit("boiler", "N", "gas", 40, min_load_fraction=0.5, startup_cost=5)
    solution, result = windowed(node([0, 0, 30, 30, 30, 0], units=[boiler, HEATER]))
    assert solution.objective == pytest.approx(14.0, abs=TOL)
    b = by_id(result, "units", "boiler")
    assert b["start"] == [0, 0, 1, 0, 0, 0]
    assert b["totals"]["starts"] == 1
    assert b["totals"]["startup_cost"] == pytest.approx(5.0)
    # a given state: on before the first step fixes its start at 0; off makes it count
    problem = dispatch_from_json(node([30, 30, 30], units=[boiler, HEATER]))
    for on, cost in ((True, 9.0), (False, 14.0)):
        state = InitialState(units={"boiler": UnitState(on, 5.0)})
        assert solve_dispatch(replace(problem, initial=state)).objective == pytest.approx(cost)


@pytest.mark.parametrize("window_steps", [0, 24, 100])
def test_one_window_is_the_plain_solve(window_steps):
    problem = dispatch_from_json(boiler_status())
    plain = solve_dispatch(problem)
    solution = solve_in_windows(problem, window_steps)
    assert solution.state == plain.state == "optimal"
    assert solution.objective == pytest.approx(plain.objective, abs=1e-9)
    assert solution.objective == pytest.approx(84.1621, abs=1e-4)
    assert solution.windows == ()


def test_a_windowed_result_is_honest_and_whole():
    # boiler_status in windows of 8 hours: a dispatch of all 24 steps, its bound and gap
    # unknown (the windows' bounds bound nothing), each window's own figures kept
    data = boiler_status()
    solution, result = windowed(data, 8)
    assert solution.state == result["state"] == "feasible"
    assert solution.exit_code == 0
    assert result["bound"] is None
    assert result["gap"] is None
    assert [(w["first_step"], w["steps"]) for w in result["windows"]] == [(0, 8), (8, 8), (16, 8)]
    assert all(w["state"] == "optimal" and w["gap"] <= 1e-4 for w in result["windows"])
    assert result["objective"] == pytest.approx(sum(w["objective"] for w in result["windows"]))
    assert result["totals"]["cost"] == pytest.approx(result["objective"], rel=1e-9)
    assert len(by_id(result, "units", "boiler")["heat_kw"]) == 24
    # the tank starts the horizon empty
    tank = by_id(result, "storages", "tank")
    assert tank["level_kwh"][0] == pytest.approx(
        0.98 * tank["charge_kw"][0] - tank["discharge_kw"][0] / 0.98, abs=1e-6
    )


def test_a_window_without_a_dispatch_from_its_state_is_not_called_infeasible():
    # Window 1 starts the boiler at step 2 (cheap), not seeing that up 3 h holds it on at
    # steps 3 and 4, where nothing can take its heat: window 2 has no dispatch from that
    # state, though the horizon has one (power at step 2). Exit 5, not 4.
    boiler = unit("boiler", "N", "gas", 40, min_load_fraction=0.5, min_up_h=3)
    problem = dispatch_from_json(node([0, 0, 30, 0, 0, 0], units=[boiler, HEATER]))
    assert solve_dispatch(problem).state == "optimal"
    solution = solve_in_windows(problem, 3)
    assert solution.state == "no-solution"
    assert solution.exit_code == 5
    assert not solution.has_dispatch
    assert "window 2 of 2 (steps 3-5) has no dispatch from the state" in solution.reasons[0]
    assert any("step 3" in r and "can go nowhere" in r for r in solution.reasons)
    assert [w.state for w in solution.windows] == ["optimal", "infeasible"]


def test_an_infeasible_horizon_names_its_steps():
    # 500 kW at step 4 and 140 kW of plant: proven infeasible, step numbered in the horizon
    boiler = unit("boiler", "N", "gas", 40)
    solution = solve_in_windows(
        dispatch_from_json(node([0, 0, 30, 0, 500, 0], units=[boiler, HEATER])), 3
    )
    assert solution.state == "infeasible"
    assert solution.exit_code == 4
    assert solution.reasons == ("node 'N', step 4: 360 kW of demand cannot be met",)


def test_an_initial_state_must_fit_the_problem():
    problem = dispatch_from_json(boiler_status())
    for initial, message in (
        (InitialState(units={"nobody": UnitState(True)}), "unit 'nobody' has no on/off"),
        (InitialState(levels={"tank": 301.0}), r"store 'tank': level 301.0 outside 0 … 300"),
        (InitialState(levels={"sump": 1.0}), "no store 'sump'"),
    ):
        with pytest.raises(ValueError, match=message):
            build_model(replace(problem, initial=initial))


def test_cli_window_steps(runner, tmp_path):
    path = tmp_path / "problem.json"
    path.write_text(json.dumps(boiler_status()), encoding="utf-8")
    out = tmp_path / "result.json"
    args = ["dispatch-solve", str(path), "-o", str(out), "--window-steps", "8"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "windows        3 of 8 steps" in result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["state"] == "feasible"
    assert len(written["windows"]) == 3
    assert len(written["units"][0]["heat_kw"]) == 24
    bad = runner.invoke(cli, [*args[:-1], "-1", "--overwrite"])
    assert bad.exit_code == 2
    # the library: 0 is one window (the plain solve)
    _, solution = dispatch_solve(path, out, overwrite=True, window_steps=0)
    assert solution.state == "optimal"
    assert json.loads(out.read_text(encoding="utf-8"))["windows"] is None


# --- properties --------------------------------------------------------------------------------


@st.composite
def windowed_problems(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """Two nodes, a status boiler, a store and a heater at A, a heater at B; always feasible.

    A's demand (>= 20 kW) can always take the boiler's minimum load (<= 18 kW), so a unit held
    on across a seam never leaves heat with nowhere to go.
    """
    count = draw(st.integers(5, 9))
    hours = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=count, max_size=count))
    boiler = unit(
        "boiler", "A", "gas", 30,
        efficiency=draw(st.sampled_from([0.8, 1.0])),
        min_load_fraction=draw(st.sampled_from([0.0, 0.3, 0.6])),
        min_up_h=draw(st.sampled_from([0, 1.5, 3, 5])),
        min_down_h=draw(st.sampled_from([0, 1, 2.5, 4])),
        startup_cost=draw(st.sampled_from([0.5, 2.0])),
    )  # fmt: skip
    store = {
        "id": "tank", "node": "A", "capacity_kwh": draw(st.sampled_from([0, 20, 60])),
        "charge_max_kw": 25, "eta_charge": draw(st.sampled_from([0.8, 1.0])),
        "eta_discharge": 0.9, "loss_per_h": draw(st.sampled_from([0.0, 0.05])),
    }  # fmt: skip
    demand_a = draw(st.lists(st.floats(20, 40), min_size=count, max_size=count))
    demand_b = draw(st.lists(st.floats(0, 40), min_size=count, max_size=count))
    prices = draw(st.lists(st.floats(0.01, 0.6), min_size=count, max_size=count))
    data = {
        "steps": {"count": count, "hours": hours},
        "nodes": [{"id": "A", "demand_kw": demand_a}, {"id": "B", "demand_kw": demand_b}],
        "fuels": [fuel("gas", "A", prices), fuel("power", "B", 0.5), fuel("power", "A", 0.6)],
        "units": [boiler, unit("heater", "B", "power", 200), unit("heater_a", "A", "power", 100)],
        "storages": [store],
        "links": [
            {"id": "pipe", "from": "A", "to": "B", "capacity_kw": draw(st.sampled_from([10, 40])),
             "efficiency": 0.9, "both_ways": draw(st.booleans())}
        ],
        "options": {"mip_gap": 0.0},
    }  # fmt: skip
    return data, draw(st.integers(2, 4))


@settings(
    max_examples=12, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
@given(windowed_problems())
def test_a_windowed_dispatch_keeps_every_rule_over_the_horizon(case):
    data, window_steps = case
    solution, result = windowed(data, window_steps)
    assert solution.state == "feasible", solution.reasons
    count, hours = data["steps"]["count"], data["steps"]["hours"]
    tank, pipe = result["storages"][0], result["links"][0]
    boiler = by_id(result, "units", "boiler")
    heater, heater_a = by_id(result, "units", "heater"), by_id(result, "units", "heater_a")
    spec = data["storages"][0]
    back = pipe["back_entering_kw"] or [0.0] * count
    back_arriving = pipe["back_arriving_kw"] or [0.0] * count
    demand_a, demand_b = (n["demand_kw"] for n in data["nodes"])
    for t in range(count):
        # storage: empty before the first step, carried across every seam
        before = tank["level_kwh"][t - 1] if t > 0 else 0.0
        expected = (
            before * (1 - spec["loss_per_h"]) ** hours[t]
            + spec["eta_charge"] * tank["charge_kw"][t] * hours[t]
            - tank["discharge_kw"][t] * hours[t] / spec["eta_discharge"]
        )
        assert tank["level_kwh"][t] == pytest.approx(expected, abs=1e-5)
        # heat balance at both nodes
        at_a = (
            boiler["heat_kw"][t] + heater_a["heat_kw"][t] + tank["discharge_kw"][t]
            - tank["charge_kw"][t] - pipe["entering_kw"][t] + back_arriving[t]
        )  # fmt: skip
        at_b = heater["heat_kw"][t] + pipe["arriving_kw"][t] - back[t]
        assert at_a == pytest.approx(demand_a[t], abs=1e-5)
        assert at_b == pytest.approx(demand_b[t], abs=1e-5)
    # status over the horizon: nothing before step 0 (free), starts exactly where it switched
    # on, up and down windows kept whichever window they fall in
    spec_u = data["units"][0]
    on, start = boiler["on"], boiler["start"]
    low = spec_u["min_load_fraction"] * spec_u["heat_max_kw"]
    for t in range(count):
        assert boiler["heat_kw"][t] <= 30 * on[t] + TOL
        assert boiler["heat_kw"][t] >= low * on[t] - TOL
        before = on[t - 1] if t > 0 else None
        assert start[t] == (1 if before == 0 and on[t] == 1 else 0)
        if start[t]:
            assert all(on[k] == 1 for k in kept_for(hours, t, spec_u["min_up_h"], False))
        if before == 1 and on[t] == 0:
            assert all(on[k] == 0 for k in kept_for(hours, t, spec_u["min_down_h"], False))
    # the objective is the sum of the windows' and the cost of the dispatch written
    assert solution.objective == pytest.approx(sum(w.objective for w in solution.windows))
    assert result["totals"]["cost"] == pytest.approx(result["objective"], rel=1e-6, abs=1e-6)


@settings(
    max_examples=10, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
@given(windowed_problems())
def test_each_seam_is_exact(case):
    # The horizon from an empty start, with every window's binaries but the last's and the
    # level at every seam fixed to the windowed dispatch's, splits into independent windows:
    # its optimum is the windowed objective exactly when the last window, solved from the
    # state the one before ended in, sees the same rules as the horizon does there (neither
    # more, e.g. a window held too long, nor fewer).
    data, window_steps = case
    problem = dispatch_from_json(data)
    solution = solve_in_windows(problem, window_steps)
    last = solution.windows[-1].first_step
    model = build_model(replace(problem, initial=start_state(problem)))
    for name in ("on", "start"):
        for (uid, t), value in solution.values[name].items():
            if t < last:
                getattr(model, name)[uid, t].fix(value)
    for w in solution.windows[1:]:
        seam = ("tank", w.first_step - 1)
        model.level[seam].fix(solution.values["level"][seam])
    whole = Solver(model, SolverOptions(), Stop()).solve(time_limit_s=60, mip_gap=0.0)
    assert whole.objective == pytest.approx(solution.objective, rel=1e-6, abs=1e-6)
