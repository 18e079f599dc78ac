"""A long horizon (a year of hours) solved in windows of consecutive steps, one after another.

A year of 8,760 hourly steps with on/off units is too big a MILP to solve whole in good time;
:func:`solve_in_windows` solves it a window (a week, 168 steps, by default) at a time. Each
window starts from the state the window before ended in (the ``initial`` boundary of
:mod:`heatnet.dispatch.model`):

- each store's level at the end of the window before;
- each status unit's on/off state and how long it has been on or off, so a minimum up or
  down time not yet served at the seam is served in the next window, and a unit on at the
  end of one window and on at the start of the next counts no start at the seam.

The ends of the horizon (docs/decisions.md §6):

- the first window starts with every store **empty** and nothing known of the units before
  its first step (``free``: no start counted there, whatever ``status_boundary`` says);
- the last window ends free: its stores may end at any level, its units in any state, and
  minimum up and down windows end at the last step.

So the horizon is not joined end to start, not even with ``status_boundary`` ``cyclic``: the
first window cannot know how the last one ends. A year that starts with empty stores cannot
end with less, so no heat is borrowed from outside it; heat left in a store at the end is
lost. (Asking the last window to bring a store back to the first window's level was not
chosen: the last window may have no demand to take a store's heat, or no spare capacity to
fill it, and a horizon with a dispatch would then be reported without one.)

A single window (``window_steps`` 0, or at least the horizon's steps) is the problem solved
whole, as :func:`~heatnet.dispatch.solve.solve_dispatch` solves it: its own boundaries.

Honest figures. Each window is solved to ``options.mip_gap`` and its bound and gap are kept
(:attr:`~heatnet.dispatch.solve.DispatchSolution.windows`), but they hold for that window
*given the state it started from*: windows do not look ahead, so the horizon's windowed
dispatch is a heuristic, not the horizon's optimum, and the sum of the windows' bounds bounds
nothing. The horizon's ``bound`` and ``gap`` are therefore None, and its state is at best
``feasible`` (``optimal`` needs a proven gap, §6). The objective is the sum of the windows'
objectives: the cost of the dispatch written. ``options.time_limit_s`` is for the whole
horizon: each window may take the time left divided by the windows left.

When a window has no dispatch from the state it started in, the horizon has none written.
That window is then solved again, within its time, from a free start (status free, stores at
any level): if that is infeasible too, so is the horizon (exit 4, with the reasons of that
solve, steps numbered in the horizon); otherwise the windows' lack of look-ahead is to blame
and the state is ``no-solution`` (exit 5), with a reason saying so.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

from heatnet.dispatch.problem import DispatchProblem, InitialState, UnitState
from heatnet.dispatch.solve import DispatchSolution, WindowFigures, solve_dispatch
from heatnet.optimise.stopping import Stop

log = logging.getLogger(__name__)

WEEK_STEPS = 168
"""A week of hourly steps: the default window."""
MIN_WINDOW_TIME_S = 0.01
"""The least time a window is given, however little is left."""


def window_ranges(steps: int, window_steps: int) -> list[tuple[int, int]]:
    """The windows of a horizon of ``steps`` steps, each as (first step, end step + 1).

    Windows of ``window_steps`` steps; the last takes what is left (so it may be shorter).
    ``window_steps`` 0 or at least ``steps``: one window, the whole horizon.

    Raises
    ------
    ValueError
        If ``window_steps`` is negative.
    """
    if window_steps < 0:
        raise ValueError(f"window_steps must be 0 (one window) or more, not {window_steps}")
    if window_steps == 0 or window_steps >= steps:
        return [(0, steps)]
    return [(a, min(a + window_steps, steps)) for a in range(0, steps, window_steps)]


def window_problem(
    problem: DispatchProblem, first: int, end: int, initial: InitialState | None
) -> DispatchProblem:
    """Steps ``first`` … ``end`` − 1 of ``problem`` as a problem of their own, from ``initial``."""
    cut = slice(first, end)
    return replace(
        problem,
        name=f"{problem.name}, steps {first}-{end - 1}",
        hours=problem.hours[cut],
        weight=problem.weight[cut],
        demand={n: d[cut] for n, d in problem.demand.items()},
        fuels=tuple(replace(f, price=f.price[cut]) for f in problem.fuels),
        initial=initial,
    )


def start_state(problem: DispatchProblem) -> InitialState:
    """The state the first window starts from: stores empty, nothing known of the units."""
    return InitialState(step=0, levels={s.id: 0.0 for s in problem.storages}, units={})


def end_state(
    part: DispatchProblem, values: dict[str, dict[Any, float]], next_step: int
) -> InitialState:
    """The state a window ended in: the next window's ``initial`` (its first step ``next_step``).

    A unit's hours run from the start of the step it last switched in; a unit that never
    switched since nothing was known stays ``math.inf`` (no window left to serve).
    """
    last = part.steps - 1
    level = values.get("level", {})
    levels = {
        s.id: min(max(level.get((s.id, last), 0.0), 0.0), s.capacity_kwh) for s in part.storages
    }
    given = part.initial.units if part.initial is not None else {}
    on_values = values.get("on", {})
    units: dict[str, UnitState] = {}
    for u in part.units:
        if not u.has_status:
            continue
        before = given.get(u.id)
        state: bool | None = None if before is None else before.on
        hours = math.inf if before is None else before.hours
        for t in range(part.steps):
            on = on_values.get((u.id, t), 0.0) > 0.5
            if state is not None and on != state:
                hours = 0.0  # switched in step t
            state = on
            hours += part.hours[t]
        units[u.id] = UnitState(bool(state), hours)
    return InitialState(step=next_step, levels=levels, units=units)


def _merge(
    into: dict[str, dict[Any, float]], values: dict[str, dict[Any, float]], first: int
) -> None:
    """A window's values into the horizon's, their step (an index's last part) offset by first."""
    for name, series in values.items():
        target = into[name]
        for key, value in series.items():
            if isinstance(key, tuple):  # (element, step); level_before (by store) is dropped
                target[(*key[:-1], key[-1] + first)] = value


def _termination(figures: list[WindowFigures]) -> str:
    counts = Counter(f.termination for f in figures)
    said = ", ".join(f"{n} {term}" if len(counts) > 1 else term for term, n in counts.items())
    return f"{len(figures)} windows: {said}"


def solve_in_windows(
    problem: DispatchProblem,
    window_steps: int = WEEK_STEPS,
    *,
    stop: Stop | None = None,
    log_solver: bool = False,
) -> DispatchSolution:
    """Solve ``problem`` in consecutive windows of ``window_steps`` steps (see the module doc).

    Parameters
    ----------
    problem
        The checked problem (a year of hours, say); its ``initial`` is ignored.
    window_steps
        Steps per window (168: a week of hours); 0 or at least ``problem.steps``: solved whole.
    stop
        Stop requests (a caller's cancel); Ctrl-C and SIGTERM also reach it.
    log_solver
        Whether HiGHS' log goes to heatnet's log (at DEBUG).

    Returns
    -------
    DispatchSolution
        The horizon's dispatch: values by step of the horizon, the objective summed over the
        windows, ``bound`` and ``gap`` None, state ``feasible`` (or why there is none), and
        each window's figures in ``windows``.

    Raises
    ------
    KeyboardInterrupt
        When a stop was requested: nothing is kept.
    ValueError
        If ``window_steps`` is negative.
    """
    ranges = window_ranges(problem.steps, window_steps)
    if len(ranges) == 1:
        return solve_dispatch(replace(problem, initial=None), stop=stop, log_solver=log_solver)
    began = time.perf_counter()
    stop = stop or Stop()
    state = start_state(problem)
    values: dict[str, dict[Any, float]] = defaultdict(dict)
    figures: list[WindowFigures] = []
    objective = 0.0
    for k, (first, end) in enumerate(ranges):
        if stop.requested:
            raise KeyboardInterrupt
        part = _with_time(window_problem(problem, first, end, state), began, len(ranges) - k)
        solution = solve_dispatch(part, stop=stop, log_solver=log_solver)
        figures.append(
            WindowFigures(
                first, end - first, solution.state, solution.termination, solution.objective,
                solution.bound, solution.gap, solution.runtime_s,
            )
        )  # fmt: skip
        log.info(
            "dispatch window %d of %d (steps %d-%d): %s, objective %s, gap %s, %.2f s",
            k + 1, len(ranges), first, end - 1, solution.state, solution.objective,
            solution.gap, solution.runtime_s,
        )  # fmt: skip
        if not solution.has_dispatch or solution.objective is None:
            where = (k, len(ranges), began)
            return _without_dispatch(part, where, solution, figures, stop, log_solver)
        objective += solution.objective
        _merge(values, solution.values, first)
        state = end_state(part, solution.values, end)
    runtime = time.perf_counter() - began
    log.info("dispatch in %d windows: objective %s, %.2f s", len(ranges), objective, runtime)
    return DispatchSolution(
        "feasible", _termination(figures), objective, None, None, runtime, dict(values), (),
        tuple(figures),
    )  # fmt: skip


def _with_time(part: DispatchProblem, began: float, windows_left: int) -> DispatchProblem:
    """A window's time limit: its share of the time left (options.time_limit_s is the whole's)."""
    left = part.options.time_limit_s - (time.perf_counter() - began)
    share = max(left / windows_left, MIN_WINDOW_TIME_S)
    return replace(part, options=replace(part.options, time_limit_s=share))


def _without_dispatch(
    part: DispatchProblem,
    at: tuple[int, int, float],
    solution: DispatchSolution,
    figures: list[WindowFigures],
    stop: Stop,
    log_solver: bool,
) -> DispatchSolution:
    """The horizon without a dispatch, as window ``part`` has none: infeasible only if proven.

    ``at``: the window's number (from 0), how many windows, when the solve began.
    """
    k, count, began = at
    first = figures[-1].first_step
    where = f"window {k + 1} of {count} (steps {first}-{first + part.steps - 1})"
    state, reasons = solution.state, solution.reasons
    if solution.state == "infeasible":
        # from a free start (a relaxation of the horizon on these steps), within the window's
        # own time: infeasible -> so is the horizon; a dispatch -> its start state is to blame
        free = replace(part, initial=InitialState(step=first))
        relaxed = solve_dispatch(free, stop=stop, log_solver=log_solver)
        began_from = "the horizon's start (stores empty)" if k == 0 else "the window before's end"
        if relaxed.state == "infeasible":
            reasons = relaxed.reasons
        elif relaxed.has_dispatch:
            state = "no-solution"
            reasons = (
                f"{where} has no dispatch from the state at {began_from}, only from a free "
                "start: windows do not look ahead, and the whole horizon may still have one",
                *(f"from that state: {r}" for r in solution.reasons),
            )
        else:
            state = "no-solution"
            reasons = (
                f"{where} has no dispatch from the state at {began_from}, and none was found "
                f"from a free start either ({relaxed.state}, {relaxed.termination})",
            )
    runtime = time.perf_counter() - began
    log.info("dispatch in windows: %s has none (%s)", where, solution.state)
    return DispatchSolution(
        state, f"{where}: {solution.termination}", None, None, None, runtime, {}, reasons,
        tuple(figures),
    )  # fmt: skip
