"""The concave envelope of a pipe's step price: never below exact pricing, tight at its corners.

The ``linear`` model's bound is only a bound if, for every load an edge can carry, the envelope
cuts price the pipe at least as well (a PV at least as high) as exact sizing does; these tests
check that on hand cases and on random catalogues (hypothesis).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.optimise.envelope import Cuts, concave_cuts, step_values

CAPACITY = np.array([24.0, 261.0, 1486.0, 8224.0])
COST = np.array([-100.0, -200.0, -400.0, -800.0])  # PV per metre (negative: costs)


def envelope(cuts: Cuts, load: float) -> float:
    """The envelope's value at a load with the pipe built (z = 1)."""
    return min(a + s * load for a, s in zip(cuts.intercept, cuts.slope, strict=True))


def exact(capacity: np.ndarray, total: np.ndarray, objective: np.ndarray, load: float) -> float:
    """Exact sizing: the cheapest (largest total PV) pipe carrying the load; its objective PV."""
    ok = np.flatnonzero(capacity >= load - 1e-9)
    return float(objective[ok[np.argmax(total[ok])]])


def test_step_values_pick_the_cheapest_pipe_that_carries_the_load():
    # a catalogue whose 261 kW pipe costs more than the 1486 kW one: loads up to 261 kW still
    # get the cheaper, larger pipe beyond 24 kW
    total = np.array([-100.0, -500.0, -400.0, -800.0])
    assert step_values(CAPACITY, total, total).tolist() == [-100.0, -400.0, -400.0, -800.0]
    # the objective may count other classes than the sizing total
    assert step_values(CAPACITY, COST, COST / 2).tolist() == [-50.0, -100.0, -200.0, -400.0]


def test_envelope_by_hand():
    # Loads in (0, 1486]: corners (0, −100), (24, −200)… the upper hull of (0,−100), (24,−100),
    # (24,−200), (261,−200), (261,−400), (1486,−400) is (0,−100) → (24,−100) → (1486,−400):
    # flat, then slope −300/1462.
    cuts = concave_cuts(CAPACITY, COST, 0.0, 1486.0)
    assert envelope(cuts, 0.0) == pytest.approx(-100.0)
    assert envelope(cuts, 24.0) == pytest.approx(-100.0)
    assert envelope(cuts, 1486.0) == pytest.approx(-400.0)
    assert envelope(cuts, 243.0) == pytest.approx(-100.0 - 300.0 / 1462.0 * 219.0)
    assert cuts.floor == -400.0
    assert cuts.start == -100.0


def test_a_range_within_one_step_is_exact():
    cuts = concave_cuts(CAPACITY, COST, 30.0, 250.0)
    assert cuts.slope == (0.0,)
    assert cuts.intercept == (-200.0,)


def test_the_perspective_is_zero_when_nothing_is_built():
    cuts = concave_cuts(CAPACITY, COST, 0.0, 8224.0)
    assert min(a * 0 + s * 0 for a, s in zip(cuts.intercept, cuts.slope, strict=True)) == 0.0


@st.composite
def catalogues(draw):
    n = draw(st.integers(1, 8))
    caps = sorted(draw(st.lists(st.floats(1.0, 1e4), min_size=n, max_size=n, unique=True)))
    total = draw(st.lists(st.floats(-1e5, 0.0), min_size=n, max_size=n))
    share = draw(st.floats(0.0, 1.0))
    extra = draw(st.floats(-100.0, 100.0))
    return np.array(caps), np.array(total), np.array(total) * share + extra


@settings(max_examples=300, deadline=None)
@given(
    catalogues(), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.lists(st.floats(0, 1), max_size=20)
)
def test_envelope_never_prices_below_exact(catalogue, a, b, fractions):
    capacity, total, objective = catalogue
    low, high = sorted((a * capacity[-1], b * capacity[-1]))
    cuts = concave_cuts(capacity, step_values(capacity, total, objective), low, high)
    slopes = np.array(cuts.slope)
    assert np.all(np.diff(slopes) <= 1e-9)  # concave: slopes never rise
    loads = [low + f * (high - low) for f in fractions] + [high] + list(capacity[capacity <= high])
    for load in loads:
        if low < load <= high or load == low == 0.0:
            value = exact(capacity, total, objective, max(load, 1e-12))
            assert envelope(cuts, load) >= value - 1e-6 * max(1.0, abs(value))
    # and never above the best price the range offers (the majorant's peak is the steps' peak)
    values = step_values(capacity, total, objective)
    lefts = np.r_[0.0, capacity[:-1]]
    touching = (capacity >= low) & (lefts <= high)
    best = float(values[touching].max()) if touching.any() else float(values[-1])
    for load in (low, high):
        assert envelope(cuts, load) <= best + 1e-6 * max(1.0, abs(best))
