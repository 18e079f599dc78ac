"""The optimiser's time limits, on the star of three buildings solved on paper.

How the runtime limit is shared out (the first MIP, the short try to prove a design optimal, the
LP bound and local search), and what is kept when it runs out: the best constructive design, the
incumbent, the bound proven so far. The solver's clock and results are patched where a test says
so; the star's designs are priced in ``tests/micro_networks.py``.
"""

from __future__ import annotations

import dataclasses
import time
import types

import pytest

import heatnet.optimise.loop
import heatnet.optimise.opening
from heatnet.optimise.highs import Solver, SolveStatus
from heatnet.optimise.prepare import prepare
from heatnet.optimise.proof import OPTIMAL_GAP, trivial_bound
from tests.micro_networks import AB, MODELS, STAR_BUILDINGS, STAR_EDGES, connected, solve
from tests.problems import make_problem


@pytest.mark.parametrize("model", MODELS)
def test_runtime_spent_before_any_solve_writes_the_best_constructive_design(model):
    # 1e-6 h = 3.6 ms is spent preparing and building the model: no MIP is solved, but the
    # constructive designs priced before any MIP are: the shortest-path seed ({a, b, c}: 3000
    # by the STAR table) and the pruned Steiner constructions ({a, b}: 3500, the optimum); the
    # best is kept, with only the trivial bound (every building's value) proven: feasible
    s = solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], model, {"optimiser/runtime-limit": 1e-6})
    assert s.state == "feasible"
    assert connected(s) == AB
    assert s.objective == pytest.approx(3500)
    star = make_problem(
        STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], params={"heatnet/pipe-model": model}
    )
    assert s.upper_bound == pytest.approx(trivial_bound(prepare(star)))
    assert s.history == ()  # no MIP: designs priced before any
    assert s.reasons == ()


@pytest.mark.parametrize("model", MODELS)
def test_a_first_mip_that_is_the_relaxation_gets_the_whole_limit(model, monkeypatch):
    # 0.01 h = 36 s. The linear loop's first MIP (fitted prices, no bound) gets at most the
    # design share, half: 18 s. With discrete pipes the first MIP is the relaxation itself,
    # which bound() would solve again from scratch: it gets the limit less the time kept to
    # price its design (5 % of the limit, 1.8 s): 34.2 s less what the search spent before it.
    limits = []
    real_solve = Solver.solve

    def record(self, **kwargs):
        if kwargs.get("interruptible", True) and not kwargs.get("relax"):
            limits.append(kwargs["time_limit_s"])
        return real_solve(self, **kwargs)

    monkeypatch.setattr(Solver, "solve", record)
    solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], model, {"optimiser/runtime-limit": 0.01})
    if model == "discrete":
        assert 18.0 < limits[0] <= 34.2
    else:
        assert limits[0] <= 18.0


def test_a_design_within_the_target_gets_a_short_try_to_be_proven_optimal(monkeypatch):
    # 0.01 h = 36 s. When the proven gap is within optimiser/mip-gap but above 1e-4, the
    # relaxation runs once more from the best design, to half of 1e-4, for at most 5 % of the
    # limit (1.8 s).
    calls = []
    real_solve = Solver.solve

    def record(self, **kwargs):
        calls.append((kwargs.get("mip_gap"), kwargs["time_limit_s"], kwargs.get("start")))
        return real_solve(self, **kwargs)

    monkeypatch.setattr(Solver, "solve", record)
    monkeypatch.setattr(heatnet.optimise.loop._Search, "close_to_optimal", lambda self: True)
    solution = solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], "linear",
                     {"optimiser/runtime-limit": 0.01, "optimiser/mip-gap": 0.01})  # fmt: skip
    tries = [call for call in calls if call[0] == pytest.approx(OPTIMAL_GAP / 2)]
    assert len(tries) == 1  # every other MIP here works to the 0.01 target (or settles)
    _, limit, start = tries[0]
    assert 0 < limit <= 0.05 * 36
    assert start is not None  # from the best design
    assert solution.state == "optimal"  # the star (3,500, hand-derived) stays proven
    assert solution.objective == pytest.approx(3_500)


def test_a_long_lp_bound_leaves_local_search_its_time(monkeypatch):
    # 0.01 h = 36 s. The LP bound may run to 7/8 of the limit (31.5 s); say it takes 0.8 of it
    # (the clock jumps 28.8 s, as on the 10,000-building grid): local search still gets what
    # is left less the pricing reserve (5 %, 1.8 s), 36 − 28.8 − 1.8 = 5.4 s, though the design
    # MIPs' half of the limit is long gone.
    clock = types.SimpleNamespace(offset=0.0)
    lp_limits, search_s = [], []
    real_solve, real_search = Solver.solve, heatnet.optimise.opening.search

    def slow_lp(self, **kwargs):
        result = real_solve(self, **kwargs)
        if kwargs.get("relax"):
            lp_limits.append(kwargs["time_limit_s"])
            clock.offset = 0.8 * 36.0
        return result

    def record(data, starts, seconds, stopped):
        search_s.append(seconds)
        return real_search(data, starts, seconds, stopped)

    monkeypatch.setattr(Solver, "solve", slow_lp)
    monkeypatch.setattr(heatnet.optimise.opening, "search", record)
    monkeypatch.setattr(
        heatnet.optimise.opening,
        "time",
        types.SimpleNamespace(perf_counter=lambda: time.perf_counter() + clock.offset),
    )
    s = solve(
        STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], "linear", {"optimiser/runtime-limit": 0.01}
    )
    assert len(lp_limits) == 1
    assert lp_limits[0] <= 31.5
    assert 0.0 < search_s[0] <= 5.4
    assert s.objective == pytest.approx(3500)


@pytest.mark.parametrize("model", MODELS)
def test_the_lp_bound_solved_before_any_mip_proves_the_star(model, monkeypatch):
    # The star is a tree with pipes priced per metre: its LP relaxation is exact (every
    # building pays for its whole path), 3500 by the STAR table. With every MIP made to report
    # no bound (as one stopped in its root LP does), the LP relaxation solved before the MIPs
    # still proves the design optimal; without it only the trivial bound would be left.
    real_solve = Solver.solve
    relaxations = []

    def mips_without_bound(self, **kwargs):
        result = real_solve(self, **kwargs)
        if kwargs.get("relax"):
            relaxations.append(result.bound)
            return result
        return dataclasses.replace(result, bound=None)

    monkeypatch.setattr(Solver, "solve", mips_without_bound)
    s = solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], model)
    assert relaxations == [pytest.approx(3500, rel=1e-6)]  # solved once, before the MIPs
    assert connected(s) == AB
    assert s.objective == pytest.approx(3500)
    assert s.upper_bound == pytest.approx(3500)
    assert s.state == "optimal"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("status", [SolveStatus.OPTIMAL, SolveStatus.FEASIBLE])
def test_time_running_out_keeps_the_incumbent(model, status, monkeypatch):
    # The clock jumps past the limit as soon as the first MIP returns (reporting `status`, as
    # HiGHS does when it stops at the time limit with an incumbent): the design it found is
    # priced and kept. With discrete pipes that MIP is a relaxation and the state says whether it
    # proved the design (stopped at the limit its bound is 100 above: gap 100/3500, feasible);
    # the linear loop's MIP proves nothing, so (the LP bound before it having run out of time
    # too) only the trivial bound is left: feasible.
    clock = types.SimpleNamespace(offset=0.0)
    real_solve = Solver.solve

    def solve_then_run_out(self, **kwargs):
        result = real_solve(self, **kwargs)
        if kwargs.get("relax"):  # the LP bound before any MIP: as if it ran out of time
            return dataclasses.replace(result, status=SolveStatus.NO_SOLUTION, bound=None)
        if clock.offset == 0.0 and kwargs.get("interruptible", True):  # a MIP, not a settling
            clock.offset = 1e9
            bound = result.bound + (100.0 if status is SolveStatus.FEASIBLE else 0.0)
            result = dataclasses.replace(result, status=status, bound=bound)
        return result

    monkeypatch.setattr(Solver, "solve", solve_then_run_out)
    monkeypatch.setattr(
        heatnet.optimise.opening,  # the search's clock (Opening.elapsed)
        "time",
        types.SimpleNamespace(perf_counter=lambda: time.perf_counter() + clock.offset),
    )
    s = solve(STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], model)
    assert s.iterations == 1
    assert s.state == (str(status) if model == "discrete" else "feasible")
    assert connected(s) == AB
    assert s.objective == pytest.approx(3500)
    if model == "discrete":  # its first MIP is a relaxation: its bound is the bound
        assert s.upper_bound == pytest.approx(3500 + (100 if status is SolveStatus.FEASIBLE else 0))
        assert s.mip_gap == pytest.approx(
            100 / 3500 if status is SolveStatus.FEASIBLE else 0, abs=1e-9
        )
    else:  # the linear loop's MIPs price pipes by a fitted line: only the trivial bound is left
        assert s.state == "feasible"
        star = make_problem(
            STAR_BUILDINGS, STAR_EDGES, [{"id": "1"}], params={"heatnet/pipe-model": model}
        )
        assert s.upper_bound == pytest.approx(trivial_bound(prepare(star)))
        assert s.upper_bound > 3500
