"""The one place that talks to the solver: HiGHS through Pyomo's persistent interface.

A :class:`Solver` holds a built model in HiGHS and re-solves it as the loop changes parameters
or fixes decisions (Pyomo sends only the changes). Each solve maps HiGHS' status to a
:class:`SolveStatus`, reads every variable into ``pandas`` Series keyed by the model's ids, and
never raises because a problem is infeasible or out of time.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import highspy
import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

from heatnet.core.progress import SolverUpdate

log = logging.getLogger(__name__)

VARIABLES = ("dvin", "svin", "ain", "fp", "fm", "cap", "supp", "supm", "scap", "eup", "y")
DECISIONS = ("dvin", "svin", "ain")
UPDATE_EVERY_S = 1.0
"""Periodic solver updates (bound, gap) are passed on at most this often."""

Listener = Callable[[SolverUpdate], None]
MIP_INTERRUPT = highspy.cb.HighsCallbackType.kCallbackMipInterrupt
STOP_GRACE_S = 5.0
"""After a stop request, how long HiGHS gets to stop by itself before it is left behind."""


class SolveStatus(StrEnum):
    """What a solve achieved."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no-solution"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """Solver settings (the MIP gap and time limit come from the parameters per solve)."""

    threads: int = 1
    seed: int = 0
    log_solver: bool = False


class Stop:
    """Stop requests while optimising (Ctrl-C, SIGTERM, or a caller such as a QGIS cancel).

    The first asks the search to stop and keep its best design; the second aborts (a
    ``KeyboardInterrupt`` from the signal handler: nothing is written).
    """

    def __init__(self) -> None:
        self.count = 0

    @property
    def requested(self) -> bool:
        """Whether the search should stop."""
        return self.count > 0

    def request(self) -> None:
        """Ask the search to stop (as a first Ctrl-C does)."""
        self.count += 1


@contextlib.contextmanager
def stop_on_signals(stop: Stop) -> Iterator[Stop]:
    """Route Ctrl-C and SIGTERM to ``stop`` while the block runs (main thread only).

    The first signal sets the request (logged); a second raises ``KeyboardInterrupt`` at
    once. Signals a parent ignored stay ignored; other threads (a batch worker) get no
    handlers and are stopped by their process.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(_signum: int, _frame: object) -> None:
        stop.request()
        if stop.count == 1:
            log.warning(
                "interrupted: stopping the search, the best design so far will be written "
                "(interrupt again to abort without writing)"
            )
            return
        log.error("interrupted again: aborting, nothing written")
        raise KeyboardInterrupt

    previous = {
        s: signal.signal(s, handler)
        for s in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(s) is not signal.SIG_IGN
    }
    try:
        yield stop
    finally:
        for s, old_handler in previous.items():
            signal.signal(s, old_handler)


class _Abandoned(Exception):
    """HiGHS did not stop within the grace period after a stop request."""


@dataclass(frozen=True, slots=True)
class SolveResult:
    """One solve.

    Attributes
    ----------
    status
        Mapped status; ``feasible`` means a solution within a limit (gap not proven).
    termination
        HiGHS' own words.
    objective, bound
        Incumbent objective and best bound (None when unknown).
    gap
        Relative gap |bound − objective| / max(1, |objective|) (None when unknown).
    runtime_s
        Wall time of this solve.
    values
        Variable values by name (:data:`VARIABLES` present in the model).
    """

    status: SolveStatus
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    runtime_s: float
    values: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        """Whether values are available."""
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def _log_highs(event: Any) -> None:
    """A HiGHS log message, to the log at DEBUG (``--log FILE`` keeps it)."""
    for line in str(event.message).splitlines():
        if line.strip():
            log.debug("highs: %s", line)


class Solver:
    """A model loaded into HiGHS, solved again and again.

    Parameters
    ----------
    model
        The Pyomo model (kept and updated by the caller: parameters, fixed variables).
    options
        Threads, seed, whether to echo the solver log.
    """

    def __init__(
        self, model: pyo.ConcreteModel, options: SolverOptions, stop: Stop | None = None
    ) -> None:
        self.model = model
        self.options = options
        self.stop = stop or Stop()
        self.abandoned = False
        self._interruptible_now = True
        self._solver: Any = SolverFactory("highs")
        self._loaded = False
        self._fixed = np.zeros(0, dtype=np.int32)
        self._listener: Listener | None = None
        self._iteration = 0
        self._last_update = 0.0
        self._last: SolverUpdate | None = None
        self._bound: float | None = None
        self._incumbent: float | None = None

    def solve(
        self,
        *,
        time_limit_s: float,
        mip_gap: float,
        start: dict[str, dict[Any, float]] | None = None,
        listener: Listener | None = None,
        iteration: int = 0,
        interruptible: bool = True,
    ) -> SolveResult:
        """Solve with a time limit and gap, optionally from a start (values by variable name).

        A start may give only the binaries: HiGHS completes it with an LP, and ignores it if it
        is infeasible. ``listener`` hears of every new incumbent and, at most every
        :data:`UPDATE_EVERY_S`, of the bound and gap (tagged with ``iteration``).

        A stop request (:class:`Stop`) makes an ``interruptible`` solve end at HiGHS' next check,
        with its incumbent if it has one; if HiGHS does not check within :data:`STOP_GRACE_S`
        it is left running in its thread and the result has no solution (the solver is
        ``abandoned``: no further solves). Short LPs (settling a design) pass
        ``interruptible=False`` so that a design found before the request can be priced.
        """
        m = self.model
        began = time.perf_counter()
        if self.abandoned:
            return SolveResult(SolveStatus.NO_SOLUTION, "abandoned", None, None, None, 0.0)
        options = {
            "random_seed": self.options.seed,
            "mip_rel_gap": float(mip_gap),
            "presolve": "on",
        }
        config: dict[str, Any] = {
            "load_solutions": False,
            "raise_exception_on_nonoptimal_result": False,
            "time_limit": max(float(time_limit_s), 0.01),
            "threads": self.options.threads,
            "solver_options": options,
            "tee": False,  # the log reaches heatnet through _log_highs
        }
        self._listener, self._iteration, self._bound = listener, iteration, None
        self._last = None
        self._last_update = time.perf_counter()
        self._incumbent = None
        self._interruptible_now = interruptible
        try:
            if self._loaded:  # only mutable parameters change after the build: send just those
                self._solver.update_parameters()
            self._load()
            # loading and updating count against the limit: it covers the whole solve
            spent = time.perf_counter() - began
            config["time_limit"] = max(float(time_limit_s) - spent, 0.01)
            results = self._run(m, config, start)
        except _Abandoned:
            self.abandoned = True
            log.warning("the solver did not stop within %.0f s: left behind", STOP_GRACE_S)
            return SolveResult(
                SolveStatus.NO_SOLUTION, "interrupted", None, None, None,
                time.perf_counter() - began,
            )  # fmt: skip
        except Exception as exc:  # the solver's own failures become a status, not a traceback
            log.exception("solver failed")
            return SolveResult(
                SolveStatus.ERROR, str(exc), None, None, None, time.perf_counter() - began
            )
        return self._result(results, time.perf_counter() - began)

    def fix(self, values: dict[str, pd.Series], names: tuple[str, ...] = DECISIONS) -> None:
        """Fix binaries to a solution's rounded values, in HiGHS directly.

        Pyomo's ``var.fix()`` makes its persistent interface re-scan the model on the next
        update (33 s at 2,000 buildings); changing the column bounds in HiGHS takes
        milliseconds. :meth:`unfix` restores the bounds before Pyomo sees the model again.
        """
        self._load()
        cols, vals = self._columns(
            {name: values[name].to_dict() if name in values else {} for name in names},
            everywhere=True,
        )
        vals = [1.0 if v > 0.5 else 0.0 for v in vals]
        self._fixed = np.array(cols, dtype=np.int32)
        if len(cols):
            value = np.array(vals, dtype=np.float64)
            self._solver._solver_model.changeColsBounds(len(cols), self._fixed, value, value)

    def unfix(self) -> None:
        """Give the fixed binaries their 0–1 bounds back."""
        cols = self._fixed
        if len(cols):
            n = len(cols)
            self._solver._solver_model.changeColsBounds(n, cols, np.zeros(n), np.ones(n))
        self._fixed = np.zeros(0, dtype=np.int32)

    def _run(self, m: pyo.ConcreteModel, config: dict[str, Any], start: Any) -> Any:
        """Solve through Pyomo, giving HiGHS the start right before it runs.

        Pyomo's ``solve`` updates the model first, which drops a start set earlier (HiGHS then
        starts without an incumbent), so the start is set inside the solver's own run step.
        """
        if not start:
            return self._solver.solve(m, **config)
        run = self._solver._solve

        def run_with_start() -> Any:
            self._set_start(start)
            return run()

        self._solver._solve = run_with_start
        try:
            return self._solver.solve(m, **config)
        finally:
            del self._solver._solve  # the class's own method again

    def _load(self) -> None:
        """Load the model into HiGHS once."""
        if self._loaded:
            return
        self._solver.set_instance(self.model)
        # HiGHS prints warnings (e.g. zero coefficients from a zero loss) straight to the
        # console while Pyomo updates the model: keep it quiet unless asked
        highs = self._solver._solver_model
        highs.setOptionValue("output_flag", self.options.log_solver)
        # HiGHS' own log (and its warnings while Pyomo updates the model) goes to heatnet's log,
        # never to stdout, which belongs to the command's closing lines
        highs.setOptionValue("log_to_console", False)
        highs.cbLogging.subscribe(_log_highs)
        highs.cbMipImprovingSolution.subscribe(self._on_improved)
        highs.cbMipInterrupt.subscribe(self._on_interrupt)
        highs.cbSimplexInterrupt.subscribe(self._on_interrupt)
        highs.cbIpmInterrupt.subscribe(self._on_interrupt)
        native_run = highs.run
        highs.run = lambda: self._watched_run(native_run)  # Pyomo calls highs.run()
        self._loaded = True

    def _watched_run(self, native_run: Callable[[], Any]) -> Any:
        """Run HiGHS in a thread while this (main) thread handles signals and heartbeats."""
        if threading.current_thread() is not threading.main_thread():
            return native_run()
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["status"] = native_run()
            except BaseException as exc:  # re-raised in the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=target, name="highs", daemon=True)
        thread.start()
        deadline: float | None = None
        while thread.is_alive():
            thread.join(0.1)
            if self.stop.requested and self._interruptible_now:
                deadline = deadline or time.perf_counter() + STOP_GRACE_S
                if time.perf_counter() > deadline:
                    raise _Abandoned
            else:
                self._heartbeat()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("status")

    def _heartbeat(self) -> None:
        """Repeat the last solver state when HiGHS has said nothing for a while."""
        now = time.perf_counter()
        if self._listener is None or now - self._last_update < UPDATE_EVERY_S:
            return
        self._last_update = now
        last = self._last or SolverUpdate(self._iteration, None, None, None, 0, improved=False)
        self._send(replace(last, improved=False))

    def _on_interrupt(self, event: Any) -> None:
        if self.stop.requested and self._interruptible_now:
            event.data_in.user_interrupt = True
            return
        if event.callback_type != MIP_INTERRUPT:
            return
        now = time.perf_counter()
        if self._listener is not None and now - self._last_update >= UPDATE_EVERY_S:
            self._last_update = now
            self._notify(event.data_out, improved=False)

    def _on_improved(self, event: Any) -> None:
        # HiGHS reports a solution again when it re-finds it (e.g. the start, after presolve)
        objective = _finite(event.data_out.objective_function_value)
        if self._listener is None or objective is None:
            return
        last = self._incumbent
        if last is None or abs(objective - last) > 1e-9 * max(1.0, abs(last)):
            self._incumbent = objective
            self._notify(event.data_out, improved=True)

    def _notify(self, out: Any, *, improved: bool) -> None:
        """Pass a solver update on; a listener's failure is logged, never raised into HiGHS.

        A new incumbent is reported with the last bound an interrupt saw (HiGHS gives the
        incumbent itself as the bound of a solution found before the root is solved).
        """
        if improved:
            incumbent, bound = _finite(out.objective_function_value), self._bound
        else:
            incumbent, bound = _finite(out.mip_primal_bound), _finite(out.mip_dual_bound)
            self._bound = bound
        gap = None
        if incumbent is not None and bound is not None:
            gap = abs(bound - incumbent) / max(1.0, abs(incumbent))
        self._last = SolverUpdate(
            self._iteration, incumbent, bound, gap, int(out.mip_node_count), improved
        )
        self._send(self._last)

    def _send(self, update: SolverUpdate) -> None:
        """Pass an update on; a listener's failure is logged, never raised into HiGHS."""
        if self._listener is None:
            return
        try:
            self._listener(update)
        except Exception:
            log.exception("progress listener failed")

    def _columns(
        self, values: Mapping[str, Mapping[Any, float]], *, everywhere: bool
    ) -> tuple[list[int], list[float]]:
        """HiGHS column indices and values of free model variables, by variable name.

        ``everywhere``: every index of each variable (missing values count as 0); otherwise
        only the indices given.
        """
        index_of = self._solver._pyomo_var_to_solver_var_map
        cols: list[int] = []
        vals: list[float] = []
        for name, by_key in values.items():
            var = getattr(self.model, name, None)
            if var is None:
                continue
            keys = list(var.keys()) if everywhere else [k for k in by_key if k in var]
            for key in keys:
                v = var[key]
                if not v.fixed and id(v) in index_of:
                    cols.append(index_of[id(v)])
                    vals.append(float(by_key.get(key, 0.0)))
        return cols, vals

    def _set_start(self, start: dict[str, dict[Any, float]]) -> None:
        cols, vals = self._columns(start, everywhere=False)
        if cols:  # HiGHS itself: Pyomo has no MIP start for it
            self._solver._solver_model.setSolution(
                len(cols), np.array(cols, dtype=np.int32), np.array(vals, dtype=np.float64)
            )

    def _result(self, results: Any, runtime_s: float) -> SolveResult:
        tc = results.termination_condition
        has = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
        if tc == TerminationCondition.convergenceCriteriaSatisfied and has:
            status = SolveStatus.OPTIMAL
        elif tc in (
            TerminationCondition.provenInfeasible,
            TerminationCondition.infeasibleOrUnbounded,
        ):
            status = SolveStatus.INFEASIBLE
        elif tc == TerminationCondition.error:
            status = SolveStatus.ERROR
        elif has:
            status = SolveStatus.FEASIBLE
        else:
            status = SolveStatus.NO_SOLUTION
        objective = results.incumbent_objective if has else None
        bound = results.objective_bound
        gap = None
        if objective is not None and bound is not None and np.isfinite(bound):
            gap = abs(bound - objective) / max(1.0, abs(objective))
        values: dict[str, pd.Series] = {}
        if has:
            results.solution_loader.load_vars()
            for name in VARIABLES:
                var = getattr(self.model, name, None)
                if var is not None:
                    values[name] = pd.Series(
                        {k: (v.value if v.value is not None else 0.0) for k, v in var.items()},
                        dtype=float,
                    )
        log.info(
            "solve: %s (%s) objective %s bound %s in %.2f s",
            status,
            tc.name,
            "-" if objective is None else f"{objective:.6g}",
            "-" if bound is None else f"{bound:.6g}",
            runtime_s,
        )
        return SolveResult(status, tc.name, objective, bound, gap, runtime_s, values)


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) and abs(value) < 1e30 else None
