"""Dispatch (`heatnet dispatch-solve`): property tests of the rules of docs/decisions.md §6.

Whatever the data (two nodes, a boiler with or without status, a store, a link, random prices
and demand), a result keeps the rules: storage balance, up and down times, link efficiency, heat
balance, and its costs add up to the objective. Cases derived by hand: ``tests/test_dispatch.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dispatch_cases import TOL, by_id, fuel, kept_for, solve, unit

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
