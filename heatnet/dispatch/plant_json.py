"""The input's plant tables as a dispatch problem's JSON parts (``heatnet dispatch-solve``'s form).

``plant_units``, ``storages``, ``fuels`` (a row without a ``supply_id`` is sold at every site) and
``fuel_distribution``, restricted to the sites dispatched; a fuel's price is a number, 24 hourly
values, or 24 hourly values by day type. Used by :mod:`heatnet.dispatch.from_design`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from heatnet.inputs.validate import Inputs

HOURS = 24


def maybe_float(value: Any) -> float | None:
    """A cell as a float, or None when null (None, NaN, NA)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def _number(row: pd.Series, key: str, default: float) -> float:
    """An optional numeric cell: ``default`` when the column is absent or the cell empty."""
    return float(row.get(key, default) or default)


def units_json(units: pd.DataFrame) -> list[dict[str, Any]]:
    """The ``units`` of the problem: one per ``plant_units`` row."""
    out = []
    for _, r in units.iterrows():
        out.append(
            {
                "id": str(r["unit_id"]),
                "node": str(r["supply_id"]),
                "fuel": str(r["fuel_id"]),
                "efficiency": float(r["efficiency"]),
                "heat_max_kw": float(r["heat_max_kw"]),
                "fuel_max_kw": maybe_float(r.get("fuel_max_kw")),
                "min_load_fraction": _number(r, "min_load_fraction", 0.0),
                "min_up_h": _number(r, "min_up_h", 0.0),
                "min_down_h": _number(r, "min_down_h", 0.0),
                "startup_cost": _number(r, "startup_cost", 0.0),
                "cost_per_kwh": _number(r, "cost_per_kwh", 0.0),
            }
        )
    return out


def storages_json(inputs: Inputs, sites: Sequence[str]) -> list[dict[str, Any]]:
    """The ``storages`` at the dispatched sites (discharge limit: the charge limit if empty)."""
    table = inputs.storages
    if table is None or table.empty:
        return []
    out = []
    for _, r in table[table["supply_id"].astype(str).isin(set(sites))].iterrows():
        charge = float(r["charge_max_kw"])
        discharge = maybe_float(r.get("discharge_max_kw"))
        out.append(
            {
                "id": str(r["storage_id"]),
                "node": str(r["supply_id"]),
                "capacity_kwh": float(r["capacity_kwh"]),
                "charge_max_kw": charge,
                "discharge_max_kw": charge if discharge is None else discharge,
                "eta_charge": float(r.get("eta_charge", 1.0)),
                "eta_discharge": float(r.get("eta_discharge", 1.0)),
                "loss_per_h": float(r.get("loss_per_h", 0.0)),
            }
        )
    return out


def _price(value: Any, days: Sequence[str]) -> list[float]:
    """A fuel's hourly prices on days of these types, in order (24 each).

    The price is a number, 24 hourly values, or 24 hourly values by day type.
    """
    out: list[float] = []
    for day in days:
        today = value[day] if isinstance(value, Mapping) else value
        if isinstance(today, (list, tuple)):
            out += [float(v) for v in today]
        else:
            out += [float(today)] * HOURS
    return out


def fuels_json(inputs: Inputs, sites: Sequence[str], days: Sequence[str]) -> list[dict[str, Any]]:
    """Where each fuel is bought, at its prices on ``days`` (day types, in order)."""
    table = inputs.fuels
    if table is None or table.empty:
        return []
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for _, r in table.iterrows():
        where = r.get("supply_id")
        nodes = [str(where)] if isinstance(where, str) and where else list(sites)
        for node in nodes:
            if node not in sites or (str(r["fuel_id"]), node) in seen:
                continue
            seen.add((str(r["fuel_id"]), node))
            out.append(
                {
                    "id": str(r["fuel_id"]),
                    "node": node,
                    "price_per_kwh": _price(r["price_per_kwh"], days),
                    "import_max_kw": maybe_float(r.get("import_max_kw")),
                    "emissions_kg_per_kwh": _number(r, "emissions_kg_per_kwh", 0.0),
                }
            )
    return out


def distribution_json(inputs: Inputs, sites: Sequence[str]) -> list[dict[str, Any]]:
    """The ``fuel_distribution`` rows of the dispatched sites."""
    table = inputs.fuel_distribution
    if table is None or table.empty:
        return []
    rows = table[table["supply_id"].astype(str).isin(set(sites))]
    return [
        {
            "fuel": str(r["fuel_id"]),
            "node": str(r["supply_id"]),
            "export_max_kw": _number(r, "export_max_kw", 0.0),
            "import_max_kw": _number(r, "import_max_kw", 0.0),
            "cost_per_kwh": _number(r, "cost_per_kwh", 0.0),
        }
        for _, r in rows.iterrows()
    ]
