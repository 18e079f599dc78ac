"""The one place that talks to the solver: HiGHS, through highspy's public API.

A :class:`Solver` reads a built Pyomo model once through Pyomo's public API (each active row
by :func:`pyomo.repn.generate_standard_repn`), hands HiGHS the matrices and keeps the column of
every variable itself. Numbers that depend on mutable parameters are kept as Pyomo expressions:
before each solve the parameters that changed are found and only the coefficients, row bounds
and costs that use them are sent again; changed variable bounds are sent too, and a variable
fixed or unfixed in Pyomo reloads the model. (Components added or deactivated after the first
solve are not seen: the optimiser changes parameters only.)

Each solve runs HiGHS in a thread while the calling thread handles signals and heartbeats, maps
HiGHS' status to a :class:`SolveStatus`, reads every variable back (into the Pyomo model and
into ``pandas`` Series keyed by the model's ids), and never raises because a problem is
infeasible or out of time. A stop request (:class:`heatnet.optimise.stopping.Stop`) reaches
HiGHS through its interrupt callbacks. HiGHS' log goes to heatnet's log, never to stdout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, cast

import highspy
import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.common.tee import capture_output

from heatnet.core.progress import SolverUpdate
from heatnet.optimise.dual_bound import FOR_DUALS, SparseLp, from_highs, lp_dual_bound
from heatnet.optimise.highs_model import LoadedModel, check
from heatnet.optimise.solve_result import TERMINATION, SolveResult, SolverOptions, SolveStatus
from heatnet.optimise.stopping import Stop

log = logging.getLogger(__name__)

__all__ = [  # what other modules use; the result types are solve_result's, re-exported
    "STOP_GRACE_S", "UPDATE_EVERY_S", "SolveResult", "SolveStatus", "Solver", "SolverOptions",
]  # fmt: skip

VARIABLES = ("dvin", "svin", "ain", "fp", "fm", "cap", "supp", "supm", "scap", "eup", "y")
DECISIONS = ("dvin", "svin", "ain")
UPDATE_EVERY_S = 1.0
"""Periodic solver updates (bound, gap) are passed on at most this often."""

Listener = Callable[[SolverUpdate], None]
MIP_INTERRUPT = highspy.cb.HighsCallbackType.kCallbackMipInterrupt
STOP_GRACE_S = 5.0
"""After a stop request, how long HiGHS gets to stop by itself before it is left behind."""
_FOR_MIP = (("solver", "choose"), ("run_crossover", "on"), ("presolve", "on"))
"""HiGHS' defaults for the options :data:`~heatnet.optimise.dual_bound.FOR_DUALS` changes, set on
every other solve (the relaxation's LP gets those on a copy of its own)."""
START_WORDS = ("mip start", "user-supplied", "usercolvalues", "solution has", "cannot yield")
"""HiGHS log lines about a MIP start contain one of these (lower case): kept as its reasons."""


class _Abandoned(Exception):
    """HiGHS did not stop within the grace period after a stop request."""


class Solver:
    """A model loaded into HiGHS, solved again and again.

    Parameters
    ----------
    model
        The Pyomo model (kept and updated by the caller: parameters, variable bounds).
    options
        Threads, seed, whether the solver log goes to heatnet's log.
    stop
        Stop requests (the search's own, shared with the signal handlers).
    """

    def __init__(
        self, model: pyo.ConcreteModel, options: SolverOptions, stop: Stop | None = None
    ) -> None:
        self.model = model
        self.options = options
        self.stop = stop or Stop()
        self.abandoned = False
        self._interruptible_now = True
        self._highs: highspy.Highs | None = None
        self._loaded: LoadedModel | None = None
        self._fixed_cols = np.zeros(0, dtype=np.int32)
        self._fixed_vals = np.zeros(0)
        self._listener: Listener | None = None
        self._iteration = 0
        self._last_update = 0.0
        self._last: SolverUpdate | None = None
        self._bound: float | None = None
        self._incumbent: float | None = None
        self._notes: list[str] | None = None  # HiGHS' words about a MIP start
        self._start_cols = np.zeros(0, dtype=np.int32)
        self._start_vals = np.zeros(0)
        self._start_seen = False
        self._start_refused = False
        self._improved = 0

    def solve(
        self,
        *,
        time_limit_s: float,
        mip_gap: float,
        start: dict[str, dict[Any, float]] | None = None,
        listener: Listener | None = None,
        iteration: int = 0,
        interruptible: bool = True,
        relax: bool = False,
    ) -> SolveResult:
        """Solve with a time limit and gap, optionally from a start (values by variable name).

        ``relax`` solves the LP relaxation instead (integrality dropped): its optimum is the
        result's bound, and its values are fractional (no design).

        A start may give only the binaries: HiGHS completes it with an LP, and ignores it if it
        is infeasible (logged at INFO with HiGHS' reason). ``listener`` hears of every new
        incumbent and, at most every :data:`UPDATE_EVERY_S`, of the bound and gap (tagged
        with ``iteration``).

        A stop request (:class:`Stop`) makes an ``interruptible`` solve end at HiGHS' next check,
        with its incumbent if it has one; if HiGHS does not check within :data:`STOP_GRACE_S`
        it is left running in its thread and the result has no solution (the solver is
        ``abandoned``: no further solves). Short LPs (settling a design) pass
        ``interruptible=False`` so that a design found before the request can be priced.
        """
        began = time.perf_counter()
        if self.abandoned:
            return SolveResult(SolveStatus.NO_SOLUTION, "abandoned", None, None, None, 0.0)
        self._listener, self._iteration, self._bound = listener, iteration, None
        self._last = None
        self._last_update = time.perf_counter()
        self._incumbent = None
        self._interruptible_now = interruptible
        try:
            highs = self._sync()
            if relax:  # a copy: HiGHS' interior point counts the instance's earlier runs
                highs = self._lp_copy(highs)  # against its time limit (measured, 1.16)
            # loading and updating count against the limit: it covers the whole solve
            spent = time.perf_counter() - began
            for name, value in (
                ("time_limit", max(float(time_limit_s) - spent, 0.01)),
                ("mip_rel_gap", float(mip_gap)),
                ("random_seed", int(self.options.seed)),
                ("threads", int(self.options.threads)),
                # the LP relaxation is solved for its duals, which prove its bound even when
                # it is cut short (dual_bound.FOR_DUALS); a MIP with HiGHS' defaults
                *(FOR_DUALS if relax else _FOR_MIP),
            ):
                check(highs.setOptionValue(name, value), f"option {name}")
            self._set_start(highs, None if relax else start)
            self._run(highs)
            if start and not relax and not self._consistent(highs):
                # HiGHS (1.16) can return a MIP start as its optimum with the objective of
                # another solution: solve again from nothing in the time left
                log.warning(
                    "HiGHS returned a solution that does not match its objective: "
                    "solving again without the MIP start"
                )
                highs.clearSolver()
                self._set_start(highs, None)
                limit = max(float(time_limit_s) - (time.perf_counter() - began), 0.01)
                check(highs.setOptionValue("time_limit", limit), "option time_limit")
                self._run(highs)
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
        return self._result(highs, time.perf_counter() - began, relax=relax)

    def relaxation_lp(self) -> SparseLp:
        """The loaded model's LP relaxation as arrays (fixed columns included), to solve apart."""
        return from_highs(self._sync().getLp())

    def fix(self, values: dict[str, pd.Series], names: tuple[str, ...] = DECISIONS) -> None:
        """Fix binaries to a solution's rounded values, in HiGHS only (column bounds).

        The Pyomo model is not touched (fixing there would reload the model); :meth:`unfix`
        gives the columns their bounds back.
        """
        highs = self._sync()
        self.unfix()
        cols, vals = self._columns(
            {name: values[name].to_dict() if name in values else {} for name in names},
            everywhere=True,
        )
        self._fixed_cols = np.array(cols, dtype=np.int32)
        self._fixed_vals = np.array([1.0 if v > 0.5 else 0.0 for v in vals], dtype=np.float64)
        self._apply_fixed(highs)

    def unfix(self) -> None:
        """Give the fixed binaries their bounds (Pyomo's) back."""
        cols = self._fixed_cols
        if len(cols) and self._highs is not None and self._loaded is not None:
            lower, upper = self._loaded.lower[cols], self._loaded.upper[cols]
            check(self._highs.changeColsBounds(len(cols), cols, lower, upper), "bounds")
        self._fixed_cols = np.zeros(0, dtype=np.int32)
        self._fixed_vals = np.zeros(0)

    def _apply_fixed(self, highs: highspy.Highs) -> None:
        cols, vals = self._fixed_cols, self._fixed_vals
        if len(cols):
            check(highs.changeColsBounds(len(cols), cols, vals, vals), "fixed bounds")

    def _sync(self) -> highspy.Highs:
        """Load the model into HiGHS, or send what changed since the last solve."""
        loaded, highs = self._loaded, self._highs
        if loaded is None or highs is None or loaded.refixed():
            if loaded is not None:
                log.info("a variable was fixed or unfixed in the model: loading it again")
            return self._load()
        lower, upper = loaded.bounds()
        moved = np.flatnonzero((lower != loaded.lower) | (upper != loaded.upper))
        if len(moved):
            loaded.lower, loaded.upper = lower, upper
            cols = moved.astype(np.int32)
            check(highs.changeColsBounds(len(cols), cols, lower[cols], upper[cols]), "bounds")
            self._apply_fixed(highs)  # fix() wins over Pyomo's bounds until unfix()
        loaded.send_changes(highs)
        return highs

    def _load(self) -> highspy.Highs:
        """Read the model and hand it to a new HiGHS."""
        fixed = self._fixed_vars()
        highs = self._new_highs()
        loaded = LoadedModel(self.model)
        loaded.pass_to(highs)
        self._highs, self._loaded = highs, loaded
        if fixed:  # fix() still holds: the same variables, new columns
            cols = [loaded.col_of.get(id(v), -1) for v, _ in fixed]
            keep = [i for i, c in enumerate(cols) if c >= 0]
            self._fixed_cols = np.array([cols[i] for i in keep], dtype=np.int32)
            self._fixed_vals = np.array([fixed[i][1] for i in keep], dtype=np.float64)
            self._apply_fixed(highs)
        return highs

    def _lp_copy(self, highs: highspy.Highs) -> highspy.Highs:
        """A new HiGHS holding the loaded model's LP relaxation (fixed columns included)."""
        lp = highs.getLp()
        lp.integrality_ = []
        copy = self._new_highs()
        check(copy.passModel(lp), "the LP relaxation")
        return copy

    def _new_highs(self) -> highspy.Highs:
        """An empty HiGHS whose banner and log go to heatnet's log, with this solver's callbacks."""
        with capture_output(capture_fd=True) as banner:  # HiGHS prints it at construction
            highs: highspy.Highs = cast(Any, highspy.Highs)()
            # HiGHS' own log (and its warnings) goes to heatnet's log, never to stdout
            highs.setOptionValue("log_to_console", False)
            highs.setOptionValue("output_flag", True)
        for line in str(banner.getvalue()).splitlines():
            if line.strip() and self.options.log_solver:
                log.debug("highs: %s", line.strip())
        highs.cbLogging.subscribe(self._on_log)
        highs.cbMipImprovingSolution.subscribe(self._on_improved)
        highs.cbMipInterrupt.subscribe(self._on_interrupt)
        highs.cbSimplexInterrupt.subscribe(self._on_interrupt)
        highs.cbIpmInterrupt.subscribe(self._on_interrupt)
        return highs

    def _fixed_vars(self) -> list[tuple[Any, float]]:
        if self._loaded is None:
            return []
        columns = self._loaded.columns
        return [
            (columns[c], v)
            for c, v in zip(self._fixed_cols.tolist(), self._fixed_vals.tolist(), strict=True)
        ]

    def _run(self, highs: highspy.Highs) -> None:
        """Run HiGHS in a thread while this thread handles signals, stop requests, heartbeats."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["status"] = highs.run()
            except BaseException as exc:  # re-raised in the caller's thread
                outcome["error"] = exc

        thread = threading.Thread(target=target, name="highs", daemon=True)
        thread.start()
        deadline: float | None = None
        try:
            while thread.is_alive():
                thread.join(0.1)
                if self.stop.requested and self._interruptible_now:
                    deadline = deadline or time.perf_counter() + STOP_GRACE_S
                    if time.perf_counter() > deadline:
                        raise _Abandoned
                else:
                    self._heartbeat()
        except BaseException:  # (a second Ctrl-C) HiGHS may still run: never touch it again
            if thread.is_alive():
                self.abandoned = True
            raise
        if "error" in outcome:
            raise outcome["error"]

    def _heartbeat(self) -> None:
        """Repeat the last solver state when HiGHS has said nothing for a while."""
        now = time.perf_counter()
        if self._listener is None or now - self._last_update < UPDATE_EVERY_S:
            return
        self._last_update = now
        last = self._last or SolverUpdate(self._iteration, None, None, None, 0, improved=False)
        self._send(replace(last, improved=False))

    def _on_log(self, event: Any) -> None:
        """A HiGHS log message: to the log at DEBUG (``--log FILE`` keeps it); start notes kept."""
        for raw in str(event.message).splitlines():
            line = raw.strip()
            if not line:
                continue
            if self._notes is not None and any(w in line.lower() for w in START_WORDS):
                self._notes.append(line)
            if self.options.log_solver:
                log.debug("highs: %s", line)

    def _on_interrupt(self, event: Any) -> None:
        if self.stop.requested and self._interruptible_now:
            event.interrupt()
            return
        if event.callback_type != MIP_INTERRUPT:
            return
        now = time.perf_counter()
        if self._listener is not None and now - self._last_update >= UPDATE_EVERY_S:
            self._last_update = now
            self._notify(event.data_out, improved=False)

    def _on_improved(self, event: Any) -> None:
        self._improved += 1
        if len(self._start_cols) and not self._start_seen:
            self._start_seen = _matches(
                event.data_out.mip_solution, self._start_cols, self._start_vals
            )
        # HiGHS reports a solution again when it re-finds it (e.g. the start, after presolve)
        objective = _finite(event.data_out.objective_function_value)
        if self._listener is None or objective is None:
            return
        last = self._incumbent
        if last is None or abs(objective - last) > 1e-9 * max(1.0, abs(last)):
            self._incumbent = objective
            self._notify(event.data_out, improved=True)

    def _notify(self, out: Any, *, improved: bool) -> None:
        """Pass a solver update on.

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
        assert self._loaded is not None
        col_of = self._loaded.col_of
        cols: list[int] = []
        vals: list[float] = []
        for name, by_key in values.items():
            var = getattr(self.model, name, None)
            if var is None:
                continue
            keys = list(var.keys()) if everywhere else [k for k in by_key if k in var]
            for key in keys:
                col = col_of.get(id(var[key]))
                if col is not None:
                    cols.append(col)
                    vals.append(float(by_key.get(key, 0.0)))
        return cols, vals

    def _set_start(self, highs: highspy.Highs, start: dict[str, dict[Any, float]] | None) -> None:
        """Give HiGHS a MIP start (public ``setSolution``); its refusal is logged at INFO."""
        self._start_cols, self._start_vals = np.zeros(0, dtype=np.int32), np.zeros(0)
        self._start_seen = self._start_refused = False
        self._improved = 0
        self._notes = None
        if not start:
            return
        cols, vals = self._columns(start, everywhere=False)
        if not cols:
            return
        assert self._loaded is not None
        index, value = np.array(cols, dtype=np.int32), np.array(vals, dtype=np.float64)
        self._notes = []
        status = highs.setSolution(len(cols), index, value)
        if status == highspy.HighsStatus.kError:
            log.info("MIP start rejected by HiGHS: %s", "; ".join(self._notes) or status.name)
            self._notes, self._start_refused = None, True
            return
        integer = self._loaded.integer[index]
        self._start_cols, self._start_vals = index[integer], value[integer]

    def _consistent(self, highs: highspy.Highs) -> bool:
        """Whether HiGHS' objective is its solution's (when it has one)."""
        assert self._loaded is not None
        if highs.getInfo().primal_solution_status != 2:
            return True
        x = np.asarray(highs.getSolution().col_value, dtype=np.float64)
        if x.size != len(self._loaded.columns):
            return False
        mine = float(self._loaded.cost @ x) + self._loaded.offset
        theirs = float(highs.getInfo().objective_function_value)
        return abs(mine - theirs) <= 1e-6 * max(1.0, abs(theirs))

    def _start_verdict(self, highs: highspy.Highs) -> bool | None:
        """Whether HiGHS took the start: one of its incumbents has the start's integers.

        None when there is nothing to tell (no start; or presolve solved the MIP without an
        incumbent along the way).
        """
        notes, self._notes = self._notes, None
        if notes is None:  # no start given, or HiGHS refused it (logged)
            return False if self._start_refused else None
        if not len(self._start_cols):
            return None
        used = self._start_seen or _matches(
            highs.getSolution().col_value, self._start_cols, self._start_vals
        )
        if not used and not self._improved:
            return None
        if not used:
            why = "; ".join(notes) or "its first incumbent was another solution (infeasible?)"
            log.info("MIP start (%d values) not taken by HiGHS: %s", len(self._start_cols), why)
        return used

    def _result(
        self, highs: highspy.Highs, runtime_s: float, *, relax: bool = False
    ) -> SolveResult:
        model_status = highs.getModelStatus()
        info = highs.getInfo()
        tc = TERMINATION.get(model_status.name, "unknown")
        has = info.primal_solution_status == 2  # 0: none, 1: infeasible, 2: feasible
        if tc == "convergenceCriteriaSatisfied" and has:
            status = SolveStatus.OPTIMAL
        elif tc in ("provenInfeasible", "infeasibleOrUnbounded"):
            status = SolveStatus.INFEASIBLE
        elif tc == "error":
            status = SolveStatus.ERROR
        elif has:
            status = SolveStatus.FEASIBLE
        else:
            status = SolveStatus.NO_SOLUTION
        objective = float(info.objective_function_value) if has else None
        bound: float | None = None
        if relax:  # proven from the duals, whatever the status (None: no duals)
            bound = lp_dual_bound(highs)
        elif info.mip_node_count != -1:  # a MIP: its dual bound
            bound = float(info.mip_dual_bound)
        elif status is SolveStatus.OPTIMAL:
            bound = objective
        gap = None
        if objective is not None and bound is not None and np.isfinite(bound):
            gap = abs(bound - objective) / max(1.0, abs(objective))
        accepted = self._start_verdict(highs)
        values = self._values(highs) if has else {}
        log.info(
            "solve: %s (%s) objective %s bound %s in %.2f s",
            status,
            tc,
            "-" if objective is None else f"{objective:.6g}",
            "-" if bound is None else f"{bound:.6g}",
            runtime_s,
        )
        return SolveResult(status, tc, objective, bound, gap, runtime_s, values, accepted)

    def _values(self, highs: highspy.Highs) -> dict[str, pd.Series]:
        """Every variable's value into the Pyomo model, and :data:`VARIABLES` as Series."""
        assert self._loaded is not None
        x = np.asarray(highs.getSolution().col_value, dtype=np.float64)
        for v, value in zip(self._loaded.columns, x.tolist(), strict=True):
            v.set_value(value, skip_validation=True)
        values: dict[str, pd.Series] = {}
        for name in VARIABLES:
            var = getattr(self.model, name, None)
            if var is not None:
                values[name] = pd.Series(
                    {k: (v.value if v.value is not None else 0.0) for k, v in var.items()},
                    dtype=float,
                )
        return values


def _matches(solution: Any, cols: np.ndarray, vals: np.ndarray) -> bool:
    x = np.asarray(solution, dtype=np.float64)
    if x.size <= (int(cols.max()) if len(cols) else -1):
        return False
    return bool(np.all(np.abs(x[cols] - vals) <= 1e-6))


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) and abs(value) < 1e30 else None
