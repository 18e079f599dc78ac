"""Continuous least-squares line through a piecewise-linear curve over an interval.

For the ``linear`` pipe model each edge's stepped cost-by-capacity curve is replaced by the line
c + m·x that minimises ∫ (y(x) − c − m·x)² dx over the edge's feasible kW range (reference 4.4).
The integrals are exact per curve segment, and the computation is vectorised over edges.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

MIN_WIDTH_KW = 0.1
"""Ranges narrower than this get the flat line through the curve's value at their midpoint."""


def fit_line(
    curve_x: ArrayLike, curve_y: ArrayLike, low: ArrayLike, high: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Least-squares intercept and slope of a curve over [low, high], for many ranges at once.

    Parameters
    ----------
    curve_x, curve_y
        The curve's points (x strictly increasing), linearly interpolated between them.
    low, high
        Range ends, one per fit; clamped into the curve's x range first.

    Returns
    -------
    tuple
        Intercepts ``c`` and slopes ``m``. Ranges narrower than 0.1 get (y(mid), 0).
    """
    x = np.asarray(curve_x, dtype=float)
    y = np.asarray(curve_y, dtype=float)
    lo = np.clip(np.asarray(low, dtype=float), x[0], x[-1])
    hi = np.clip(np.asarray(high, dtype=float), x[0], x[-1])
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    # segment k runs from x[k] to x[k+1]; clip every segment to every range: (fits × segments)
    a = np.clip(x[None, :-1], lo[:, None], hi[:, None])
    b = np.clip(x[None, 1:], lo[:, None], hi[:, None])
    slope = np.diff(y) / np.diff(x)
    base = y[:-1] - slope * x[:-1]  # y = base + slope·x on segment k
    s0 = (b - a).sum(axis=1)
    s1 = ((b**2 - a**2) / 2).sum(axis=1)
    s2 = ((b**3 - a**3) / 3).sum(axis=1)
    t0 = (base * (b - a) + slope * (b**2 - a**2) / 2).sum(axis=1)
    t1 = (base * (b**2 - a**2) / 2 + slope * (b**3 - a**3) / 3).sum(axis=1)
    # shift x to the range midpoint for a well-conditioned 2 × 2 solve
    mid = (lo + hi) / 2
    s1c = s1 - mid * s0
    s2c = s2 - 2 * mid * s1 + mid**2 * s0
    t1c = t1 - mid * t0
    det = s0 * s2c - s1c**2
    narrow = (hi - lo) < MIN_WIDTH_KW
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(narrow, 0.0, (s0 * t1c - s1c * t0) / det)
        c_mid = np.where(narrow, np.interp(mid, x, y), (t0 - m * s1c) / s0)
    return c_mid - m * mid, m
