"""From GIS inputs and their network to the geometry-free :class:`~heatnet.problem.definition.Problem`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heatnet.core.issues import Severity
from heatnet.economics import (
    SUPPLY,
    CostClass,
    build_catalogue,
    building_items,
    pv_by_class,
    schedule_for,
    supply_coefficients,
)
from heatnet.economics.money import Schedule
from heatnet.economics.prices import curve_breakpoints, curve_pv
from heatnet.inputs.params import Parameters
from heatnet.inputs.validate import Inputs
from heatnet.problem.definition import (
    BUILDING_COLUMNS,
    EDGE_COLUMNS,
    SUPPLY_COLUMNS,
    Problem,
    loss_bound_kw,
)
from heatnet.topology.build import Network

Curve = tuple[
    tuple[float, ...],
    tuple[tuple[float, ...], ...],
    tuple[float, float, float],
    tuple[tuple[float, ...], ...],
]
"""Breakpoints (kW), PV by class at each, by class the most exact pricing exceeds the chords,
and PV by class halfway between each breakpoint and the next."""

REASON_CODES = frozenset(
    {"unreachable_required_building", "unreachable_required_supply", "required_path_unusable"}
)


def network_problem(inputs: Inputs, network: Network, *, name: str = "problem") -> Problem:
    """The optimiser's problem for a network built from inputs.

    Only elements in the model graph take part: unreachable and forbidden elements are left
    out, and the topology's errors about required elements become the problem's ``reasons``.

    Parameters
    ----------
    inputs
        Validated inputs (tables and parameters).
    network
        The network built from them.
    name
        A label for the problem.

    Returns
    -------
    Problem
        Buildings and supplies by vertex id, model edges by edge id, the pipe catalogue, and
        the buildings' line items their ``pv_*`` columns are the PVs of (the outputs write the
        connected buildings' items, so the written money is the money the optimiser saw).
    """
    params = inputs.parameters
    in_model = set(network.model.graph.nodes)
    buildings, items = _buildings(inputs, network, in_model)
    catalogue = build_catalogue(inputs.civil_costs, params)
    edges = network.model.edges
    bound_kw = float(buildings["peak_demand_kw"].sum()) + loss_bound_kw(edges, catalogue)
    supplies = _supplies(inputs, network, in_model, bound_kw)
    frame = pd.DataFrame(
        {
            "u": edges["u"].astype(str),
            "v": edges["v"].astype(str),
            "length_m": edges["length_m"].astype(float),
            "civil_lengths_m": [
                {int(k): float(m) for k, m in c.items()} for c in edges["civil_lengths_m"]
            ],
            "required": edges["required"].astype(bool),
            "existing_diameter_mm": pd.to_numeric(edges["existing_diameter"]).astype(float),
            "extra_pv": pd.to_numeric(edges["extra_pv"]).fillna(0.0).astype(float),
            "members": [tuple(m) for m in edges["members"]],
        },
        index=edges.index.astype(str),
    )
    reasons = tuple(
        (i.code, i.message)
        for i in network.issues
        if i.severity is Severity.ERROR and i.code in REASON_CODES
    )
    return Problem(
        buildings[list(BUILDING_COLUMNS)],
        supplies[list(SUPPLY_COLUMNS)],
        frame[list(EDGE_COLUMNS)],
        catalogue,
        params,
        reasons,
        name,
        items,
    )


def _buildings(
    inputs: Inputs, network: Network, in_model: set[object]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The buildings table and the line items it is priced from (every building in the model)."""
    params = inputs.parameters
    table = network.buildings[network.buildings["vertex"].isin(list(in_model))]
    rows = inputs.buildings.loc[table.index].drop(columns="geometry")
    items = building_items(rows, inputs.tariffs, inputs.connection_costs, params)
    pv = pv_by_class(items, schedule_for(params), "building_id")
    pv = pv.reindex(rows["building_id"].to_numpy(), fill_value=0.0)
    group = rows["demand_group"].astype(object)
    out = pd.DataFrame(
        {
            "building_id": rows["building_id"].astype(str).to_numpy(),
            "annual_demand_kwh": rows["annual_demand_kwh"].to_numpy(float),
            "peak_demand_kw": rows["peak_demand_kw"].to_numpy(float),
            "connections": rows["connections"].to_numpy(np.int64),
            "required": (rows["constraint"] == "required").to_numpy(bool),
            "demand_group": [None if pd.isna(g) else str(g) for g in group],
        },
        index=pd.Index(table["vertex"].astype(str).to_numpy(), name="vertex"),
    )
    for klass in CostClass:
        out[f"pv_{klass.column}"] = pv[klass].to_numpy(float)
    return out, items


def _supplies(
    inputs: Inputs, network: Network, in_model: set[object], bound_kw: float
) -> pd.DataFrame:
    params = inputs.parameters
    schedule = schedule_for(params)
    table = network.supplies[network.supplies["vertex"].isin(list(in_model))]
    rows = inputs.supplies.loc[table.index].drop(columns="geometry")
    coefficients = supply_coefficients(rows, inputs.supply_costs, schedule, params)
    out = pd.DataFrame(
        {
            "supply_id": rows["supply_id"].astype(str).to_numpy(),
            "peak_capacity_kw": rows["peak_capacity_kw"].to_numpy(float),
            "annual_capacity_kwh": rows["annual_capacity_kwh"].to_numpy(float),
            "required": (rows["constraint"] == "required").to_numpy(bool),
            "emissions_per_kwh": rows["emissions_per_kwh"].fillna(0.0).to_numpy(float),
        },
        index=pd.Index(table["vertex"].astype(str).to_numpy(), name="vertex"),
    )
    for part, frame in coefficients.items():
        for klass in SUPPLY:
            out[f"{part}_{klass.column}"] = frame[klass].to_numpy(float)
    curves = [
        _curve(rows.iloc[[n]], inputs.supply_costs, schedule, params, bound_kw)
        for n in range(len(rows))
    ]
    out["curve_kw"] = [c[0] for c in curves]
    for k, klass in enumerate(SUPPLY):
        out[f"curve_{klass.column}"] = [c[1][k] for c in curves]
        out[f"curve_slack_{klass.column}"] = [c[2][k] for c in curves]
        out[f"curve_mid_{klass.column}"] = [c[3][k] for c in curves]
    return out


def _curve(
    supply: pd.DataFrame,
    costs: pd.DataFrame,
    schedule: Schedule,
    params: Parameters,
    bound_kw: float,
) -> Curve:
    """Breakpoints, PV, chord slack and midpoint PV by class of a supply's ¤/kW capacity curves.

    Breakpoints are the curves' own points below the largest capacity the supply could need;
    between them the model interpolates linearly (error bound: see
    :func:`heatnet.economics.prices.curve_breakpoints`). The PV at each is that of the curve
    items :func:`heatnet.economics.supply_items` prices at that capacity (computed at once by
    :func:`heatnet.economics.prices.curve_pv`).
    """
    none: Curve = ((), ((), (), ()), (0.0, 0.0, 0.0), ((), (), ()))
    kind = supply["supply_cost_type"].iloc[0]
    if costs.empty or pd.isna(kind):
        return none
    mine = costs[(costs["supply_cost_type"] == kind) & costs["cost"].str.endswith("_per_kw")]
    points = [v for v in mine["value"] if isinstance(v, tuple)]
    if not points:
        return none
    cap = float(supply["peak_capacity_kw"].iloc[0])
    max_kw = bound_kw if np.isnan(cap) else min(cap, bound_kw)
    xs = np.unique(np.r_[0.0, *[curve_breakpoints(v, max_kw)[0] for v in points], max_kw])

    pv = curve_pv(str(kind), costs, xs, schedule, params)
    # between breakpoints every curve's total x·rate(x) is quadratic (the curves' own points
    # are breakpoints), so exact pricing is furthest from the chord at the midpoint
    middle = curve_pv(str(kind), costs, (xs[:-1] + xs[1:]) / 2.0, schedule, params)
    slack = []
    for klass in SUPPLY:
        at = pv[klass]
        chord = (at[:-1] + at[1:]) / 2.0
        excess = middle[klass] - chord
        slack.append(float(max(0.0, excess.max(initial=0.0))))
    return (
        tuple(float(x) for x in xs),
        tuple(tuple(float(v) for v in pv[klass]) for klass in SUPPLY),
        (slack[0], slack[1], slack[2]),
        tuple(tuple(float(v) for v in middle[klass]) for klass in SUPPLY),
    )
