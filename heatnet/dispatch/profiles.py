"""Hourly heat demand of connected buildings on typical days: the built-in default profile.

A *profile* gives, for each day type and hour of the day, a relative value; a building's demand
in that hour is its annual kWh times that value over the profile's year total
(Σ over day types of ``days_per_year`` × Σ over hours of the value), so a year of its typical
days delivers exactly its annual kWh.

The built-in default (used for a building without ``profile_id``, and with its own day types
when the input has no ``day_types`` table) is heatnet's generic shape, not a measurement:

* 24 day types: each month's weekdays and weekend days (a 365-day year: the month's days
  times 5/7 and 2/7);
* a day's share of the year by the degree-day method: 15 % of the heat is hot water, the same
  every day; 85 % is space heating, in proportion to the day's heating degree days
  max(0, 15.5 °C − T) (the base temperature of UK and Irish degree-day practice), with T the
  month's mean outdoor temperature of a temperate central-European climate
  (:data:`MONTH_MEAN_C`, round values with an annual mean of ~9.6 °C);
* within a day, a double peak: a night set-back, a morning peak as heating comes back on and
  hot water is drawn (06-09 on weekdays, 07-11 at weekends) and a smaller evening rise.

It is a place to start: measured or simulated profiles (``demand_profiles``) should replace it
wherever they exist. docs/decisions.md §6 records the choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MONTH_MEAN_C = (0.5, 1.5, 5.0, 9.5, 14.0, 17.0, 19.0, 18.5, 14.5, 10.0, 5.0, 1.5)
"""Monthly mean outdoor temperature (°C) of the default profile's climate."""
BASE_C = 15.5
"""Heating degree-day base temperature (°C)."""
HOT_WATER_SHARE = 0.15
"""Share of the annual heat the default profile spends on hot water, evenly over the days."""
WEEKDAY_SHAPE = (
    0.60, 0.55, 0.55, 0.55, 0.60, 0.85, 1.55, 1.70, 1.45, 1.10, 0.95, 1.00,
    1.00, 0.95, 0.85, 0.90, 1.00, 1.20, 1.35, 1.35, 1.25, 1.10, 0.90, 0.70,
)  # fmt: skip
"""Relative heat by hour (0-23) on a weekday; 24 values averaging 1."""
WEEKEND_SHAPE = (
    0.60, 0.55, 0.55, 0.55, 0.55, 0.65, 0.85, 1.30, 1.55, 1.50, 1.30, 1.10,
    1.10, 1.05, 1.00, 0.95, 1.05, 1.20, 1.30, 1.30, 1.20, 1.10, 0.95, 0.75,
)  # fmt: skip
"""Relative heat by hour (0-23) on a weekend day; 24 values averaging 1."""
DEFAULT_PROFILE = "heatnet-default"


@dataclass(frozen=True, slots=True)
class DayType:
    """A typical day: how many days of the year it stands for, and its temperatures (°C)."""

    id: str
    days_per_year: float
    outdoor_c: float | None = None
    flow_c: float | None = None
    return_c: float | None = None
    ground_c: float | None = None


def default_day_types() -> tuple[DayType, ...]:
    """The default profile's 24 day types: each month's weekdays, then its weekend days."""
    out = []
    for name, days, temp in zip(MONTHS, MONTH_DAYS, MONTH_MEAN_C, strict=True):
        out.append(DayType(f"{name}-weekday", days * 5 / 7, temp))
        out.append(DayType(f"{name}-weekend", days * 2 / 7, temp))
    return tuple(out)


def default_profile(day_types: Sequence[DayType]) -> dict[str, tuple[float, ...]]:
    """The default profile's relative values by day type (24 hours each).

    A day's values sum to its share of the year per day (hot water plus degree days), so
    weighting by ``days_per_year`` gives 1. When a day type has no outdoor temperature, every
    day counts the same (no degree-day weighting); ``weekend`` in an id picks the weekend shape.
    """
    total_days = sum(d.days_per_year for d in day_types)
    if total_days <= 0:
        return {d.id: (0.0,) * 24 for d in day_types}
    degree_days = [_degree_days(d) for d in day_types]
    known = [dd for dd in degree_days if dd is not None]
    year_dd = sum(
        d.days_per_year * (dd or 0.0) for d, dd in zip(day_types, degree_days, strict=True)
    )
    weighted = len(known) == len(day_types) and year_dd > 0
    out = {}
    for d, dd in zip(day_types, degree_days, strict=True):
        share = 1.0 / total_days
        if weighted and dd is not None:
            share = HOT_WATER_SHARE / total_days + (1 - HOT_WATER_SHARE) * dd / year_dd
        shape = WEEKEND_SHAPE if "weekend" in d.id else WEEKDAY_SHAPE
        scale = share / sum(shape)
        out[d.id] = tuple(v * scale for v in shape)
    return out


def calendar(day_types: Sequence[DayType]) -> tuple[str, ...]:
    """The day type of each day of a year, in order: a year of hours built from typical days.

    The built-in day types (:func:`default_day_types`, recognised by their ids) fall on a
    365-day year that starts on a Monday: each day takes its month's weekday or weekend type.
    Other day types cover consecutive days in their given order (list them in the order of the
    year), each ``days_per_year`` rounded so the days add up to the rounded total (largest
    remainders first; at least one day in all).
    """
    ids = [d.id for d in day_types]
    if ids == [d.id for d in default_day_types()]:
        out: list[str] = []
        for name, days in zip(MONTHS, MONTH_DAYS, strict=True):
            for _ in range(days):
                kind = "weekday" if len(out) % 7 < 5 else "weekend"
                out.append(f"{name}-{kind}")
        return tuple(out)
    weights = [max(0.0, d.days_per_year) for d in day_types]
    total = max(1, round(sum(weights)))
    counts = [int(w) for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - weights[i], i))
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    return tuple(d for d, n in zip(ids, counts, strict=True) for _ in range(n))


def _degree_days(day: DayType) -> float | None:
    if day.outdoor_c is None:
        return None
    return max(0.0, BASE_C - day.outdoor_c)


def hourly_kw(
    annual_kwh: float, profile: Mapping[str, Sequence[float]], day_types: Sequence[DayType]
) -> dict[str, tuple[float, ...]]:
    """A building's demand (kW) by day type and hour, its year of typical days = ``annual_kwh``.

    ``profile`` maps each day type to 24 relative values; a profile that is zero all year gives
    zero demand.
    """
    year = sum(d.days_per_year * sum(profile[d.id]) for d in day_types)
    if year <= 0:
        return {d.id: (0.0,) * 24 for d in day_types}
    factor = annual_kwh / year
    return {d.id: tuple(v * factor for v in profile[d.id]) for d in day_types}
