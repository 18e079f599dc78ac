"""Money: when each cash flow happens, what it is worth today, and the yearly cashflow table.

Convention (docs/decisions.md §2): year 0 holds capex and connection charges, undiscounted; opex,
heat cost and tariff revenue fall in every year 1 … T−1; repex in every year 0 < y < T with
y mod L = 0; PV = Σ_{y=0}^{T−1} value_y / (1 + r)^y with T = ``finance/npv-term``.

A priced item is an amount and a *pattern* (which years it falls in, and how much per year per
unit). Its PV is amount × the pattern's PV factor, and its yearly values are amount × the
pattern's year vector, so the PVs the model uses and the cashflow rows the output holds are two
views of the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

ONCE = "once"
ANNUAL = "annual"


def repex_pattern(lifetime_years: int) -> str:
    """Name of the pattern "every ``lifetime`` years" (replacement expenditure)."""
    return f"every-{lifetime_years}"


def series_pattern(prices: Sequence[float]) -> str:
    """Name of the pattern "year y pays prices[y], flat after the end", from year 1."""
    return "series:" + ",".join(repr(float(p)) for p in prices)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Discounting over the accounting period, and the year vectors of every pattern.

    Attributes
    ----------
    rate
        ``finance/npv-rate``.
    term_years
        ``finance/npv-term`` T: years 0 … T−1 count.
    """

    rate: float
    term_years: int
    _cache: dict[str, NDArray[np.float64]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def years(self) -> NDArray[np.int64]:
        """0 … T−1."""
        return np.arange(self.term_years)

    @property
    def discount(self) -> NDArray[np.float64]:
        """(1 + r)^−y for every year."""
        return (1.0 + self.rate) ** -self.years.astype(float)

    def vector(self, pattern: str) -> NDArray[np.float64]:
        """Units paid in each year by a pattern."""
        if pattern not in self._cache:
            self._cache[pattern] = self._build(pattern)
        return self._cache[pattern]

    def _build(self, pattern: str) -> NDArray[np.float64]:
        years = self.years
        if pattern == ONCE:
            return (years == 0).astype(float)
        if pattern == ANNUAL:
            return (years >= 1).astype(float)
        if pattern.startswith("every-"):
            lifetime = int(pattern.removeprefix("every-"))
            return ((years > 0) & (years % lifetime == 0)).astype(float)
        if pattern.startswith("series:"):
            prices = np.array([float(p) for p in pattern.removeprefix("series:").split(",")])
            index = np.minimum(years, len(prices) - 1)
            return np.where(years >= 1, prices[index], 0.0)
        raise ValueError(f"unknown cash-flow pattern {pattern!r}")

    def factor(self, pattern: str) -> float:
        """PV of one unit of a pattern."""
        return float(self.vector(pattern) @ self.discount)

    def factors(self, patterns: pd.Series) -> NDArray[np.float64]:
        """PV factor of each row's pattern (computed once per distinct pattern)."""
        codes, uniques = pd.factorize(patterns)
        return np.array([self.factor(str(p)) for p in uniques])[codes]


ITEM_COLUMNS = (
    "cost", "type", "class", "amount", "pattern", "connection_cost_id", "tariff_id",
    "civil_cost_id", "building_id", "supply_id", "path_id",
)  # fmt: skip
"""Line items: ``cost`` (capex, opex, repex, heat, revenue, extra), ``type`` (building,
connection, supply, pipe), ``class`` (the ``objective/use-*`` switch that gates it, or ``extra``),
``amount`` (signed ¤ per occurrence: costs negative), ``pattern`` and the format's reference ids."""


def present_value(items: pd.DataFrame, schedule: Schedule) -> NDArray[np.float64]:
    """PV of every line item."""
    return items["amount"].to_numpy(dtype=float) * schedule.factors(items["pattern"])


def cashflow(items: pd.DataFrame, schedule: Schedule) -> pd.DataFrame:
    """The yearly nominal values of line items: one row per (year, item) that is not zero.

    Returns
    -------
    pandas.DataFrame
        The format's cashflow columns: year, value, cost, type and the reference ids.
    """
    codes, uniques = pd.factorize(items["pattern"])
    vectors = (
        np.vstack([schedule.vector(str(p)) for p in uniques])
        if len(uniques)
        else np.zeros((0, schedule.term_years))
    )
    values = items["amount"].to_numpy(dtype=float)[:, None] * vectors[codes]
    row, year = np.nonzero(values)
    refs = items.iloc[row][[c for c in ITEM_COLUMNS if c not in ("class", "amount", "pattern")]]
    out = pd.DataFrame({"year": year.astype("int64"), "value": values[row, year]})
    return pd.concat([out, refs.reset_index(drop=True)], axis=1)


def items_frame(records: dict[str, object]) -> pd.DataFrame:
    """A line-item frame with every :data:`ITEM_COLUMNS` column (missing references are NA)."""
    frame = pd.DataFrame(records)
    for column in ITEM_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    return frame[list(ITEM_COLUMNS)]
