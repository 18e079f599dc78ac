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
cannot be met together (see :mod:`heatnet.optimise.infeasible`).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.optimise.envelope import Cuts
from heatnet.optimise.prepare import ModelData


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


def _num(frame: pd.DataFrame, column: str) -> dict[str, float]:
    """A numeric column as a plain dict (fast lookups inside Pyomo rules, precise types)."""
    return {
        str(k): float(v) for k, v in zip(frame.index, frame[column].to_numpy(float), strict=True)
    }


def _text(frame: pd.DataFrame, column: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in zip(frame.index, frame[column].to_numpy(), strict=True)}


def build_model(
    data: ModelData,
    *,
    discrete: bool,
    elastic: bool = False,
    caps: pd.DataFrame | None = None,
) -> pyo.ConcreteModel:
    """Build the MIP for prepared data.

    Parameters
    ----------
    data
        Prepared numbers (:func:`heatnet.optimise.prepare.prepare`).
    discrete
        ``discrete`` pipe model (a binary per allowed diameter) instead of ``linear``.
    elastic
        Give every soft-capable row a slack and minimise the slacks (infeasibility diagnosis).
    caps
        Supply capacities (``peak_capacity_kw``, ``annual_capacity_kwh`` by vertex) for the
        soft capacity rows when ``data`` was prepared without them (diagnosis), so that a
        capacity is a row that can be relaxed rather than a bound that cannot.

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
    npv += add_supplies(m, data, caps=caps)
    add_connectivity(m, data)
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
    names = _text(data.problem.buildings, "building_id")
    m.B = pyo.Set(initialize=list(b.index), ordered=True)
    m.dvin = pyo.Var(m.B, domain=pyo.Binary)
    for vertex in b.index[b["too_big"].to_numpy(bool)]:
        m.dvin[vertex].fix(0)  # no pipe in the catalogue carries its load
    for vertex in b.index[b["required"].to_numpy(bool)]:
        m.soft.add(m, f"required_building[{vertex}]", m.dvin[vertex], ">=", 1,
                   scale=1, what=f"building {names[str(vertex)]} is required")  # fmt: skip
    groups = b[b["group"].notna()].groupby("group")
    for name, members in groups:
        ids = list(members.index)
        who = ", ".join(names[str(v)] for v in ids)
        for other in ids[1:]:
            m.soft.add(m, f"group[{name}][{other}]", m.dvin[other] - m.dvin[ids[0]], "<=", 0,
                       scale=1, what=f"demand group {name} ({who})")  # fmt: skip
            m.soft.add(m, f"group[{name}][{other}]__up", m.dvin[other] - m.dvin[ids[0]], ">=", 0,
                       scale=1, what=f"demand group {name} ({who})")  # fmt: skip
    m.kwh = pyo.Expression(expr=sum(k * m.dvin[v] for v, k in _num(b, "kwh").items()))
    return sum(val * m.dvin[v] for v, val in _num(b, "value").items() if val != 0)


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
    max_kw, length = _num(e, "max_kw"), _num(e, "length_m")
    edge_of, peak_ub, mean_ub = _text(arcs, "edge"), _num(arcs, "peak_ub"), _num(arcs, "mean_ub")
    m.E = pyo.Set(initialize=list(e.index), ordered=True)
    m.A = pyo.Set(initialize=list(arcs.index), ordered=True)
    m.ain = pyo.Var(m.A, domain=pyo.Binary)
    m.delta = pyo.Param(m.E, initialize=data.delta.to_dict(), mutable=True, within=pyo.Reals)
    m.loss = pyo.Param(m.E, initialize=data.loss_kw.to_dict(), mutable=True, within=pyo.Reals)
    m.cap = pyo.Var(m.E, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, max_kw[i]))
    arcs_of: dict[str, list[str]] = defaultdict(list)
    for a, edge in edge_of.items():
        arcs_of[edge].append(a)
    m.arcs_of = arcs_of
    m.fp = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, peak_ub[a]))
    m.fm = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, mean_ub[a]))
    built = {i: sum(m.ain[a] for a in m.arcs_of[i]) for i in e.index}
    m.one_direction = pyo.Constraint(
        [i for i in e.index if len(m.arcs_of[i]) == 2], rule=lambda _, i: built[i] <= 1
    )
    m.capacity_peak = pyo.Constraint(
        m.A, rule=lambda _, a: m.cap[edge_of[a]] >= m.delta[edge_of[a]] * m.fp[a]
    )
    m.capacity_mean = pyo.Constraint(m.A, rule=lambda _, a: m.cap[edge_of[a]] >= m.fm[a])
    m.capacity_needs_pipe = pyo.Constraint(m.E, rule=lambda _, i: m.cap[i] <= max_kw[i] * built[i])
    members = data.problem.edges["members"]
    for i in e.index[e["required"].to_numpy(bool)]:
        paths = ", ".join(map(str, members.get(i, ()))) or str(i)
        m.soft.add(m, f"required_path[{i}]", built[i], ">=", 1, scale=1,
                   what=f"path {paths} is required")  # fmt: skip
    m.length = pyo.Expression(
        expr=sum(length[i] * built[i] for i in e.index)
        + sum(x * m.dvin[v] for v, x in _num(data.buildings, "length_m").items() if x > 0)
    )
    if discrete:
        return _discrete_pipes(m, data, built)
    return _linear_pipes(m, data, built)


def _linear_pipes(m: pyo.ConcreteModel, data: ModelData, built: dict[str, Any]) -> Any:
    """Pipe PV by the concave envelope of the catalogue's steps (:mod:`heatnet.optimise.envelope`).

    Math
    ----
    pv[e] ≤ α_ej·Σ ain + β_ej·cap[e] for every envelope segment j; an existing pipe of capacity
    K costs its repex while cap ≤ K and the new-pipe envelope on (K, high] once upgraded
    (binary eup[e]): cap[e] ≤ K + (high − K)·eup[e], K·eup ≤ upcap[e] ≤ high·eup[e],
    upcap[e] ≥ cap[e] − high·(1 − eup[e]),
    pv[e] ≤ keep_e·(Σ ain − eup[e]) + α_ej·eup[e] + β_ej·upcap[e]; NPV += Σ_e pv[e].

    Those cuts hold while ``relaxing`` = 1 (the first MIP: a relaxation, whose bound is
    proven). With ``relaxing`` = 0 the least-squares line through the catalogue prices pipes
    instead, pv[e] ≤ fixed_e·Σ ain + per_kw_e·cap[e] (upgrades as above): unbiased, so the
    design iterations find better designs; each family is lifted out of the way by a constant
    (|floor| + |fixed| + |per_kw|·high) while the other holds.
    """
    e = data.edges
    big, have = _num(e, "max_kw"), _num(e, "existing_kw")
    keep = _num(e, "existing_fixed")
    fixed, per_kw = _num(e, "fixed"), _num(e, "per_kw")
    cuts: dict[str, Cuts] = dict(zip(map(str, e.index), e["cuts"], strict=True))
    existing = [i for i, k in have.items() if not math.isnan(k)]
    upgradable = [i for i in existing if have[i] < big[i] - 1e-9]
    m.X = pyo.Set(initialize=upgradable, ordered=True)
    m.eup = pyo.Var(m.X, domain=pyo.Binary)
    m.upcap = pyo.Var(m.X, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, big[i]))
    m.existing_capacity = pyo.Constraint(
        existing,
        rule=lambda _, i: (
            m.cap[i] <= have[i] + (big[i] - have[i]) * m.eup[i] if i in m.X else pyo.Constraint.Skip
        ),
    )
    m.upgrade_capacity = pyo.Constraint(
        m.X, rule=lambda _, i: m.upcap[i] >= m.cap[i] - big[i] * (1 - m.eup[i])
    )
    m.upgrade_range = pyo.Constraint(m.X, rule=lambda _, i: m.upcap[i] <= big[i] * m.eup[i])
    m.upgrade_floor = pyo.Constraint(m.X, rule=lambda _, i: m.upcap[i] >= have[i] * m.eup[i])
    m.upgrade_needs_pipe = pyo.Constraint(m.X, rule=lambda _, i: m.eup[i] <= built[i])
    m.pv = pyo.Var(m.E, domain=pyo.Reals)
    old = set(existing)
    keys = [(i, j) for i in e.index for j in range(len(cuts[i].slope))]
    m.PC = pyo.Set(initialize=keys, dimen=2, ordered=True)
    # relaxing = 1: the envelope prices pipes (a relaxation, for the bound); 0: the fitted line
    # does (for designs); the other family is lifted out of the way by a constant
    m.relaxing = pyo.Param(initialize=1.0, mutable=True, within=pyo.Reals)
    lift = {i: abs(cuts[i].floor) + abs(float(fixed[i])) + abs(per_kw[i]) * big[i] for i in e.index}

    def cut(_: Any, i: str, j: int) -> Any:
        a, s = cuts[i].intercept[j], cuts[i].slope[j]
        off = lift[i] * (1 - m.relaxing)
        if i not in old:
            return m.pv[i] <= a * built[i] + s * m.cap[i] + off
        if i not in m.X:  # the existing pipe carries anything the edge can: repex only
            return m.pv[i] <= keep[i] * built[i] if j == 0 else pyo.Constraint.Skip
        return m.pv[i] <= keep[i] * (built[i] - m.eup[i]) + a * m.eup[i] + s * m.upcap[i] + off

    def line(_: Any, i: str) -> Any:
        off = lift[i] * m.relaxing
        if i not in old:
            return m.pv[i] <= fixed[i] * built[i] + per_kw[i] * m.cap[i] + off
        if i not in m.X:
            return pyo.Constraint.Skip
        upgrade = (fixed[i] - keep[i]) * m.eup[i] + per_kw[i] * m.upcap[i]
        return m.pv[i] <= keep[i] * built[i] + upgrade + off

    m.pipe_cost = pyo.Constraint(m.PC, rule=cut)
    m.pipe_cost_line = pyo.Constraint(m.E, rule=line)
    # the dearest pipe the edge can get bounds its PV below (keeps constraint/max-npv honest)
    m.pipe_cost_floor = pyo.Constraint(
        m.E,
        rule=lambda _, i: (
            m.pv[i]
            >= min(cuts[i].floor, keep[i] if i in old else 0.0) * built[i]
            - lift[i] * (1 - m.relaxing)
        ),
    )
    return sum(m.pv[i] for i in e.index)


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
    fp[a] ≤ peak_ub_a·ain[a]; fm[a] ≤ mean_ub_a·ain[a]; fm[a] ≥ lost[a] (see :func:`_losses`);
    fp[a] ≥ floor_a·ain[a] (the smallest single building peak downstream: a laid pipe serves
    someone); ain[a] ≤ dvin[b] for arcs into an unfolded building b; ain[a] ≤ svin[s] for arcs
    out of a supply s;
    peak: Σ_in fp − Σ_out fp + supp[v] = Σ_{b at v} peak_b·dvin[b];
    mean: Σ_in fm − Σ_out fm + supm[v] = Σ_{b at v} mean_b·dvin[b] + Σ_{a into v} lost[a]
    (a pipe's loss is drawn at its downstream end, so the pipe carries it).
    """
    arcs, b = data.arcs, data.buildings
    edge_of, tail, head = _text(arcs, "edge"), _text(arcs, "tail"), _text(arcs, "head")
    peak_ub, mean_ub, floor = _num(arcs, "peak_ub"), _num(arcs, "mean_ub"), _num(arcs, "floor_kw")
    peak_kw, mean_kw = _num(b, "peak_kw"), _num(b, "mean_kw")
    m.peak_flow_needs_pipe = pyo.Constraint(m.A, rule=lambda _, a: m.fp[a] <= peak_ub[a] * m.ain[a])
    m.mean_flow_needs_pipe = pyo.Constraint(m.A, rule=lambda _, a: m.fm[a] <= mean_ub[a] * m.ain[a])
    _losses(m, data)
    m.pipe_carries_losses = pyo.Constraint(m.A, rule=lambda _, a: m.fm[a] >= m.lost[a])
    # a laid pipe carries at least the smallest single peak beyond it only where heat cannot
    # arrive from two sides (a tree): otherwise shares of one building's peak may meet
    floored = [a for a, f in floor.items() if f > 0] if data.params.prevent_loops else []
    m.no_pipe_to_nowhere = pyo.Constraint(floored, rule=lambda _, a: m.fp[a] >= floor[a] * m.ain[a])
    into_building = [a for a, h in head.items() if h in peak_kw]
    m.into_connected_building = pyo.Constraint(
        into_building, rule=lambda _, a: m.ain[a] <= m.dvin[head[a]]
    )
    # a pipe carries at least the largest single building beyond it (exact sizing never lays
    # less): a pipe into a building carries that building's given peak
    given = _num(b, "given_peak_kw")
    m.pipe_carries_building = pyo.Constraint(
        into_building, rule=lambda _, a: m.cap[edge_of[a]] >= given[head[a]] * m.ain[a]
    )
    inflow: dict[str, list[str]] = defaultdict(list)
    outflow: dict[str, list[str]] = defaultdict(list)
    for a in arcs.index:
        outflow[tail[a]].append(a)
        inflow[head[a]].append(a)
    m.inflow, m.outflow = inflow, outflow
    hosted: dict[str, list[str]] = defaultdict(list)
    for vertex, host in _text(b, "host").items():
        hosted[host].append(vertex)
    m.V = pyo.Set(initialize=data.vertices, ordered=True)
    supplies = set(data.supplies.index)

    def peak(_: Any, v: str) -> Any:
        lhs = sum(m.fp[a] for a in inflow[v]) - sum(m.fp[a] for a in outflow[v])
        rhs = sum(peak_kw[x] * m.dvin[x] for x in hosted[v])
        if v in supplies:
            lhs += m.supp[v]
        return _balance(lhs, rhs)

    def mean(_: Any, v: str) -> Any:
        lhs = sum(m.fm[a] for a in inflow[v]) - sum(m.fm[a] for a in outflow[v])
        rhs = sum(mean_kw[x] * m.dvin[x] for x in hosted[v])
        rhs += sum(m.lost[a] for a in inflow[v])
        if v in supplies:
            lhs += m.supm[v]
        return _balance(lhs, rhs)

    m.S = pyo.Set(initialize=list(data.supplies.index), ordered=True)
    s_peak, s_mean = _num(data.supplies, "peak_ub"), _num(data.supplies, "mean_ub")
    m.supp = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, s_peak[i]))
    m.supm = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, s_mean[i]))
    m.balance_peak = pyo.Constraint(m.V, rule=peak)
    m.balance_mean = pyo.Constraint(m.V, rule=mean)
    m.hosted = hosted


def _losses(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Heat lost by each laid pipe (kW), drawn at its downstream end.

    Math
    ----
    lost[a] ≥ loss[e]·ain[a] (the loop's value: optimistic at first, then the design's), and
    lost[a] ≤ loss[e]·ain[a] + top_e·settling (settling: 0 while a design is settled, else 1);
    lost[a] ≥ γ_ej·ain[a] + δ_ej·(cap[e] − high_e·(1 − ain[a])) for each line of the convex
    minorant of the loss exact sizing gives a load (:func:`heatnet.optimise.envelope.convex_cuts`;
    the high_e term switches a line off for the arc not laid, δ ≥ 0 only; in ``linear`` they
    are lifted out of the way while ``relaxing`` = 0, as the design iterations did without
    them and find designs faster so); 0 ≤ lost[a] ≤
    the largest pipe's loss. A bigger pipe loses more: the bound knows it without a binary.
    ``discrete``: lost[a] ≥ Σ_k loss_k·y[e,k] − top_e·(1 − ain[a]), the laid diameter's loss.
    """
    e, arcs = data.edges, data.arcs
    edge_of = _text(arcs, "edge")
    top, high = _num(e, "loss_max_kw"), _num(e, "max_kw")
    lines = dict(zip(map(str, e.index), e["loss_cuts"], strict=True))
    m.lost = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, top[edge_of[a]]))
    m.lost_at_least = pyo.Constraint(
        m.A, rule=lambda _, a: m.lost[a] >= m.loss[edge_of[a]] * m.ain[a]
    )
    # settling a design (settling = 0) pins each loss to the design's own: with heat free of
    # cost nothing else would stop the LP from losing more than the pipes do
    m.settling = pyo.Param(initialize=1.0, mutable=True, within=pyo.Reals)
    m.lost_at_most = pyo.Constraint(
        m.A,
        rule=lambda _, a: m.lost[a] <= m.loss[edge_of[a]] * m.ain[a] + top[edge_of[a]] * m.settling,
    )
    keys = [
        (a, j)
        for a, i in edge_of.items()
        for j, (g, d) in enumerate(zip(*lines[i], strict=True))
        if d > 0 or g > 0
    ]
    m.LC = pyo.Set(initialize=keys, dimen=2, ordered=True)

    relaxing = getattr(m, "relaxing", 1.0)  # linear: only the relaxation needs these lines

    def line(_: Any, a: str, j: int) -> Any:
        i = edge_of[a]
        g, d = lines[i][0][j], lines[i][1][j]
        off = (g + d * high[i]) * (1 - relaxing)
        if d <= 0:
            return m.lost[a] >= g * m.ain[a] + d * m.cap[i] - off
        return m.lost[a] >= g * m.ain[a] + d * (m.cap[i] - high[i] * (1 - m.ain[a])) - off

    m.lost_by_size = pyo.Constraint(m.LC, rule=line)
    if hasattr(m, "y"):  # discrete: the diameter is known, so is its loss
        o = data.options
        by_edge: dict[str, list[tuple[tuple[str, str], float]]] = defaultdict(list)
        for edge, option, kw in zip(o["edge"], o["option"], o["loss_kw"], strict=True):
            by_edge[str(edge)].append(((str(edge), str(option)), float(kw)))
        m.lost_by_diameter = pyo.Constraint(
            m.A,
            rule=lambda _, a: (
                m.lost[a]
                >= sum(kw * m.y[k] for k, kw in by_edge[edge_of[a]])
                - top[edge_of[a]] * (1 - m.ain[a])
            ),
        )


def add_connectivity(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Heat must arrive where it is used, and a pipe must lead somewhere.

    Math
    ----
    For an arc a = u → v out of a non-supply u: ain[a] ≤ Σ ain[a'] over arcs a' into u along
    another edge; for a building b drawn at a non-supply vertex h: dvin[b] ≤ Σ ain[a'] over arcs
    into h (at a supply: dvin[b] ≤ svin[h]); for an arc a = u → v: ain[a] ≤ Σ ain[a'] over
    arcs out of v along another edge + Σ dvin[b] over buildings drawn at v (no pipe to
    nowhere, with no minimum flow, so sub-kW buildings can connect).

    Both follow from the heat balance and the no-pipe-to-nowhere floor, so they cut off no
    design; but without them the LP relaxation pays a pipe's fixed cost only in proportion to
    flow / big-M, and with them every building pays for the whole path to it (exactly so on
    trees), which is what closes the gap.
    """
    supplies = set(data.supplies.index)
    inflow, outflow, hosted = m.inflow, m.outflow, m.hosted
    tail, head = _text(data.arcs, "tail"), _text(data.arcs, "head")
    edge_of = _text(data.arcs, "edge")

    def use_rule(_: Any, a: str) -> Any:
        v = head[a]
        onward = [m.ain[x] for x in outflow[v] if edge_of[x] != edge_of[a]]
        users = [m.dvin[b] for b in hosted[v]] + ([m.dvin[v]] if v in m.dvin else [])
        if not onward and not users:
            return m.ain[a] <= 0
        return m.ain[a] <= sum(onward) + sum(users)

    m.pipe_leads_somewhere = pyo.Constraint(m.A, rule=use_rule)

    def pipe_rule(_: Any, a: str) -> Any:
        u = tail[a]
        feeds = [x for x in inflow[u] if edge_of[x] != edge_of[a]]
        if not feeds:
            return m.ain[a] <= 0
        return m.ain[a] <= sum(m.ain[x] for x in feeds)

    m.pipe_needs_heat = pyo.Constraint([a for a in m.A if tail[a] not in supplies], rule=pipe_rule)
    served: list[tuple[str, str]] = [(b, h) for h, bs in hosted.items() for b in bs]
    served += [(str(b), str(b)) for b in data.buildings.index if inflow.get(str(b))]

    def building_rule(_: Any, b: str, h: str) -> Any:
        if h in supplies:
            return m.dvin[b] <= m.svin[h]
        return m.dvin[b] <= sum(m.ain[x] for x in inflow[h])

    m.Served = pyo.Set(initialize=served, dimen=2, ordered=True)
    m.building_needs_heat = pyo.Constraint(m.Served, rule=building_rule)


def _balance(lhs: Any, rhs: Any) -> Any:
    if isinstance(lhs, (int, float)) and isinstance(rhs, (int, float)):
        return pyo.Constraint.Skip
    return lhs == rhs


def add_supplies(m: pyo.ConcreteModel, data: ModelData, *, caps: pd.DataFrame | None = None) -> Any:
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
    cap_kw, peak_ub = _num(s, "cap_kw"), _num(s, "peak_ub")
    fixed, per_kw, per_kwh = _num(s, "fixed"), _num(s, "per_kw"), _num(s, "per_kwh")
    given = data.problem.supplies if caps is None else caps
    name = _text(data.problem.supplies, "supply_id")
    peak_cap, annual_cap = _num(given, "peak_capacity_kw"), _num(given, "annual_capacity_kwh")
    limit = {i: cap_kw[i] if math.isnan(peak_cap[i]) else peak_cap[i] for i in cap_kw}
    required = {str(k): bool(v) for k, v in s["required"].items()}
    m.svin = pyo.Var(m.S, domain=pyo.Binary)
    m.sigma = pyo.Param(m.S, initialize=data.sigma.to_dict(), mutable=True, within=pyo.Reals)
    m.scap = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, cap_kw[i]))
    m.supply_peak_diversity = pyo.Constraint(
        m.S, rule=lambda _, i: m.scap[i] >= m.sigma[i] * m.supp[i]
    )
    m.supply_mean = pyo.Constraint(m.S, rule=lambda _, i: m.scap[i] >= m.supm[i])
    m.supply_peak_needs_plant = pyo.Constraint(
        m.S, rule=lambda _, i: m.supp[i] <= peak_ub[i] * m.svin[i]
    )
    for i in s.index:
        cap = "unlimited" if math.isnan(peak_cap[i]) else f"{peak_cap[i]:g} kW"
        m.soft.add(m, f"supply_peak_capacity[{i}]", m.scap[i], "<=", limit[i] * m.svin[i],
                   scale=max(limit[i], 1.0), what=f"supply {name[i]} peak capacity ({cap})")  # fmt: skip
        if not math.isnan(annual_cap[i]):
            m.soft.add(m, f"supply_annual_capacity[{i}]", m.supm[i] * HOURS_PER_YEAR, "<=",
                       annual_cap[i], scale=max(annual_cap[i], 1.0),
                       what=f"supply {name[i]} annual capacity {annual_cap[i]:g} kWh")  # fmt: skip
        if required[i]:
            m.soft.add(m, f"required_supply[{i}]", m.svin[i], ">=", 1, scale=1,
                       what=f"supply {name[i]} is required")  # fmt: skip
    tail = _text(data.arcs, "tail")
    out = [a for a, t in tail.items() if t in cap_kw]
    m.supply_pipe_needs_plant = pyo.Constraint(out, rule=lambda _, a: m.ain[a] <= m.svin[tail[a]])
    npv = sum(
        fixed[i] * m.svin[i] + per_kw[i] * m.scap[i] + per_kwh[i] * HOURS_PER_YEAR * m.supm[i]
        for i in s.index
    )
    return npv + _curves(m, data)


def _curves(m: pyo.ConcreteModel, data: ModelData) -> Any:
    """Piecewise-linear supply capacity cost: segment fills w[s,k] with Σ_k w = scap."""
    s = data.supplies
    keys: list[tuple[str, int]] = []
    lengths: dict[tuple[str, int], float] = {}
    slopes: dict[tuple[str, int], float] = {}
    for i, xs, ys in zip(s.index, s["curve_kw"], s["curve_value"], strict=True):
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


def _lean_npv(m: pyo.ConcreteModel, data: ModelData) -> Any:
    """The NPV with capacities at what the flows need, for ``constraint/max-npv``.

    Capacity variables are only bounded below by the load, so a MIP asked to keep NPV *under* a
    limit could buy capacity nobody uses; the written design is priced at the capacity its
    loads need. Here supply capacity is priced at sigma·supp. (Curve costs and pipe PVs are
    still priced on the variables; pipe PVs are held between the dearest pipe and the envelope.)
    This row is not a relaxation of exact pricing, so with it no bound is claimed.
    """
    if data.params.max_npv is None:
        return 0
    s_cost = _num(data.supplies, "per_kw")
    lean = m.npv + sum(s_cost[i] * (m.sigma[i] * m.supp[i] - m.scap[i]) for i in m.S)
    return lean


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
        ("max_npv", _lean_npv(m, data), "<=", p.max_npv, "constraint/max-npv"),
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
        rate = _num(data.supplies, "emissions_per_kwh")
        emitted = sum(rate[i] * HOURS_PER_YEAR * m.supm[i] for i in m.S)
        m.soft.add(m, "max_emissions_factor", emitted - float(factor) * m.kwh, "<=", 0.0,
                   scale=max(float(b["kwh"].sum()), 1.0),
                   what=f"constraint/max-emissions-factor = {factor:g}")  # fmt: skip
    if p.prevent_loops:
        heads = [v for v in m.V if len(m.inflow[v]) > 1]
        m.prevent_loops = pyo.Constraint(
            heads, rule=lambda _, v: sum(m.ain[a] for a in m.inflow[v]) <= 1
        )
