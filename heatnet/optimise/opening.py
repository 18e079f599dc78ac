"""The opening of a search: designs within seconds, then a proven bound before any MIP.

Before the solve loop's first MIP (:mod:`heatnet.optimise.loop`), the prize-collecting Steiner
constructions (:mod:`heatnet.optimise.steiner`) are priced exactly, the relaxation's LP is solved
for a bound proven from its duals (:mod:`heatnet.optimise.dual_bound`), and local search
(:mod:`heatnet.optimise.local`) improves the constructions; with two threads or more on a large
model the LP runs in a process of its own (:mod:`heatnet.optimise.lp_apart`) beside the search.
docs/bounds.md, step 0, has the figures. :class:`Opening` holds the search's state; the loop's
class extends it with the MIPs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from heatnet.core.progress import Progress
from heatnet.optimise.evaluate import Design
from heatnet.optimise.highs import STOP_GRACE_S, Solver, SolveResult, SolverOptions, SolveStatus
from heatnet.optimise.local import search
from heatnet.optimise.lp_apart import LpApart
from heatnet.optimise.prepare import ModelData, prepare
from heatnet.optimise.proof import curve_slack, trivial_bound
from heatnet.optimise.settle import decision_values, rejection, settle
from heatnet.optimise.solution import Iteration
from heatnet.optimise.steiner import Priced, constructions
from heatnet.optimise.stopping import Stop
from heatnet.optimise.tune import reset_parameters
from heatnet.problem.definition import Problem

log = logging.getLogger(__name__)

PRICING_RESERVE_S = 5.0
"""The proving MIP stops this long (at most 5 % of the limit) before it, to price its design."""
LP_LEAVES = 0.125
"""The share of the runtime limit the LP bound leaves for local search and pricing."""
LOCAL_SHARE = 0.25
"""The share of the runtime limit local search from the constructions (each in turn, best first)
may use at most (it stops sooner when no move pays); each MIP design's gets a third of it."""
APART_FROM_ARCS = 2_000
"""With two threads or more, models of at least this many arcs solve the LP bound in a process of
their own while local search runs (:meth:`Opening.bound_and_search`): starting it costs ~1 s,
which a small model's LP (the district's: under a second) does not repay. Measured
(docs/bounds.md, step 0): the 2,000-building grid (4,760 arcs) and the 10,000-building grid
(23,208)."""


class Opening:
    """The state of one optimisation (models, best design, proven bound) and its opening."""

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

    def _keep(self, design: Design) -> None:
        """Keep a valid design found before any MIP if it is the best so far."""
        if self.best is None or design.objective > self.best.objective + 1e-9:
            self.best = design
            if self.progress:
                self.progress.design(0, design.objective, design.objective)

    def _stopped(self) -> bool:
        return self.stop.requested


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
