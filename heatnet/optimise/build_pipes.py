"""The pipe builders of the network MIP: direction, capacity and cost of pipes, and their losses.

:func:`add_pipes` lays pipes (``linear`` or ``discrete`` pipe model) and hands on, in a
:class:`PipeTerms`, what the loss rows of that pipe model need; :func:`add_losses` draws each
laid pipe's heat loss. Both read the shared variables of
:func:`heatnet.optimise.build.add_shared` and the :class:`~heatnet.optimise.prepare.Indices`
passed to them, never what another builder left on the model. Notation as in
:mod:`heatnet.optimise.build`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from heatnet.optimise.envelope import Cuts
from heatnet.optimise.indices import Indices
from heatnet.optimise.prepare import ModelData

EDGE_TOTAL_LOSS_UP_TO = 5_000
"""Models with at most this many edges also bound losses on each edge's total
(:func:`add_losses`). Measured (1 thread, LP relaxation): the district 1,833,206 → 1,775,656
(−3.1 %), the 2,000-building grid 12,684,311 → 12,648,617 (−0.3 %), the 10,000-building grid
71,099,597 → 70,982,589 (−0.16 %) for 421 → 517 s of interior point: there the LP is the only
bound and must end within 7/8 of the limit, so the rows are left out."""


def numbers(frame: pd.DataFrame, column: str) -> dict[str, float]:
    """A numeric column as a plain dict (fast lookups inside Pyomo rules, precise types)."""
    return {
        str(k): float(v) for k, v in zip(frame.index, frame[column].to_numpy(float), strict=True)
    }


def texts(frame: pd.DataFrame, column: str) -> dict[str, str]:
    """A column as a plain dict of strings."""
    return {str(k): str(v) for k, v in zip(frame.index, frame[column].to_numpy(), strict=True)}


def laid(m: pyo.ConcreteModel, data: ModelData, idx: Indices) -> dict[str, Any]:
    """Σ_a ain[a] over each edge's arcs: 1 when the edge's pipe is laid (either way)."""
    return {i: sum(m.ain[a] for a in idx.arcs_of[i]) for i in data.edges.index}


@dataclass(frozen=True, slots=True)
class PipeTerms:
    """What :func:`add_pipes` hands on.

    Attributes
    ----------
    npv
        The pipes' NPV contribution.
    relaxing
        ``linear``: the mutable ``relaxing`` parameter (1: the envelope prices pipes, 0: the
        fitted line); ``discrete``: 1.0 (no fitted line).
    diameters
        ``discrete``: the diameter binaries ``y[e,k]``; ``linear``: None.
    """

    npv: Any
    relaxing: Any
    diameters: Any | None


def add_pipes(m: pyo.ConcreteModel, data: ModelData, idx: Indices, *, discrete: bool) -> PipeTerms:
    """Pipes: direction, capacity, cost, and flow only on laid pipes.

    Math
    ----
    ain[e+] + ain[e−] ≤ 1; cap[e] ≥ delta[e]·fp[a] and cap[e] ≥ fm[a] for both arcs;
    cap[e] ≤ max_kw · Σ_a ain[a]; required edges Σ_a ain[a] ≥ 1 (soft);
    fp[a] ≤ peak_ub_a·ain[a]; fm[a] ≤ mean_ub_a·ain[a].

    ``linear``: NPV += fixed_e·Σ ain + per_kw_e·cap[e]; an existing pipe of capacity K costs its
    repex while cap ≤ K, and the new-pipe line once upgraded (binary eup[e]):
    cap[e] ≤ K + (max_kw − K)·eup[e], upcap[e] ≥ cap[e] − max_kw·(1 − eup[e]),
    NPV += existing_e·Σ ain + (fixed_e − existing_e)·eup[e] + per_kw_e·upcap[e]
    (:func:`_linear_pipes`).

    ``discrete``: Σ_k y[e,k] = Σ_a ain[a], cap[e] ≤ Σ_k capacity_k·y[e,k],
    NPV += Σ_k value_k·y[e,k] (:func:`_discrete_pipes`).
    """
    e, arcs = data.edges, data.arcs
    max_kw = numbers(e, "max_kw")
    edge_of, peak_ub, mean_ub = idx.edge_of, numbers(arcs, "peak_ub"), numbers(arcs, "mean_ub")
    m.delta = pyo.Param(m.E, initialize=data.delta.to_dict(), mutable=True, within=pyo.Reals)
    built = laid(m, data, idx)
    m.one_direction = pyo.Constraint(
        [i for i in e.index if len(idx.arcs_of[i]) == 2], rule=lambda _, i: built[i] <= 1
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
    if discrete:
        terms = PipeTerms(_discrete_pipes(m, data, idx, built), 1.0, m.y)
    else:
        npv, relaxing = _linear_pipes(m, data, built)
        terms = PipeTerms(npv, relaxing, None)
    m.peak_flow_needs_pipe = pyo.Constraint(m.A, rule=lambda _, a: m.fp[a] <= peak_ub[a] * m.ain[a])
    m.mean_flow_needs_pipe = pyo.Constraint(m.A, rule=lambda _, a: m.fm[a] <= mean_ub[a] * m.ain[a])
    return terms


def _linear_pipes(m: pyo.ConcreteModel, data: ModelData, built: dict[str, Any]) -> tuple[Any, Any]:
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

    Returns the NPV contribution and the ``relaxing`` parameter.
    """
    e = data.edges
    big, have = numbers(e, "max_kw"), numbers(e, "existing_kw")
    keep = numbers(e, "existing_fixed")
    fixed, per_kw = numbers(e, "fixed"), numbers(e, "per_kw")
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
    old = set(existing)
    keys = [(i, j) for i in e.index for j in range(len(cuts[i].slope))]
    m.PC = pyo.Set(initialize=keys, dimen=2, ordered=True)
    # relaxing = 1: the envelope prices pipes (a relaxation, for the bound); 0: the fitted line
    # does (for designs); the other family is lifted out of the way by a constant
    m.relaxing = pyo.Param(initialize=1.0, mutable=True, within=pyo.Reals)
    lift = {i: abs(cuts[i].floor) + abs(float(fixed[i])) + abs(per_kw[i]) * big[i] for i in e.index}
    # bounds the rows below already imply, in every state of ``relaxing``: with them every
    # column is bounded, which a dual bound needs (:mod:`heatnet.optimise.dual_bound`)
    m.pv = pyo.Var(m.E, domain=pyo.Reals, bounds=lambda _, i: _pv_bounds(i in old, keep[i],
                   cuts[i].floor, fixed[i], per_kw[i] * big[i], lift[i]))  # fmt: skip

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
    return sum(m.pv[i] for i in e.index), m.relaxing


def _pv_bounds(
    existing: bool, keep: float, floor: float, fixed: float, per_kw_top: float, lift: float
) -> tuple[float, float]:
    """Bounds on an edge's pipe PV that its rows imply (so they cut nothing off).

    Above: the fitted line's row (or, for an existing pipe, its repex and upgrade rows) is at
    most |fixed| + 2|keep| + |per_kw·high| plus its lift. Below: the floor row,
    min(floor, keep, 0) less the lift.
    """
    keep = keep if existing and math.isfinite(keep) else 0.0
    top = abs(fixed) + 2 * abs(keep) + abs(per_kw_top) + lift
    return min(floor, keep, 0.0) - lift, top


def _discrete_pipes(
    m: pyo.ConcreteModel, data: ModelData, idx: Indices, built: dict[str, Any]
) -> Any:
    """One diameter per laid pipe, from the edge's choices (``data.options``)."""
    o = data.options
    keys = list(zip(o["edge"], o["option"], strict=True))
    m.O = pyo.Set(initialize=keys, dimen=2, ordered=True)
    m.y = pyo.Var(m.O, domain=pyo.Binary)
    capacity = {
        (str(edge), str(option)): float(kw)
        for edge, option, kw in zip(o["edge"], o["option"], o["capacity_kw"], strict=True)
    }
    m.one_diameter = pyo.Constraint(
        m.E, rule=lambda _, i: sum(m.y[k] for k in idx.options_of.get(i, ())) == built[i]
    )
    m.diameter_capacity = pyo.Constraint(
        m.E,
        rule=lambda _, i: m.cap[i] <= sum(capacity[k] * m.y[k] for k in idx.options_of.get(i, ())),
    )
    return sum(float(v) * m.y[k] for k, v in zip(keys, o["value"], strict=True) if v != 0)


def add_losses(m: pyo.ConcreteModel, data: ModelData, idx: Indices, pipes: PipeTerms) -> None:
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

    Both also on each edge's total (models of at most :data:`EDGE_TOTAL_LOSS_UP_TO` edges),
    without the big-M (a design lays one arc, the other loses
    nothing): Σ_a lost[a] ≥ γ_ej·Σ_a ain[a] + δ_ej·cap[e] (lifted as above in ``linear``), and
    ``discrete``: Σ_a lost[a] ≥ Σ_k loss_k·y[e,k]. In the LP relaxation the per-arc rows let a
    pipe laid partly each way, or at a fraction, lose almost nothing (the big-M takes it back);
    measured on the district sample, these rows lower its LP optimum by 3 %.
    """
    e = data.edges
    edge_of = idx.edge_of
    top, high = numbers(e, "loss_max_kw"), numbers(e, "max_kw")
    lines = dict(zip(map(str, e.index), e["loss_cuts"], strict=True))
    m.loss = pyo.Param(m.E, initialize=data.loss_kw.to_dict(), mutable=True, within=pyo.Reals)
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
    relaxing = pipes.relaxing  # linear: only the relaxation needs these lines

    def line(_: Any, a: str, j: int) -> Any:
        i = edge_of[a]
        g, d = lines[i][0][j], lines[i][1][j]
        off = (g + d * high[i]) * (1 - relaxing)
        if d <= 0:
            return m.lost[a] >= g * m.ain[a] + d * m.cap[i] - off
        return m.lost[a] >= g * m.ain[a] + d * (m.cap[i] - high[i] * (1 - m.ain[a])) - off

    m.lost_by_size = pyo.Constraint(m.LC, rule=line)
    # the same lines on the edge's total (a laid pipe loses what its one laid arc does): no
    # big-M, so a pipe the LP lays half one way and half the other still loses its share
    built = laid(m, data, idx)
    arcs_of = idx.arcs_of
    totals = len(e) <= EDGE_TOTAL_LOSS_UP_TO
    keys = [
        (i, j)
        for i in e.index
        for j, (g, d) in enumerate(zip(*lines[i], strict=True))
        if (d > 0 or g > 0) and arcs_of[i] and totals
    ]
    m.EC = pyo.Set(initialize=keys, dimen=2, ordered=True)

    def edge_line(_: Any, i: str, j: int) -> Any:
        g, d = lines[i][0][j], lines[i][1][j]
        off = (abs(g) + abs(d) * high[i]) * (1 - relaxing)
        return sum(m.lost[a] for a in arcs_of[i]) >= g * built[i] + d * m.cap[i] - off

    m.edge_lost_by_size = pyo.Constraint(m.EC, rule=edge_line)
    y = pipes.diameters
    if y is not None:  # discrete: the diameter is known, so is its loss
        o = data.options
        lost = {
            (str(edge), str(option)): float(kw)
            for edge, option, kw in zip(o["edge"], o["option"], o["loss_kw"], strict=True)
        }
        m.lost_by_diameter = pyo.Constraint(
            m.A,
            rule=lambda _, a: (
                m.lost[a]
                >= sum(lost[k] * y[k] for k in idx.options_of.get(edge_of[a], ()))
                - top[edge_of[a]] * (1 - m.ain[a])
            ),
        )
        m.edge_lost_by_diameter = pyo.Constraint(
            [i for i in e.index if idx.options_of.get(i) and arcs_of[i] and totals],
            rule=lambda _, i: (
                sum(m.lost[a] for a in arcs_of[i]) >= sum(lost[k] * y[k] for k in idx.options_of[i])
            ),
        )
