"""The LP bound in a process of its own (heatnet.optimise.lp_apart) and its place in the loop.

The child's answer is only its duals: the bound is proven here from them, so it must equal the
LP optimum solved in-process (an independent solve of the same LP), hold when the child is
stopped early, and a child that cannot solve must leave the loop to solve the LP itself.
"""

from __future__ import annotations

import math
import subprocess

import pytest

import heatnet.optimise.loop
import heatnet.optimise.opening
from heatnet.optimise.build import build_model
from heatnet.optimise.highs import Solver, SolverOptions
from heatnet.optimise.lp_apart import LpApart
from heatnet.optimise.prepare import prepare
from heatnet.optimise.stopping import Stop
from heatnet.optimise.tune import reset_parameters
from heatnet.problem.definition import Problem
from tests.problems import make_problem
from tests.test_dual_bound import looped_problem

pytestmark = pytest.mark.timeout(300)


def relaxation_solver() -> Solver:
    data = prepare(looped_problem())
    model = build_model(data, discrete=False)
    reset_parameters(model, data)
    return Solver(model, SolverOptions())


def test_the_bound_from_the_childs_duals_is_the_lp_optimum() -> None:
    solver = relaxation_solver()
    here = solver.solve(time_limit_s=60, mip_gap=0.0, relax=True)
    assert here.termination == "convergenceCriteriaSatisfied"
    assert here.objective is not None
    apart = LpApart(solver.relaxation_lp(), 60.0)
    result = apart.result(Stop(), 5.0)
    assert result.termination == "kOptimal"
    assert result.bound is not None
    # the same LP: a proven bound at or above the optimum, and (optimal duals) within tolerance
    assert result.bound >= here.objective - 1e-6 * abs(here.objective)
    assert result.bound == pytest.approx(here.objective, rel=1e-6)


def test_a_child_stopped_at_once_still_answers_and_its_bound_holds() -> None:
    # The stop request reaches the child at HiGHS' next check (or the LP is already solved):
    # either way it answers in time, and whatever it proves is at or above the optimum.
    solver = relaxation_solver()
    optimum = solver.solve(time_limit_s=60, mip_gap=0.0, relax=True).objective
    assert optimum is not None
    stop = Stop()
    stop.request()
    result = LpApart(solver.relaxation_lp(), 60.0).result(stop, 5.0)
    assert result.termination not in ("error", "interrupted")  # it answered (HiGHS' status)
    if result.bound is not None:
        assert result.bound >= optimum - 1e-6 * abs(optimum)


def test_a_child_that_cannot_solve_proves_nothing(monkeypatch) -> None:
    # A child that dies before answering (here: a Python that takes the whole LP, then exits)
    # gives no bound and says "error", never a number.
    real = subprocess.Popen
    take_and_exit = (
        "import sys; n = int.from_bytes(sys.stdin.buffer.read(8), 'little'); "
        "sys.stdin.buffer.read(n); sys.exit(3)"
    )

    def broken(args, **kwargs):
        return real([args[0], "-c", take_and_exit], **kwargs)

    monkeypatch.setattr(subprocess, "Popen", broken)
    solver = relaxation_solver()
    result = LpApart(solver.relaxation_lp(), 60.0).result(Stop(), 5.0)
    assert result.bound is None
    assert result.termination == "error"


STAR = {
    "buildings": [
        {"id": "a", "kwh": 100_000.0, "peak": 50.0, "value": 6_000.0},
        {"id": "b", "kwh": 100_000.0, "peak": 50.0, "value": 6_000.0},
    ],
    "edges": [("S:1", "J:1", 10.0), ("J:1", "B:a", 10.0), ("J:1", "B:b", 10.0)],
}


def star_problem() -> Problem:
    """Two buildings on one junction off the supply, linear pipes, a 0.01 h (36 s) limit."""
    return make_problem(
        STAR["buildings"], STAR["edges"], [{"id": "1"}],
        params={"heatnet/pipe-model": "linear", "optimiser/runtime-limit": 0.01},
    )  # fmt: skip


@pytest.mark.parametrize("child_works", [True, False])
def test_with_two_threads_the_loop_takes_the_childs_bound_or_solves_it_here(
    child_works, monkeypatch
) -> None:
    # APART_FROM_ARCS lowered to 0 so that this small problem goes apart. The LP of a tree
    # whose pipes are priced per metre is exact, so either way the design is proven optimal;
    # when the child fails the loop solves the LP in-process (one relax solve), otherwise not.
    monkeypatch.setattr(heatnet.optimise.opening, "APART_FROM_ARCS", 0)
    here = []
    real_solve = Solver.solve

    def record(self, **kwargs):
        if kwargs.get("relax"):
            here.append(True)
        return real_solve(self, **kwargs)

    monkeypatch.setattr(Solver, "solve", record)
    started = []
    real_apart = heatnet.optimise.opening.LpApart

    class Apart(real_apart):  # type: ignore[misc,valid-type]
        def __init__(self, lp, limit):
            started.append(limit)
            super().__init__(lp, limit)

        def result(self, stop, grace_s):
            out = super().result(stop, grace_s)
            if child_works:
                return out
            return type(out)(None, "error", out.runtime_s)

    monkeypatch.setattr(heatnet.optimise.opening, "LpApart", Apart)
    solution = heatnet.optimise.loop.optimise(star_problem(), SolverOptions(threads=2))
    assert len(started) == 1
    assert 0 < started[0] <= 0.875 * 36
    assert here == ([] if child_works else [True])
    assert solution.state == "optimal"
    assert solution.upper_bound is not None
    assert math.isclose(solution.upper_bound, solution.objective, rel_tol=1e-4)


@pytest.mark.parametrize("error", [OSError("no such file"), TypeError("no executable")])
def test_a_child_that_cannot_start_leaves_the_lp_to_the_loop(error, monkeypatch) -> None:
    # No process can be started (no Python to run, say, or sys.executable empty): the loop
    # logs it and solves the LP in-process, before local search, as with one thread.
    monkeypatch.setattr(heatnet.optimise.opening, "APART_FROM_ARCS", 0)

    def cannot(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(subprocess, "Popen", cannot)
    here = []
    real_solve = Solver.solve

    def record(self, **kwargs):
        if kwargs.get("relax"):
            here.append(kwargs["time_limit_s"])
        return real_solve(self, **kwargs)

    monkeypatch.setattr(Solver, "solve", record)
    solution = heatnet.optimise.loop.optimise(star_problem(), SolverOptions(threads=2))
    assert len(here) == 1
    assert 0 < here[0] <= 0.875 * 36  # the in-process LP's usual share
    assert solution.state == "optimal"
