"""Builders for hand-made network problems (no GIS): vertices, edges, money given directly.

Money is given as PVs, so a case's optimum can be worked out on paper:

- a building's ``value`` is its tariff PV, ``cost`` its connection cost PV (positive number,
  entered as a cost);
- a supply's ``fixed`` (¤ if built), ``per_kw`` (¤ per kW of capacity) and ``heat`` (¤ per
  kWh/yr of output, PV) are costs (positive numbers);
- pipes cost ``cost_m`` ¤/m from :data:`CIVIL` (capex once; repex never falls inside the default
  test term because the distribution lifetime exceeds it), so a pipe of length L and diameter d
  has PV −L·cost_m(d).

Default parameters make losses zero (ground temperature = mean water temperature) and switch
diversity off (diversity limit 1), unless a case sets them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from heatnet.economics import build_catalogue
from heatnet.inputs.params import parse_parameters
from heatnet.inputs.schema import load_schemas
from heatnet.problem.definition import (
    BUILDING_COLUMNS,
    EDGE_COLUMNS,
    PV_CLASSES,
    SUPPLY_CLASSES,
    SUPPLY_COLUMNS,
    Problem,
)

CIVIL = pd.DataFrame(
    {
        "diameter_mm": [20.0, 50.0, 100.0, 200.0],
        "civil_cost_id": [1, 1, 1, 1],
        "cost_m": [100.0, 200.0, 400.0, 800.0],
    }
)
"""Four pipes: with the default 90/60 °C they carry about 24, 261, 1486 and 8224 kW."""

EXACT = {
    "finance/npv-rate": "0",
    "finance/npv-term": "10",
    "finance/distribution-lifetime": "50",
    "optimiser/ground-temperature": "75",  # = (90 + 60) / 2: no heat loss
    "network/diversity-limit": "1",
    "optimiser/mip-gap": "0",
    "optimiser/param-gap": "0",
}
"""Parameters under which every PV is a plain sum and the MIP is exact."""


def parameters(overrides: Mapping[str, Any] | None = None, *, exact: bool = True) -> Any:
    """Parameters from defaults (+ :data:`EXACT`) and overrides, keyed as in the table."""
    merged = {**(EXACT if exact else {}), **{k: str(v) for k, v in (overrides or {}).items()}}
    values, issues = parse_parameters(None, merged, load_schemas())
    if issues:
        raise ValueError([i.message for i in issues])
    return values.parameters


def make_problem(
    buildings: Sequence[Mapping[str, Any]],
    edges: Sequence[Sequence[Any] | Mapping[str, Any]],
    supplies: Sequence[Mapping[str, Any]],
    *,
    params: Mapping[str, Any] | None = None,
    exact: bool = True,
    civil_costs: pd.DataFrame | None = None,
) -> Problem:
    """A problem from plain records.

    Parameters
    ----------
    buildings
        Dicts with ``id`` (vertex is ``B:<id>`` unless ``vertex`` is given), ``kwh``, ``peak``,
        optional ``connections`` (1), ``required`` (False), ``group`` (None), ``value`` (tariff
        PV, 0), ``cost`` (connection cost PV as a positive number, 0), ``extra`` (0).
    edges
        ``(u, v, length)`` tuples or dicts with ``u``, ``v``, ``length`` and optional ``id``,
        ``required``, ``existing`` (diameter mm), ``extra``, ``civil`` (civil cost id, 1).
        Edge ids default to ``E1``, ``E2``, ...
    supplies
        Dicts with ``id`` (vertex ``S:<id>`` unless ``vertex``), optional ``peak`` (kW cap),
        ``annual`` (kWh cap), ``required``, ``fixed``, ``per_kw``, ``heat`` (costs as positive
        PVs), ``emissions`` (kg/kWh), ``curve`` (list of (kW, total PV cost as a positive
        number), the first at 0 kW).
    params
        Parameter overrides by key (``constraint/max-buildings`` ...).
    exact
        Start from :data:`EXACT` (no losses, no diversity, zero rate).
    civil_costs
        Pipe table (default :data:`CIVIL`).
    """
    p = parameters(params, exact=exact)
    b = pd.DataFrame(
        [
            {
                "vertex": r.get("vertex", f"B:{r['id']}"),
                "building_id": str(r["id"]),
                "annual_demand_kwh": float(r.get("kwh", 0.0)),
                "peak_demand_kw": float(r.get("peak", 0.0)),
                "connections": int(r.get("connections", 1)),
                "required": bool(r.get("required", False)),
                "demand_group": r.get("group"),
                **{f"pv_{c}": 0.0 for c in PV_CLASSES},
                "pv_tariffs": float(r.get("value", 0.0)),
                "pv_connection_capex": -float(r.get("cost", 0.0)),
                "pv_extra": float(r.get("extra", 0.0)),
            }
            for r in buildings
        ],
        columns=["vertex", *BUILDING_COLUMNS],
    ).set_index("vertex")
    rows = []
    for n, e in enumerate(edges, start=1):
        rec = dict(e) if isinstance(e, Mapping) else dict(zip(("u", "v", "length"), e, strict=True))
        length = float(rec["length"])
        rows.append(
            {
                "id": rec.get("id", f"E{n}"),
                "u": rec["u"],
                "v": rec["v"],
                "length_m": length,
                "civil_lengths_m": {int(rec.get("civil", 1)): length} if length > 0 else {},
                "required": bool(rec.get("required", False)),
                "existing_diameter_mm": float(rec.get("existing", np.nan)),
                "extra_pv": float(rec.get("extra", 0.0)),
                "members": (str(rec.get("id", f"E{n}")),),
            }
        )
    e = pd.DataFrame(rows, columns=["id", *EDGE_COLUMNS]).set_index("id")
    s_rows = []
    for r in supplies:
        curve = r.get("curve") or []
        row: dict[str, Any] = {
            "vertex": r.get("vertex", f"S:{r['id']}"),
            "supply_id": str(r["id"]),
            "peak_capacity_kw": float(r.get("peak", np.nan)),
            "annual_capacity_kwh": float(r.get("annual", np.nan)),
            "required": bool(r.get("required", False)),
            "emissions_per_kwh": float(r.get("emissions", 0.0)),
        }
        for part in ("fixed", "per_kw", "per_kwh"):
            for c in SUPPLY_CLASSES:
                row[f"{part}_{c}"] = 0.0
        row["fixed_supply_capex"] = -float(r.get("fixed", 0.0))
        row["per_kw_supply_capex"] = -float(r.get("per_kw", 0.0))
        row["per_kwh_supply_opex"] = -float(r.get("heat", 0.0))
        row["curve_kw"] = tuple(float(k) for k, _ in curve)
        row["curve_supply_capex"] = tuple(-float(c) for _, c in curve)
        row["curve_supply_opex"] = tuple(0.0 for _ in curve)
        row["curve_supply_repex"] = tuple(0.0 for _ in curve)
        for c in SUPPLY_CLASSES:  # the curve is given as its chords: exact between breakpoints
            row[f"curve_slack_{c}"] = 0.0
            row[f"curve_mid_{c}"] = ()
        s_rows.append(row)
    s = pd.DataFrame(s_rows, columns=["vertex", *SUPPLY_COLUMNS]).set_index("vertex")
    catalogue = build_catalogue(CIVIL if civil_costs is None else civil_costs, p)
    return Problem(b, s, e, catalogue, p, (), "test")
