"""Diversity (coincidence) of peak demand: f(n) = a + (1 − a) / max(1, k·n), rounded half up.

Rounding is done in exact rational arithmetic so f(4) = 0.72 with the defaults (binary floating
point would round 0.715 down). f(0) = 1.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _exact(value: float) -> Fraction:
    return Fraction(str(value))  # the decimal the user wrote, not its binary approximation


@functools.lru_cache(maxsize=1 << 16)
def diversity_factor(connections: int, *, limit: float, rate: float) -> float:
    """f(n) for one count of connections, rounded half up to 2 decimals.

    Remembered: exact pricing asks it for every pipe's count, thousands of times per search.
    """
    if connections <= 0:
        return 1.0
    a, k = _exact(limit), _exact(rate)
    value = a + (1 - a) / max(Fraction(1), k * connections)
    hundredths = (value * 100 + Fraction(1, 2)).__floor__()
    return float(Fraction(hundredths, 100))


def diversity(connections: ArrayLike, *, limit: float, rate: float) -> NDArray[np.float64]:
    """f(n) for many counts; each distinct count is computed once, exactly."""
    counts = np.asarray(connections, dtype=np.int64)
    unique, inverse = np.unique(counts, return_inverse=True)
    values = np.array([diversity_factor(int(n), limit=limit, rate=rate) for n in unique])
    return values[inverse].reshape(counts.shape)


def undiversified_peak_kw(
    peak_kw: ArrayLike, connections: ArrayLike, *, limit: float, rate: float
) -> NDArray[np.float64]:
    """A building's peak with its own internal diversity taken out: peak / f(connections).

    The given peak already includes diversity among the building's own connections; the
    network re-applies diversity over all connections downstream of each pipe.
    """
    return np.asarray(peak_kw, dtype=float) / diversity(connections, limit=limit, rate=rate)


def pipe_diversity(
    connections: ArrayLike,
    undiversified_kw: ArrayLike,
    largest_peak_kw: ArrayLike,
    *,
    limit: float,
    rate: float,
) -> NDArray[np.float64]:
    """Diversity for a pipe, never letting the pipe be smaller than its largest single building.

    Parameters
    ----------
    connections
        Connections downstream of the pipe.
    undiversified_kw
        Sum of the undiversified peaks downstream.
    largest_peak_kw
        The largest single (given) building peak downstream.
    limit, rate
        ``network/diversity-limit`` and ``network/diversity-rate``.

    Returns
    -------
    numpy.ndarray
        max(f(n), largest / undiversified), clamped to [limit, 1]; 1 where nothing flows.
    """
    flow = np.asarray(undiversified_kw, dtype=float)
    factor = diversity(connections, limit=limit, rate=rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(flow > 0, np.asarray(largest_peak_kw, dtype=float) / flow, 1.0)
    return np.clip(np.maximum(factor, floor), limit, 1.0)
