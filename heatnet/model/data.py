"""Numbers the model needs, prepared from a :class:`~heatnet.problem.Problem` (no Pyomo here).

Reductions before the model sees anything:

- **Folded connections.** A building whose only edge leads to a non-building vertex (its
  connector, or the zero-length link of a building touching a path) needs that edge exactly when
  it is connected, and the edge then carries exactly that building's load: diversity leaves a
  single building's given peak unchanged. So the edge's pipe is known in advance (the cheapest
  catalogue diameter that carries the peak, or the existing pipe if it does), its cost joins the
  building's value and its demand (plus the connector's loss) is drawn at the other end. This
  removes one binary and two flows per building and is exact.
- **Arc elimination.** Heat never leaves a building and never enters a supply; an arc with no
  supply upstream or no building downstream (over a bridge) is dropped.
- **Bounds** from :mod:`heatnet.model.bounds` give every big-M and the "no pipe to nowhere" floor:
  a built arc carries at least the smallest single peak downstream (no fixed 1 kW floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from heatnet.economics import diversity, schedule_for, switches, undiversified_peak_kw
from heatnet.economics.prices import pipe_line_coefficients
from heatnet.model.bounds import SUMS, arc_bounds
from heatnet.params import Parameters
from heatnet.problem import (
    PIPE_CLASSES,
    PV_CLASSES,
    SUPPLY_CLASSES,
    Problem,
    existing_pipe_pv,
    pipe_pv_table,
)
from heatnet.units import HOURS_PER_YEAR


def objective_weights(params: Parameters) -> dict[str, float]:
    """1.0 for the PV classes the objective counts, 0.0 for the others (``extra`` always on)."""
    on = switches(params)
    return {c: float(on[c.replace("_", "-")]) for c in PV_CLASSES}


@dataclass(frozen=True, slots=True)
class ModelData:
    """Everything the model builders read, indexed by the problem's ids.

    Attributes
    ----------
    problem
        The problem the data was prepared from.
    buildings
        By building vertex: ``host`` (vertex its demand is drawn at), ``edge`` (folded edge id or
        None), ``peak_kw`` (undiversified), ``mean_kw`` (demand plus folded connector loss),
        ``kwh``, ``connections``, ``required``, ``group``, ``length_m`` (folded edge length),
        ``value`` (objective PV if connected, folded pipe included), ``value_all`` (every
        class), ``folded_diameter_mm``, ``folded_existing``.
    edges
        Non-folded edges by id: ``u``, ``v``, ``length_m``, ``required``, ``max_kw`` (largest
        pipe), ``existing_kw`` (NaN: none), linear-model coefficients ``fixed``, ``per_kw``,
        ``existing_fixed`` (objective PV), the fit range ``kw_low``, ``kw_high``.
    arcs
        By arc id ``<edge>+`` (u → v) / ``<edge>-`` (v → u): ``edge``, ``tail``, ``head``,
        ``peak_ub``, ``mean_ub``, ``floor_kw``, ``connections``.
    options
        ``discrete`` pipe model choices: rows (``edge``, ``option``, ``capacity_kw``, ``value``,
        ``diameter_mm``, ``existing``).
    supplies
        By supply vertex: ``cap_kw`` (diversified limit), ``peak_ub`` (undiversified),
        ``mean_ub``, ``required``, ``fixed``, ``per_kw``, ``per_kwh`` (objective PV per kWh/yr),
        ``emissions_per_kwh``, ``curve_kw`` / ``curve_value`` (tuples, may be empty).
    vertices
        Every non-building vertex and every unfolded building vertex.
    delta, loss_kw, sigma
        Initial (optimistic) pipe diversity, pipe loss (kW when built) and supply diversity.
    loss_bound_kw
        Largest conceivable total loss (all edges at the largest pipe).
    """

    problem: Problem
    buildings: pd.DataFrame
    edges: pd.DataFrame
    arcs: pd.DataFrame
    options: pd.DataFrame
    supplies: pd.DataFrame
    vertices: list[str]
    delta: pd.Series
    loss_kw: pd.Series
    sigma: pd.Series
    loss_bound_kw: float

    @property
    def params(self) -> Parameters:
        """The problem's parameters."""
        return self.problem.parameters


def prepare(problem: Problem) -> ModelData:
    """Fold connections, eliminate arcs, bound flows and compute every coefficient."""
    params = problem.parameters
    cat = problem.catalogue
    weights = objective_weights(params)
    b = problem.buildings
    edges = problem.edges
    div = {"limit": params.diversity_limit, "rate": params.diversity_rate}
    loss_bound = float((edges["length_m"] * cat.loss_w_per_m[-1]).sum() / 1000.0)
    folded = _folded(problem)
    all_pipe = pipe_pv_table(cat, list(edges["civil_lengths_m"]), params)
    existing_pv = existing_pipe_pv(
        cat, list(edges["civil_lengths_m"]), edges["existing_diameter_mm"].to_numpy(), params
    )
    existing_kw = np.where(
        edges["existing_diameter_mm"].notna(),
        cat.capacity_of(edges["existing_diameter_mm"].fillna(cat.diameter_mm[0])),
        np.nan,
    )
    position = {e: i for i, e in enumerate(edges.index)}

    # buildings: folded connector pipe sized for the given peak
    peak = undiversified_peak_kw(b["peak_demand_kw"], b["connections"], **div)
    value = sum(b[f"pv_{c}"] * w for c, w in weights.items())
    value_all = b[[f"pv_{c}" for c in PV_CLASSES]].sum(axis=1)
    host = pd.Series(b.index, index=b.index, dtype=object)
    edge_of = pd.Series(None, index=b.index, dtype=object)
    f_diam = pd.Series(np.nan, index=b.index)
    f_exist = pd.Series(False, index=b.index)
    f_loss = pd.Series(0.0, index=b.index)
    f_len = pd.Series(0.0, index=b.index)
    pipe_value = pd.Series(0.0, index=b.index)
    pipe_all = pd.Series(0.0, index=b.index)
    for vertex, (eid, other) in folded.items():
        i = position[eid]
        kw = float(b.at[vertex, "peak_demand_kw"])
        keep = not np.isnan(existing_kw[i]) and existing_kw[i] >= kw - 1e-9
        if edges.at[eid, "length_m"] <= 0:
            pv = dict.fromkeys(PIPE_CLASSES, 0.0)
            diameter = np.nan
        elif keep:
            pv = {c: float(existing_pv[c][i]) for c in PIPE_CLASSES}
            diameter = float(edges.at[eid, "existing_diameter_mm"])
        else:
            k = cheapest_option(
                cat.capacity_kw, all_pipe["pipe_capex"][i] + all_pipe["pipe_repex"][i], kw
            )
            pv = {c: float(all_pipe[c][i, k]) for c in PIPE_CLASSES}
            diameter = float(cat.diameter_mm[k])
        extra = float(edges.at[eid, "extra_pv"])
        host[vertex], edge_of[vertex] = other, eid
        f_diam[vertex], f_exist[vertex] = diameter, keep
        length = float(edges.at[eid, "length_m"])
        f_len[vertex] = length
        if length > 0:
            f_loss[vertex] = length * float(cat.loss_at_diameter(diameter)) / 1000.0
        pipe_value[vertex] = sum(pv[c] * weights[c] for c in PIPE_CLASSES) + extra
        pipe_all[vertex] = sum(pv.values()) + extra
    buildings = pd.DataFrame(
        {
            "host": host,
            "edge": edge_of,
            "peak_kw": peak,
            "given_peak_kw": b["peak_demand_kw"],
            "mean_kw": b["annual_demand_kwh"] / HOURS_PER_YEAR + f_loss,
            "connector_loss_kw": f_loss,
            "kwh": b["annual_demand_kwh"],
            "connections": b["connections"],
            "required": b["required"] | _required_folded(problem, edge_of),
            "group": b["demand_group"],
            "length_m": f_len,
            "value": value + pipe_value,
            "value_all": value_all + pipe_all,
            "folded_diameter_mm": f_diam,
            "folded_existing": f_exist,
        }
    )
    folded_edges = {e for e, _ in folded.values()}
    net = edges[~edges.index.isin(folded_edges)]
    net = net[~(net["u"].isin(b.index) & net["v"].isin(b.index))]  # heat never crosses a building

    # vertices and their aggregates for the bounds
    s = problem.supplies
    vertices = sorted((set(net["u"]) | set(net["v"]) | set(s.index) | set(host)) - set(folded))
    agg = pd.DataFrame(0.0, index=vertices, columns=list(SUMS))
    agg["min_peak_kw"] = np.inf
    by_host = buildings.groupby("host")
    agg.loc[by_host.size().index, "peak_kw"] = by_host["peak_kw"].sum()
    agg.loc[by_host.size().index, "mean_kw"] = by_host["mean_kw"].sum()
    agg.loc[by_host.size().index, "connections"] = by_host["connections"].sum()
    agg.loc[by_host.size().index, "buildings"] = by_host.size()
    agg.loc[by_host.size().index, "min_peak_kw"] = by_host["given_peak_kw"].min()
    a = params.diversity_limit
    cap = s["peak_capacity_kw"].fillna(np.inf)
    agg.loc[s.index, "supply_kw"] = np.minimum(cap / a, 1e12)
    agg.loc[s.index, "supplies"] = 1.0

    tails = list(net["u"]) + list(net["v"])
    heads = list(net["v"]) + list(net["u"])
    ids = [f"{e}+" for e in net.index] + [f"{e}-" for e in net.index]
    bounds = arc_bounds(net, agg, tails, heads)
    arcs = pd.DataFrame(
        {
            "edge": list(net.index) * 2,
            "tail": tails,
            "head": heads,
            "peak_ub": bounds.peak_kw,
            "mean_ub": bounds.mean_kw + loss_bound,
            "floor_kw": bounds.min_peak_kw,
            "connections": bounds.connections,
            "useful": bounds.useful,
        },
        index=ids,
    )
    is_building = arcs["tail"].isin(b.index)
    into_supply = arcs["head"].isin(s.index)
    arcs = arcs[arcs["useful"] & ~is_building & ~into_supply & (arcs["peak_ub"] > 0)]
    arcs = arcs.drop(columns="useful")

    # edges: capacity, linear fit over the feasible diversified load range
    by_edge = arcs.groupby("edge")
    net = net.loc[[e for e in net.index if e in by_edge.size().index]]
    hi = by_edge["peak_ub"].max().reindex(net.index)
    lo = by_edge["floor_kw"].min().reindex(net.index)
    count = by_edge["connections"].max().reindex(net.index)
    delta = pd.Series(diversity(count.to_numpy(), **div), index=net.index)
    fit_hi = np.minimum(np.maximum(delta * hi, lo), cat.max_capacity_kw)
    fit_lo = np.minimum(lo, fit_hi)
    rows = [position[e] for e in net.index]
    civil = [problem.edges.at[e, "civil_lengths_m"] for e in net.index]
    coeff = pipe_line_coefficients(
        cat, civil, fit_lo.to_numpy(), fit_hi.to_numpy(), schedule_for(params), params
    )
    length = net["length_m"].to_numpy(float)
    fixed = sum(coeff[c.replace("_", "-")][0] * weights[c] for c in PIPE_CLASSES) * length
    per_kw = sum(coeff[c.replace("_", "-")][1] * weights[c] for c in PIPE_CLASSES) * length
    ex_fixed = sum(existing_pv[c][rows] * weights[c] for c in PIPE_CLASSES)
    edge_table = pd.DataFrame(
        {
            "u": net["u"],
            "v": net["v"],
            "length_m": net["length_m"],
            "required": net["required"],
            "max_kw": cat.max_capacity_kw,
            "existing_kw": existing_kw[rows],
            "existing_diameter_mm": net["existing_diameter_mm"],
            "fixed": fixed + net["extra_pv"].to_numpy(float),
            "per_kw": per_kw,
            "existing_fixed": ex_fixed + net["extra_pv"].to_numpy(float),
            "kw_low": fit_lo,
            "kw_high": fit_hi,
        },
        index=net.index,
    )
    options = _options(net, rows, all_pipe, existing_pv, existing_kw, weights, cat, lo, hi, arcs)
    loss = pd.Series(
        length * cat.loss_at_diameter(cat.diameter_for(lo.to_numpy())) / 1000.0, index=net.index
    )
    supplies = _supplies(problem, buildings, weights, loss_bound, a)
    sigma = pd.Series(diversity(np.full(len(s), int(b["connections"].sum())), **div), index=s.index)
    return ModelData(
        problem, buildings, edge_table, arcs, options, supplies, vertices, delta, loss, sigma,
        loss_bound,
    )  # fmt: skip


def cheapest_option(capacity_kw: NDArray[np.float64], cost: NDArray[np.float64], kw: float) -> int:
    """Index of the cheapest catalogue pipe (largest negative PV) carrying ``kw``, or the largest."""
    ok = capacity_kw >= kw - 1e-9
    if not ok.any():
        return len(capacity_kw) - 1
    return int(np.flatnonzero(ok)[np.argmax(cost[ok])])


def _folded(problem: Problem) -> dict[str, tuple[str, str]]:
    """Building vertex → (its only edge, the other end) where that end is not a building."""
    edges = problem.edges
    b = problem.buildings.index
    ends = pd.concat(
        [
            pd.DataFrame({"vertex": edges["u"], "other": edges["v"], "edge": edges.index}),
            pd.DataFrame({"vertex": edges["v"], "other": edges["u"], "edge": edges.index}),
        ]
    )
    ends = ends[ends["vertex"].isin(b) & (ends["vertex"] != ends["other"])]
    single = ends.groupby("vertex").filter(lambda g: len(g) == 1) if len(ends) else ends
    single = single[~single["other"].isin(b)]
    return {r.vertex: (r.edge, r.other) for r in single.itertuples(index=False)}


def _required_folded(problem: Problem, edge_of: pd.Series) -> pd.Series:
    """A building whose folded edge is required must be connected."""
    req = problem.edges["required"]
    return edge_of.map(lambda e: bool(req.get(e, False)) if e is not None else False).astype(bool)


def _options(
    net: pd.DataFrame,
    rows: list[int],
    all_pipe: dict[str, NDArray[np.float64]],
    existing_pv: dict[str, NDArray[np.float64]],
    existing_kw: NDArray[np.float64],
    weights: dict[str, float],
    cat: object,
    lo: pd.Series,
    hi: pd.Series,
    arcs: pd.DataFrame,
) -> pd.DataFrame:
    """Diameter choices of the ``discrete`` model: those between what the flow bounds allow."""
    capacity = cat.capacity_kw  # type: ignore[attr-defined]
    diameters = cat.diameter_mm  # type: ignore[attr-defined]
    mean_hi = arcs.groupby("edge")["mean_ub"].max()
    records = []
    for j, eid in enumerate(net.index):
        i = rows[j]
        need_hi = max(float(hi[eid]), float(mean_hi.get(eid, 0.0)))
        first = int(np.searchsorted(capacity, float(lo[eid]) - 1e-9))
        last = int(np.searchsorted(capacity, need_hi - 1e-9))
        first, last = min(first, len(capacity) - 1), min(last, len(capacity) - 1)
        extra = float(net.at[eid, "extra_pv"])
        ex = existing_kw[i]
        if not np.isnan(ex):
            value = sum(existing_pv[c][i] * weights[c] for c in PIPE_CLASSES) + extra
            records.append(
                (
                    eid,
                    "existing",
                    float(ex),
                    value,
                    float(net.at[eid, "existing_diameter_mm"]),
                    True,
                )
            )
        for k in range(first, last + 1):
            if not np.isnan(ex) and capacity[k] <= ex:
                continue
            value = sum(all_pipe[c][i, k] * weights[c] for c in PIPE_CLASSES) + extra
            records.append(
                (eid, f"DN{diameters[k]:g}", float(capacity[k]), value, float(diameters[k]), False)
            )
    return pd.DataFrame(
        records, columns=["edge", "option", "capacity_kw", "value", "diameter_mm", "existing"]
    )


def _supplies(
    problem: Problem,
    buildings: pd.DataFrame,
    weights: dict[str, float],
    loss_bound: float,
    limit: float,
) -> pd.DataFrame:
    s = problem.supplies
    total_peak = float(buildings["peak_kw"].sum())
    total_mean = float(buildings["mean_kw"].sum()) + loss_bound
    cap = s["peak_capacity_kw"].fillna(np.inf)
    cap_kw = np.minimum(cap, total_peak + loss_bound)
    annual = s["annual_capacity_kwh"].fillna(np.inf) / HOURS_PER_YEAR
    curves = []
    for _, row in s.iterrows():
        ys = np.zeros(len(row["curve_kw"]))
        for c in SUPPLY_CLASSES:
            if len(row["curve_kw"]):
                ys = ys + np.asarray(row[f"curve_{c}"], dtype=float) * weights[c]
        curves.append(tuple(float(y) for y in ys))
    return pd.DataFrame(
        {
            "cap_kw": cap_kw,
            "peak_ub": np.minimum(cap_kw / limit, total_peak),
            "mean_ub": np.minimum(np.minimum(cap_kw, annual), total_mean),
            "required": s["required"],
            "fixed": sum(s[f"fixed_{c}"] * weights[c] for c in SUPPLY_CLASSES),
            "per_kw": sum(s[f"per_kw_{c}"] * weights[c] for c in SUPPLY_CLASSES),
            "per_kwh": sum(s[f"per_kwh_{c}"] * weights[c] for c in SUPPLY_CLASSES),
            "emissions_per_kwh": s["emissions_per_kwh"],
            "curve_kw": s["curve_kw"],
            "curve_value": curves,
        },
        index=s.index,
    )
