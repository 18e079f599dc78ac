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

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from heatnet.core.progress import Progress
from heatnet.optimise.build import build_model
from heatnet.optimise.evaluate import Design, check_design, evaluate
from heatnet.optimise.heuristic import seed_design
from heatnet.optimise.highs import STOP_GRACE_S, Solver, SolveResult, SolverOptions, SolveStatus
from heatnet.optimise.infeasible import elastic_reasons
from heatnet.optimise.local import search
from heatnet.optimise.lp_apart import LpApart
from heatnet.optimise.prepare import ModelData, prepare
from heatnet.optimise.proof import (
    OPTIMAL_GAP,
    curve_slack,
    honest_bound,
    proven_state,
    relative_gap,
    trivial_bound,
)
from heatnet.optimise.settle import (
    decision_values,
    rejection,
    settle,
    start_from,
    start_of,
)
from heatnet.optimise.solution import Iteration, Solution
from heatnet.optimise.steiner import Priced, constructions, polish
from heatnet.optimise.stopping import Stop, stop_on_signals
from heatnet.optimise.tune import reset_parameters
from heatnet.problem.definition import Problem

log = logging.getLogger(__name__)

DESIGN_SHARE = 0.5
"""When a bound is to be proven, the share of the runtime limit the design MIPs may use: the
rest is the relaxation's, so a first MIP that cannot finish does not leave the design unbounded."""
PRICING_RESERVE_S = 5.0
"""The proving MIP stops this long (at most 5 % of the limit) before it, to price its design."""
LP_LEAVES = 0.125
"""The share of the runtime limit the LP bound leaves for local search and pricing."""
FINISH_SHARE = 0.05
"""At most this share of the limit proves optimal a design within the target gap but not
:data:`OPTIMAL_GAP` (HiGHS stops at the gap it is given: the tiny sample stayed at 3 × 10⁻⁴)."""
APART_FROM_ARCS = 2_000
"""With two threads or more, models of at least this many arcs solve the LP bound in a process of
their own while local search runs (:meth:`_Search.bound_and_search`): starting it costs ~1 s,
which a small model's LP (the district's: under a second) does not repay. Measured
(docs/bounds.md, step 0): the 2,000-building grid (4,760 arcs) and the 10,000-building grid
(23,208)."""
LOCAL_SHARE = 0.25
"""The share of the runtime limit local search from the constructions (each in turn, best first)
may use at most (it stops sooner when no move pays); each MIP design's gets a third of it."""


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


class _Search:
    """The state of one optimisation: the models, the best design and the proven bound."""

    def __init__(
        self, problem: Problem, options: SolverOptions, progress: Progress | None, stop: Stop
    ) -> None:
        self.stop = stop
        self.began = time.perf_counter()
        self.problem, self.options, self.progress = problem, options, progress
        self.params = problem.parameters
        self.budget = self.params.runtime_limit_h * 3600.0
        self.data = prepare(problem)
        self.warnings = _left_out(self.data)
        self.claims_bound = self.params.max_npv is None
        self.slack = curve_slack(self.data)
        self.best: Design | None = None
        self.upper: float | None = trivial_bound(self.data) if self.claims_bound else None
        self.proven_infeasible = False
        self.first: SolveResult | None = None
        self.history: list[Iteration] = []
        self.rejected: list[str] = []
        self.build_s_per_column = 0.0
        self.model: Any = None
        self.seed: dict[str, dict[Any, float]] | None = None
        self.solver: Solver | None = None

    def elapsed(self) -> float:
        """Seconds since the search began."""
        return time.perf_counter() - self.began

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

    def construct(self) -> list[Priced]:
        """Price the prize-collecting Steiner constructions (:mod:`heatnet.optimise.steiner`).

        Each is priced exactly and checked; a valid one better than the best design is kept, so
        the written design is never worse than these simple designs. Returns the valid ones,
        best first, for :meth:`improve`.
        """
        if self.stop.requested or self.data.buildings.empty or self.data.supplies.empty:
            return []
        valid = []
        for built in constructions(self.data):  # best first
            if not built.valid:
                log.info("construction not kept: %s", "; ".join(built.problems))
                continue
            log.info("construction priced at %.6g", built.objective)
            self._keep(built.design)
            valid.append(built)
        return valid

    def improve(self, valid: list[Priced]) -> None:
        """Local search (:mod:`heatnet.optimise.local`) from each valid construction, the best first.

        At most :data:`LOCAL_SHARE` of the runtime limit in all, and never past the limit less
        the time to price (after a long LP bound the design MIPs' share may be spent already).
        """
        began = self.elapsed()
        seconds = min(
            LOCAL_SHARE * self.budget, self.budget - self.elapsed() - self.pricing_reserve()
        )
        # from the other construction it can end higher (the district: 1,196,191 against 1,182,636)
        for found in search(self.data, valid, seconds, self._stopped):
            self._keep(found.design)
        if valid:
            log.info("local search: %.2f s", self.elapsed() - began)

    def bound_and_search(self, valid: list[Priced]) -> None:
        """The LP bound (a proven bound before anything else spends the time), local search.

        With two threads or more on a model of at least :data:`APART_FROM_ARCS` arcs, the LP
        runs in a process of its own (:mod:`heatnet.optimise.lp_apart`) while the search runs
        here: :meth:`search_beside`. Otherwise one after the other.
        """
        apart = self._lp_apart() if self.options.threads >= 2 and valid else None
        if apart is None:
            self.lp_bound()
            self.improve(valid)
        else:
            self.search_beside(valid, apart)

    def _lp_apart(self) -> LpApart | None:
        """:meth:`lp_bound`'s LP started in a child process; None when not worth it or not possible."""
        remaining = self._lp_time(LP_LEAVES)
        if remaining is None or self.solver is None or len(self.data.arcs) < APART_FROM_ARCS:
            return None
        with self._as_relaxation():
            lp = self.solver.relaxation_lp()
        try:
            return LpApart(lp, remaining)
        except (OSError, ValueError, TypeError) as exc:  # TypeError: no sys.executable (embedded)
            log.warning("the LP bound cannot run in a process of its own (%s): solved here", exc)
            return None

    def search_beside(self, valid: list[Priced], apart: LpApart) -> None:
        """Local search while the LP bound is solved in its child process.

        The search may go on while the LP runs, past its own share (:data:`LOCAL_SHARE`) but not
        past the LP's time, and stops once both are spent (or at a stop request, which is passed
        on to the LP: the duals it reached still prove a bound). If the child could not solve
        (it died, say), the LP is solved here in the time left.
        """
        began = self.elapsed()
        share = LOCAL_SHARE * self.budget
        lp_end = (1.0 - LP_LEAVES) * self.budget
        seconds = min(max(share, lp_end - began), self.budget - began - self.pricing_reserve())

        def stopped() -> bool:
            spent = self.elapsed() - began >= share
            return self.stop.requested or (spent and apart.done())

        try:
            for found in search(self.data, valid, seconds, stopped):
                self._keep(found.design)
        except BaseException:  # a second Ctrl-C (or a failure): the LP must not outlive it
            apart.kill()
            raise
        log.info("local search: %.2f s (beside the LP bound)", self.elapsed() - began)
        lp = apart.result(self.stop, STOP_GRACE_S)
        if lp.bound is not None:
            self._take_lp_bound(lp.bound, lp.runtime_s, f"{lp.termination}, own process")
        elif lp.termination == "error" and not self.stop.requested:
            log.warning("the LP bound's process failed: solving it here")
            self.lp_bound(leave=self.pricing_reserve() / self.budget)  # the search is done
        else:
            log.info("LP relaxation: no bound (%s) in %.1f s", lp.termination, lp.runtime_s)

    def price_seed(self) -> None:
        """Price the shortest-path seed design before any MIP, if no construction was valid.

        It is settled like a MIP's design (so its flows and diameters agree), checked by
        :func:`heatnet.optimise.evaluate.check_design` and kept as the best design if valid; it
        is not a MIP, so it is not in the history. The model's values are put back to the
        optimistic ones afterwards (the first MIP is as it would be without it).
        """
        if self.seed is None or self.solver is None or self.solver.abandoned or self.stop.requested:
            return
        free = SolveResult(
            SolveStatus.FEASIBLE, "seed design", None, None, None, 0.0, decision_values(self.seed)
        )
        try:
            design, _, converged = settle(
                self.data, self.model, self.solver, free, self.budget - self.elapsed()
            )
        finally:
            reset_parameters(self.model, self.data)
        why = rejection(self.data, design, converged)
        if why is not None or design is None:
            log.info("seed design not kept: %s", why)
            return
        self.best = design
        if self.progress:
            self.progress.design(0, design.objective, design.objective)
        log.info("seed design priced at %.6g", design.objective)

    def bound(self, *, gap: float | None = None, most: float | None = None) -> None:
        """Solve the loop's model as a relaxation (from the best design, if any): a proven bound.

        Its optimistic values go back in (and in ``linear`` the envelope prices pipes), so its
        bound holds for every design; the design it finds is priced and kept if better. ``gap``
        and ``most`` as in :meth:`_relaxation`.
        """
        assert self.solver is not None
        with self._as_relaxation():
            self._relaxation(self.data, self.model, self.solver, gap=gap, most=most)

    @contextlib.contextmanager
    def _as_relaxation(self) -> Iterator[None]:
        """The loop's model as a relaxation of exact pricing while inside.

        Its optimistic values go back in, and in ``linear`` the envelope prices pipes (the
        fitted line again on leaving; the optimistic values stay).
        """
        reset_parameters(self.model, self.data)
        linear = hasattr(self.model, "relaxing")
        if linear:
            self.model.relaxing = 1.0
        try:
            yield
        finally:
            if linear:
                self.model.relaxing = 0.0

    def relaxation_time(self) -> float:
        """Seconds a relaxation may take: what is left, less the time to price its design."""
        return self.budget - self.elapsed() - self.pricing_reserve()

    def pricing_reserve(self) -> float:
        """Seconds kept at the end of the limit to price a design."""
        return min(PRICING_RESERVE_S, 0.05 * self.budget)

    def lp_bound(self, leave: float = LP_LEAVES) -> None:
        """The relaxation's LP relaxation: a bound proven from its duals (interior point).

        Solved once, right after the constructions and before local search and the MIPs, in
        at most the limit less ``leave`` of it (:data:`LP_LEAVES`: for local search and pricing).
        On the 10,000-building grid it is the only bound a 600 s run proves (docs/bounds.md,
        step 0); the smaller of it and a later MIP's bound is kept. No design comes of it. An
        LP cut short (time limit, stop request) still proves the bound of the duals it reached.
        """
        remaining = self._lp_time(leave)
        if remaining is None or self.solver is None:
            return
        with self._as_relaxation():
            lp = self.solver.solve(time_limit_s=remaining, mip_gap=0.0, relax=True)
        if lp.bound is not None and np.isfinite(lp.bound):  # proven from its duals
            self._take_lp_bound(lp.bound, lp.runtime_s, lp.termination)
        elif lp.status is SolveStatus.INFEASIBLE and self.best is None:
            self.proven_infeasible = True
        else:
            log.info("LP relaxation: no bound (%s) in %.1f s", lp.termination, lp.runtime_s)

    def _lp_time(self, leave: float) -> float | None:
        """Seconds the LP bound may take (the limit less ``leave`` of it); None: no LP bound."""
        if not self.claims_bound or self.stop.requested:
            return None
        remaining = self.budget - self.elapsed() - leave * self.budget
        return remaining if remaining > 0 else None

    def _take_lp_bound(self, bound: float, runtime_s: float, how: str) -> None:
        """Keep an LP bound (proven from its duals), with the curve slack, if it is smaller."""
        bound += self.slack
        self.upper = bound if self.upper is None else min(self.upper, bound)
        log.info("LP relaxation: bound %.6g in %.1f s (%s)", bound, runtime_s, how)

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

    def _keep(self, design: Design) -> None:
        """Keep a valid design found before any MIP if it is the best so far."""
        if self.best is None or design.objective > self.best.objective + 1e-9:
            self.best = design
            if self.progress:
                self.progress.design(0, design.objective, design.objective)

    def _search_s(self, share: float) -> float:
        """Seconds local search may take: ``share`` of the limit, not past the design MIPs'."""
        return min(share * self.budget, self.design_deadline() - self.elapsed())

    def _stopped(self) -> bool:
        return self.stop.requested

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


def _left_out(data: ModelData) -> tuple[tuple[str, str, str | None], ...]:
    """Warnings about buildings no catalogue pipe can carry (they cannot be connected)."""
    b = data.buildings
    big = b[b["too_big"].to_numpy(bool)]
    names = data.problem.buildings["building_id"].astype(str)
    top = float(data.problem.catalogue.max_capacity_kw)
    return tuple(
        (
            "building_exceeds_largest_pipe",
            f"building {names[v]}: its peak {peak:.6g} kW is more than the largest pipe in "
            f"civil_costs carries ({top:.6g} kW): it cannot be connected",
            str(names[v]),
        )
        for v, peak in zip(big.index, big["given_peak_kw"].to_numpy(float), strict=True)
    )


def _relative_change(settled: float | None, free: float | None) -> float:
    if settled is None or free is None:
        return float("inf")
    return abs(settled - free) / (1.0 + abs(max(settled, free)))
