"""The network problem: what the optimiser needs, with no geometry.

A :class:`Problem` is a graph (vertices are buildings, supplies and junctions; edges carry a
length and a dig-type mix), the money each element is worth when it is in the network (present
values by cost class, from :mod:`heatnet.economics`), the pipe catalogue and the parameters.
It is built from GIS inputs by :func:`heatnet.problem.from_network.network_problem`, or read from
JSON (:mod:`heatnet.problem.json_form`), so the optimiser can be run, tested and shared on its own.

Money convention: every PV is the signed contribution to NPV (costs negative), per
:class:`heatnet.economics.CostClass` (the nine switched classes and ``extra``, ``extra_pv``),
spelt :attr:`~heatnet.economics.CostClass.column` in column names (``pv_connection_capex``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from heatnet.economics import PATH, PIPE, SUPPLY, CostClass, PipeCatalogue, schedule_for
from heatnet.economics.prices import pipe_pv_per_m
from heatnet.inputs.params import Parameters

PV_CLASSES = tuple(c.column for c in CostClass)
"""Column suffixes of every class (:attr:`CostClass.column`): ``connection_capex`` … ``extra``."""
SUPPLY_CLASSES = tuple(c.column for c in SUPPLY)
"""Column suffixes of :data:`heatnet.economics.SUPPLY`: ``supply_capex``, ``_opex``, ``_repex``."""
PIPE_CLASSES = tuple(c.column for c in PIPE)
"""Column suffixes of :data:`heatnet.economics.PIPE`: ``pipe_capex``, ``pipe_repex``."""
PATH_CLASSES = tuple(c.column for c in PATH)
"""Column suffixes of :data:`heatnet.economics.PATH`: the pipe classes and ``extra``."""

BUILDING_COLUMNS = (
    "building_id", "annual_demand_kwh", "peak_demand_kw", "connections", "required",
    "demand_group", *(f"pv_{c}" for c in PV_CLASSES),
)  # fmt: skip
"""Buildings, indexed by vertex id: demand, whether required, demand group (None: none) and the
PV of connecting the building, by class (tariffs, connection costs, ``extra_pv``)."""

SUPPLY_COLUMNS = (
    "supply_id", "peak_capacity_kw", "annual_capacity_kwh", "required", "emissions_per_kwh",
    *(f"{part}_{c}" for part in ("fixed", "per_kw", "per_kwh") for c in SUPPLY_CLASSES),
    "curve_kw", *(f"curve_{c}" for c in SUPPLY_CLASSES),
    *(f"curve_slack_{c}" for c in SUPPLY_CLASSES), *(f"curve_mid_{c}" for c in SUPPLY_CLASSES),
)  # fmt: skip
"""Supplies, indexed by vertex id: capacities (NaN: unlimited), emissions (kg/kWh output), PV if
built (``fixed_*``), per kW of capacity (``per_kw_*``), per kWh/yr of output (``per_kwh_*``), and
an optional piecewise-linear PV of capacity (``curve_kw`` breakpoints, ``curve_<class>`` PV at
each; empty tuples when the supply has no curve), ``curve_slack_<class>``, the most exact
pricing of the curve exceeds its chords between breakpoints (≥ 0; added to proven bounds), and
``curve_mid_<class>``, the PV halfway between each breakpoint and the next: between them the
exact total capacity × rate(capacity) is quadratic, so exact pricing interpolates through the
ends and this midpoint (an empty tuple: the chord, linear between breakpoints)."""

EDGE_COLUMNS = (
    "u", "v", "length_m", "civil_lengths_m", "required", "existing_diameter_mm", "extra_pv",
    "members",
)  # fmt: skip
"""Edges, indexed by edge id: end vertices, length, metres per civil cost id (a dict), whether
required, the existing pipe's diameter (NaN: none), ``extra_pv`` if used, and the output path
ids the edge stands for."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A network design problem without geometry.

    Attributes
    ----------
    buildings, supplies, edges
        See :data:`BUILDING_COLUMNS`, :data:`SUPPLY_COLUMNS`, :data:`EDGE_COLUMNS`. Vertices
        that are neither a building nor a supply are junctions. A vertex is a building or a
        supply, not both.
    catalogue
        The pipes that can be laid (diameters, capacity, losses, cost per metre by civil id).
    parameters
        Global parameters (money, temperatures, diversity, constraints, solver settings).
    reasons
        Causes of infeasibility found before the model (``(reason_type, message)``), e.g. a
        required building no supply can reach: such a problem is infeasible whatever is chosen.
    name
        A label for logs and outputs.
    building_items
        The line items (:mod:`heatnet.economics.money`) the buildings' ``pv_*`` columns are
        the PVs of, by ``building_id``: tariffs, connection costs and ``extra_pv`` of every
        building as if connected. Kept in memory only (not in the JSON form): None for a
        problem read from JSON or made by hand, which can be solved but not written as a
        GeoPackage (:func:`heatnet.outputs.results.results` needs them).
    """

    buildings: pd.DataFrame
    supplies: pd.DataFrame
    edges: pd.DataFrame
    catalogue: PipeCatalogue
    parameters: Parameters
    reasons: tuple[tuple[str, str], ...] = ()
    name: str = "problem"
    building_items: pd.DataFrame | None = field(default=None, repr=False, compare=False)


def loss_bound_kw(edges: pd.DataFrame, catalogue: PipeCatalogue) -> float:
    """The most heat the edges could lose at once: every edge at the largest pipe's loss (kW)."""
    return float((edges["length_m"] * catalogue.loss_w_per_m[-1]).sum() / 1000.0)


def pipe_pv_table(
    catalogue: PipeCatalogue,
    civil_lengths_m: list[Mapping[int, float]],
    params: Parameters,
) -> dict[str, np.ndarray]:
    """PV by class of laying each catalogue diameter along each edge (edges × diameters).

    :func:`heatnet.economics.prices.pipe_pv_per_m` of the cost per metre mixed over the edge's
    dig types (length-weighted), times the length.
    """
    lengths = np.array([sum(c.values()) for c in civil_lengths_m], dtype=float)
    principal = catalogue.mixed_cost_m(civil_lengths_m) * lengths[:, None]
    return _by_class(pipe_pv_per_m(principal, schedule_for(params), params))


def existing_pipe_pv(
    catalogue: PipeCatalogue,
    civil_lengths_m: list[Mapping[int, float]],
    diameter_mm: np.ndarray,
    params: Parameters,
) -> dict[str, np.ndarray]:
    """PV by class of keeping existing pipes: repex only, at the existing diameter's cost."""
    shares = catalogue.civil_shares(civil_lengths_m)
    columns = catalogue.cost_m.columns.to_numpy(dtype=float)
    per_civil = np.vstack(
        [
            np.interp(np.nan_to_num(diameter_mm, nan=columns[0]), columns, row)
            for row in catalogue.cost_m.to_numpy(dtype=float)
        ]
    ).T  # edges × civil ids
    lengths = np.array([sum(c.values()) for c in civil_lengths_m], dtype=float)
    principal = (shares * per_civil).sum(axis=1) * lengths
    pv = _by_class(pipe_pv_per_m(principal, schedule_for(params), params))
    return {**pv, CostClass.PIPE_CAPEX.column: np.zeros(len(lengths))}


def _by_class(pv: Mapping[CostClass, np.ndarray]) -> dict[str, np.ndarray]:
    """Keyed by column spelling (``pipe_capex``), as :class:`~heatnet.optimise.prepare.PipePrices`."""
    return {klass.column: np.asarray(v) for klass, v in pv.items()}
