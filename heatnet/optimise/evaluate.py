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

import bisect
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.economics import diversity, objective_weights, pipe_diversity
from heatnet.optimise.prepare import ModelData
from heatnet.problem.definition import (
    PATH_CLASSES,
    PIPE_CLASSES,
    PV_CLASSES,
    SUPPLY_CLASSES,
)

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
    used_arcs = used.index.tolist()  # a list: iterating an Arrow-backed index is slow
    head_count = np.array([count.get(a, 0) for a in used_arcs], dtype=float)
    head_largest = np.array([largest.get(a, 0.0) for a in used_arcs], dtype=float)
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
    for c in PATH_CLASSES:
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
    for c in PATH_CLASSES:
        edges[f"pv_{c}"] = 0.0
    return edges


def _size(data: ModelData, edges: pd.DataFrame, ids: np.ndarray, load: np.ndarray) -> None:
    """Diameter, capacity, losses and cost of used edges carrying ``load`` kW.

    Pipes are sized for every edge at once (:meth:`heatnet.optimise.prepare.PipePrices.size_all`;
    edge by edge took a quarter of a 10,000-building design's pricing, measured) and written a
    column at a time (a cell at a time through pandas cost 0.85 s per pricing of a
    2,000-building design, measured).
    """
    if not len(ids):
        return
    p = data.problem
    rows = p.edges.index.get_indexer(pd.Index(ids))
    at = edges.index.get_indexer(pd.Index(ids))
    length = p.edges["length_m"].to_numpy(float)[rows]
    n = len(ids)
    diameter = np.full(n, np.nan)
    capacity = np.full(n, np.nan)
    existing = np.zeros(n, dtype=bool)
    pv = {c: np.zeros(n) for c in PIPE_CLASSES}
    laid = length > 0
    if laid.any():
        kept, diameter[laid], capacity[laid], by_class = data.prices.size_all(
            rows[laid], np.asarray(load, dtype=float)[laid]
        )
        existing[laid] = kept
        for c in PIPE_CLASSES:
            pv[c][laid] = by_class[c]
    loss = np.zeros(n)
    if laid.any():
        per_m = np.asarray(p.catalogue.loss_at_diameter(diameter[laid]), dtype=float)
        loss[laid] = length[laid] * per_m / 1000.0
    columns: dict[str, np.ndarray] = {
        "pv_extra": p.edges["extra_pv"].to_numpy(float)[rows],
        "loss_kw": loss,
        "diameter_mm": diameter,
        "capacity_kw": capacity,
        "existing": existing,
        **{f"pv_{c}": pv[c] for c in PIPE_CLASSES},
    }
    for name, column in columns.items():
        values = edges[name].to_numpy(copy=True)
        if name in ("diameter_mm", "capacity_kw", "existing"):  # a zero-length edge has no pipe
            values[at[laid]] = column[laid]
        else:
            values[at] = column
        edges[name] = values


def _downstream(
    data: ModelData, used: pd.DataFrame, connected: pd.Series
) -> tuple[dict[str, int], dict[str, float]]:
    """Per used arc: connections and largest given peak of connected buildings downstream.

    Reverse topological order over the used arcs; where heat meets from two sides the union of
    the buildings is taken (a building fed two ways counts once). A forest (no vertex fed by two
    arcs), as every search's design is, needs no unions: each vertex sums its children's figures
    (the unions cost 0.4 s per pricing of a 10,000-building design, measured).
    """
    b = data.buildings[connected]
    here: dict[str, set[str]] = defaultdict(set)
    for vertex, host in zip(b.index.tolist(), b["host"].tolist(), strict=True):
        here[str(host)].add(str(vertex))
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    indegree: dict[str, int] = defaultdict(int)
    for a, t, h in zip(
        used.index.tolist(), used["tail"].tolist(), used["head"].tolist(), strict=True
    ):
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
    # circulations (if any) are not in the order and count nobody: they reach nobody new
    named = [str(v) for v in b.index.tolist()]
    n = dict(zip(named, b["connections"].to_numpy(float).tolist(), strict=True))
    peak = dict(zip(named, b["given_peak_kw"].to_numpy(float).tolist(), strict=True))
    if all(d <= 1 for d in indegree.values()):
        total, top = _forest_sums(order, here, out, n, peak)
    else:
        total, top = _union_sums(order, here, out, n, peak)
    count: dict[str, int] = {}
    largest: dict[str, float] = {}
    for arcs in out.values():
        for a, h in arcs:
            count[a], largest[a] = int(total.get(h, 0)), top.get(h, 0.0)
    for s in data.supplies.index:
        count[f"supply:{s}"] = int(total[s] if s in total else sum(n[x] for x in here[s]))
    return count, largest


def _forest_sums(
    order: list[str],
    here: dict[str, set[str]],
    out: dict[str, list[tuple[str, str]]],
    n: dict[str, float],
    peak: dict[str, float],
) -> tuple[dict[str, float], dict[str, float]]:
    """Per vertex of a forest: connections and largest given peak at or below it."""
    total: dict[str, float] = {}
    top: dict[str, float] = {}
    for v in reversed(order):
        total[v] = sum(n[x] for x in here[v]) + sum(total[h] for _, h in out[v])
        top[v] = max(
            itertools.chain((peak[x] for x in here[v]), (top[h] for _, h in out[v])), default=0.0
        )
    return total, top


def _union_sums(
    order: list[str],
    here: dict[str, set[str]],
    out: dict[str, list[tuple[str, str]]],
    n: dict[str, float],
    peak: dict[str, float],
) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`_forest_sums` where heat may meet: over the union of the buildings below."""
    below: dict[str, frozenset[str]] = {}
    for v in reversed(order):
        acc = set(here[v])
        for _, h in out[v]:
            acc |= below.get(h, frozenset())
        below[v] = frozenset(acc)
    total = {v: sum(n[x] for x in members) for v, members in below.items()}
    top = {v: max((peak[x] for x in members), default=0.0) for v, members in below.items()}
    return total, top


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
                curve_at(x, row_kw, row_pv, row_mid)
                for x, row_kw, row_pv, row_mid in zip(
                    load_kw, s["curve_kw"], s[f"curve_{c}"], s[f"curve_mid_{c}"], strict=True
                )
            ]
        )
        pv = s[f"fixed_{c}"] + s[f"per_kw_{c}"] * load_kw + s[f"per_kwh_{c}"] * kwh + curve
        out[f"pv_{c}"] = np.where(built, pv, 0.0)
    return out


def curve_at(
    x: float, kw: Sequence[float], pv: Sequence[float], mid: Sequence[float] = ()
) -> float:
    """A supply curve's PV at ``x`` kW, exactly (problem definition: ``curve_mid_*``).

    Between breakpoints the exact total capacity × rate(capacity) is quadratic: the parabola
    through the two ends and the midpoint's PV ``mid``. Without midpoints, the chord. Below the
    first breakpoint the first value, beyond the last the last (as ``numpy.interp``).
    """
    if not len(kw):
        return 0.0
    if len(mid) != len(kw) - 1 or x <= kw[0] or x >= kw[-1]:
        return float(np.interp(x, kw, pv))
    k = bisect.bisect_right(kw, x) - 1  # kw[k] <= x < kw[k + 1]
    t = (x - kw[k]) / (kw[k + 1] - kw[k])
    p0, pm, p1 = pv[k], mid[k], pv[k + 1]
    return float(
        2.0 * (t - 0.5) * (t - 1.0) * p0 - 4.0 * t * (t - 1.0) * pm + 2.0 * t * (t - 0.5) * p1
    )


CHECK_RTOL = 1e-6
"""Relative tolerance of :func:`check_design` (solver tolerances are about 1e-6 too)."""


def check_design(data: ModelData, design: Design) -> list[str]:
    """Everything a written design must be, checked on its exact prices; empty when it is.

    - every connected building reaches a built supply through laid pipes, heat flowing from
      supply to building;
    - every laid pipe's capacity covers its load (a load beyond the largest catalogue pipe has
      no pipe), every built supply's capacities cover its load;
    - required buildings, supplies and paths are in, demand groups are all in or all out;
    - every ``constraint/*`` row holds for the exact figures (the MIP only knew its own).

    Returns
    -------
    list of str
        One plain sentence per broken rule, naming the elements.
    """
    return [
        *_unreached(data, design),
        *_overloaded(data, design),
        *_missing(data, design),
        *_constraints(data, design),
    ]


def _over(value: float, limit: float) -> bool:
    """``value`` above ``limit`` beyond tolerance (False for a NaN limit: unlimited)."""
    return bool(value > limit + CHECK_RTOL * max(1.0, abs(limit)))


def _unreached(data: ModelData, design: Design) -> list[str]:
    """Connected buildings no heat reaches from a built supply along laid pipes."""
    p = data.problem
    names = p.buildings["building_id"].astype(str)
    b, s, e = design.buildings, design.supplies, design.edges
    used = e[e["in_network"].to_numpy(bool)]
    out: dict[str, list[str]] = defaultdict(list)
    for t, h in zip(used["tail"].tolist(), used["head"].tolist(), strict=True):
        out[str(t)].append(str(h))
    reached = {str(v) for v in s.index[s["in_network"].to_numpy(bool)]}
    stack = list(reached)
    while stack:
        for h in out[stack.pop()]:
            if h not in reached:
                reached.add(h)
                stack.append(h)
    cut_off = [names[v] for v in b.index[b["in_network"].to_numpy(bool)] if str(v) not in reached]
    return [f"buildings {', '.join(cut_off)} get no heat from a built supply"] if cut_off else []


def _overloaded(data: ModelData, design: Design) -> list[str]:
    """Pipes and supplies asked to carry more than they can."""
    p = data.problem
    e, s = design.edges, design.supplies
    used = e[e["in_network"].to_numpy(bool)]
    length = p.edges["length_m"].reindex(used.index).to_numpy(float)
    top = float(p.catalogue.max_capacity_kw)
    members = p.edges["members"]
    problems = []
    for eid, load, cap, metres in zip(
        used.index, used["load_kw"].to_numpy(float), used["capacity_kw"].to_numpy(float), length,
        strict=True,
    ):  # fmt: skip
        limit = top if metres <= 0 else float(cap)
        if not np.isfinite(limit) or _over(float(load), limit):
            what = ", ".join(map(str, members.get(eid, ()))) or str(eid)
            largest = " (the largest pipe in civil_costs)" if limit >= top else ""
            problems.append(
                f"path {what} must carry {load:.6g} kW, more than its pipe's {limit:.6g} kW"
                + largest
            )
    names = p.supplies["supply_id"].astype(str)
    for sid in s.index[s["in_network"].to_numpy(bool)]:
        row, given = s.loc[sid], p.supplies.loc[sid]
        for have, limit, unit, column in (
            (row["load_kw"], given["peak_capacity_kw"], "kW", "peak_capacity_kw"),
            (row["load_kwh"], given["annual_capacity_kwh"], "kWh/yr", "annual_capacity_kwh"),
        ):
            if _over(float(have), float(limit)):
                problems.append(
                    f"supply {names[sid]} must supply {have:.6g} {unit}, more than its "
                    f"{column} {limit:.6g}"
                )
    return problems


def _missing(data: ModelData, design: Design) -> list[str]:
    """Required elements left out and demand groups split."""
    p = data.problem
    b, s, e = design.buildings, design.supplies, design.edges
    on = set(b.index[b["in_network"].to_numpy(bool)])
    built = set(s.index[s["in_network"].to_numpy(bool)])
    names = p.buildings["building_id"].astype(str)
    supply_names = p.supplies["supply_id"].astype(str)
    members = p.edges["members"]
    problems = []
    required = p.buildings.index[p.buildings["required"].to_numpy(bool)]
    if missing := [names[v] for v in required if v not in on]:
        problems.append(f"required buildings {', '.join(missing)} are not connected")
    required = p.supplies.index[p.supplies["required"].to_numpy(bool)]
    if unbuilt := [supply_names[v] for v in required if v not in built]:
        problems.append(f"required supplies {', '.join(unbuilt)} are not built")
    required = p.edges.index[p.edges["required"].to_numpy(bool)]
    if unused := [
        ", ".join(map(str, members[i])) or str(i) for i in required if not e.at[i, "in_network"]
    ]:
        problems.append(f"required paths {'; '.join(unused)} are not in the network")
    groups = p.buildings["demand_group"].dropna()
    for group, ids in groups.groupby(groups).groups.items():
        if len({v in on for v in ids}) > 1:
            problems.append(f"demand group {group} is only partly connected")
    return problems


def design_length_m(data: ModelData, design: Design) -> float:
    """Network length of a design: laid pipes and the connectors of connected buildings."""
    e = design.edges
    length = data.problem.edges["length_m"].reindex(e.index).to_numpy(float)
    return float(length[e["in_network"].to_numpy(bool)].sum())


def _constraints(data: ModelData, design: Design) -> list[str]:
    """``constraint/*`` rows the exact design breaks."""
    p = data.problem
    params = p.parameters
    b = design.buildings["in_network"].to_numpy(bool)
    kwh = design.kwh
    length = design_length_m(data, design)
    count = float(b.sum())
    connections = float(p.buildings["connections"].to_numpy(float)[b].sum())
    s = design.supplies
    on = s["in_network"].to_numpy(bool)
    emitted = float(
        (
            p.supplies["emissions_per_kwh"].to_numpy(float)[on] * s["load_kwh"].to_numpy(float)[on]
        ).sum()
    )
    rows: list[tuple[str, float, float | None, str]] = [
        ("constraint/min-kwh", kwh, params.min_kwh, ">="),
        ("constraint/max-kwh", kwh, params.max_kwh, "<="),
        ("constraint/min-npv", design.npv, params.min_npv, ">="),
        ("constraint/max-npv", design.npv, params.max_npv, "<="),
        ("constraint/min-network-length", length, params.min_network_length_m, ">="),
        ("constraint/max-network-length", length, params.max_network_length_m, "<="),
        ("constraint/min-buildings", count, params.min_buildings, ">="),
        ("constraint/max-buildings", count, params.max_buildings, "<="),
        ("constraint/min-connections", connections, params.min_connections, ">="),
        ("constraint/max-connections", connections, params.max_connections, "<="),
        ("constraint/max-supplies", float(on.sum()), params.max_supplies, "<="),
    ]
    density = kwh / length if length > 0 else None
    if density is not None:
        rows += [
            ("constraint/min-linear-density", density, params.min_linear_density_kwh_per_m, ">="),
            ("constraint/max-linear-density", density, params.max_linear_density_kwh_per_m, "<="),
        ]
    factor = params.max_emissions_factor_kg_per_kwh
    if factor is not None and kwh > 0:
        rows.append(("constraint/max-emissions-factor", emitted / kwh, factor, "<="))
    broken: list[str] = []
    for key, value, limit, sense in rows:
        if limit is None:
            continue
        slack = CHECK_RTOL * max(1.0, abs(float(limit)))
        if (sense == ">=" and value < float(limit) - slack) or (
            sense == "<=" and value > float(limit) + slack
        ):
            broken.append(f"{key} = {float(limit):g} does not hold: the design has {value:.6g}")
    return broken
