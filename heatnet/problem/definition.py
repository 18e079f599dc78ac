"""The network problem: what the optimiser needs, with no geometry.

A :class:`Problem` is a graph (vertices are buildings, supplies and junctions; edges carry a
length and a dig-type mix), the money each element is worth when it is in the network (present
values by cost class, from :mod:`heatnet.economics`), the pipe catalogue and the parameters.
It is built from GIS inputs by :func:`heatnet.problem.from_network.network_problem`, or read from
JSON (:mod:`heatnet.problem.json_form`), so the optimiser can be run, tested and shared on its own.

Money convention: every PV is the signed contribution to NPV (costs negative), per class of
:data:`heatnet.economics.CLASSES` plus ``extra`` (``extra_pv``), with ``-`` written ``_`` in
column names (``pv_connection_capex``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from heatnet.economics import CLASSES, PipeCatalogue, schedule_for
from heatnet.economics.prices import pipe_pv_per_m
from heatnet.inputs.params import Parameters

PV_CLASSES = tuple(c.replace("-", "_") for c in (*CLASSES, "extra"))
"""Column suffixes of PV classes: ``connection_capex`` … ``tariffs``, ``extra``."""
SUPPLY_CLASSES = ("supply_capex", "supply_opex", "supply_repex")
PIPE_CLASSES = ("pipe_capex", "pipe_repex")

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
    *(f"curve_slack_{c}" for c in SUPPLY_CLASSES),
)  # fmt: skip
"""Supplies, indexed by vertex id: capacities (NaN: unlimited), emissions (kg/kWh output), PV if
built (``fixed_*``), per kW of capacity (``per_kw_*``), per kWh/yr of output (``per_kwh_*``), and
an optional piecewise-linear PV of capacity (``curve_kw`` breakpoints, ``curve_<class>`` PV at
each; empty tuples when the supply has no curve) and ``curve_slack_<class>``, the most exact
pricing of the curve exceeds its chords between breakpoints (≥ 0; added to proven bounds)."""

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
    """

    buildings: pd.DataFrame
    supplies: pd.DataFrame
    edges: pd.DataFrame
    catalogue: PipeCatalogue
    parameters: Parameters
    reasons: tuple[tuple[str, str], ...] = ()
    name: str = "problem"


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
    return {**pv, "pipe_capex": np.zeros(len(lengths))}


def _by_class(pv: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {klass.replace("-", "_"): np.asarray(v) for klass, v in pv.items()}
