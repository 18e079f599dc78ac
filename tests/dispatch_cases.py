"""Dispatch problems and readers shared by ``tests/test_dispatch*.py``.

:func:`solve` checks, solves and returns RESULT.json's content; :func:`unit` and :func:`fuel`
build a problem's rows, :func:`by_id` finds one in a result. :func:`multi_node` and
:func:`boiler_status` are the two documents' examples, :func:`distribution_case` a fuel carried
between nodes, and :func:`kept_for` the tests' own reading of up and down time windows.
"""

from __future__ import annotations

import math
from typing import Any

from heatnet.dispatch import dispatch_from_json, result_to_json, solve_dispatch

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


# --- other cases -------------------------------------------------------------------------------


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
