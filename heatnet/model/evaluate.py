"""Price a design honestly: catalogue diameters, diversity from what is downstream, true costs.

Given which buildings, supplies and arcs a solution uses and its flows, this computes what would
be written: per pipe the diversity (from the connections downstream, never letting a pipe be
smaller than its largest single building), the load, the cheapest catalogue diameter that
carries it (or the existing pipe while it suffices), its losses and cost; per supply its
diversity, load and plant cost; and the NPV of it all — every class (``network_npv``) and the
classes the objective counts. Nothing here uses the linear fit, so the ``linear`` and
``discrete`` models are judged by the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from heatnet.economics import diversity, pipe_diversity
from heatnet.model.data import ModelData, objective_weights
from heatnet.problem import (
    PIPE_CLASSES,
    PV_CLASSES,
    SUPPLY_CLASSES,
)
from heatnet.units import HOURS_PER_YEAR

ON = 0.5
"""Binary values above this are 1 (solvers return 0.9999999 and 1e-9)."""


@dataclass(frozen=True, slots=True)
class Design:
    """A priced design.

    Attributes
    ----------
    buildings
        By building vertex: ``in_network``, PV by class (``pv_*``, zero when not connected).
    edges
        By problem edge id (folded connectors included): ``in_network``, ``tail``, ``head``
        (direction of heat; None when unused), ``flow_kw`` (undiversified peak), ``mean_kw``,
        ``diversity``, ``load_kw``, ``diameter_mm``, ``capacity_kw``, ``existing`` (the
        existing pipe is kept), ``loss_kw``, PV by class (``pv_pipe_capex``,
        ``pv_pipe_repex``, ``pv_extra``).
    supplies
        By supply vertex: ``in_network``, ``diversity``, ``load_kw``, ``load_kwh``,
        ``output_peak_kw`` (undiversified), PV by class.
    kwh
        Heat delivered to the connected buildings (kWh/yr).
    objective
        The objective of this design (objective NPV, or delivered kWh).
    npv
        The objective NPV (switched classes).
    network_npv
        NPV over every class.
    """

    buildings: pd.DataFrame
    edges: pd.DataFrame
    supplies: pd.DataFrame
    kwh: float
    objective: float
    npv: float
    network_npv: float

    @property
    def key(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """What was decided: connected buildings, built supplies, used arcs (for loop checks)."""
        e = self.edges[self.edges["in_network"]]
        return (
            frozenset(self.buildings.index[self.buildings["in_network"]]),
            frozenset(self.supplies.index[self.supplies["in_network"]]),
            frozenset(f"{t}>{h}" for t, h in zip(e["tail"], e["head"], strict=True)),
        )


def evaluate(data: ModelData, values: dict[str, pd.Series]) -> Design:
    """Price the design in solver values.

    Parameters
    ----------
    data
        The prepared problem.
    values
        Solver values by variable (``dvin``, ``svin``, ``ain``, ``fp``, ``fm``, ``supp``,
        ``supm``); missing entries count as 0.

    Returns
    -------
    Design
        Per element results and totals.
    """
    p = data.problem
    params = p.parameters
    div = {"limit": params.diversity_limit, "rate": params.diversity_rate}
    b = data.buildings
    connected = values["dvin"].reindex(b.index, fill_value=0.0) > ON
    arcs = data.arcs.assign(
        used=values["ain"].reindex(data.arcs.index, fill_value=0.0).to_numpy() > ON,
        fp=values["fp"].reindex(data.arcs.index, fill_value=0.0).to_numpy(),
        fm=values["fm"].reindex(data.arcs.index, fill_value=0.0).to_numpy(),
    )
    used = arcs[arcs["used"]]
    count, largest = _downstream(data, used, connected)

    edges = _blank_edges(p.edges.index)
    # network edges
    ids = used["edge"].to_numpy()
    head_count = np.array([count.get(a, 0) for a in used.index], dtype=float)
    head_largest = np.array([largest.get(a, 0.0) for a in used.index], dtype=float)
    delta = pipe_diversity(head_count, used["fp"].to_numpy(), head_largest, **div)
    load = np.maximum(delta * used["fp"].to_numpy(), used["fm"].to_numpy())
    edges.loc[ids, "in_network"] = True
    edges.loc[ids, "tail"] = used["tail"].to_numpy()
    edges.loc[ids, "head"] = used["head"].to_numpy()
    edges.loc[ids, "flow_kw"] = used["fp"].to_numpy()
    edges.loc[ids, "mean_kw"] = used["fm"].to_numpy()
    edges.loc[ids, "diversity"] = delta
    edges.loc[ids, "load_kw"] = load
    _size(data, edges, ids, load)

    # folded connectors of connected buildings
    folded = b[connected & b["edge"].notna()]
    fids = folded["edge"].to_numpy()
    if len(fids):
        kw = np.maximum(folded["given_peak_kw"].to_numpy(float), folded["mean_kw"].to_numpy(float))
        edges.loc[fids, "in_network"] = True
        edges.loc[fids, "tail"] = folded["host"].to_numpy()
        edges.loc[fids, "head"] = folded.index.to_numpy()
        edges.loc[fids, "flow_kw"] = folded["peak_kw"].to_numpy(float)
        edges.loc[fids, "mean_kw"] = folded["mean_kw"].to_numpy(float)
        edges.loc[fids, "diversity"] = diversity(folded["connections"].to_numpy(), **div)
        edges.loc[fids, "load_kw"] = kw
        _size(data, edges, fids, kw)

    buildings = pd.DataFrame({"in_network": connected.to_numpy()}, index=b.index)
    for c in PV_CLASSES:
        buildings[f"pv_{c}"] = np.where(connected, p.buildings[f"pv_{c}"], 0.0)
    supplies = _supplies(data, values, used, count, connected)
    totals = {c: float(buildings[f"pv_{c}"].sum()) for c in PV_CLASSES}
    for c in (*PIPE_CLASSES, "extra"):
        totals[c] += float(edges[f"pv_{c}"].sum())
    for c in SUPPLY_CLASSES:
        totals[c] += float(supplies[f"pv_{c}"].sum())
    weights = objective_weights(params)
    npv = sum(v * weights[c] for c, v in totals.items())
    kwh = float(b.loc[connected, "kwh"].sum())
    objective = kwh if params.objective == "kwh" else npv
    return Design(buildings, edges, supplies, kwh, objective, npv, float(sum(totals.values())))


def _blank_edges(index: pd.Index) -> pd.DataFrame:
    edges = pd.DataFrame(index=index)
    edges["in_network"] = False
    edges["tail"] = None
    edges["head"] = None
    for column in ("flow_kw", "mean_kw", "load_kw", "diameter_mm", "capacity_kw", "loss_kw"):
        edges[column] = np.nan
    edges["diversity"] = np.nan
    edges["existing"] = False
    for c in (*PIPE_CLASSES, "extra"):
        edges[f"pv_{c}"] = 0.0
    return edges


def _size(data: ModelData, edges: pd.DataFrame, ids: np.ndarray, load: np.ndarray) -> None:
    """Diameter, capacity, losses and cost of used edges carrying ``load`` kW."""
    p = data.problem
    rows = p.edges.index.get_indexer(pd.Index(ids))
    length = p.edges["length_m"].to_numpy(float)
    extra = p.edges["extra_pv"].to_numpy(float)
    for eid, i, kw in zip(ids, rows, load, strict=True):
        edges.at[eid, "pv_extra"] = float(extra[i])
        if length[i] <= 0:
            edges.at[eid, "loss_kw"] = 0.0
            continue
        pipe = data.prices.size(int(i), float(kw))
        edges.at[eid, "diameter_mm"] = pipe.diameter_mm
        edges.at[eid, "capacity_kw"] = pipe.capacity_kw
        edges.at[eid, "existing"] = pipe.existing
        loss = float(p.catalogue.loss_at_diameter(pipe.diameter_mm))
        edges.at[eid, "loss_kw"] = length[i] * loss / 1000.0
        for c in PIPE_CLASSES:
            edges.at[eid, f"pv_{c}"] = pipe.pv[c]


def _downstream(
    data: ModelData, used: pd.DataFrame, connected: pd.Series
) -> tuple[dict[str, int], dict[str, float]]:
    """Per used arc: connections and largest given peak of connected buildings downstream.

    Reverse topological order over the used arcs; where heat meets from two sides the union of
    the buildings is taken (a building fed two ways counts once).
    """
    b = data.buildings[connected]
    here: dict[str, set[str]] = defaultdict(set)
    for vertex, host in zip(b.index, b["host"], strict=True):
        here[str(host)].add(str(vertex))
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    indegree: dict[str, int] = defaultdict(int)
    for a, t, h in zip(used.index, used["tail"], used["head"], strict=True):
        out[t].append((a, h))
        indegree[h] += 1
    vertices = set(out) | set(indegree)
    order: list[str] = []
    ready = [v for v in vertices if indegree[v] == 0]
    remaining = dict(indegree)
    while ready:
        v = ready.pop()
        order.append(v)
        for _, h in out[v]:
            remaining[h] -= 1
            if remaining[h] == 0:
                ready.append(h)
    below: dict[str, frozenset[str]] = {}
    for v in reversed(order):  # circulations (if any) are left out: they reach nobody new
        acc = set(here[v])
        for _, h in out[v]:
            acc |= below.get(h, frozenset())
        below[v] = frozenset(acc)
    n = b["connections"].to_dict()
    peak = b["given_peak_kw"].to_dict()
    count: dict[str, int] = {}
    largest: dict[str, float] = {}
    for arcs in out.values():
        for a, h in arcs:
            members = below.get(h, frozenset())
            count[a] = int(sum(n[x] for x in members))
            largest[a] = max((peak[x] for x in members), default=0.0)
    for s in data.supplies.index:
        members = below.get(s, frozenset(here[s]))
        count[f"supply:{s}"] = int(sum(n[x] for x in members))
    return count, largest


def _supplies(
    data: ModelData,
    values: dict[str, pd.Series],
    used: pd.DataFrame,
    count: dict[str, int],
    connected: pd.Series,
) -> pd.DataFrame:
    p = data.problem
    params = p.parameters
    s = p.supplies
    built = values["svin"].reindex(s.index, fill_value=0.0) > ON
    supp = values["supp"].reindex(s.index, fill_value=0.0).where(built, 0.0)
    supm = values["supm"].reindex(s.index, fill_value=0.0).where(built, 0.0)
    n = np.array([count.get(f"supply:{i}", 0) for i in s.index])
    sigma = diversity(n, limit=params.diversity_limit, rate=params.diversity_rate)
    load_kw = np.maximum(sigma * supp.to_numpy(), supm.to_numpy())
    kwh = supm.to_numpy() * HOURS_PER_YEAR
    out = pd.DataFrame(
        {
            "in_network": built.to_numpy(),
            "diversity": np.where(built, sigma, np.nan),
            "load_kw": np.where(built, load_kw, np.nan),
            "load_kwh": np.where(built, kwh, np.nan),
            "output_peak_kw": supp.to_numpy(),
        },
        index=s.index,
    )
    for c in SUPPLY_CLASSES:
        curve = np.array(
            [
                float(np.interp(x, row_kw, row_pv)) if len(row_kw) else 0.0
                for x, row_kw, row_pv in zip(load_kw, s["curve_kw"], s[f"curve_{c}"], strict=True)
            ]
        )
        pv = s[f"fixed_{c}"] + s[f"per_kw_{c}"] * load_kw + s[f"per_kwh_{c}"] * kwh + curve
        out[f"pv_{c}"] = np.where(built, pv, 0.0)
    return out
