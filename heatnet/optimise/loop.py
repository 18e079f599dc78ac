"""The solve loop: MIP → honest prices → corrected diversity and losses → MIP again.

Diversity depends on how many connections end up downstream of a pipe and heat loss on the
pipe's size, so neither can be a constant of one MILP. As in the reference, the loop
(docs/decisions.md §8.6) solves the MIP with assumed values, prices the design it found
(:mod:`heatnet.optimise.evaluate`), puts the implied values of the *used* elements back into the
model (unused elements keep their optimistic assumptions) and solves again, warm-started from
the design it has (docs/decisions.md §4.2). It stops when
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
from dataclasses import replace
from typing import Any

import numpy as np

from heatnet.core.progress import Progress
from heatnet.optimise.build import build_model
from heatnet.optimise.evaluate import Design, check_design, evaluate
from heatnet.optimise.heuristic import seed_design
from heatnet.optimise.highs import Solver, SolveResult, SolverOptions, SolveStatus
from heatnet.optimise.infeasible import elastic_reasons
from heatnet.optimise.local import search
from heatnet.optimise.opening import LOCAL_SHARE, PRICING_RESERVE_S, Opening
from heatnet.optimise.prepare import ModelData, prepare
from heatnet.optimise.proof import (
    OPTIMAL_GAP,
    honest_bound,
    proven_state,
    relative_gap,
)
from heatnet.optimise.settle import (
    decision_values,
    rejection,
    settle,
    start_from,
    start_of,
)
from heatnet.optimise.solution import Iteration, Solution
from heatnet.optimise.steiner import polish
from heatnet.optimise.stopping import Stop, stop_on_signals
from heatnet.problem.definition import Problem

log = logging.getLogger(__name__)

DESIGN_SHARE = 0.5
"""When a bound is to be proven, the share of the runtime limit the design MIPs may use: the
rest is the relaxation's, so a first MIP that cannot finish does not leave the design unbounded."""
FINISH_SHARE = 0.05
"""At most this share of the limit proves optimal a design within the target gap but not
:data:`OPTIMAL_GAP` (HiGHS stops at the gap it is given: the tiny sample stayed at 3 × 10⁻⁴)."""


def optimise(
    problem: Problem,
    options: SolverOptions | None = None,
    *,
    progress: Progress | None = None,
    stop: Stop | None = None,
) -> Solution:
    """Find the best design of a problem within its runtime limit, and prove how good it is.

    Design first, bounds after (docs/bounds.md): the loop finds designs; then, while the proven
    gap is above ``optimiser/mip-gap`` (and :data:`OPTIMAL_GAP`) and time is left, the loop's
    model as a relaxation and then a ``discrete`` relaxation, both started from the best
    design, tighten the bound and may find a better design.

    Parameters
    ----------
    problem
        The network problem.
    options
        Threads, seed, solver log.
    progress
        Hears of the solver's incumbents and bounds, and of every priced design.

    stop
        Stop requests from the caller (e.g. a cancel button); Ctrl-C and SIGTERM make them
        too while this runs in the main thread. The first stops the search and keeps the best
        design (``interrupted``), a second aborts.

    Returns
    -------
    Solution
        Never raises for infeasible or timed-out problems: see ``state``.

    Raises
    ------
    KeyboardInterrupt
        On a second stop request, or on a first one before any design was found.
    """
    with stop_on_signals(stop or Stop()) as requests:
        search = _Search(problem, options or SolverOptions(), progress, requests)
        if problem.reasons:  # a required element cannot be served: no design can be right
            return search.infeasible(problem.reasons)
        if search.data.buildings.empty or search.data.supplies.empty:
            empty = search.nothing_to_connect()
            if empty is not None:
                return empty
        search.loop()
        if search.wants_proof():  # also when every design so far broke a rule once priced
            search.bound()
        linear = problem.parameters.pipe_model == "linear"
        if search.best is not None and search.wants_proof() and linear:
            search.prove()
        if search.close_to_optimal():  # one short try to prove it
            search.bound(gap=OPTIMAL_GAP / 2, most=FINISH_SHARE * search.budget)
        if requests.requested and search.best is None:
            raise KeyboardInterrupt  # nothing worth writing
        return search.solution()


class _Search(Opening):
    """The solve loop's MIPs and bounds, after the opening (:class:`Opening`)."""

    def infeasible(self, reasons: tuple[tuple[str, str], ...]) -> Solution:
        """The solution of a problem known to be infeasible before any MIP."""
        return Solution(
            "infeasible", None, None, None, None, None, None, self.elapsed(), 0,
            self.params.pipe_model, tuple(dict.fromkeys(reasons)), (), self.warnings,
        )  # fmt: skip

    def loop(self) -> None:
        """MIP → settle → price → corrected values → MIP again (module docstring)."""
        params, data = self.params, self.data
        began = self.elapsed()
        model = build_model(data, discrete=params.pipe_model == "discrete")
        self.build_s_per_column = (self.elapsed() - began) / max(1, _columns(data))
        log.info(
            "model: %d buildings, %d edges, %d arcs, %d supplies (%s pipes), built in %.2f s",
            len(data.buildings), len(data.edges), len(data.arcs), len(data.supplies),
            params.pipe_model, self.elapsed(),
        )  # fmt: skip
        if not self.claims_bound:
            log.warning("constraint/max-npv is not a relaxation of exact pricing: no bound")
        solver = Solver(model, self.options, self.stop)
        self.model, self.solver = model, solver
        linear = hasattr(model, "relaxing")
        if linear:
            model.relaxing = 0.0  # design iterations price pipes by the fitted line
        start: dict[str, dict[Any, float]] | None = seed_design(data)
        self.seed = start
        valid = self.construct()  # a design at once, whatever the MIPs manage in time
        self.bound_and_search(valid)
        if self.best is None:
            self.price_seed()
        if self.best is not None:  # the first MIP starts from the best design so far
            start = start_of(data, self.best)
        relaxed = not linear  # discrete pipes with optimistic values: a relaxation
        seen: set[object] = set()
        for number in range(1, params.iteration_limit + 1):
            remaining = self.design_deadline() - self.elapsed()
            if relaxed and self.claims_bound:
                # discrete pipes: this MIP is the relaxation bound() would solve again, from
                # scratch; one branch-and-bound of the whole time bounds better than two halves
                remaining = self.relaxation_time()
            if remaining <= 0 or self.stop.requested:
                break
            free = solver.solve(
                time_limit_s=remaining, mip_gap=params.mip_gap, start=start,
                listener=self.progress.solver if self.progress else None, iteration=number,
            )  # fmt: skip
            if number == 1 and not relaxed and free.status is SolveStatus.INFEASIBLE:
                # the fitted line may price a design out of a constraint/*-npv row: only the
                # relaxation can prove there is no design
                model.relaxing = 1.0
                free = solver.solve(
                    time_limit_s=self.budget - self.elapsed(), mip_gap=params.mip_gap
                )
                model.relaxing = 0.0
                relaxed = True
            self.first = self.first or free
            found = self._found(number, data, model, solver, free, relaxed=relaxed)
            relaxed = False  # settling put a design's own values into the model
            if found is None or self.stop.requested:
                break
            design, settled = found
            if design is None or settled is None:
                start = None
                continue
            change = _relative_change(settled.objective, free.objective)
            if design.key in seen or (
                change <= params.param_gap and self.history[-1].rejected is None
            ):
                break
            seen.add(design.key)
            start = start_from(settled)

    def nothing_to_connect(self) -> Solution | None:
        """No building or no supply in the network: the empty design is the only one, proven.

        None when it breaks a rule (a required supply, a constraint/min-* row): then the MIP
        decides, and proves the problem infeasible.
        """
        design = evaluate(self.data, decision_values({}))
        if check_design(self.data, design):
            return None
        self.best = design
        self.upper = design.objective
        log.info("nothing can be connected: the empty design is the only design")
        return self.solution()

    def design_deadline(self) -> float:
        """Until when (seconds into the search) the design MIPs may run.

        With a bound to prove, :data:`DESIGN_SHARE` of the limit; the relaxation gets the rest
        (and whatever the design MIPs leave).
        """
        return self.budget * (DESIGN_SHARE if self.claims_bound else 1.0)

    def bound(self, *, gap: float | None = None, most: float | None = None) -> None:
        """Solve the loop's model as a relaxation (from the best design, if any): a proven bound.

        Its optimistic values go back in (and in ``linear`` the envelope prices pipes), so its
        bound holds for every design; the design it finds is priced and kept if better. ``gap``
        and ``most`` as in :meth:`_relaxation`.
        """
        assert self.solver is not None
        with self._as_relaxation():
            self._relaxation(self.data, self.model, self.solver, gap=gap, most=most)

    def _relaxation(
        self,
        data: ModelData,
        model: Any,
        solver: Solver,
        *,
        gap: float | None = None,
        most: float | None = None,
    ) -> None:
        """A relaxation from the best design to ``gap`` (half the target), for ``most`` s at most."""
        remaining = self.relaxation_time() if most is None else min(self.relaxation_time(), most)
        if remaining <= 0:
            return
        number = len(self.history) + 1
        free = solver.solve(
            time_limit_s=remaining, mip_gap=self.target() / 2.0 if gap is None else gap,
            start=None if self.best is None else start_of(data, self.best),
            listener=self.progress.solver if self.progress else None, iteration=number,
        )  # fmt: skip
        self._found(number, data, model, solver, free, relaxed=True)

    def _found(
        self,
        number: int,
        data: ModelData,
        model: Any,
        solver: Solver,
        free: SolveResult,
        *,
        relaxed: bool,
    ) -> tuple[Design | None, SolveResult | None] | None:
        """Take a MIP's bound and design; None when the MIP has no design (stop)."""
        if relaxed and self.claims_bound and free.bound is not None and np.isfinite(free.bound):
            bound = free.bound + self.slack
            self.upper = bound if self.upper is None else min(self.upper, bound)
        if relaxed and free.status is SolveStatus.INFEASIBLE:
            self.proven_infeasible = True
        if not free.has_solution:
            self.history.append(
                Iteration(number, free.status, None, free.bound, None, None, self.elapsed(), relaxed)
            )  # fmt: skip
            return None
        design, settled, converged = settle(data, model, solver, free, self.budget - self.elapsed())
        why = rejection(data, design, converged)
        self.history.append(
            Iteration(
                number, free.status, free.objective, free.bound,
                settled.objective if settled else None,
                design.objective if design is not None and why is None else None,
                self.elapsed(), relaxed, converged, why,
            )
        )  # fmt: skip
        if why is not None:
            log.warning("iteration %d: design rejected: %s", number, why)
            self.rejected.append(why)
            return design, settled
        assert design is not None
        design = self._polish(data, design)
        if self.best is None or design.objective > self.best.objective + 1e-9:
            self.best = design
        if self.progress:
            self.progress.design(number, design.objective, self.best.objective)
        log.info(
            "iteration %d: MIP %.6g (its bound %s%s), priced %.6g, best %.6g, proven bound %s",
            number, free.objective, free.bound, ", a relaxation" if relaxed else "",
            design.objective, self.best.objective, self.upper,
        )  # fmt: skip
        return design, settled

    def _search_s(self, share: float) -> float:
        """Seconds local search may take: ``share`` of the limit, not past the design MIPs'."""
        return min(share * self.budget, self.design_deadline() - self.elapsed())

    def _polish(self, data: ModelData, design: Design) -> Design:
        """The design with its branches that do not pay pruned, if that prices better.

        A time-limited MIP's design can keep pipes that carry nothing or serve buildings that
        do not pay for them (:func:`heatnet.optimise.steiner.polish`, priced exactly, checked).
        """
        if self.budget - self.elapsed() <= PRICING_RESERVE_S:
            return design
        began = self.elapsed()
        polished = polish(data, design)
        if polished is not None and polished.valid and data is self.data:
            found = search(data, [polished], self._search_s(LOCAL_SHARE / 3.0), self._stopped)
            polished = next(found, polished)
        better = design.objective + 1e-9 * max(1.0, abs(design.objective))
        if polished is None or not polished.valid or polished.objective <= better:
            return design
        log.info(
            "design polished from %.6g to %.6g in %.2f s",
            design.objective, polished.objective, self.elapsed() - began,
        )  # fmt: skip
        return polished.design

    def target(self) -> float:
        """The proven gap at which the search may stop."""
        return max(self.params.mip_gap, OPTIMAL_GAP)

    def wants_proof(self) -> bool:
        """Whether the bound should be tightened: a gap above target, a bound to claim, time."""
        left = self.budget - self.elapsed()
        if self.stop.requested:
            return False
        if self.best is None:  # nothing kept: try the relaxation unless nothing can come of it
            return self.solver is not None and not self.proven_infeasible and left > 0
        gap = relative_gap(self.upper, self.best.objective)
        return self.claims_bound and (gap is None or gap > self.target()) and left > 0

    def close_to_optimal(self) -> bool:
        """Whether the proven gap is within the target but not yet :data:`OPTIMAL_GAP`."""
        if self.best is None or not self.claims_bound or self.stop.requested:
            return False
        gap = relative_gap(self.upper, self.best.objective)
        return gap is not None and OPTIMAL_GAP < gap <= self.target()

    def prove(self) -> None:
        """Solve a ``discrete`` relaxation from the best design: a tighter bound, maybe a design."""
        assert self.best is not None
        params = replace(self.params, pipe_model="discrete")
        data = prepare(replace(self.problem, parameters=params))
        # building a model is not interruptible: skip one that would eat the time left
        expected = self.build_s_per_column * _columns(data)
        if expected > 0.5 * (self.budget - self.elapsed()):
            log.info("proving skipped: its model would take ~%.0f s to build", expected)
            return
        began = self.elapsed()
        model = build_model(data, discrete=True)
        log.info(
            "proving: discrete relaxation with %d diameter options built in %.2f s",
            len(data.options), self.elapsed() - began,
        )  # fmt: skip
        self._relaxation(data, model, Solver(model, self.options, self.stop))

    def solution(self) -> Solution:
        """What was found, with its proven bound and gap."""
        runtime = self.elapsed()
        best, model = self.best, self.params.pipe_model
        if self.stop.requested:
            self.warnings += (
                (
                    "run_interrupted",
                    "the search was interrupted: the design written is the best found until "
                    "then, with its proven gap",
                    None,
                ),
            )
        if best is not None:
            upper = honest_bound(self.upper, best.objective)
            gap = relative_gap(upper, best.objective)
            return Solution(
                proven_state(gap), best, best.objective, best.network_npv, gap, best.objective,
                upper, runtime, len(self.history), model, (), tuple(self.history), self.warnings,
                self.stop.requested,
            )  # fmt: skip
        warnings = self.warnings + tuple(
            ("design_rejected", f"a design was found but not kept: {why}", None)
            for why in dict.fromkeys(self.rejected)
        )
        reasons: list[tuple[str, str]] = []
        if self.proven_infeasible:
            options = self.options
            reasons += elastic_reasons(
                self.data,
                solve=lambda m, limit: Solver(m, options).solve(time_limit_s=limit, mip_gap=1e-6),
                time_limit_s=max(self.budget - self.elapsed(), 10.0),
            )
            state = "infeasible"
        elif self.first is not None and self.first.status is SolveStatus.ERROR:
            state = "error"
        else:
            state = "no-solution"
        upper = None if state == "infeasible" else self.upper  # no design: nothing to bound
        return Solution(
            state, None, None, None, None, None, upper, self.elapsed(), len(self.history),
            model, tuple(dict.fromkeys(reasons)), tuple(self.history), warnings,
        )  # fmt: skip


def _columns(data: ModelData) -> int:
    """A model's size in the terms its build time scales with: arcs, edges and options."""
    return len(data.arcs) + len(data.edges) + len(data.options) + len(data.buildings)


def _relative_change(settled: float | None, free: float | None) -> float:
    if settled is None or free is None:
        return float("inf")
    return abs(settled - free) / (1.0 + abs(max(settled, free)))
