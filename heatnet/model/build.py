"""The network MIP in Pyomo: an orchestrator plus one builder per component.

Notation (per iteration constants in brackets are mutable parameters, updated by the solve loop):

- ``dvin[b]`` building connected, ``svin[s]`` supply built, ``ain[a]`` pipe laid in the
  direction of arc a (binaries);
- ``fp[a]`` undiversified peak flow and ``fm[a]`` mean flow including losses (kW);
- ``cap[e]`` diversified pipe capacity (kW); ``scap[s]`` supply capacity, ``supp[s]`` and
  ``supm[s]`` supply peak and mean output (kW);
- [``delta[e]``] pipe diversity, [``loss[e]``] heat lost by edge e when built (kW),
  [``sigma[s]``] supply diversity.

Each ``add_*`` builder documents its rows and returns its NPV contribution (objective PV, the
``objective/use-*`` switches applied); the objective is their sum, or delivered kWh.

Rows a user can cause to conflict are *soft-capable*: with ``elastic=True`` each gets a
non-negative slack and the objective minimises the slacks instead, which names the rows that
cannot be met together (see :mod:`heatnet.model.infeasible`).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from heatnet.model.data import ModelData
from heatnet.units import HOURS_PER_YEAR


@dataclass
class SoftRows:
    """Named rows that may be relaxed: name → (slack variable, scale, description)."""

    elastic: bool
    rows: dict[str, tuple[Any, float, str]] = field(default_factory=dict)

    def add(
        self,
        m: pyo.ConcreteModel,
        name: str,
        lhs: Any,
        sense: str,
        rhs: float | Any,
        *,
        scale: float,
        what: str,
    ) -> None:
        """Add ``lhs <= rhs`` or ``lhs >= rhs`` (with a slack when elastic) as component ``name``."""
        if self.elastic:
            slack = pyo.Var(domain=pyo.NonNegativeReals)
            m.add_component(f"{name}__slack", slack)
            self.rows[name] = (slack, max(abs(scale), 1.0), what)
            expr = lhs <= rhs + slack if sense == "<=" else lhs + slack >= rhs
        elif sense == "<=":
            expr = lhs <= rhs
        else:
            expr = lhs >= rhs
        m.add_component(name, pyo.Constraint(expr=expr))


def build_model(data: ModelData, *, discrete: bool, elastic: bool = False) -> pyo.ConcreteModel:
    """Build the MIP for prepared data.

    Parameters
    ----------
    data
        Prepared numbers (:func:`heatnet.model.data.prepare`).
    discrete
        ``discrete`` pipe model (a binary per allowed diameter) instead of ``linear``.
    elastic
        Give every soft-capable row a slack and minimise the slacks (infeasibility diagnosis).

    Returns
    -------
    pyomo.environ.ConcreteModel
        With ``m.npv`` (objective NPV expression), ``m.kwh`` (delivered kWh expression),
        ``m.length`` (network length expression) and ``m.soft`` (:class:`SoftRows`).
    """
    m = pyo.ConcreteModel(name="heatnet")
    m.soft = SoftRows(elastic)
    npv = add_buildings(m, data)
    npv += add_pipes(m, data, discrete=discrete)
    add_flow(m, data)
    npv += add_supplies(m, data)
    m.npv = pyo.Expression(expr=npv)
    add_constraints(m, data)
    if elastic:
        m.objective = pyo.Objective(
            expr=sum(slack / scale for slack, scale, _ in m.soft.rows.values()),
            sense=pyo.minimize,
        )
    elif data.params.objective == "kwh":
        m.objective = pyo.Objective(expr=m.kwh, sense=pyo.maximize)
    else:
        m.objective = pyo.Objective(expr=m.npv, sense=pyo.maximize)
    return m


def add_buildings(m: pyo.ConcreteModel, data: ModelData) -> Any:
    """Connection decisions.

    Math
    ----
    dvin[b] = 1 for required b (soft); dvin[b] = dvin[first of group] for demand groups (soft);
    NPV += Σ_b value_b · dvin[b] (tariffs, connection costs, extra_pv and the folded
    connector's pipe).
    """
    b = data.buildings
    m.B = pyo.Set(initialize=list(b.index), ordered=True)
    m.dvin = pyo.Var(m.B, domain=pyo.Binary)
    for vertex in b.index[b["required"].to_numpy(bool)]:
        m.soft.add(m, f"required_building[{vertex}]", m.dvin[vertex], ">=", 1,
                   scale=1, what=f"building {data.problem.buildings.at[vertex, 'building_id']} is required")  # fmt: skip
    groups = b[b["group"].notna()].groupby("group")
    for name, members in groups:
        ids = list(members.index)
        for other in ids[1:]:
            m.soft.add(m, f"group[{name}][{other}]", m.dvin[other] - m.dvin[ids[0]], "<=", 0,
                       scale=1, what=f"demand group {name}")  # fmt: skip
            m.soft.add(m, f"group[{name}][{other}]__up", m.dvin[other] - m.dvin[ids[0]], ">=", 0,
                       scale=1, what=f"demand group {name}")  # fmt: skip
    m.kwh = pyo.Expression(expr=sum(float(k) * m.dvin[v] for v, k in b["kwh"].items()))
    return sum(float(val) * m.dvin[v] for v, val in b["value"].items() if val != 0)


def add_pipes(m: pyo.ConcreteModel, data: ModelData, *, discrete: bool) -> Any:
    """Pipes: direction, capacity, cost.

    Math
    ----
    ain[e+] + ain[e−] ≤ 1; cap[e] ≥ delta[e]·fp[a] and cap[e] ≥ fm[a] for both arcs;
    cap[e] ≤ max_kw · Σ_a ain[a]; required edges Σ_a ain[a] ≥ 1 (soft).

    ``linear``: NPV += fixed_e·Σ ain + per_kw_e·cap[e]; an existing pipe of capacity K costs its
    repex while cap ≤ K, and the new-pipe line once upgraded (binary eup[e]):
    cap[e] ≤ K + (max_kw − K)·eup[e], upcap[e] ≥ cap[e] − max_kw·(1 − eup[e]),
    NPV += existing_e·Σ ain + (fixed_e − existing_e)·eup[e] + per_kw_e·upcap[e].

    ``discrete``: Σ_k y[e,k] = Σ_a ain[a], cap[e] ≤ Σ_k capacity_k·y[e,k],
    NPV += Σ_k value_k·y[e,k].
    """
    e, arcs = data.edges, data.arcs
    m.E = pyo.Set(initialize=list(e.index), ordered=True)
    m.A = pyo.Set(initialize=list(arcs.index), ordered=True)
    m.ain = pyo.Var(m.A, domain=pyo.Binary)
    m.delta = pyo.Param(m.E, initialize=data.delta.to_dict(), mutable=True, within=pyo.Reals)
    m.loss = pyo.Param(m.E, initialize=data.loss_kw.to_dict(), mutable=True, within=pyo.Reals)
    m.cap = pyo.Var(m.E, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, e.at[i, "max_kw"]))
    m.arcs_of = defaultdict(list)
    for a, edge in arcs["edge"].items():
        m.arcs_of[edge].append(a)
    m.fp = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, arcs.at[a, "peak_ub"]))
    m.fm = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, arcs.at[a, "mean_ub"]))
    built = {i: sum(m.ain[a] for a in m.arcs_of[i]) for i in e.index}
    m.one_direction = pyo.Constraint(
        [i for i in e.index if len(m.arcs_of[i]) == 2], rule=lambda _, i: built[i] <= 1
    )
    m.capacity_peak = pyo.Constraint(
        m.A, rule=lambda _, a: m.cap[arcs.at[a, "edge"]] >= m.delta[arcs.at[a, "edge"]] * m.fp[a]
    )
    m.capacity_mean = pyo.Constraint(m.A, rule=lambda _, a: m.cap[arcs.at[a, "edge"]] >= m.fm[a])
    m.capacity_needs_pipe = pyo.Constraint(
        m.E, rule=lambda _, i: m.cap[i] <= float(e.at[i, "max_kw"]) * built[i]
    )
    for i in e.index[e["required"].to_numpy(bool)]:
        m.soft.add(m, f"required_path[{i}]", built[i], ">=", 1, scale=1,
                   what=f"path {i} is required")  # fmt: skip
    m.length = pyo.Expression(
        expr=sum(float(e.at[i, "length_m"]) * built[i] for i in e.index)
        + sum(float(L) * m.dvin[v] for v, L in data.buildings["length_m"].items() if L > 0)
    )
    if discrete:
        return _discrete_pipes(m, data, built)
    return _linear_pipes(m, data, built)


def _linear_pipes(m: pyo.ConcreteModel, data: ModelData, built: dict[str, Any]) -> Any:
    e = data.edges
    existing = [i for i in e.index if e.at[i, "existing_kw"] == e.at[i, "existing_kw"]]
    m.X = pyo.Set(initialize=existing, ordered=True)
    m.eup = pyo.Var(m.X, domain=pyo.Binary)
    m.upcap = pyo.Var(m.X, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, e.at[i, "max_kw"]))

    def big(i: str) -> float:
        return float(e.at[i, "max_kw"])

    m.existing_capacity = pyo.Constraint(
        m.X,
        rule=lambda _, i: (
            m.cap[i]
            <= float(e.at[i, "existing_kw"]) + (big(i) - float(e.at[i, "existing_kw"])) * m.eup[i]
        ),
    )
    m.upgrade_capacity = pyo.Constraint(
        m.X, rule=lambda _, i: m.upcap[i] >= m.cap[i] - big(i) * (1 - m.eup[i])
    )
    m.upgrade_needs_pipe = pyo.Constraint(m.X, rule=lambda _, i: m.eup[i] <= built[i])
    new = [i for i in e.index if i not in set(existing)]
    npv = sum(float(e.at[i, "fixed"]) * built[i] + float(e.at[i, "per_kw"]) * m.cap[i] for i in new)
    npv += sum(
        float(e.at[i, "existing_fixed"]) * built[i]
        + float(e.at[i, "fixed"] - e.at[i, "existing_fixed"]) * m.eup[i]
        + float(e.at[i, "per_kw"]) * m.upcap[i]
        for i in existing
    )
    return npv


def _discrete_pipes(m: pyo.ConcreteModel, data: ModelData, built: dict[str, Any]) -> Any:
    o = data.options
    keys = list(zip(o["edge"], o["option"], strict=True))
    m.O = pyo.Set(initialize=keys, dimen=2, ordered=True)
    m.y = pyo.Var(m.O, domain=pyo.Binary)
    by_edge: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for (edge, option), kw in zip(keys, o["capacity_kw"], strict=True):
        by_edge[edge].append((edge, option, float(kw)))
    m.one_diameter = pyo.Constraint(
        m.E, rule=lambda _, i: sum(m.y[k[0], k[1]] for k in by_edge[i]) == built[i]
    )
    m.diameter_capacity = pyo.Constraint(
        m.E, rule=lambda _, i: m.cap[i] <= sum(k[2] * m.y[k[0], k[1]] for k in by_edge[i])
    )
    return sum(float(v) * m.y[k] for k, v in zip(keys, o["value"], strict=True) if v != 0)


def add_flow(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Heat balance at every vertex, flow only on laid pipes, no pipes to nowhere.

    Math
    ----
    fp[a] ≤ peak_ub_a·ain[a]; fm[a] ≤ mean_ub_a·ain[a]; fm[a] ≥ loss[e]·ain[a];
    fp[a] ≥ floor_a·ain[a] (the smallest single building peak downstream: a laid pipe serves
    someone); ain[a] ≤ dvin[b] for arcs into an unfolded building b; ain[a] ≤ svin[s] for arcs
    out of a supply s;
    peak: Σ_in fp − Σ_out fp + supp[v] = Σ_{b at v} peak_b·dvin[b];
    mean: Σ_in fm − Σ_out fm + supm[v] = Σ_{b at v} mean_b·dvin[b] + Σ_{a into v} loss[e]·ain[a]
    (a pipe's loss is drawn at its downstream end, so the pipe carries it).
    """
    arcs, b = data.arcs, data.buildings
    m.peak_flow_needs_pipe = pyo.Constraint(
        m.A, rule=lambda _, a: m.fp[a] <= float(arcs.at[a, "peak_ub"]) * m.ain[a]
    )
    m.mean_flow_needs_pipe = pyo.Constraint(
        m.A, rule=lambda _, a: m.fm[a] <= float(arcs.at[a, "mean_ub"]) * m.ain[a]
    )
    m.pipe_carries_losses = pyo.Constraint(
        m.A, rule=lambda _, a: m.fm[a] >= m.loss[arcs.at[a, "edge"]] * m.ain[a]
    )
    floored = [a for a in arcs.index if arcs.at[a, "floor_kw"] > 0]
    m.no_pipe_to_nowhere = pyo.Constraint(
        floored, rule=lambda _, a: m.fp[a] >= float(arcs.at[a, "floor_kw"]) * m.ain[a]
    )
    into_building = [a for a in arcs.index if arcs.at[a, "head"] in b.index]
    m.into_connected_building = pyo.Constraint(
        into_building, rule=lambda _, a: m.ain[a] <= m.dvin[arcs.at[a, "head"]]
    )
    inflow: dict[str, list[str]] = defaultdict(list)
    outflow: dict[str, list[str]] = defaultdict(list)
    for a, t, h in zip(arcs.index, arcs["tail"], arcs["head"], strict=True):
        outflow[t].append(a)
        inflow[h].append(a)
    m.inflow, m.outflow = inflow, outflow
    hosted: dict[str, list[str]] = defaultdict(list)
    for vertex, host in b["host"].items():
        hosted[host].append(vertex)
    m.V = pyo.Set(initialize=data.vertices, ordered=True)
    supplies = set(data.supplies.index)

    def peak(_: Any, v: str) -> Any:
        lhs = sum(m.fp[a] for a in inflow[v]) - sum(m.fp[a] for a in outflow[v])
        rhs = sum(float(b.at[x, "peak_kw"]) * m.dvin[x] for x in hosted[v])
        if v in supplies:
            lhs += m.supp[v]
        return _balance(lhs, rhs)

    def mean(_: Any, v: str) -> Any:
        lhs = sum(m.fm[a] for a in inflow[v]) - sum(m.fm[a] for a in outflow[v])
        rhs = sum(float(b.at[x, "mean_kw"]) * m.dvin[x] for x in hosted[v])
        rhs += sum(m.loss[arcs.at[a, "edge"]] * m.ain[a] for a in inflow[v])
        if v in supplies:
            lhs += m.supm[v]
        return _balance(lhs, rhs)

    m.S = pyo.Set(initialize=list(data.supplies.index), ordered=True)
    s = data.supplies
    m.supp = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, s.at[i, "peak_ub"]))
    m.supm = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, s.at[i, "mean_ub"]))
    m.balance_peak = pyo.Constraint(m.V, rule=peak)
    m.balance_mean = pyo.Constraint(m.V, rule=mean)


def _balance(lhs: Any, rhs: Any) -> Any:
    if isinstance(lhs, (int, float)) and isinstance(rhs, (int, float)):
        return pyo.Constraint.Skip
    return lhs == rhs


def add_supplies(m: pyo.ConcreteModel, data: ModelData) -> Any:
    """Supplies: built or not, capacity, costs.

    Math
    ----
    scap[s] ≥ sigma[s]·supp[s]; scap[s] ≥ supm[s]; scap[s] ≤ cap_s·svin[s] (soft: the peak
    capacity); supp[s] ≤ peak_ub_s·svin[s]; supm[s]·8760 ≤ annual capacity (soft);
    ain[a] ≤ svin[s] for arcs out of s; svin[s] = 1 if required (soft);
    NPV += fixed_s·svin + per_kw_s·scap + per_kwh_s·8760·supm + curve_s(scap), the curve
    piecewise linear through its breakpoints (an LP when its cost rises ever faster, binaries
    per segment otherwise).
    """
    s = data.supplies
    m.svin = pyo.Var(m.S, domain=pyo.Binary)
    m.sigma = pyo.Param(m.S, initialize=data.sigma.to_dict(), mutable=True, within=pyo.Reals)
    m.scap = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, s.at[i, "cap_kw"]))
    m.supply_peak_diversity = pyo.Constraint(
        m.S, rule=lambda _, i: m.scap[i] >= m.sigma[i] * m.supp[i]
    )
    m.supply_mean = pyo.Constraint(m.S, rule=lambda _, i: m.scap[i] >= m.supm[i])
    m.supply_peak_needs_plant = pyo.Constraint(
        m.S, rule=lambda _, i: m.supp[i] <= float(s.at[i, "peak_ub"]) * m.svin[i]
    )
    problem = data.problem.supplies
    for i in s.index:
        cap = problem.at[i, "peak_capacity_kw"]
        limit = float(s.at[i, "cap_kw"])
        m.soft.add(m, f"supply_peak_capacity[{i}]", m.scap[i], "<=", limit * m.svin[i],
                   scale=max(limit, 1.0),
                   what=f"supply {problem.at[i, 'supply_id']} peak capacity "
                   f"({'unlimited' if cap != cap else f'{cap:g} kW'})")  # fmt: skip
        annual = problem.at[i, "annual_capacity_kwh"]
        if annual == annual:
            m.soft.add(m, f"supply_annual_capacity[{i}]", m.supm[i] * HOURS_PER_YEAR, "<=",
                       float(annual), scale=max(float(annual), 1.0),
                       what=f"supply {problem.at[i, 'supply_id']} annual capacity {annual:g} kWh")  # fmt: skip
        if s.at[i, "required"]:
            m.soft.add(m, f"required_supply[{i}]", m.svin[i], ">=", 1, scale=1,
                       what=f"supply {problem.at[i, 'supply_id']} is required")  # fmt: skip
    out = [(a, t) for a, t in data.arcs["tail"].items() if t in s.index]
    m.supply_pipe_needs_plant = pyo.Constraint(
        [a for a, _ in out], rule=lambda _, a: m.ain[a] <= m.svin[data.arcs.at[a, "tail"]]
    )
    npv = sum(
        float(s.at[i, "fixed"]) * m.svin[i]
        + float(s.at[i, "per_kw"]) * m.scap[i]
        + float(s.at[i, "per_kwh"]) * HOURS_PER_YEAR * m.supm[i]
        for i in s.index
    )
    return npv + _curves(m, data)


def _curves(m: pyo.ConcreteModel, data: ModelData) -> Any:
    """Piecewise-linear supply capacity cost: segment fills w[s,k] with Σ_k w = scap."""
    s = data.supplies
    keys, lengths, slopes = [], {}, {}
    for i in s.index:
        xs, ys = s.at[i, "curve_kw"], s.at[i, "curve_value"]
        for k in range(len(xs) - 1):
            keys.append((i, k))
            lengths[i, k] = xs[k + 1] - xs[k]
            slopes[i, k] = (ys[k + 1] - ys[k]) / lengths[i, k] if lengths[i, k] > 0 else 0.0
    if not keys:
        return 0
    m.CS = pyo.Set(initialize=keys, dimen=2, ordered=True)
    m.cw = pyo.Var(m.CS, domain=pyo.NonNegativeReals, bounds=lambda _, i, k: (0, lengths[i, k]))
    curved = sorted({i for i, _ in keys})
    m.curve_fill = pyo.Constraint(
        curved, rule=lambda _, i: sum(m.cw[i, k] for j, k in keys if j == i) == m.scap[i]
    )
    # cost rising ever faster (convex) → the LP fills segments in order by itself; otherwise a
    # binary per segment start keeps the fills in order
    needs = [i for i in curved if _concave_somewhere([slopes[j, k] for j, k in keys if j == i])]
    ordered = [(i, k) for i, k in keys if k > 0]
    seg = [(i, k) for i, k in ordered if i in needs]
    if seg:
        m.CZ = pyo.Set(initialize=seg, dimen=2, ordered=True)
        m.cz = pyo.Var(m.CZ, domain=pyo.Binary)
        m.curve_order_full = pyo.Constraint(
            m.CZ, rule=lambda _, i, k: m.cw[i, k - 1] >= lengths[i, k - 1] * m.cz[i, k]
        )
        m.curve_order_next = pyo.Constraint(
            m.CZ, rule=lambda _, i, k: m.cw[i, k] <= lengths[i, k] * m.cz[i, k]
        )
    return sum(slopes[key] * m.cw[key] for key in keys)


def _concave_somewhere(slopes: list[float]) -> bool:
    """Whether a later segment costs less per kW than an earlier one (economies of scale)."""
    return any(b > a + 1e-12 for a, b in itertools.pairwise(slopes))


def add_constraints(m: pyo.ConcreteModel, data: ModelData) -> None:
    """The ``constraint/*`` rows, ``optimiser/prevent-loops`` and the emissions factor.

    Math
    ----
    kWh, NPV (objective NPV), network length (connectors included), buildings, connections:
    min ≤ LHS ≤ max; linear density ℓ: kWh ≥ ℓ·length (min), ≤ (max); Σ svin ≤ max supplies;
    Σ_s emissions_s·8760·supm[s] ≤ factor·kWh; prevent loops: Σ_{a into v} ain[a] ≤ 1.
    """
    p = data.params
    b = data.buildings
    count = sum(m.dvin[v] for v in b.index)
    connections = sum(int(n) * m.dvin[v] for v, n in b["connections"].items())
    rows: list[tuple[str, Any, str, float | None, str]] = [
        ("min_kwh", m.kwh, ">=", p.min_kwh, "constraint/min-kwh"),
        ("max_kwh", m.kwh, "<=", p.max_kwh, "constraint/max-kwh"),
        ("min_npv", m.npv, ">=", p.min_npv, "constraint/min-npv"),
        ("max_npv", m.npv, "<=", p.max_npv, "constraint/max-npv"),
        ("min_network_length", m.length, ">=", p.min_network_length_m, "constraint/min-network-length"),
        ("max_network_length", m.length, "<=", p.max_network_length_m, "constraint/max-network-length"),
        ("min_buildings", count, ">=", p.min_buildings, "constraint/min-buildings"),
        ("max_buildings", count, "<=", p.max_buildings, "constraint/max-buildings"),
        ("min_connections", connections, ">=", p.min_connections, "constraint/min-connections"),
        ("max_connections", connections, "<=", p.max_connections, "constraint/max-connections"),
        ("max_supplies", sum(m.svin[s] for s in m.S), "<=", p.max_supplies, "constraint/max-supplies"),
    ]  # fmt: skip
    for name, lhs, sense, limit, key in rows:
        if limit is not None:
            m.soft.add(m, name, lhs, sense, float(limit), scale=abs(float(limit)),
                       what=f"{key} = {limit:g}")  # fmt: skip
    for name, limit, sense, key in (
        ("min_linear_density", p.min_linear_density_kwh_per_m, ">=", "constraint/min-linear-density"),
        ("max_linear_density", p.max_linear_density_kwh_per_m, "<=", "constraint/max-linear-density"),
    ):  # fmt: skip
        if limit is not None:
            m.soft.add(m, name, m.kwh - float(limit) * m.length, sense, 0.0,
                       scale=max(float(b["kwh"].sum()), 1.0), what=f"{key} = {limit:g}")  # fmt: skip
    factor = p.max_emissions_factor_kg_per_kwh
    if factor is not None:
        s = data.supplies
        emitted = sum(
            float(s.at[i, "emissions_per_kwh"]) * HOURS_PER_YEAR * m.supm[i] for i in s.index
        )
        m.soft.add(m, "max_emissions_factor", emitted - float(factor) * m.kwh, "<=", 0.0,
                   scale=max(float(b["kwh"].sum()), 1.0),
                   what=f"constraint/max-emissions-factor = {factor:g}")  # fmt: skip
    if p.prevent_loops:
        heads = [v for v in m.V if len(m.inflow[v]) > 1]
        m.prevent_loops = pyo.Constraint(
            heads, rule=lambda _, v: sum(m.ain[a] for a in m.inflow[v]) <= 1
        )
