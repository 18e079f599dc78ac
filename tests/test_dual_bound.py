"""Bounds proven from row duals (heatnet.optimise.dual_bound), and the supply curve's reach.

The dual bound must hold for *any* duals (weak duality), equal the optimum at the optimal duals,
and refuse to prove anything when a column it needs is unbounded. The curve reach is checked on a
one-building problem whose LP relaxation can be solved by hand.
"""

from __future__ import annotations

import math

import highspy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.optimise.build import build_model, curve_reach
from heatnet.optimise.dual_bound import SparseLp, dual_bound, from_highs
from heatnet.optimise.highs import Solver, SolverOptions
from heatnet.optimise.loop import optimise
from heatnet.optimise.prepare import prepare
from heatnet.optimise.tune import reset_parameters
from heatnet.problem.definition import Problem
from tests.problems import make_problem

INF = math.inf


def lp(
    cost: list[float],
    rows: list[list[float]],
    row_lower: list[float],
    row_upper: list[float],
    col_lower: list[float],
    col_upper: list[float],
    *,
    maximize: bool = True,
    offset: float = 0.0,
) -> SparseLp:
    """A small LP with its matrix stored by rows."""
    start, index, value = [0], [], []
    for row in rows:
        for j, a in enumerate(row):
            if a:
                index.append(j)
                value.append(float(a))
        start.append(len(index))
    return SparseLp(
        cost=np.array(cost, float), offset=offset, maximize=maximize,
        col_lower=np.array(col_lower, float), col_upper=np.array(col_upper, float),
        row_lower=np.array(row_lower, float), row_upper=np.array(row_upper, float),
        start=np.array(start, np.int64), index=np.array(index, np.int64),
        value=np.array(value, float),
        by_column=False,
    )  # fmt: skip


# max x1 + x2 subject to x1 + x2 ≤ 1, 0 ≤ x ≤ 1: optimum 1 (dual 1)
SIMPLE = lp([1, 1], [[1, 1]], [-INF], [1], [0, 0], [1, 1])


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        (1.0, 1.0),  # the optimal dual: the optimum
        (0.5, 1.5),  # 0.5·1 + (1 − 0.5)·1 per column
        (2.0, 2.0),  # 2·1 + reduced costs −1 at the lower bounds 0
        (0.0, 2.0),  # no dual: every column at its favoured bound
        (-1.0, 2.0),  # the wrong sign for a row with no lower side: set to 0 (else −∞·−1)
    ],
)
def test_dual_bound_of_a_hand_lp(y: float, expected: float) -> None:
    bound = dual_bound(SIMPLE, np.array([y]))
    assert bound == pytest.approx(expected, rel=1e-12)
    assert bound >= expected  # the rounding margin only ever raises it


def test_minimise_gives_a_lower_bound() -> None:
    # min x1 + x2 subject to x1 + x2 ≥ 1, 0 ≤ x ≤ 1: optimum 1; the dual 1 proves it from below
    problem = lp([1, 1], [[1, 1]], [1], [INF], [0, 0], [1, 1], maximize=False, offset=3.0)
    assert dual_bound(problem, np.array([1.0])) == pytest.approx(4.0, rel=1e-12)
    assert dual_bound(problem, np.array([1.0])) <= 4.0
    assert dual_bound(problem, np.array([0.0])) == pytest.approx(3.0)  # columns at 0


def test_an_unbounded_column_the_duals_do_not_price_proves_nothing() -> None:
    free = lp([1, 1], [[1, 1]], [-INF], [1], [0, 0], [1, INF])
    assert dual_bound(free, np.array([0.5])) == INF  # column 2 wants +∞
    # its reduced cost is 0, but only to rounding: it may have either sign, nothing is proven
    assert dual_bound(free, np.array([1.0])) == INF
    assert dual_bound(free, np.array([np.nan])) == INF


@st.composite
def feasible_lps(draw: st.DrawFn) -> tuple[SparseLp, np.ndarray]:
    """A bounded, feasible LP (rows built around a point inside the box) and random duals."""
    n = draw(st.integers(1, 5))
    m = draw(st.integers(1, 5))
    ints = st.integers(-3, 3)
    a = [[draw(ints) for _ in range(n)] for _ in range(m)]
    lower = [float(draw(st.integers(-5, 0))) for _ in range(n)]
    upper = [lo + float(draw(st.integers(0, 6))) for lo in lower]
    x0 = np.array([(lo + up) / 2 for lo, up in zip(lower, upper, strict=True)])
    ax = np.array(a, float) @ x0
    slack = st.one_of(st.just(INF), st.floats(0, 4))
    row_lower = [v - draw(slack) for v in ax]
    row_upper = [v + draw(slack) for v in ax]
    cost = [float(draw(ints)) for _ in range(n)]
    maximize = draw(st.booleans())
    y = np.array([draw(st.floats(-5, 5)) for _ in range(m)])
    return lp(cost, a, row_lower, row_upper, lower, upper, maximize=maximize, offset=1.5), y


def solve(problem: SparseLp) -> tuple[float, np.ndarray, SparseLp]:
    """HiGHS' optimum and row duals, and the LP as HiGHS holds it (its own matrix layout)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    n = len(problem.cost)
    h.addVars(n, problem.col_lower, problem.col_upper)
    h.changeColsCost(n, np.arange(n, dtype=np.int32), problem.cost)
    h.addRows(
        len(problem.row_lower), problem.row_lower, problem.row_upper, len(problem.index),
        problem.start[:-1].astype(np.int32), problem.index.astype(np.int32), problem.value,
    )  # fmt: skip
    h.changeObjectiveOffset(problem.offset)
    sense = highspy.ObjSense.kMaximize if problem.maximize else highspy.ObjSense.kMinimize
    h.changeObjectiveSense(sense)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return (
        h.getInfo().objective_function_value,
        np.asarray(h.getSolution().row_dual),
        from_highs(h.getLp()),
    )


@settings(max_examples=150, deadline=None)
@given(feasible_lps())
def test_any_duals_bound_the_optimum_and_the_optimal_ones_reach_it(
    case: tuple[SparseLp, np.ndarray],
) -> None:
    problem, y = case
    optimum, duals, held = solve(problem)
    sign = 1.0 if problem.maximize else -1.0
    assert sign * dual_bound(problem, y) >= sign * optimum - 1e-9
    tight = dual_bound(held, duals)
    assert sign * tight >= sign * optimum - 1e-9
    assert tight == pytest.approx(optimum, rel=1e-7, abs=1e-7)


def one_building_problem(curve: list[tuple[float, float]]) -> Problem:
    """A building worth 5,000 with a 100 kW peak at a supply whose curve is ``curve``."""
    return make_problem(
        [{"id": "b", "kwh": 100_000.0, "peak": 100.0, "value": 5_000.0}],
        [("S:s", "B:b", 0.0)],
        [{"id": "s", "curve": curve}],
    )


def one_building(curve: list[tuple[float, float]]) -> Solver:
    """:func:`one_building_problem`'s model (optimistic values) and its solver."""
    data = prepare(one_building_problem(curve))
    model = build_model(data, discrete=False)
    reset_parameters(model, data)
    return Solver(model, SolverOptions())


def test_a_curve_past_any_use_no_longer_loosens_the_lp() -> None:
    # The building needs 100 kW: 1,000 on the curve's first piece, so the best design is worth
    # 5,000 − 1,000 = 4,000. Drawn on to 1,000 kW (1,000 more for 900 kW) the curve's LP
    # relaxation would take the secant from 0 to 1,000 kW, 2 ¤/kW: 200 for 100 kW, a bound of
    # 4,800. Ended at the 100 kW the model can ask for, the LP is exact.
    solver = one_building([(0.0, 0.0), (100.0, 1_000.0), (1_000.0, 2_000.0)])
    assert [solver.model.cw[k].ub for k in solver.model.CS] == pytest.approx([100.0, 0.0])
    lp_bound = solver.solve(time_limit_s=60, mip_gap=0.0, relax=True).bound
    assert lp_bound == pytest.approx(4_000.0, rel=1e-6)
    best = solver.solve(time_limit_s=60, mip_gap=0.0)
    assert best.objective == pytest.approx(4_000.0, rel=1e-9)
    assert lp_bound >= best.objective - 1e-6


def test_the_curve_reach_follows_the_model_diversity() -> None:
    curve = [(0.0, 0.0), (50.0, 800.0), (100.0, 1_000.0), (1_000.0, 2_000.0)]
    solver = one_building(curve)
    model = solver.model
    assert [model.cw[k].ub for k in model.CS] == pytest.approx([50.0, 50.0, 0.0])
    model.sigma["S:s"] = 0.5  # half the peak: 50 kW is all the model can ask
    curve_reach(model, prepare(one_building_problem(curve)))
    # mean 100,000 kWh / 8,760 h = 11.4 kW < 50 kW: the diversified peak sets the end
    assert [model.cw[k].ub for k in model.CS] == pytest.approx([50.0, 0.0, 0.0])


def test_a_curve_whose_cost_falls_is_not_cut_below_what_a_design_needs() -> None:
    # helper-18's counterexample: the curve's total cost falls from 50 kW to 200 kW, so more
    # capacity pays and the relaxation must still reach the 100 kW building a needs at its own
    # diversity 1 (the optimistic factor, 0.75, would end the curve at 0.75 · 101 kW).
    problem = make_problem(
        [
            {"id": "a", "kwh": 1000.0, "peak": 100.0, "value": 20000.0},
            {"id": "b", "kwh": 1000.0, "peak": 1.0, "value": 0.0},
        ],
        [("S:s", "B:a", 1.0), ("S:s", "B:b", 1.0)],
        [{"id": "s", "curve": [(0.0, 0.0), (50.0, 5000.0), (200.0, 2000.0)]}],
        params={"network/diversity-limit": "0.5", "network/diversity-rate": "1"},
    )
    solution = optimise(problem)
    assert solution.objective is not None
    assert solution.upper_bound is not None
    assert solution.upper_bound >= solution.objective - 1e-6


def test_a_curve_starting_above_zero_kw_is_priced_as_exact_pricing_does() -> None:
    # Exact pricing holds the first value below the first breakpoint: 100 kW on
    # (50 kW, 0), (150 kW, 1,000) costs 500, so the one building is worth 20,000 − 500 − ...
    # and the model must price it the same (it used to fill the curve from 0: 1,000).
    problem = make_problem(
        [{"id": "a", "kwh": 1000.0, "peak": 100.0, "value": 20000.0}],
        [("S:s", "B:a", 0.0)],
        [{"id": "s", "curve": [(50.0, 0.0), (150.0, 1000.0), (1000.0, 2000.0)]}],
    )
    solution = optimise(problem)
    assert solution.objective == pytest.approx(19_500.0, rel=1e-9)
    assert solution.upper_bound == pytest.approx(19_500.0, rel=1e-6)
    assert solution.state == "optimal"


@pytest.mark.parametrize("iterations", [1, 3, 6])
def test_an_lp_relaxation_cut_short_still_proves_a_bound(monkeypatch, iterations) -> None:
    # The loop's LP relaxation runs by interior point without presolve, so when it is stopped
    # (time limit, stop request; here an iteration limit, which does not depend on the
    # machine's speed) HiGHS still hands back the duals of the point it reached, and they prove
    # a bound. With presolve on it hands back none (nothing to postsolve) and the run would
    # have no bound at all. Any bound it proves is at or above the LP's optimum.
    problem = looped_problem()
    data = prepare(problem)
    model = build_model(data, discrete=False)
    reset_parameters(model, data)
    full = Solver(model, SolverOptions()).solve(time_limit_s=60, mip_gap=0.0, relax=True)
    assert full.termination == "convergenceCriteriaSatisfied"
    assert full.bound is not None
    assert full.objective is not None
    assert full.bound >= full.objective - 1e-6 * max(1.0, abs(full.objective))

    copy = Solver._lp_copy

    def limited(self: Solver, highs: highspy.Highs) -> highspy.Highs:
        lp = copy(self, highs)
        lp.setOptionValue("ipm_iteration_limit", iterations)
        return lp

    monkeypatch.setattr(Solver, "_lp_copy", limited)
    short = Solver(model, SolverOptions()).solve(time_limit_s=60, mip_gap=0.0, relax=True)
    assert short.termination != "convergenceCriteriaSatisfied"  # really cut short
    assert short.bound is not None
    assert math.isfinite(short.bound)
    assert short.bound >= full.objective - 1e-6 * max(1.0, abs(full.objective))


def looped_problem() -> Problem:
    """A looped network of five buildings and three junctions (two ways to each junction)."""
    buildings = [
        {"id": i, "kwh": 40_000.0 * i, "peak": 20.0 * i, "value": 9_000.0 * i, "cost": 500.0}
        for i in range(1, 6)
    ]
    edges = [
        ("S:s", "J:1", 80.0), ("S:s", "J:2", 120.0), ("J:1", "J:2", 60.0),
        ("J:1", "J:3", 90.0), ("J:2", "J:3", 70.0),
        ("J:1", "B:1", 15.0), ("J:1", "B:2", 20.0), ("J:2", "B:3", 25.0),
        ("J:3", "B:4", 10.0), ("J:3", "B:5", 30.0),
    ]  # fmt: skip
    return make_problem(buildings, edges, [{"id": "s", "fixed": 5_000.0, "per_kw": 20.0}])
