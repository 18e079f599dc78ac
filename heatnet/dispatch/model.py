"""The dispatch MILP as a Pyomo model: one builder per rule of docs/decisions.md §6.

Variables (``t`` a step; units, storages and links by id; fuel and distribution rows by their
position in the problem):

- ``heat[u, t]`` kW of heat a unit gives; ``on[u, t]`` and ``start[u, t]`` (binary) for units
  with a status;
- ``charge[s, t]``, ``discharge[s, t]`` kW and ``level[s, t]`` kWh (at the end of step t);
- ``enter[l, t]`` kW entering a link at its ``from`` node, ``back[l, t]`` at its ``to`` node
  (``both_ways`` only);
- ``bought[i, t]`` kW of fuel bought by fuel row i; ``dist[j, t]`` kW of fuel imported (> 0) or
  exported (< 0) by distribution row j.

Fuel a unit uses is ``heat / efficiency``, an expression, never a variable.

Boundaries. Without ``problem.initial``: status as ``options.status_boundary`` says (``free``:
nothing before the first step; ``cyclic``: the step before the first is the last), stores
cyclic. With an :class:`~heatnet.dispatch.problem.InitialState` (a window of a longer horizon,
:mod:`heatnet.dispatch.windows`), the state before the first step is given and nothing wraps:

- a store's level before the first step is the given level (a variable ``level_before[s]``
  when none is given); its level after the last step is free;
- a unit given as on counts no start at the first step (it was already on), one given as off
  counts one if it is on there; switches in the first steps close minimum up and down windows
  as any switch does (the rows ``stop_τ = on_{τ−1} − on_τ + start_τ`` take the given state for
  ``on_{−1}``);
- a unit switched ``hours`` before the first step starts, and not for its minimum up (on) or
  down (off) time yet, keeps its state in every step that starts less than that time after
  the switch: those ``on[u, t]`` are fixed by their bounds;
- a status unit not given has nothing before the first step, as with ``free``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pyomo.environ as pyo

from heatnet.dispatch.problem import DispatchProblem, InitialState, Unit, UnitState

HOURS_EPS = 1e-9
"""Step lengths are summed in floating point: a window ends within this many hours of its end."""


def window(hours: Sequence[float], t: int, length_h: float, *, cyclic: bool) -> list[int]:
    """The steps after step ``t`` that start less than ``length_h`` hours after ``t`` starts.

    These are the steps a unit switched on (or off) at step ``t`` must stay on (or off) for,
    when it must stay so for ``length_h`` hours: with 1-hour steps and 2 hours, the step after
    ``t``. ``cyclic``: the step after the last is the first; otherwise the window ends at the
    last step. Never more than the other steps.
    """
    count = len(hours)
    out: list[int] = []
    elapsed = hours[t]
    k = t + 1
    while len(out) < count - 1 and elapsed < length_h - HOURS_EPS * max(1.0, length_h):
        if k == count:
            if not cyclic:
                break
            k = 0
        out.append(k)
        elapsed += hours[k]
        k += 1
    return out


def previous(t: int, count: int, *, cyclic: bool) -> int | None:
    """The step before ``t`` (the last one before the first when ``cyclic``; else None)."""
    if t > 0:
        return t - 1
    return count - 1 if cyclic and count > 1 else None


def held(u: Unit, state: UnitState, hours: Sequence[float]) -> list[int]:
    """The first steps in which a unit must keep its given state (``problem.initial``).

    It was switched ``state.hours`` before the first step starts; a step that starts less than
    ``min_up_h`` (on) or ``min_down_h`` (off) after the switch is within that window, as in
    :func:`window`.
    """
    length = u.min_up_h if state.on else u.min_down_h
    out: list[int] = []
    elapsed = state.hours  # from the switch's start to the start of step t
    for t, h in enumerate(hours):
        if not elapsed < length - HOURS_EPS * max(1.0, length):
            break
        out.append(t)
        elapsed += h
    return out


def check_initial(problem: DispatchProblem, initial: InitialState) -> None:
    """An initial state names status units and stores of the problem, with levels that fit.

    Raises
    ------
    ValueError
        If it does not (a caller's mistake: the JSON form has no initial state).
    """
    status = {u.id for u in problem.units if u.has_status}
    capacity = {s.id: s.capacity_kwh for s in problem.storages}
    errors = [f"unit {u!r} has no on/off status" for u in initial.units if u not in status]
    errors += [
        f"unit {u!r}: negative hours {state.hours}"
        for u, state in initial.units.items()
        if not state.hours >= 0
    ]
    for s, level in initial.levels.items():
        if s not in capacity:
            errors.append(f"no store {s!r}")
        elif not -1e-6 <= level <= capacity[s] * (1 + 1e-9) + 1e-6:
            errors.append(f"store {s!r}: level {level} outside 0 … {capacity[s]}")
    if errors:
        raise ValueError(f"initial state of {problem.name!r}: {'; '.join(errors)}")


def build_model(problem: DispatchProblem, *, elastic: bool = False) -> pyo.ConcreteModel:
    """The dispatch MILP of ``problem`` (see the module docstring for its variables).

    ``elastic``: every heat balance gets slack, ``short[n, t]`` (demand not met) and
    ``spare[n, t]`` (heat with nowhere to go), and the objective is their sum (weighted by
    hours): always feasible, it says where a problem without a dispatch fails.
    """
    if problem.initial is not None:
        check_initial(problem, problem.initial)
    m = pyo.ConcreteModel(name=problem.name)
    steps = range(problem.steps)
    inflow: dict[tuple[str, int], list[Any]] = defaultdict(list)  # node, step -> heat terms
    _units(m, problem, steps, inflow)
    _status(m, problem, steps)
    _storages(m, problem, steps, inflow)
    _links(m, problem, steps, inflow)
    _fuels(m, problem, steps)
    demand = {n: problem.demand.get(n, (0.0,) * problem.steps) for n in problem.nodes}
    keys = [(n, t) for n in problem.nodes for t in steps if inflow.get((n, t)) or demand[n][t]]
    if elastic:
        m.short = pyo.Var(keys, domain=pyo.NonNegativeReals)
        m.spare = pyo.Var(keys, domain=pyo.NonNegativeReals)
        for key in keys:
            inflow[key] += [m.short[key], -m.spare[key]]
        hours = problem.hours
        m.cost = pyo.Objective(
            expr=sum(hours[t] * (m.short[n, t] + m.spare[n, t]) for n, t in keys)
        )
    else:
        _objective(m, problem, steps)
    # Σ heat in − Σ heat out = demand; a node with demand and nothing to meet it keeps its
    # (infeasible) row, 0 = demand
    m.heat_balance = pyo.Constraint(
        keys, rule=lambda _m, n, t: sum(inflow.get((n, t), [m.zero])) == demand[n][t]
    )
    return m


def _units(
    m: pyo.ConcreteModel,
    problem: DispatchProblem,
    steps: range,
    inflow: dict[tuple[str, int], list[Any]],
) -> None:
    """Heat per unit and step, at most its heat (and fuel) limit; a unit heats its node."""
    keys = [(u.id, t) for u in problem.units for t in steps]
    cap = {u.id: u.heat_cap_kw for u in problem.units}
    m.heat = pyo.Var(keys, domain=pyo.NonNegativeReals, bounds=lambda _m, u, _t: (0.0, cap[u]))
    m.zero = pyo.Var(bounds=(0.0, 0.0))  # the side of a balance with nothing on it
    for u in problem.units:
        for t in steps:
            inflow[(u.node, t)].append(m.heat[u.id, t])


def _status(m: pyo.ConcreteModel, problem: DispatchProblem, steps: range) -> None:
    """On/off status, starts, minimum load and minimum up and down times."""
    units = [u for u in problem.units if u.has_status]
    keys = [(u.id, t) for u in units for t in steps]
    given = dict(problem.initial.units) if problem.initial is not None else {}
    cyclic = problem.options.cyclic and problem.initial is None
    count = problem.steps
    # free (or not given): nothing before the first step, so no start is counted there; given
    # on: it was on already
    first_free = {
        (u.id, 0) for u in units if (given[u.id].on if u.id in given else not cyclic or count == 1)
    }
    kept = {(u.id, t): int(given[u.id].on) for u in units if u.id in given
            for t in held(u, given[u.id], problem.hours)}  # fmt: skip
    m.on = pyo.Var(
        keys,
        domain=pyo.Binary,
        bounds=lambda _m, u, t: (kept[u, t], kept[u, t]) if (u, t) in kept else (0, 1),
    )
    m.start = pyo.Var(
        keys,
        domain=pyo.Binary,
        bounds=lambda _m, u, t: (0, 0) if (u, t) in first_free else (0, 1),
    )
    m.min_load = pyo.ConstraintList()
    m.starts = pyo.ConstraintList()
    m.min_up = pyo.ConstraintList()
    m.min_down = pyo.ConstraintList()
    for u in units:
        _load(m, u, steps)
        on, start = m.on, m.start
        for t in steps:
            before = _before(m, u.id, t, count, cyclic, given.get(u.id))
            if before is None:
                continue
            if isinstance(before, float):  # given: on (no start, fixed above) or off
                if not before:
                    m.starts.add(start[u.id, t] == on[u.id, t])
                continue
            # start = on now and off before, exactly (so starts are counted, never invented)
            m.starts.add(start[u.id, t] >= on[u.id, t] - before)
            m.starts.add(start[u.id, t] <= on[u.id, t])
            m.starts.add(start[u.id, t] <= 1 - before)
        _windows(m, u, problem.hours, cyclic, given.get(u.id))


def _before(
    m: pyo.ConcreteModel, uid: str, t: int, count: int, cyclic: bool, state: UnitState | None
) -> Any:
    """``on`` in the step before ``t``: a variable, the given state (1.0 or 0.0), or None."""
    if state is not None and t == 0:
        return 1.0 if state.on else 0.0
    p = previous(t, count, cyclic=cyclic)
    return None if p is None else m.on[uid, p]


def _load(m: pyo.ConcreteModel, u: Unit, steps: range) -> None:
    """Minimum load: heat ∈ {0} ∪ [min_load_fraction · heat_max_kw, heat cap]."""
    low = u.min_load_fraction * u.heat_max_kw
    for t in steps:
        m.min_load.add(m.heat[u.id, t] <= u.heat_cap_kw * m.on[u.id, t])
        if low > 0:
            m.min_load.add(m.heat[u.id, t] >= low * m.on[u.id, t])


def _windows(
    m: pyo.ConcreteModel, u: Unit, hours: Sequence[float], cyclic: bool, state: UnitState | None
) -> None:
    """Minimum up and down times, one row per step covering every switch whose window holds it.

    On at step t: Σ starts τ whose up-window holds t (and t itself) ≤ on_t. Off at t: Σ stops
    τ whose down-window holds t (and t itself) ≤ 1 − on_t, where stop_τ = on_{τ−1} − on_τ +
    start_τ (``on_{−1}`` the given ``state`` when there is one). At most one switch can cover a
    step when the windows are kept, so the sums are valid and tighter than one row per pair.
    """
    count = len(hours)
    on, start = m.on, m.start

    def stop(tau: int) -> Any:
        before = _before(m, u.id, tau, count, cyclic, state)
        assert before is not None
        return before - on[u.id, tau] + start[u.id, tau]

    has_prev = [_before(m, u.id, t, count, cyclic, state) is not None for t in range(count)]
    for length, rows, up in ((u.min_up_h, m.min_up, True), (u.min_down_h, m.min_down, False)):
        if length <= 0:
            continue
        cover: dict[int, list[int]] = defaultdict(list)
        for tau in range(count):
            if has_prev[tau] or up:
                for t in window(hours, tau, length, cyclic=cyclic):
                    cover[t].append(tau)
        for t, taus in sorted(cover.items()):
            if up:
                rows.add(sum(start[u.id, tau] for tau in [*taus, t]) <= on[u.id, t])
            else:
                own = [t] if has_prev[t] else []
                rows.add(sum(stop(tau) for tau in [*taus, *own]) <= 1 - on[u.id, t])


def _storages(
    m: pyo.ConcreteModel,
    problem: DispatchProblem,
    steps: range,
    inflow: dict[tuple[str, int], list[Any]],
) -> None:
    """level_t = level_{t−1}·(1 − loss)^hours + η_c·charge·hours − discharge·hours/η_d.

    Cyclic (the first step follows the last) unless the problem has an initial state.
    """
    by_id = {s.id: s for s in problem.storages}
    keys = [(s.id, t) for s in problem.storages for t in steps]
    m.charge = pyo.Var(keys, bounds=lambda _m, s, _t: (0.0, by_id[s].charge_max_kw))
    m.discharge = pyo.Var(keys, bounds=lambda _m, s, _t: (0.0, by_id[s].discharge_max_kw))
    m.level = pyo.Var(keys, bounds=lambda _m, s, _t: (0.0, by_id[s].capacity_kwh))
    m.storage_balance = pyo.ConstraintList()
    count = problem.steps
    initial = problem.initial
    if initial is not None:  # the level before the first step: given, or a variable
        free = [s.id for s in problem.storages if s.id not in initial.levels]
        if free:
            m.level_before = pyo.Var(free, bounds=lambda _m, s: (0.0, by_id[s].capacity_kwh))
    for s in problem.storages:
        for t in steps:
            h = problem.hours[t]
            kept = (1.0 - s.loss_per_h) ** h
            if t > 0 or initial is None:
                before = m.level[s.id, (t - 1) % count]  # the first step follows the last
            elif s.id in initial.levels:
                before = min(max(initial.levels[s.id], 0.0), s.capacity_kwh)
            else:
                before = m.level_before[s.id]
            m.storage_balance.add(
                m.level[s.id, t]
                == kept * before
                + s.eta_charge * h * m.charge[s.id, t]
                - h / s.eta_discharge * m.discharge[s.id, t]
            )
            inflow[(s.node, t)] += [m.discharge[s.id, t], -m.charge[s.id, t]]


def _links(
    m: pyo.ConcreteModel,
    problem: DispatchProblem,
    steps: range,
    inflow: dict[tuple[str, int], list[Any]],
) -> None:
    """Heat entering ≤ capacity (each way); heat arriving = efficiency × heat entering."""
    by_id = {k.id: k for k in problem.links}
    keys = [(k.id, t) for k in problem.links for t in steps]
    back = [(k.id, t) for k in problem.links if k.both_ways for t in steps]
    m.enter = pyo.Var(keys, bounds=lambda _m, k, _t: (0.0, by_id[k].capacity_kw))
    m.back = pyo.Var(back, bounds=lambda _m, k, _t: (0.0, by_id[k].capacity_kw))
    for k in problem.links:
        for t in steps:
            inflow[(k.source, t)].append(-m.enter[k.id, t])
            inflow[(k.target, t)].append(k.efficiency * m.enter[k.id, t])
            if k.both_ways:
                inflow[(k.target, t)].append(-m.back[k.id, t])
                inflow[(k.source, t)].append(k.efficiency * m.back[k.id, t])


def _fuels(m: pyo.ConcreteModel, problem: DispatchProblem, steps: range) -> None:
    """Fuel bought + distributed to a node = fuel its units use; distribution sums to 0."""
    rows = problem.fuels
    dist = problem.distribution
    m.bought = pyo.Var(
        [(i, t) for i in range(len(rows)) for t in steps],
        bounds=lambda _m, i, _t: (0.0, rows[i].import_max_kw),
    )
    m.dist = pyo.Var(
        [(j, t) for j in range(len(dist)) for t in steps],
        bounds=lambda _m, j, _t: (-dist[j].export_max_kw, dist[j].import_max_kw),
    )
    supply: dict[tuple[str, str], list[Any]] = defaultdict(list)  # (fuel, node) -> per step
    for t in steps:
        for i, r in enumerate(rows):
            supply[(r.id, r.node)].append((t, m.bought[i, t]))
        for j, d in enumerate(dist):
            supply[(d.fuel, d.node)].append((t, m.dist[j, t]))
    use: dict[tuple[str, str], list[Unit]] = defaultdict(list)
    for u in problem.units:
        use[(u.fuel, u.node)].append(u)
    m.fuel_balance = pyo.ConstraintList()
    for pair in sorted(set(supply) | set(use)):
        by_step: dict[int, list[Any]] = defaultdict(list)
        for t, var in supply.get(pair, []):
            by_step[t].append(var)
        for t in steps:
            used = sum(m.heat[u.id, t] / u.efficiency for u in use.get(pair, []))
            bought = sum(by_step[t]) if by_step[t] else m.zero
            m.fuel_balance.add(bought == used)
    m.distribution_sum = pyo.ConstraintList()
    for fuel in sorted({d.fuel for d in dist}):
        members = [j for j, d in enumerate(dist) if d.fuel == fuel]
        for t in steps:
            m.distribution_sum.add(sum(m.dist[j, t] for j in members) == 0)


def _objective(m: pyo.ConcreteModel, problem: DispatchProblem, steps: range) -> None:
    """Σ weight·hours·(fuel bought·price + unit cost_per_kwh·heat + distribution cost) + starts."""
    terms: list[Any] = []
    for t in steps:
        wh = problem.weight[t] * problem.hours[t]
        terms += [wh * r.price[t] * m.bought[i, t] for i, r in enumerate(problem.fuels)]
        terms += [wh * u.cost_per_kwh * m.heat[u.id, t] for u in problem.units if u.cost_per_kwh]
        terms += [
            wh * d.cost_per_kwh * m.dist[j, t]
            for j, d in enumerate(problem.distribution)
            if d.cost_per_kwh
        ]
        terms += [
            problem.weight[t] * u.startup_cost * m.start[u.id, t]
            for u in problem.units
            if u.has_status and u.startup_cost
        ]
    m.cost = pyo.Objective(expr=sum(terms) if terms else m.zero, sense=pyo.minimize)
