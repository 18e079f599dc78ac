"""Sizing a pipe for a load (heatnet/optimise/prepare.py, PipePrices).

Exact pricing sizes every laid edge of a design: the existing pipe while it carries the load,
else the cheapest catalogue pipe that does, else the largest. ``size_all`` does it for many
edges at once and must give what ``size`` gives edge by edge.

The catalogue is tests/problems.py's: 20, 50, 100 and 200 mm at 100, 200, 400 and 800 ¤/m,
carrying about 24, 261, 1,486 and 8,224 kW (the exact figures are read from the catalogue).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.optimise.prepare import PipePrices
from heatnet.problem.definition import PIPE_CLASSES
from tests.problems import make_problem

EDGES = [
    {"u": "S:S", "v": "J", "length": 10.0},
    {"u": "J", "v": "K", "length": 10.0, "existing": 50.0},
    {"u": "K", "v": "L", "length": 25.0, "existing": 200.0},
    {"u": "L", "v": "M", "length": 40.0},
]


def _prices() -> PipePrices:
    problem = make_problem([], EDGES, [{"id": "S"}])
    return PipePrices.of(problem)


def test_an_existing_pipe_is_kept_while_it_carries_the_load():
    prices = _prices()
    cap = prices.capacity_kw  # 20, 50, 100, 200 mm
    rows = np.array([0, 1, 1, 3])
    kw = np.array([cap[0] + 1.0, cap[1] - 1.0, cap[1] + 1.0, cap[3] + 1.0])
    keep, diameter, capacity, pv = prices.size_all(rows, kw)
    # edge 0 (10 m, nothing there): just over the 20 mm's capacity → 50 mm, −10·200
    # edge 1 (10 m, 50 mm there): under its capacity → kept; over it → 100 mm, −10·400
    # edge 3 (40 m): over the largest → the largest, 200 mm, −40·800
    assert keep.tolist() == [False, True, False, False]
    assert diameter.tolist() == [50.0, 50.0, 100.0, 200.0]
    assert capacity.tolist() == [cap[1], cap[1], cap[2], cap[3]]
    new = sum(pv[c] for c in PIPE_CLASSES)
    assert new[[0, 2, 3]].tolist() == pytest.approx([-2_000.0, -4_000.0, -32_000.0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(EDGES) - 1),
            st.one_of(
                st.floats(min_value=-10.0, max_value=10_000.0, allow_nan=False),
                st.sampled_from([0.0, 24.0, 261.0, 1_486.0, 8_224.0]),
                st.integers(min_value=0, max_value=3),  # a capacity exactly (read below)
            ),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_sizing_many_edges_at_once_equals_sizing_each(pairs):
    prices = _prices()
    rows = np.array([i for i, _ in pairs])
    kw = np.array(
        [float(prices.capacity_kw[x]) if isinstance(x, int) else x for _, x in pairs], dtype=float
    )
    keep, diameter, capacity, pv = prices.size_all(rows, kw)
    for j, (i, load) in enumerate(zip(rows, kw, strict=True)):
        one = prices.size(int(i), float(load))
        assert keep[j] == one.existing
        assert diameter[j] == one.diameter_mm
        assert capacity[j] == one.capacity_kw
        assert {c: pv[c][j] for c in PIPE_CLASSES} == one.pv
