"""Solve a dispatch problem with HiGHS (through :class:`heatnet.optimise.highs.Solver`).

The state is honest: ``optimal`` only when HiGHS reached its target gap *and* the proven gap
(objective − bound) / max(|objective|, 1) is at most :data:`heatnet.optimise.proof.OPTIMAL_GAP`;
a solution short of that is ``feasible``. The bound is HiGHS' dual bound (the objective itself
for a problem without binaries solved to optimality). An interrupt (Ctrl-C, SIGTERM) stops
HiGHS and raises :class:`KeyboardInterrupt`: a dispatch stopped early keeps nothing.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo

from heatnet.core.exits import ExitCode, outcome_code
from heatnet.dispatch.model import build_model
from heatnet.dispatch.problem import DispatchProblem
from heatnet.optimise.highs import Solver, SolverOptions, SolveStatus
from heatnet.optimise.proof import OPTIMAL_GAP
from heatnet.optimise.stopping import Stop, stop_on_signals

log = logging.getLogger(__name__)

ZERO = 1e-9
"""Values closer to 0 than this are written as 0 (solver noise)."""
ELASTIC_TIME_S = 10.0
"""How long the search for why a problem is infeasible may take at most."""


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """How one window of a horizon solved in windows went (:mod:`heatnet.dispatch.windows`).

    ``bound`` and ``gap`` hold for this window *given the state it started from*, not for the
    horizon.
    """

    first_step: int
    steps: int
    state: str
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    runtime_s: float


@dataclass(frozen=True, slots=True)
class DispatchSolution:
    """What a solve found.

    Attributes
    ----------
    state
        ``optimal``, ``feasible``, ``infeasible``, ``no-solution`` or ``error``.
    termination
        HiGHS' status in words (``convergenceCriteriaSatisfied``, ``maxTimeLimit``, ...).
    objective, bound, gap
        The solution's cost per year, HiGHS' bound on every dispatch's cost, and
        (objective − bound) / max(|objective|, 1); None when unknown.
    runtime_s
        Wall time from building the model to reading the solution.
    values
        Every variable's value by name and index (empty without a solution).
    reasons
        Why there is no dispatch, when infeasible (demand that cannot be met, heat that
        cannot go anywhere).
    windows
        Each window's figures when the horizon was solved in windows; empty when solved whole.
    """

    state: str
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    runtime_s: float
    values: dict[str, dict[Any, float]] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    windows: tuple[WindowFigures, ...] = ()

    @property
    def has_dispatch(self) -> bool:
        """Whether a dispatch was found."""
        return bool(self.values)

    @property
    def exit_code(self) -> ExitCode:
        """0 with a dispatch, 4 proven infeasible, else 5 (as ``heatnet solve``)."""
        return outcome_code(self.state, has_design=self.has_dispatch)


def _clean(value: float | None) -> float:
    if value is None or abs(value) < ZERO:
        return 0.0
    return float(value)


def _read(model: pyo.ConcreteModel) -> dict[str, dict[Any, float]]:
    """Every indexed variable's values (binaries rounded)."""
    out: dict[str, dict[Any, float]] = {}
    for var in model.component_objects(pyo.Var, active=True):
        if not var.is_indexed():
            continue
        binary = var.name in ("on", "start")
        out[var.name] = {
            k: float(round(v.value or 0.0)) if binary else _clean(v.value) for k, v in var.items()
        }
    return out


def proven_gap(objective: float | None, bound: float | None) -> float | None:
    """(objective − bound) / max(|objective|, 1), never below 0; None when either is unknown."""
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return max(0.0, (objective - bound) / max(abs(objective), 1.0))


def solve_dispatch(
    problem: DispatchProblem, *, stop: Stop | None = None, log_solver: bool = False
) -> DispatchSolution:
    """Solve ``problem`` within its time limit, to its gap.

    Parameters
    ----------
    problem
        The checked problem.
    stop
        Stop requests (a caller's cancel); Ctrl-C and SIGTERM also reach it.
    log_solver
        Whether HiGHS' log goes to heatnet's log (at DEBUG).

    Raises
    ------
    KeyboardInterrupt
        When a stop was requested: nothing is kept.
    """
    began = time.perf_counter()
    stop = stop or Stop()
    options = problem.options
    model = build_model(problem)
    solver = Solver(
        model,
        SolverOptions(threads=options.threads, seed=options.seed, log_solver=log_solver),
        stop,
    )
    with stop_on_signals(stop, "stopping the dispatch solve: nothing will be written"):
        left = max(options.time_limit_s - (time.perf_counter() - began), 0.01)
        result = solver.solve(time_limit_s=left, mip_gap=options.mip_gap)
        if stop.requested:
            raise KeyboardInterrupt
        reasons: tuple[str, ...] = ()
        if result.status is SolveStatus.INFEASIBLE:
            reasons = infeasible_reasons(problem, stop, log_solver)
    runtime = time.perf_counter() - began
    bound = result.bound if result.bound is not None and math.isfinite(result.bound) else None
    if not result.has_solution:
        state = {SolveStatus.INFEASIBLE: "infeasible", SolveStatus.ERROR: "error"}.get(
            result.status, "no-solution"
        )
        bound = None if state == "infeasible" else bound  # (no dispatch to bound)
        return DispatchSolution(state, result.termination, None, bound, None, runtime, {}, reasons)
    objective = result.objective
    if objective is not None and bound is not None and bound > objective:
        bound = objective  # HiGHS' tolerance: a bound never exceeds a dispatch that exists
    gap = proven_gap(objective, bound)
    proven = result.status is SolveStatus.OPTIMAL and gap is not None and gap <= OPTIMAL_GAP
    state = "optimal" if proven else "feasible"
    log.info("dispatch: %s, objective %s, gap %s", state, objective, gap)
    return DispatchSolution(
        state, result.termination, objective, bound, gap, runtime, _read(model), reasons
    )


def infeasible_reasons(
    problem: DispatchProblem, stop: Stop, log_solver: bool = False
) -> tuple[str, ...]:
    """Where heat cannot be balanced: the problem solved again with slack in every heat balance.

    With slack, switching everything off (a unit held on by a given initial state: running it
    at its minimum load) is a dispatch, so this re-solve has one; the least slack it needs
    names the nodes and steps where demand cannot be met (or where heat must go and cannot).
    The other rules are not relaxed. Steps are numbered in the whole horizon
    (``problem.initial.step`` is the first one's number, for a window).
    """
    model = build_model(problem, elastic=True)
    solver = Solver(model, SolverOptions(log_solver=log_solver), stop)
    limit = min(ELASTIC_TIME_S, problem.options.time_limit_s)
    result = solver.solve(time_limit_s=limit, mip_gap=1e-6)
    if not result.has_solution:
        return ()
    found = []
    first = problem.initial.step if problem.initial is not None else 0
    for node, step in model.short:
        t = first + step
        short, spare = _clean(model.short[node, step].value), _clean(model.spare[node, step].value)
        if short > 1e-6:
            found.append(f"node {node!r}, step {t}: {short:.6g} kW of demand cannot be met")
        if spare > 1e-6:
            found.append(f"node {node!r}, step {t}: {spare:.6g} kW of heat can go nowhere")
    return tuple(found)
