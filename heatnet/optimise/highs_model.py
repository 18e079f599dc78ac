"""A Pyomo model as HiGHS arrays: the column of every variable, its rows, and what can change.

The adapter (:mod:`heatnet.optimise.highs`) hands :class:`LoadedModel` to HiGHS once and
re-sends only the numbers whose mutable parameters changed before a re-solve. Rows are read with
Pyomo's public ``generate_standard_repn``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, cast

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_mutable_parameters
from pyomo.repn import generate_standard_repn


def number(x: Any) -> float:
    """A constant or a Pyomo expression of parameters, as a float."""
    return float(x) if isinstance(x, (int, float)) else float(pyo.value(x))


def check(status: Any, what: str) -> None:
    """Raise if HiGHS refused a call (``what`` says which)."""
    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS refused {what}")


class LoadedModel:
    """A Pyomo model as HiGHS matrices: the column of every variable, and what can change.

    ``dynamic`` holds the numbers that use mutable parameters, each with where it goes:
    ``(row, col)`` a coefficient, ``(row, -1)`` a row's bounds (lower, upper, constant),
    ``(-1, col)`` a cost, ``(-1, -1)`` the objective offset.
    """

    def __init__(self, model: pyo.ConcreteModel) -> None:
        # columns in the order the rows first use them (as Pyomo's persistent interface had
        # them); variables fixed in Pyomo are constants, not columns
        self.columns: list[Any] = []
        self.col_of: dict[int, int] = {}
        self.held = [
            (v, v.value)
            for v in model.component_data_objects(pyo.Var, active=True, descend_into=True)
            if v.fixed
        ]
        self.params: list[Any] = []
        self._param_of: dict[int, int] = {}
        self.where: list[tuple[int, int]] = []
        self.exprs: list[tuple[Any, ...]] = []
        self.users: dict[int, list[int]] = defaultdict(list)
        self._rows(model)
        self._objective(model)
        self.lower, self.upper = self.bounds()
        self.integer = np.fromiter((v.is_integer() for v in self.columns), bool, len(self.columns))
        self.param_values = self.read_params()

    def _column(self, v: Any) -> int:
        col = self.col_of.get(id(v))
        if col is None:
            col = self.col_of[id(v)] = len(self.columns)
            self.columns.append(v)
        return col

    def _track(self, where: tuple[int, int], *exprs: Any) -> bool:
        """Record numbers that use mutable parameters (True if any does)."""
        found: set[int] = set()
        for expr in exprs:
            if expr is None or isinstance(expr, (int, float)):
                continue
            for p in identify_mutable_parameters(expr):
                i = self._param_of.get(id(p))
                if i is None:
                    i = self._param_of[id(p)] = len(self.params)
                    self.params.append(p)
                found.add(i)
        if not found:
            return False
        item = len(self.where)
        self.where.append(where)
        self.exprs.append(exprs)
        for i in found:
            self.users[i].append(item)
        return True

    def _rows(self, model: pyo.ConcreteModel) -> None:
        starts, index, value = [0], [], []
        lows: list[float] = []
        ups: list[float] = []
        for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
            row = len(lows)
            repn = generate_standard_repn(con.body, compute_values=False, quadratic=False)
            if not repn.is_linear():
                raise ValueError(f"constraint {con.name} is not linear")
            for v, k in zip(repn.linear_vars, repn.linear_coefs, strict=True):
                col = self._column(v)
                self._track((row, col), k)
                coefficient = number(k)
                if coefficient != 0:  # zeros are left out (a dynamic one may come back)
                    index.append(col)
                    value.append(coefficient)
            starts.append(len(index))
            self._track((row, -1), con.lower, con.upper, repn.constant)
            low, up = row_bounds(con.lower, con.upper, repn.constant)
            lows.append(low)
            ups.append(up)
        self.starts = np.array(starts, dtype=np.int32)
        self.index = np.array(index, dtype=np.int32)
        self.value = np.array(value, dtype=np.float64)
        self.row_lower = np.array(lows, dtype=np.float64)
        self.row_upper = np.array(ups, dtype=np.float64)

    def _objective(self, model: pyo.ConcreteModel) -> None:
        objectives = list(
            model.component_data_objects(pyo.Objective, active=True, descend_into=True)
        )
        if len(objectives) > 1:
            raise ValueError("the model has more than one active objective")
        self.cost = np.zeros(len(self.columns))
        self.offset = 0.0
        self.maximize = False
        if not objectives:
            return
        objective = objectives[0]
        self.maximize = objective.sense == pyo.maximize
        repn = generate_standard_repn(objective.expr, compute_values=False, quadratic=False)
        if not repn.is_linear():
            raise ValueError("the objective is not linear")
        costs: dict[int, float] = {}
        for v, k in zip(repn.linear_vars, repn.linear_coefs, strict=True):
            col = self._column(v)
            self._track((-1, col), k)
            costs[col] = costs.get(col, 0.0) + number(k)
        self.cost = np.zeros(len(self.columns))
        for col, c in costs.items():
            self.cost[col] = c
        self._track((-1, -1), repn.constant)
        self.offset = number(repn.constant)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The columns' bounds as Pyomo has them now."""
        n = len(self.columns)
        lower, upper = np.empty(n), np.empty(n)
        for i, v in enumerate(self.columns):
            lb, ub = v.bounds
            lower[i] = -math.inf if lb is None else lb
            upper[i] = math.inf if ub is None else ub
        return lower, upper

    def refixed(self) -> bool:
        """Whether a variable was fixed, unfixed or re-fixed in Pyomo since the load."""
        return any(v.fixed for v in self.columns) or any(
            not v.fixed or v.value != value for v, value in self.held
        )

    def read_params(self) -> np.ndarray:
        """The tracked parameters' values now."""
        return np.fromiter((pyo.value(p) for p in self.params), float, len(self.params))

    def pass_to(self, highs: highspy.Highs) -> None:
        """Load the matrices into an empty HiGHS."""
        n, m = len(self.columns), len(self.row_lower)
        cols = np.arange(n, dtype=np.int32)
        check(highs.addVars(n, self.lower, self.upper), "the columns")
        check(highs.changeColsCost(n, cols, self.cost), "the costs")
        integer = cols[self.integer]
        if len(integer):
            kinds = np.ones(len(integer), dtype=np.uint8)
            check(highs.changeColsIntegrality(len(integer), integer, kinds), "integrality")
        if m:
            check(
                highs.addRows(
                    m, self.row_lower, self.row_upper, len(self.index), self.starts[:-1],
                    self.index, self.value,
                ),
                "the rows",
            )  # fmt: skip
        check(highs.changeObjectiveOffset(self.offset), "the objective offset")
        sense = highspy.ObjSense.kMaximize if self.maximize else highspy.ObjSense.kMinimize
        check(highs.changeObjectiveSense(sense), "the objective sense")

    def send_changes(self, highs: highspy.Highs) -> int:
        """Send HiGHS the numbers whose parameters changed since the last call; how many."""
        now = self.read_params()
        changed = np.flatnonzero(now != self.param_values)
        self.param_values = now
        items = sorted({item for p in changed.tolist() for item in self.users[p]})
        rows: list[int] = []
        lows: list[float] = []
        ups: list[float] = []
        for item in items:
            (row, col), exprs = self.where[item], self.exprs[item]
            if row >= 0 and col >= 0:
                check(highs.changeCoeff(row, col, number(exprs[0])), "a coefficient")
            elif row >= 0:
                low, up = row_bounds(*exprs)
                rows.append(row)
                lows.append(low)
                ups.append(up)
            elif col >= 0:
                self.cost[col] = number(exprs[0])
                check(highs.changeColCost(col, self.cost[col]), "a cost")
            else:
                self.offset = number(exprs[0])
                check(highs.changeObjectiveOffset(self.offset), "the objective offset")
        if rows:
            check(
                cast(Any, highs).changeRowsBounds(  # (missing from highspy's stubs)
                    len(rows), np.array(rows, dtype=np.int32), np.array(lows), np.array(ups)
                ),
                "row bounds",
            )
        return len(items)


def row_bounds(lower: Any, upper: Any, constant: Any) -> tuple[float, float]:
    """A row's bounds with its constant moved to them (None: unbounded)."""
    c = number(constant)
    low = -math.inf if lower is None else number(lower) - c
    up = math.inf if upper is None else number(upper) - c
    return low, up
