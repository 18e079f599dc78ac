"""A pipe's price as a function of its load, and the concave envelope the MIP uses as its bound.

Exact pricing (:meth:`heatnet.optimise.prepare.PipePrices.size`) lays, for a load of L kW, the
cheapest catalogue pipe whose capacity covers L (or keeps the existing pipe while it does), so
an edge's objective PV is a *step function* g(L): constant on each interval
(capacity[j−1], capacity[j]] of the sorted catalogue. A MIP cannot hold a step function
without a binary per step (the ``discrete`` model); the ``linear`` model holds, instead, its
**least concave majorant** on the loads the edge can carry: the smallest concave function that
is nowhere below g. Written as cuts on the "pipe built" binary z and the capacity variable c,

    pv ≤ α_j·z + β_j·c      for every segment j of the envelope,

it is the perspective of the envelope (exact at z = 1, zero at z = c = 0), so the MIP never
prices a pipe dearer than exact pricing would: every design's exact objective is at most the
MIP's, and the MIP's proven bound is a proven bound on every design (docs/bounds.md).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Cuts:
    """Envelope cuts of one edge: ``pv ≤ intercept[j]·z + slope[j]·c``.

    ``floor`` is the lowest PV the step function takes on the range (a valid lower bound on the
    pipe's PV when built); ``start`` its value at the smallest load (for heuristics).
    """

    intercept: tuple[float, ...]
    slope: tuple[float, ...]
    floor: float
    start: float


def step_choice(total_pv: NDArray[np.float64]) -> NDArray[np.int64]:
    """The catalogue row exact sizing lays for loads in each interval (capacity[j−1], capacity[j]].

    Among the pipes that carry such loads (rows j and above, capacities sorted), the one with
    the largest total PV (the cheapest), ties to the smaller pipe.
    """
    n = len(total_pv)
    best = np.empty(n, dtype=np.int64)
    current = n - 1
    for j in range(n - 1, -1, -1):  # suffix argmax
        if total_pv[j] >= total_pv[current]:
            current = j
        best[j] = current
    return best


def step_values(
    capacity_kw: NDArray[np.float64],
    total_pv: NDArray[np.float64],
    objective_pv: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Objective PV on each catalogue interval (capacity[j−1], capacity[j]].

    That of the pipe :func:`step_choice` lays there, with the ``objective/use-*`` switches
    applied (what the objective counts).
    """
    assert len(capacity_kw) == len(total_pv)
    return np.asarray(objective_pv, dtype=float)[step_choice(total_pv)]


def convex_cuts(
    capacity_kw: NDArray[np.float64], values: NDArray[np.float64], low: float, high: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The greatest convex minorant of a step function on (low, high], as lines ``γ + δ·L``.

    Used for heat loss: every line is nowhere above the loss exact sizing gives a load, so a
    model asking loss ≥ γ + δ·cap never asks more loss than a design has.
    """
    cuts = concave_cuts(capacity_kw, -np.asarray(values, dtype=float), low, high)
    return tuple(-a for a in cuts.intercept), tuple(-s for s in cuts.slope)


def concave_cuts(
    capacity_kw: NDArray[np.float64], values: NDArray[np.float64], low: float, high: float
) -> Cuts:
    """The least concave majorant of a catalogue step function on loads in (low, high].

    Parameters
    ----------
    capacity_kw
        Sorted catalogue capacities; interval j is (capacity[j−1], capacity[j]] (capacity[−1]=0).
    values
        The step function's value on each interval (:func:`step_values`).
    low, high
        The loads the edge can carry when built (``high`` at most the largest capacity).

    Returns
    -------
    Cuts
        One cut per envelope segment (a single flat cut when the range holds one step).
    """
    xs: list[float] = []
    ys: list[float] = []
    left = 0.0
    for cap, value in zip(capacity_kw, values, strict=True):
        a, b = max(left, low), min(float(cap), high)
        left = float(cap)
        if b < a or (b == a and a > low):
            continue
        xs += [a, b]
        ys += [float(value), float(value)]
    if not xs:  # nothing carries the range: the largest pipe's value
        xs, ys = [low, high], [float(values[-1])] * 2
    hull = _upper_hull(np.array(xs), np.array(ys))
    intercepts: list[float] = []
    slopes: list[float] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(hull):
        s = (y1 - y0) / (x1 - x0)
        intercepts.append(y0 - s * x0)
        slopes.append(s)
    if not slopes:
        intercepts, slopes = [hull[0][1]], [0.0]
    return Cuts(tuple(intercepts), tuple(slopes), float(min(ys)), float(ys[0]))


def _upper_hull(xs: NDArray[np.float64], ys: NDArray[np.float64]) -> list[tuple[float, float]]:
    """Upper convex hull (the concave majorant's corners) of points, by increasing x."""
    order = np.lexsort((-ys, xs))
    hull: list[tuple[float, float]] = []
    for i in order:
        x, y = float(xs[i]), float(ys[i])
        if hull and x == hull[-1][0]:
            continue  # same x: the larger y came first
        while len(hull) >= 2:
            (x0, y0), (x1, y1) = hull[-2], hull[-1]
            # drop the middle point when it lies on or below the chord from x0 to x
            if (y1 - y0) * (x - x0) <= (y - y0) * (x1 - x0):
                hull.pop()
            else:
                break
        hull.append((x, y))
    return hull
