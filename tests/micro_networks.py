"""Micro networks solved on paper, and readers of a solution, for ``tests/test_optimise*.py``.

:func:`solve` optimises a :func:`tests.problems.make_problem` case in one pipe model;
:func:`connected`, :func:`used`, :func:`built` and :func:`diameters` read its design, and
:func:`assert_optimum` checks it against the paper optimum. The networks several of those files
use: the two supplies feeding one junction (:data:`TWO_SUPPLY_EDGES`) and the star of three
buildings (:data:`STAR_BUILDINGS`, :data:`STAR_EDGES`), whose every design is priced in the table
below. Pricing as in ``tests/test_optimise.py``'s docstring (:data:`tests.problems.EXACT`).
"""

from __future__ import annotations

import pytest

from heatnet.optimise.loop import optimise
from heatnet.optimise.solution import Solution
from tests.problems import make_problem

MODELS = ("linear", "discrete")


def solve(buildings, edges, supplies, model, params=None, **kwargs) -> Solution:
    params = {**(params or {}), "heatnet/pipe-model": model}
    return optimise(make_problem(buildings, edges, supplies, params=params, **kwargs))


def connected(solution: Solution) -> set[str]:
    b = solution.design.buildings
    return set(b.index[b["in_network"]])


def used(solution: Solution) -> set[str]:
    e = solution.design.edges
    return set(e.index[e["in_network"]])


def built(solution: Solution) -> set[str]:
    s = solution.design.supplies
    return set(s.index[s["in_network"]])


def diameters(solution: Solution) -> dict[str, float]:
    e = solution.design.edges
    return {i: float(d) for i, d in e.loc[e["in_network"], "diameter_mm"].items()}


def assert_optimum(
    solution: Solution, objective: float, buildings: set[str], npv=None, *, proven=True
) -> None:
    """The paper optimum; ``proven=False`` where no bound can be claimed (constraint/max-npv)."""
    if proven:
        assert solution.state == "optimal"
        assert solution.upper_bound == pytest.approx(objective, rel=1e-4, abs=1e-6)
    else:
        assert solution.state == "feasible"
        assert solution.upper_bound is None
        assert solution.mip_gap is None
    assert connected(solution) == buildings
    assert solution.objective == pytest.approx(objective, rel=1e-6, abs=1e-6)
    expected_npv = objective if npv is None else npv
    assert solution.network_npv == pytest.approx(expected_npv, rel=1e-6, abs=1e-6)


# two supplies feeding one junction ----------------------------------------------------------

TWO_SUPPLY_EDGES = [("S:C", "J", 10), ("S:D", "J", 10), ("J", "B:a", 10), ("J", "B:b", 10)]


# the star: constraint rows, the kWh objective, time limits ----------------------------------

# S:1 -E1 10 m- J; connectors a 10 m, b 10 m, c 20 m; all peaks 6 kW (every pipe 20 mm).
#   a: 4000 kWh, 1 connection, worth 4000 → marginal +3000
#   b: 2000 kWh, 2 connections, worth 2500 → +1500
#   c: 6000 kWh, 1 connection, worth 1500 → −500
# set  NPV   kWh    length (trunk + connectors)  buildings  connections  kWh/m
# a    2000  4000   20                           1          1            200
# b     500  2000   20                           1          2            100
# c   −1500  6000   30                           1          1            200
# ab   3500  6000   30                           2          3            200
# ac   1500  10000  40                           2          2            250
# bc      0  8000   40                           2          3            200
# abc  3000  12000  50                           3          4            240
STAR_BUILDINGS = [
    {"id": "a", "kwh": 4000, "peak": 6, "value": 4000},
    {"id": "b", "kwh": 2000, "peak": 6, "value": 2500, "connections": 2},
    {"id": "c", "kwh": 6000, "peak": 6, "value": 1500},
]
STAR_EDGES = [("S:1", "J", 10), ("J", "B:a", 10), ("J", "B:b", 10), ("J", "B:c", 20)]
AB, ABC = {"B:a", "B:b"}, {"B:a", "B:b", "B:c"}
STAR = {"a": (2000, {"B:a"}), "b": (500, {"B:b"}), "ab": (3500, AB), "abc": (3000, ABC)}
