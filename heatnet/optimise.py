"""The solve loop: MIP → honest prices → corrected diversity and losses → MIP again.

Diversity depends on how many connections end up downstream of a pipe and heat loss on the
pipe's size, so neither can be a constant of one MILP. As in the reference (section 9), the loop
solves the MIP with assumed values, prices the design it found (:mod:`heatnet.model.evaluate`),
puts the implied values of the *used* elements back into the model (unused elements keep their
optimistic assumptions) and solves again, warm-started from the design it has. It stops when
the parameters reproduce themselves, when correcting them moves the objective by at most
``optimiser/param-gap``, when a design repeats, at ``optimiser/iteration-limit`` or when
``optimiser/runtime-limit`` is spent; it returns the best design *as priced*, never a MIP value.

Each design is settled before it is priced: its decisions are fixed and the model re-solved with
the values the design implies (diversity from downstream counts, losses of the diameters it
needs), until the diameters stop changing, so the flows, losses, diameters and costs written
agree with each other.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from heatnet.model.build import build_model
from heatnet.model.data import ModelData, prepare
from heatnet.model.evaluate import Design, evaluate
from heatnet.model.heuristic import seed_design
from heatnet.model.infeasible import elastic_reasons
from heatnet.model.tune import set_parameters
from heatnet.problem import Problem
from heatnet.progress import Progress
from heatnet.solve import Solver, SolveResult, SolverOptions, SolveStatus

log = logging.getLogger(__name__)

OPTIMAL_GAP = 1e-4
"""A MIP stopped at a larger relative gap (e.g. ``optimiser/mip-gap`` 0.05) is ``feasible``."""
SETTLE_ROUNDS = 3
FINAL_GRACE_S = 1.0
"""The runtime limit is hard for searching; pricing the best design found may take this long."""


@dataclass(frozen=True, slots=True)
class Iteration:
    """One pass of the loop (for logs and the solution's history)."""

    number: int
    status: str
    mip_objective: float | None
    mip_bound: float | None
    settled_objective: float | None
    objective: float | None
    runtime_s: float


@dataclass(frozen=True, slots=True)
class Solution:
    """What the optimiser found.

    Attributes
    ----------
    state
        ``optimal`` (the MIP that found the design proved it optimal, to a relative gap of at
        most :data:`OPTIMAL_GAP`), ``feasible`` (a design within a limit: time, or a larger
        ``optimiser/mip-gap``), ``infeasible``, ``no-solution`` (none found in
        time) or ``error``.
    design
        The best design, priced (None without one).
    objective
        Its objective (objective NPV with the ``objective/use-*`` switches, or delivered kWh).
    network_npv
        Its NPV over every cost class.
    mip_gap, lower_bound, upper_bound
        Lower bound: the written design's objective. Upper bound: the best bound of the MIP that
        found it (under that iteration's assumed diversity and losses, and in the ``linear``
        model its fitted pipe costs). Gap: that MIP's relative gap.
    runtime_s, iterations
        Wall time of the whole optimisation and MIPs solved.
    pipe_model
        ``linear`` or ``discrete``.
    reasons
        ``(reason_type, message)`` when infeasible.
    history
        Every iteration.
    """

    state: str
    design: Design | None
    objective: float | None
    network_npv: float | None
    mip_gap: float | None
    lower_bound: float | None
    upper_bound: float | None
    runtime_s: float
    iterations: int
    pipe_model: str
    reasons: tuple[tuple[str, str], ...] = ()
    history: tuple[Iteration, ...] = field(default_factory=tuple)


def optimise(
    problem: Problem, options: SolverOptions | None = None, *, progress: Progress | None = None
) -> Solution:
    """Find the best design of a problem within its runtime limit.

    Parameters
    ----------
    problem
        The network problem.
    options
        Threads, seed, solver log.
    progress
        Hears of the solver's incumbents and bounds, and of every priced design.

    Returns
    -------
    Solution
        Never raises for infeasible or timed-out problems: see ``state``.
    """
    options = options or SolverOptions()
    began = time.perf_counter()
    params = problem.parameters
    budget = params.runtime_limit_h * 3600.0
    model_name = params.pipe_model

    def elapsed() -> float:
        return time.perf_counter() - began

    data = prepare(problem)
    discrete = model_name == "discrete"
    model = build_model(data, discrete=discrete)
    log.info(
        "model: %d buildings, %d edges, %d arcs, %d supplies (%s pipes), built in %.2f s",
        len(data.buildings), len(data.edges), len(data.arcs), len(data.supplies), model_name,
        elapsed(),
    )  # fmt: skip
    solver = Solver(model, options)
    start: dict[str, dict[Any, float]] | None = seed_design(data)
    best: tuple[Design, SolveResult] | None = None
    seen: set[object] = set()
    history: list[Iteration] = []
    first: SolveResult | None = None
    for number in range(1, params.iteration_limit + 1):
        remaining = budget - elapsed()
        if remaining <= 0:
            break
        free = solver.solve(
            time_limit_s=remaining,
            mip_gap=params.mip_gap,
            start=start,
            listener=progress.solver if progress else None,
            iteration=number,
        )
        first = first or free
        if not free.has_solution:
            history.append(Iteration(number, free.status, None, free.bound, None, None, elapsed()))
            break
        design, settled = _settle(data, model, solver, free, budget - elapsed())
        history.append(
            Iteration(
                number, free.status, free.objective, free.bound,
                settled.objective if settled else None,
                design.objective if design else None, elapsed(),
            )
        )  # fmt: skip
        if design is None or settled is None:  # infeasible once honestly priced: go again
            start = None
            continue
        if best is None or design.objective > best[0].objective + 1e-9:
            best = (design, free)
        if progress:
            progress.design(number, design.objective, best[0].objective)
        log.info(
            "iteration %d: MIP %.6g (bound %s), priced %.6g, best %.6g",
            number, free.objective, free.bound, design.objective, best[0].objective,
        )  # fmt: skip
        key = design.key
        change = _relative_change(settled.objective, free.objective)
        if key in seen or change <= params.param_gap:
            break
        seen.add(key)
        start = _start_from(settled)
    runtime = elapsed()
    if best is not None:
        design, free = best
        proven = free.status is SolveStatus.OPTIMAL and (free.gap or 0.0) <= OPTIMAL_GAP
        state = "optimal" if proven else "feasible"
        return Solution(
            state, design, design.objective, design.network_npv, free.gap, design.objective,
            free.bound, runtime, len(history), model_name, problem.reasons, tuple(history),
        )  # fmt: skip
    return _without_design(
        problem, data, first, options, max(budget - elapsed(), 10.0), tuple(history), began
    )


def _without_design(
    problem: Problem,
    data: ModelData,
    first: SolveResult | None,
    options: SolverOptions,
    explain_s: float,
    history: tuple[Iteration, ...],
    began: float,
) -> Solution:
    """The solution when no design was found: infeasible (with reasons) or out of time."""
    status = first.status if first is not None else SolveStatus.NO_SOLUTION
    reasons = list(problem.reasons)
    if status is SolveStatus.INFEASIBLE or problem.reasons:
        reasons += elastic_reasons(
            data,
            solve=lambda m, limit: Solver(m, options).solve(time_limit_s=limit, mip_gap=1e-6),
            time_limit_s=explain_s,
        )
        state = "infeasible"
    else:
        state = str(status) if status is not SolveStatus.FEASIBLE else "no-solution"
    return Solution(
        state, None, None, None, None, None, first.bound if first else None,
        time.perf_counter() - began, len(history), problem.parameters.pipe_model,
        tuple(dict.fromkeys(reasons)), history,
    )  # fmt: skip


def _relative_change(settled: float | None, free: float | None) -> float:
    if settled is None or free is None:
        return float("inf")
    return abs(settled - free) / (1.0 + abs(max(settled, free)))


def _settle(
    data: ModelData, model: Any, solver: Solver, free: SolveResult, remaining_s: float
) -> tuple[Design | None, SolveResult | None]:
    """Settle and price a free solution.

    Fix its decisions and re-solve with the values it implies until its diameters agree with
    its flows. None if it is infeasible once corrected.
    """
    design = evaluate(data, free.values)
    values = free.values
    settled: SolveResult | None = None
    solver.fix(values)
    try:
        for _ in range(SETTLE_ROUNDS):
            set_parameters(model, data, design)
            settled = solver.solve(
                time_limit_s=max(remaining_s, FINAL_GRACE_S), mip_gap=1e-9, start=None
            )
            if not settled.has_solution:
                log.info("design is infeasible with its own diversity and losses")
                return None, None
            again = evaluate(data, settled.values)
            same = _same_sizes(design, again)
            design = again
            if same:
                break
    finally:
        solver.unfix()
    return design, settled


def _same_sizes(a: Design, b: Design) -> bool:
    x = a.edges["diameter_mm"].to_numpy(dtype=float)
    y = b.edges["diameter_mm"].to_numpy(dtype=float)
    return bool(np.array_equal(np.nan_to_num(x, nan=-1), np.nan_to_num(y, nan=-1)))


def _start_from(result: SolveResult) -> dict[str, dict[Any, float]]:
    """A MIP start from a solve's binaries (HiGHS completes the continuous part)."""
    out: dict[str, dict[Any, float]] = {}
    for name in ("dvin", "svin", "ain", "eup", "y"):
        series = result.values.get(name)
        if series is not None:
            out[name] = {k: float(round(v)) for k, v in series.items()}
    return out
