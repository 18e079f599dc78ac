"""The network MIP in Pyomo: an orchestrator plus one builder per component.

Notation (per iteration constants in brackets are mutable parameters, updated by the solve loop):

- ``dvin[b]`` building connected, ``svin[s]`` supply built, ``ain[a]`` pipe laid in the
  direction of arc a (binaries);
- ``fp[a]`` undiversified peak flow and ``fm[a]`` mean flow including losses (kW);
- ``cap[e]`` diversified pipe capacity (kW); ``scap[s]`` supply capacity, ``supp[s]`` and
  ``supm[s]`` supply peak and mean output (kW);
- ``lost[a]`` heat lost by the pipe of arc a (kW), drawn at its downstream end;
- [``delta[e]``] pipe diversity, [``loss[e]``] heat lost by edge e when built (kW),
  [``sigma[s]``] supply diversity.

Structure: :meth:`heatnet.optimise.prepare.Indices.of` derives the index structure once (arcs
per edge, arcs into and out of each vertex, buildings drawn at each vertex, ...);
:func:`add_shared` makes the sets, variables and expressions several builders read; then each
``add_*`` builder takes ``(m, data, idx)``, adds its own rows (and the variables and
parameters only it uses), documents them and returns its NPV contribution (objective PV, the
``objective/use-*`` switches applied); the objective is their sum, or delivered kWh. No builder
reads anything another builder left on the model; what one hands on to another is passed
explicitly (:class:`heatnet.optimise.build_pipes.PipeTerms`, the NPV). The pipe builders are in
:mod:`heatnet.optimise.build_pipes`. Rows are made in the order buildings, pipes, losses, flow,
supplies, connectivity, ``constraint/*`` (the solver sees them in that order).

Rows a user can cause to conflict are *soft-capable*: with ``elastic=True`` each gets a
non-negative slack and the objective minimises the slacks instead, which names the rows that
cannot be met together (see :mod:`heatnet.optimise.infeasible`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.optimise.build_pipes import PipeTerms, add_losses, add_pipes, laid
from heatnet.optimise.build_pipes import numbers as _num
from heatnet.optimise.build_pipes import texts as _text
from heatnet.optimise.indices import Indices
from heatnet.optimise.pendant import heat_price, pendant_cuts
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
    idx = Indices.of(data)
    m = pyo.ConcreteModel(name="heatnet")
    m.soft = SoftRows(elastic)
    add_shared(m, data, idx)
    npv = add_buildings(m, data, idx)
    pipes = add_pipes(m, data, idx, discrete=discrete)
    npv += pipes.npv
    add_losses(m, data, idx, pipes)
    add_flow(m, data, idx)
    npv += add_supplies(m, data, idx, caps=caps)
    add_connectivity(m, data, idx)
    if not elastic and data.params.objective != "kwh":
        add_pendant(m, data, idx, pipes)
    m.npv = pyo.Expression(expr=npv)
    add_constraints(m, data, idx, m.npv)
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


def add_shared(m: pyo.ConcreteModel, data: ModelData, idx: Indices) -> None:
    """Sets, variables and expressions more than one builder reads, made first (no rows).

    Sets ``B`` (buildings), ``E`` (edges), ``A`` (arcs), ``V`` (vertices), ``S`` (supplies);
    variables dvin[b] (fixed 0 for a building no catalogue pipe carries), ain[a], svin[s]
    (binaries), 0 ≤ cap[e] ≤ max_kw_e, 0 ≤ fp[a] ≤ peak_ub_a, 0 ≤ fm[a] ≤ mean_ub_a,
    0 ≤ lost[a] ≤ loss_max_kw_e (heat lost by the pipe of arc a, :func:`add_losses`),
    0 ≤ supp[s] ≤ peak_ub_s, 0 ≤ supm[s] ≤ mean_ub_s, 0 ≤ scap[s] ≤ cap_kw_s; parameter
    [``sigma[s]``]; expressions kwh = Σ_b kwh_b·dvin[b] and length = Σ_e length_e·Σ_a ain[a]
    + Σ_b folded connector length_b·dvin[b].
    """
    b, e, arcs, s = data.buildings, data.edges, data.arcs, data.supplies
    max_kw, length = _num(e, "max_kw"), _num(e, "length_m")
    peak_ub, mean_ub = _num(arcs, "peak_ub"), _num(arcs, "mean_ub")
    top = _num(e, "loss_max_kw")
    cap_kw, s_peak, s_mean = _num(s, "cap_kw"), _num(s, "peak_ub"), _num(s, "mean_ub")
    m.B = pyo.Set(initialize=list(b.index), ordered=True)
    m.dvin = pyo.Var(m.B, domain=pyo.Binary)
    for vertex in b.index[b["too_big"].to_numpy(bool)]:
        m.dvin[vertex].fix(0)  # no pipe in the catalogue carries its load
    m.E = pyo.Set(initialize=list(e.index), ordered=True)
    m.A = pyo.Set(initialize=list(arcs.index), ordered=True)
    m.ain = pyo.Var(m.A, domain=pyo.Binary)
    m.cap = pyo.Var(m.E, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, max_kw[i]))
    m.fp = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, peak_ub[a]))
    m.fm = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, mean_ub[a]))
    m.lost = pyo.Var(m.A, domain=pyo.NonNegativeReals, bounds=lambda _, a: (0, top[idx.edge_of[a]]))
    m.V = pyo.Set(initialize=data.vertices, ordered=True)
    m.S = pyo.Set(initialize=list(s.index), ordered=True)
    m.svin = pyo.Var(m.S, domain=pyo.Binary)
    m.supp = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, s_peak[i]))
    m.supm = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, s_mean[i]))
    m.scap = pyo.Var(m.S, domain=pyo.NonNegativeReals, bounds=lambda _, i: (0, cap_kw[i]))
    m.sigma = pyo.Param(m.S, initialize=data.sigma.to_dict(), mutable=True, within=pyo.Reals)
    m.kwh = pyo.Expression(expr=sum(k * m.dvin[v] for v, k in _num(b, "kwh").items()))
    built = laid(m, data, idx)
    m.length = pyo.Expression(
        expr=sum(length[i] * built[i] for i in e.index)
        + sum(x * m.dvin[v] for v, x in _num(b, "length_m").items() if x > 0)
    )


def add_buildings(m: pyo.ConcreteModel, data: ModelData, idx: Indices) -> Any:
    """Connection decisions.

    Math
    ----
    dvin[b] = 1 for required b (soft); dvin[b] = dvin[first of group] for demand groups (soft);
    NPV += Σ_b value_b · dvin[b] (tariffs, connection costs, extra_pv and the folded
    connector's pipe).
    """
    b = data.buildings
    names = _text(data.problem.buildings, "building_id")
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
    return sum(val * m.dvin[v] for v, val in _num(b, "value").items() if val != 0)


def add_flow(m: pyo.ConcreteModel, data: ModelData, idx: Indices) -> None:
    """Heat balance at every vertex, flow only where it is used, no pipes to nowhere.

    Math
    ----
    fm[a] ≥ lost[a] (see :func:`add_losses`);
    fp[a] ≥ floor_a·ain[a] (the smallest single building peak downstream: a laid pipe serves
    someone); ain[a] ≤ dvin[b] for arcs into an unfolded building b; cap[e] ≥ given_peak_b·ain[a]
    for those arcs; (fp[a] ≤ peak_ub_a·ain[a] and fm[a] ≤ mean_ub_a·ain[a]: :func:`add_pipes`;
    ain[a] ≤ svin[s] for arcs out of a supply s: :func:`add_supplies`);
    peak: Σ_in fp − Σ_out fp + supp[v] = Σ_{b at v} peak_b·dvin[b];
    mean: Σ_in fm − Σ_out fm + supm[v] = Σ_{b at v} mean_b·dvin[b] + Σ_{a into v} lost[a]
    (a pipe's loss is drawn at its downstream end, so the pipe carries it).
    """
    b = data.buildings
    edge_of, head = idx.edge_of, idx.head
    floor = _num(data.arcs, "floor_kw")
    peak_kw, mean_kw = _num(b, "peak_kw"), _num(b, "mean_kw")
    m.pipe_carries_losses = pyo.Constraint(m.A, rule=lambda _, a: m.fm[a] >= m.lost[a])
    # a laid pipe carries at least the smallest single peak beyond it only where heat cannot
    # arrive from two sides (a tree): otherwise shares of one building's peak may meet
    floored = [a for a, f in floor.items() if f > 0] if data.params.prevent_loops else []
    m.no_pipe_to_nowhere = pyo.Constraint(floored, rule=lambda _, a: m.fp[a] >= floor[a] * m.ain[a])
    into_building = list(idx.into_building)
    m.into_connected_building = pyo.Constraint(
        into_building, rule=lambda _, a: m.ain[a] <= m.dvin[head[a]]
    )
    # a pipe carries at least the largest single building beyond it (exact sizing never lays
    # less): a pipe into a building carries that building's given peak
    given = _num(b, "given_peak_kw")
    m.pipe_carries_building = pyo.Constraint(
        into_building, rule=lambda _, a: m.cap[edge_of[a]] >= given[head[a]] * m.ain[a]
    )
    inflow, outflow, supplies = idx.arcs_in, idx.arcs_out, idx.supplies

    def peak(_: Any, v: str) -> Any:
        lhs = sum(m.fp[a] for a in inflow[v]) - sum(m.fp[a] for a in outflow[v])
        rhs = sum(peak_kw[x] * m.dvin[x] for x in idx.hosted.get(v, ()))
        if v in supplies:
            lhs += m.supp[v]
        return _balance(lhs, rhs)

    def mean(_: Any, v: str) -> Any:
        lhs = sum(m.fm[a] for a in inflow[v]) - sum(m.fm[a] for a in outflow[v])
        rhs = sum(mean_kw[x] * m.dvin[x] for x in idx.hosted.get(v, ()))
        rhs += sum(m.lost[a] for a in inflow[v])
        if v in supplies:
            lhs += m.supm[v]
        return _balance(lhs, rhs)

    m.balance_peak = pyo.Constraint(m.V, rule=peak)
    m.balance_mean = pyo.Constraint(m.V, rule=mean)


def add_connectivity(m: pyo.ConcreteModel, data: ModelData, idx: Indices) -> None:
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
    supplies, inflow, outflow, hosted = idx.supplies, idx.arcs_in, idx.arcs_out, idx.hosted
    tail, head, edge_of = idx.tail, idx.head, idx.edge_of

    def use_rule(_: Any, a: str) -> Any:
        v = head[a]
        onward = [m.ain[x] for x in outflow[v] if edge_of[x] != edge_of[a]]
        users = [m.dvin[b] for b in hosted.get(v, ())] + ([m.dvin[v]] if v in m.dvin else [])
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


def add_pendant(m: pyo.ConcreteModel, data: ModelData, idx: Indices, pipes: PipeTerms) -> None:
    """What a pendant tree can be worth, by the peak it draws (:mod:`heatnet.optimise.pendant`).

    Math
    ----
    For every arc a into a pendant subtree T and every line j of its cut:
    pw[T] ≤ icpt_j + slope_j·fp[a] + lift_T·(1 − relaxing), with the subtree's worth
    pw[T] = Σ_{b at its top vertex} value_b·dvin[b] + pv_e − π·Σ_{a' of e} lost[a']
    + Σ_{T' below} pw[T'] (e its top edge; = Σ_{b ∈ T} value_b·dvin[b] + Σ_{e ∈ T} pv_e
    − π·Σ_{a' ∈ T} lost[a'], written recursively so a deep tree's rows stay short), each pw
    in units of lift_T (its terms' largest magnitudes summed, plus its largest line at the top
    load), so −1 ≤ pw ≤ 1,
    with pv_e the edge's PV term (``linear``: pv[e]; ``discrete``: Σ_k value_k·y[e,k]) and π
    the cheapest supply's PV of a kW lost all year (:func:`heatnet.optimise.pendant.heat_price`;
    any π ≥ 0 is valid). Valid for every design at its exact prices and losses, so the model
    stays a relaxation; in ``linear`` the design iterations (``relaxing`` = 0, fitted-line
    prices) lift them out of the way. Every row is so of order 1: unscaled, HiGHS 1.16's
    presolve aggregator solved a brute-force case wrong with them (docs/bounds.md).
    """
    price = heat_price(data)
    cuts = pendant_cuts(data, idx, price=price)
    if not cuts:
        return
    value = _num(data.buildings, "value")
    if pipes.diameters is None:
        pv: dict[str, Any] = {str(i): m.pv[i] for i in data.edges.index}
        span = {i: max(abs(v.lb), abs(v.ub)) for i, v in pv.items()}
    else:
        o = data.options
        worth = {
            (str(e), str(k)): float(v)
            for e, k, v in zip(o["edge"], o["option"], o["value"], strict=True)
        }
        pv = {
            str(i): sum(worth[k] * pipes.diameters[k] for k in idx.options_of.get(str(i), ()))
            for i in data.edges.index
        }
        span = {
            str(i): max((abs(worth[k]) for k in idx.options_of.get(str(i), ())), default=0.0)
            for i in data.edges.index
        }
    peak_ub = _num(data.arcs, "peak_ub")
    top = _num(data.edges, "loss_max_kw")
    # |worth| never exceeds the sum of its terms' magnitudes (children before parents), nor
    # its lines' values at the top
    terms: list[float] = []
    for cut in cuts:
        edge = cut.edges[0]
        terms.append(
            sum(abs(value[b]) for b in cut.own)
            + span[edge]
            + price * top[edge] * len(idx.arcs_of[edge])
            + sum(terms[c] for c in cut.children)
        )
    lift = [
        terms[n]
        + max(
            abs(i) + abs(s) * peak_ub[cut.arc]
            for i, s in zip(cut.intercept, cut.slope, strict=True)
        )
        for n, cut in enumerate(cuts)
    ]
    # each subtree's worth in units of its lift, so every row is of order 1 (unscaled, HiGHS
    # 1.16's presolve aggregator solved a brute-force case wrong: docs/bounds.md)
    unit = [max(x, 1.0) for x in lift]
    m.PW = pyo.Set(initialize=range(len(cuts)), ordered=True)
    m.pw = pyo.Var(m.PW, domain=pyo.Reals, bounds=(-1.0, 1.0))

    def subtree(_: Any, n: int) -> Any:
        cut, edge = cuts[n], cuts[n].edges[0]
        terms = (
            sum(value[b] * m.dvin[b] for b in cut.own)
            + pv[edge]
            - price * sum(m.lost[a] for a in idx.arcs_of[edge])
            + sum(unit[c] * m.pw[c] for c in cut.children)
        )
        return m.pw[n] == terms / unit[n]

    m.pendant_sum = pyo.Constraint(m.PW, rule=subtree)
    keys = [(n, j) for n, cut in enumerate(cuts) for j in range(len(cut.slope))]
    m.PT = pyo.Set(initialize=keys, dimen=2, ordered=True)

    def row(_: Any, n: int, j: int) -> Any:
        cut = cuts[n]
        off = lift[n] * (1 - pipes.relaxing)
        return m.pw[n] <= (cut.intercept[j] + cut.slope[j] * m.fp[cut.arc] + off) / unit[n]

    m.pendant_worth = pyo.Constraint(m.PT, rule=row)


def _balance(lhs: Any, rhs: Any) -> Any:
    if isinstance(lhs, (int, float)) and isinstance(rhs, (int, float)):
        return pyo.Constraint.Skip
    return lhs == rhs


def add_supplies(
    m: pyo.ConcreteModel, data: ModelData, idx: Indices, *, caps: pd.DataFrame | None = None
) -> Any:
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
    tail = idx.tail
    m.supply_pipe_needs_plant = pyo.Constraint(
        list(idx.out_of_supply), rule=lambda _, a: m.ain[a] <= m.svin[tail[a]]
    )
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
    curve_reach(m, data)
    return sum(slopes[key] * m.cw[key] for key in keys)


def curve_reach(m: pyo.ConcreteModel, data: ModelData) -> None:
    """End each supply's curve at the most capacity a design can have, when more never pays.

    A design's supply pays for max(diversity·peak, mean) kW, which the model maps to
    scap = max(sigma·supp, supm), with supp ≤ peak_ub and supm ≤ mean_ub. When the supply's
    NPV never rises with capacity (``per_kw`` ≤ 0 and no curve segment with a positive slope:
    every kW costs), a smaller scap is worth at least as much, so every design is still
    represented, at least as well, with the curve ended at max(sigma·peak_ub, mean_ub) for the
    model's current ``sigma``. Otherwise (capacity that pays, or ``constraint/max-npv``, which can
    push capacity up too) the end is at the largest factor any design can have, 1:
    max(peak_ub, mean_ub). The fills beyond the end get upper bound 0, the one across it what
    is left (fills start at 0 whatever the curve's first breakpoint).

    Why: through a concave curve (later kW cheaper) the LP relaxation prices capacity on the
    secant from 0 to the curve's end, so a curve drawn on past any use prices every capacity
    too well (docs/bounds.md). Follows ``sigma``: call it again whenever sigma changes
    (:mod:`heatnet.optimise.tune`).
    """
    if not hasattr(m, "cw"):
        return
    s = data.supplies
    peak_ub, mean_ub, per_kw = _num(s, "peak_ub"), _num(s, "mean_ub"), _num(s, "per_kw")
    bounded = data.params.max_npv is None
    for i, xs, ys in zip(s.index, s["curve_kw"], s["curve_value"], strict=True):
        costs = per_kw[i] <= 0 and all(b <= a for a, b in itertools.pairwise(ys))
        sigma = pyo.value(m.sigma[i]) if costs and bounded else 1.0
        end = max(min(sigma, 1.0) * peak_ub[i], mean_ub[i])
        for k in range(len(xs) - 1):
            if (i, k) in m.cw:
                room = min(xs[k + 1] - xs[k], max(end - (xs[k] - xs[0]), 0.0))
                m.cw[i, k].setub(room)


def _concave_somewhere(slopes: list[float]) -> bool:
    """Whether a later segment costs less per kW than an earlier one (economies of scale)."""
    return any(b > a + 1e-12 for a, b in itertools.pairwise(slopes))


def _lean_npv(m: pyo.ConcreteModel, data: ModelData, npv: Any) -> Any:
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
    lean = npv + sum(s_cost[i] * (m.sigma[i] * m.supp[i] - m.scap[i]) for i in m.S)
    return lean


def add_constraints(m: pyo.ConcreteModel, data: ModelData, idx: Indices, npv: Any) -> None:
    """The ``constraint/*`` rows, ``optimiser/prevent-loops`` and the emissions factor.

    Math
    ----
    kWh, NPV (objective NPV), network length (connectors included), buildings, connections:
    min ≤ LHS ≤ max; linear density ℓ: kWh ≥ ℓ·length (min), ≤ (max); Σ svin ≤ max supplies;
    Σ_s emissions_s·8760·supm[s] ≤ factor·kWh; prevent loops: Σ_{a into v} ain[a] ≤ 1.
    ``npv`` is the objective NPV (the builders' contributions summed, ``m.npv``).
    """
    p = data.params
    b = data.buildings
    count = sum(m.dvin[v] for v in b.index)
    connections = sum(int(n) * m.dvin[v] for v, n in b["connections"].items())
    rows: list[tuple[str, Any, str, float | None, str]] = [
        ("min_kwh", m.kwh, ">=", p.min_kwh, "constraint/min-kwh"),
        ("max_kwh", m.kwh, "<=", p.max_kwh, "constraint/max-kwh"),
        ("min_npv", npv, ">=", p.min_npv, "constraint/min-npv"),
        ("max_npv", _lean_npv(m, data, npv), "<=", p.max_npv, "constraint/max-npv"),
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
        inflow = idx.arcs_in
        heads = [v for v in m.V if len(inflow[v]) > 1]
        m.prevent_loops = pyo.Constraint(
            heads, rule=lambda _, v: sum(m.ain[a] for a in inflow[v]) <= 1
        )
