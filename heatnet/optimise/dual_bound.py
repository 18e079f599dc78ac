"""A bound proven from any row duals of an LP: no optimal basis, no solver tolerance trusted.

For max cᵀx + c₀ subject to L ≤ Ax ≤ U and l ≤ x ≤ u, and *any* vector y,

    cᵀx = yᵀ(Ax) + (c − Aᵀy)ᵀx ≤ Σᵢ max(yᵢLᵢ, yᵢUᵢ) + Σⱼ max(dⱼlⱼ, dⱼuⱼ),   d = c − Aᵀy,

for every feasible x (weak duality, term by term). So the duals of an interior-point solve
stopped before crossover, or of a simplex that ended at its tolerances, give a bound that holds
exactly, not "to 1e-7". A dual of the wrong sign on a row with an infinite side is set to 0
first (any y is allowed, so this keeps the bound valid and finite); a column with an infinite
bound on the side its reduced cost pushes to makes the bound infinite (nothing proven), which
is why the model gives every column finite bounds its rows already imply.

Rounding: the sums are taken in double precision; a margin of n·ε times the sum of the terms'
magnitudes (the standard γₙ bound for a sum of n products, Higham, *Accuracy and Stability of
Numerical Algorithms*, §3.1) is added, for both Aᵀy and the two sums.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

EPS = float(np.finfo(np.float64).eps)
FOR_DUALS = (("solver", "ipm"), ("run_crossover", "off"), ("presolve", "off"))
"""HiGHS options for an LP solved only for its duals (its bound comes from :func:`dual_bound`):
interior point, which needs no optimal basis, so no crossover; and no presolve, so an interior
point stopped by a time limit or an interrupt still hands back the duals it reached (with
presolve HiGHS 1.16 has none to postsolve). docs/bounds.md, step 0."""


@dataclass(frozen=True)
class SparseLp:
    """An LP as arrays: the matrix by columns (``start``, ``index``, ``value``) or by rows."""

    cost: NDArray[np.float64]
    offset: float
    maximize: bool
    col_lower: NDArray[np.float64]
    col_upper: NDArray[np.float64]
    row_lower: NDArray[np.float64]
    row_upper: NDArray[np.float64]
    start: NDArray[np.int64]
    index: NDArray[np.int64]
    value: NDArray[np.float64]
    by_column: bool

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return len(self.row_lower), len(self.cost)

    def transpose_times(
        self, y: NDArray[np.float64], *, magnitudes: bool = False
    ) -> NDArray[np.float64]:
        """Aᵀy, one entry per column (``magnitudes``: |A|ᵀy)."""
        rows, cols = self.shape
        lengths = np.diff(self.start)
        if self.by_column:
            col = np.repeat(np.arange(cols), lengths)
            row = self.index
        else:
            row = np.repeat(np.arange(rows), lengths)
            col = self.index
        values = np.abs(self.value) if magnitudes else self.value
        product = np.bincount(col, weights=values * y[row], minlength=cols)
        return np.asarray(product, dtype=np.float64)


def dual_bound(lp: SparseLp, row_dual: NDArray[np.float64]) -> float:
    """A proven bound on the LP's optimum from ``row_dual`` (upper for max, lower for min).

    Returns ``inf`` (``-inf`` for min) when nothing can be proven: a column unbounded on the
    side its reduced cost favours, or non-finite duals.
    """
    sign = 1.0 if lp.maximize else -1.0  # bound max (sign·c)ᵀx, then undo the sign
    y = sign * np.asarray(row_dual, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        return sign * np.inf
    y = np.where(
        ((y > 0) & ~np.isfinite(lp.row_upper)) | ((y < 0) & ~np.isfinite(lp.row_lower)), 0.0, y
    )
    c = sign * lp.cost
    aty = lp.transpose_times(y)
    d = c - aty
    rows = np.where(y > 0, y * _finite(lp.row_upper), y * _finite(lp.row_lower))
    rows = np.where(y == 0, 0.0, rows)
    # Aᵀy rounding: per column at most (k + 2)·ε·(|A|ᵀ|y| + |c|), k its entries
    abs_aty = lp.transpose_times(np.abs(y), magnitudes=True)
    entries = np.diff(lp.start) if lp.by_column else np.bincount(lp.index, minlength=lp.shape[1])
    d_error = (entries + 2) * EPS * (abs_aty + np.abs(c))
    needed = np.where(d > 0, lp.col_upper, np.where(d < 0, lp.col_lower, 0.0))
    scale = np.maximum(np.abs(lp.col_lower), np.abs(lp.col_upper))
    # a reduced cost within its rounding of 0 may have either sign: both bounds must be finite
    unsure = np.abs(d) <= d_error
    if not np.all(np.isfinite(needed)) or not np.all(np.isfinite(scale[unsure & (d_error > 0)])):
        return sign * np.inf
    # elsewhere its sign is sure, and its rounding only matters on the bound it favours
    scale = np.where(unsure, scale, np.abs(needed))
    cols = d * needed
    scale = np.where(np.isfinite(scale), scale, 0.0)
    terms = len(rows) + len(cols) + 2
    total = float(np.sum(rows)) + float(np.sum(cols)) + sign * lp.offset
    margin = (
        terms * EPS * (float(np.sum(np.abs(rows))) + float(np.sum(np.abs(cols))) + abs(lp.offset))
    )
    margin += float(np.sum(d_error * scale))
    return sign * (total + margin)


def from_highs(lp: Any) -> SparseLp:
    """The arrays of a ``highspy`` ``HighsLp`` (``Highs.getLp()``)."""
    matrix = lp.a_matrix_
    if matrix.format_ not in (highspy.MatrixFormat.kColwise, highspy.MatrixFormat.kRowwise):
        raise ValueError(f"cannot read a {matrix.format_} matrix")  # (partitioned rows)
    by_column = matrix.format_ == highspy.MatrixFormat.kColwise
    return SparseLp(
        cost=np.asarray(lp.col_cost_, dtype=np.float64),
        offset=float(lp.offset_),
        maximize=lp.sense_ == highspy.ObjSense.kMaximize,
        col_lower=np.asarray(lp.col_lower_, dtype=np.float64),
        col_upper=np.asarray(lp.col_upper_, dtype=np.float64),
        row_lower=np.asarray(lp.row_lower_, dtype=np.float64),
        row_upper=np.asarray(lp.row_upper_, dtype=np.float64),
        start=np.asarray(matrix.start_, dtype=np.int64),
        index=np.asarray(matrix.index_, dtype=np.int64),
        value=np.asarray(matrix.value_, dtype=np.float64),
        by_column=by_column,
    )


def to_highs(lp: SparseLp) -> Any:
    """A ``highspy`` ``HighsLp`` of the arrays (the inverse of :func:`from_highs`)."""
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = len(lp.cost), len(lp.row_lower)
    model.col_cost_, model.offset_ = lp.cost, lp.offset
    model.sense_ = highspy.ObjSense.kMaximize if lp.maximize else highspy.ObjSense.kMinimize
    model.col_lower_, model.col_upper_ = lp.col_lower, lp.col_upper
    model.row_lower_, model.row_upper_ = lp.row_lower, lp.row_upper
    matrix = model.a_matrix_
    matrix.format_ = (
        highspy.MatrixFormat.kColwise if lp.by_column else highspy.MatrixFormat.kRowwise
    )
    matrix.num_col_, matrix.num_row_ = model.num_col_, model.num_row_
    matrix.start_, matrix.index_, matrix.value_ = lp.start, lp.index, lp.value
    model.a_matrix_ = matrix
    return model


def _finite(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(np.isfinite(values), values, 0.0)


def lp_dual_bound(highs: Any) -> float | None:
    """The bound of the LP a ``highspy.Highs`` holds, proven from its row duals.

    None when it has no duals, its matrix cannot be read, or nothing is proven (a column
    without finite bounds).
    """
    solution = highs.getSolution()
    if not solution.dual_valid:
        return None
    try:
        lp = from_highs(highs.getLp())
    except ValueError as exc:
        log.warning("no bound from the LP's duals: %s", exc)
        return None
    bound = dual_bound(lp, np.asarray(solution.row_dual))
    if not np.isfinite(bound):
        log.warning("the LP's duals prove no bound (a column without finite bounds)")
        return None
    return bound
