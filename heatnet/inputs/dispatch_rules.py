"""Rules across the dispatch tables: plant units, stores, fuels, day types and demand profiles.

The tables are optional, and only read with ``plant_units`` (docs/decisions.md §6); a table with
no rows counts as absent. Their columns are checked by the schemas like every other table's and
their foreign keys by :func:`heatnet.inputs.rules.check_references`; this module checks what
spans rows and tables, every problem at once:

- ``fuels.price_per_kwh`` is a number, 24 hourly prices, or 24 hourly prices per day type
  covering every day type (the forms and limits are the schema's ``x-value-forms`` and
  ``x-value-schemas``); a fuel is sold at a site by at most one row;
- the day types add up to a year; every demand profile gives each hour of every day type once,
  and is not zero everywhere; demand profiles need day types;
- a unit's fuel can be bought at its site, or brought there by fuel distribution from a site
  that buys it (as ``heatnet dispatch-solve`` requires of its problems), and its minimum load
  fits its fuel limit;
- units and stores on forbidden supplies, stores at sites without units, and dispatch tables
  without ``plant_units``, are ignored with a warning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

import jsonschema
import numpy as np
import pandas as pd

from heatnet.core.issues import Issue, Severity, error, show, warning
from heatnet.inputs.checker import RowContext
from heatnet.inputs.load import DISPATCH_TABLES
from heatnet.inputs.schema import SchemaSet

HOURS = 24
YEAR_DAYS = (365.0, 366.0)
_DAYS_SLACK = 1e-6
"""Days of slack on the year's length: day types of fractional days add up with rounding."""
_SHOWN = 80
"""The longest raw cell a message repeats whole."""

Price = float | list[float] | dict[str, list[float]]


def given(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """A dispatch table as the rules and :class:`~heatnet.inputs.validate.Inputs` see it.

    A table without rows counts as absent (``None``): ``heatnet init`` writes each one empty.
    """
    return None if frame is None or len(frame) == 0 else frame


def unchecked_references(
    frames: Mapping[str, pd.DataFrame | None], damaged: Collection[str]
) -> set[str]:
    """Tables references into which are not checked row by row.

    ``day_types`` when demand profiles are given without it: :func:`check_dispatch` reports
    that once (``missing_table``) instead of once per profile row.
    """
    if _needs_day_types(frames, damaged):
        return {"day_types"}
    return set()


def _needs_day_types(frames: Mapping[str, pd.DataFrame | None], damaged: Collection[str]) -> bool:
    return (
        frames.get("demand_profiles") is not None
        and frames.get("day_types") is None
        and "day_types" not in damaged
    )


def check_dispatch(
    frames: Mapping[str, pd.DataFrame | None],
    contexts: Mapping[str, RowContext],
    schemas: SchemaSet,
    *,
    damaged: Collection[str] = (),
) -> tuple[dict[str, pd.DataFrame | None], list[Issue]]:
    """Check the dispatch tables against each other and the supplies.

    Parameters
    ----------
    frames
        Every typed layer and table by name; a dispatch table without rows as ``None`` (see
        :func:`given`).
    contexts
        Row contexts of the tables and layers, for issue locations.
    schemas
        The schema set (the fuel price forms and limits).
    damaged
        Tables that could not be read completely: rules that need them are skipped (their
        reading issues are errors already).

    Returns
    -------
    tuple
        The dispatch tables (``fuels.price_per_kwh`` parsed: ``float``, ``list[float]`` of 24
        hourly prices, or ``dict[str, list[float]]`` by day type; ``None`` where a price is
        unusable) and the issues found.
    """
    tables = {name: frames.get(name) for name in DISPATCH_TABLES}
    day_types = tables["day_types"]
    day_ids: set[str] | None = None
    if day_types is not None and "day_type_id" in day_types.columns and "day_types" not in damaged:
        day_ids = set(day_types["day_type_id"].dropna().astype(str))
    issues = _check_fuels(tables, contexts, schemas, day_ids)
    issues += _check_days(tables, contexts, damaged, day_ids)
    units = tables["plant_units"]
    if units is None:
        ignored = [name for name in DISPATCH_TABLES[1:] if tables[name] is not None]
        if ignored and "plant_units" not in damaged:
            issues.append(_ignored(ignored))
        return tables, issues
    supplies = frames.get("supplies")
    if "plant_units" in contexts:
        ctx = contexts["plant_units"]
        issues += _on_forbidden(units, supplies, ctx, "unit")
        issues += _unbuyable_fuels(units, frames, tables, ctx, damaged)
        issues += _unreachable_min_loads(units, ctx)
    storages = tables["storages"]
    if storages is not None and "storages" in contexts:
        ctx = contexts["storages"]
        issues += _on_forbidden(storages, supplies, ctx, "store")
        if "plant_units" not in damaged:
            issues += _stores_without_units(storages, units, ctx)
    return tables, issues


def _check_fuels(
    tables: dict[str, pd.DataFrame | None],
    contexts: Mapping[str, RowContext],
    schemas: SchemaSet,
    day_ids: set[str] | None,
) -> list[Issue]:
    """Parse the fuel prices (in ``tables``) and check them; a fuel sold at a site once."""
    fuels = tables["fuels"]
    if fuels is None or "fuels" not in contexts:
        return []
    issues: list[Issue] = []
    if "price_per_kwh" in fuels.columns:
        parsed, issues = parse_fuel_prices(fuels, day_ids, schemas, contexts["fuels"])
        tables["fuels"] = fuels = fuels.assign(price_per_kwh=parsed)
    if _has(fuels, "fuel_id", "supply_id"):
        issues += _fuels_sold_twice(fuels, contexts["fuels"])
    return issues


def _check_days(
    tables: Mapping[str, pd.DataFrame | None],
    contexts: Mapping[str, RowContext],
    damaged: Collection[str],
    day_ids: set[str] | None,
) -> list[Issue]:
    """The day types make a year; the demand profiles have day types, and cover them."""
    issues: list[Issue] = []
    day_types, profiles = tables["day_types"], tables["demand_profiles"]
    if day_types is not None and "day_types" in contexts and _has(day_types, "days_per_year"):
        issues += _year_of_days(day_types, contexts["day_types"])
    if _needs_day_types(tables, damaged):
        message = (
            "demand_profiles is given but day_types is missing (or empty): a profile gives its "
            "values by day type"
        )
        issues.append(error("missing_table", "day_types", message))
    elif (
        profiles is not None
        and "demand_profiles" in contexts
        and "demand_profiles" not in damaged
        and _has(profiles, "profile_id", "day_type_id", "hour", "value")
    ):
        issues += _check_profiles(profiles, contexts["demand_profiles"], day_ids)
    return issues


def _has(frame: pd.DataFrame, *columns: str) -> bool:
    """Whether ``frame`` has every column (a missing one is reported as ``missing_column``)."""
    return set(columns) <= set(frame.columns)


def _ignored(names: list[str]) -> Issue:
    verb, pronoun = ("is", "it is") if len(names) == 1 else ("are", "they are")
    message = (
        f"{', '.join(names)} {verb} given but plant_units is not: without plant units there is "
        f"nothing to dispatch, so {pronoun} ignored"
    )
    return warning("dispatch_tables_ignored", "plant_units", message)


# --- fuels ------------------------------------------------------------------------------------


def parse_fuel_prices(
    fuels: pd.DataFrame, day_types: Collection[str] | None, schemas: SchemaSet, ctx: RowContext
) -> tuple[pd.Series, list[Issue]]:
    """Parse each ``fuels.price_per_kwh`` and check its form, length, day types and limits.

    Parameters
    ----------
    fuels
        The typed fuels table.
    day_types
        The ids of ``day_types`` (``None`` without a usable table): prices by day type must
        cover exactly these.
    schemas
        The schema set: the price forms (``x-value-forms``) and their limits
        (``x-value-schemas``) come from the column's schema.
    ctx
        The fuels' row context.

    Returns
    -------
    tuple
        Parsed prices (``float``, ``list[float]`` or ``dict[str, list[float]]``; ``None`` where
        empty or unusable) and the issues. An empty cell is the column check's ``null_value``.
    """
    spec = schemas.input("fuels").columns["price_per_kwh"].raw
    forms: Mapping[str, Any] = spec["x-value-schemas"]
    validators = [jsonschema.Draft202012Validator(forms[name]) for name in spec["x-value-forms"]]
    parser = _PriceParser(forms["per_kwh"], int(forms["hourly"]["minItems"]), day_types)
    parsed: list[Any] = []
    issues: list[Issue] = []
    for row, raw in fuels["price_per_kwh"].items():
        value, problem, code = parser.parse(raw)
        if value is not None and not any(v.is_valid(value) for v in validators):
            value, problem, code = None, parser.expected, "bad_fuel_price"
        parsed.append(value)
        if problem is not None and bool(ctx.active.get(row, True)):
            message = f"price_per_kwh {_shown(raw)}: {problem}"
            issues.append(ctx.issue(code, row, message, column="price_per_kwh"))
    return pd.Series(parsed, index=fuels.index, dtype=object), issues


def _shown(raw: Any) -> str:
    text = show(raw)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 4]}...{text[-1]}"


class _PriceParser:
    """One fuel price cell: a number, 24 hourly prices, or 24 hourly prices by day type."""

    def __init__(
        self, limits: Mapping[str, Any], hours: int, day_types: Collection[str] | None
    ) -> None:
        self.low = float(limits.get("minimum", 0.0))
        self.high = float(limits.get("maximum", math.inf))
        self.unit = str(limits.get("x-unit", ""))
        self.hours = hours
        self.day_types = None if day_types is None else sorted(day_types)
        self.expected = (
            f"must be a number, a JSON list of {hours} hourly prices, or a JSON object of such "
            "lists by day_type_id"
        )

    def parse(self, raw: Any) -> tuple[Price | None, str | None, str]:
        """The parsed price, or ``None`` with what is wrong and the issue's code."""
        if raw is None or raw is pd.NA or (isinstance(raw, float) and math.isnan(raw)):
            return None, None, ""
        if isinstance(raw, int | float | np.number) and not isinstance(raw, bool | np.bool_):
            data: Any = float(raw)
        else:
            try:
                data = json.loads(str(raw))
            except json.JSONDecodeError as exc:
                return None, f"is neither a number nor valid JSON ({exc.msg})", "bad_fuel_price"
        if isinstance(data, dict):
            return self._by_day_type(data)
        if isinstance(data, list):
            return self._hourly(data, "")
        if _is_number(data):
            problem = self._limit(float(data))
            return (None, *problem) if problem else (float(data), None, "")
        return None, self.expected, "bad_fuel_price"

    def _limit(self, value: float, where: str = "") -> tuple[str, str] | None:
        """What is wrong with one price, and its code, or ``None``."""
        if not math.isfinite(value):
            return f"{where}{value} is not a finite number", "bad_fuel_price"
        if value < self.low:
            code = "negative_value" if self.low == 0 else "below_minimum"
            return f"{where}{value:g} must be at least {self.low:g} {self.unit}", code
        if value > self.high:
            return f"{where}{value:g} must be at most {self.high:g} {self.unit}", "above_maximum"
        return None

    def _hourly(self, data: list[Any], where: str) -> tuple[list[float] | None, str | None, str]:
        if len(data) != self.hours:
            problem = (
                f"{where}a list of hourly prices needs {self.hours} values (hours 0 to "
                f"{self.hours - 1}), not {len(data)}"
            )
            return None, problem, "bad_fuel_price"
        for hour, value in enumerate(data):
            if not _is_number(value):
                return None, f"{where}hour {hour}: {show(value)} is not a number", "bad_fuel_price"
            beyond = self._limit(float(value), f"{where}hour {hour}: ")
            if beyond:
                return (None, *beyond)
        return [float(v) for v in data], None, ""

    def _by_day_type(
        self, data: dict[str, Any]
    ) -> tuple[dict[str, list[float]] | None, str | None, str]:
        if self.day_types is None:
            problem = (
                "prices by day type need a day_types table (without one, give a number or "
                f"{self.hours} hourly prices)"
            )
            return None, problem, "bad_fuel_price"
        missing = [d for d in self.day_types if d not in data]
        unknown = sorted(d for d in data if d not in set(self.day_types))
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"has no prices for day type(s) {', '.join(map(repr, missing))}")
            if unknown:
                parts.append(f"day type(s) {', '.join(map(repr, unknown))} are not in day_types")
            problem = "; ".join(parts) + ": give prices for every day type of day_types"
            return None, problem, "bad_fuel_price"
        out: dict[str, list[float]] = {}
        for day in self.day_types:
            value = data[day]
            if not isinstance(value, list):
                problem = f"day type {day!r}: {show(value)} is not a list of {self.hours} prices"
                return None, problem, "bad_fuel_price"
            hourly, why, code = self._hourly(value, f"day type {day!r}: ")
            if hourly is None:
                return None, why, code
            out[day] = hourly
        return out, None, ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fuels_sold_twice(fuels: pd.DataFrame, ctx: RowContext) -> list[Issue]:
    """A fuel sold at every site (null ``supply_id``) by one row only, and by no other row.

    Rows naming the same site twice are the key check's ``duplicate_id``; a null site means
    every site, so it clashes with any other row of the fuel.
    """
    issues: list[Issue] = []
    usable = ctx.active & fuels["fuel_id"].notna()
    everywhere = (usable & fuels["supply_id"].isna()).to_numpy(dtype=bool)
    ids = fuels["fuel_id"].astype(object)
    for fuel in dict.fromkeys(ids[everywhere]):
        same = usable & (ids == fuel)
        rows = fuels.index[everywhere & same.to_numpy(dtype=bool)]
        if len(rows) > 1:
            for row in rows:
                message = (
                    f"fuel_id {fuel!r} is sold at every site (null supply_id) by more than one row"
                )
                issues.append(ctx.issue("duplicate_id", row, message, column="supply_id"))
        first = rows[0]
        for row in fuels.index[(same & fuels["supply_id"].notna()).to_numpy(dtype=bool)]:
            site = fuels.at[row, "supply_id"]
            message = (
                f"fuel_id {fuel!r} is sold at {site!r} by this row and at every site by "
                f"{ctx.row_kind} {first} (null supply_id): give one row per fuel and site"
            )
            issues.append(ctx.issue("duplicate_id", row, message, column="supply_id"))
    return issues


# --- day types and demand profiles ------------------------------------------------------------


def _year_of_days(day_types: pd.DataFrame, ctx: RowContext) -> list[Issue]:
    """The day types stand for a year: more than 366 days is an error, not 365-366 a warning."""
    days = day_types.loc[ctx.active.to_numpy(dtype=bool), "days_per_year"].astype("float64")
    total = float(days.sum(skipna=True))
    low, high = YEAR_DAYS
    if total > high + _DAYS_SLACK:
        message = f"the day types stand for {total:g} days together, more than a year ({high:g})"
        return [error("too_many_days", "day_types", message, column="days_per_year")]
    if total < low - _DAYS_SLACK:
        message = (
            f"the day types stand for {total:g} days together, not a year ({low:g} or "
            f"{high:g}): yearly figures (costs, kWh, hours) are for {total:g} days"
        )
        return [warning("not_a_year", "day_types", message, column="days_per_year")]
    return []


def _check_profiles(
    profiles: pd.DataFrame, ctx: RowContext, day_types: Collection[str] | None
) -> list[Issue]:
    """Each profile: every hour of every day type once (duplicates are the key check's), not 0."""
    issues: list[Issue] = []
    usable = ctx.active & profiles[["profile_id", "day_type_id", "hour"]].notna().all(axis=1)
    rows = profiles.loc[usable.to_numpy(dtype=bool)]
    for (profile, day), group in rows.groupby(["profile_id", "day_type_id"], sort=True):
        missing = sorted(set(range(HOURS)) - {int(h) for h in group["hour"]})
        if missing:
            message = (
                f"profile {profile!r} has no value for hour(s) {_spans(missing)} of day type "
                f"{day!r}: give each hour 0 to {HOURS - 1} once"
            )
            issues.append(ctx.issue("incomplete_profile", group.index[0], message, column="hour"))
    named = profiles.loc[(ctx.active & profiles["profile_id"].notna()).to_numpy(dtype=bool)]
    for profile, group in named.groupby("profile_id", sort=True):
        first = group.index[0]
        if day_types is not None:
            have = set(group["day_type_id"].dropna().astype(str))
            absent = sorted(set(day_types) - have)
            if absent:
                message = (
                    f"profile {profile!r} has no values for day type(s) "
                    f"{', '.join(map(repr, absent))}: a profile covers every day type of day_types"
                )
                issues.append(ctx.issue("incomplete_profile", first, message, "day_type_id"))
        values = group["value"].astype("float64")
        if values.notna().any() and bool((values.fillna(0.0) == 0.0).all()):
            message = (
                f"profile {profile!r} is 0 in every hour of every day type: a building with it "
                "would need no heat at any time (leave its profile_id empty for the built-in one)"
            )
            issues.append(ctx.issue("zero_profile", first, message, column="value"))
    return issues


def _spans(hours: list[int]) -> str:
    """``[0, 1, 2, 5]`` as ``0-2, 5``."""
    parts: list[str] = []
    start = prev = hours[0]
    for hour in [*hours[1:], None]:
        if hour is not None and hour == prev + 1:
            prev = hour
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if hour is not None:
            start = prev = hour
    return ", ".join(parts)


# --- units and stores -------------------------------------------------------------------------


def _on_forbidden(
    frame: pd.DataFrame, supplies: pd.DataFrame | None, ctx: RowContext, what: str
) -> list[Issue]:
    """A warning for each unit or store on a forbidden supply: it is never dispatched."""
    if supplies is None or not _has(frame, "supply_id") or not _has(supplies, "constraint"):
        return []
    forbidden = set(supplies.loc[supplies["constraint"] == "forbidden", "supply_id"].dropna())
    on = ctx.active & frame["supply_id"].isin(forbidden).fillna(False).astype(bool)
    issues = []
    for row in frame.index[on.to_numpy(dtype=bool)]:
        message = (
            f"supply_id {frame.at[row, 'supply_id']!r} is forbidden (supplies.constraint): this "
            f"{what} is never built nor dispatched"
        )
        issues.append(
            ctx.issue(
                "forbidden_supply", row, message, column="supply_id", severity=Severity.WARNING
            )
        )
    return issues


def _stores_without_units(
    storages: pd.DataFrame, units: pd.DataFrame, ctx: RowContext
) -> list[Issue]:
    """A warning for each store at a site without plant units: nothing dispatches it."""
    if not _has(storages, "supply_id") or not _has(units, "supply_id"):
        return []
    sites = set(units["supply_id"].dropna())
    alone = ctx.active & storages["supply_id"].notna() & ~storages["supply_id"].isin(sites)
    issues = []
    for row in storages.index[alone.fillna(False).astype(bool).to_numpy(dtype=bool)]:
        message = (
            f"supply_id {storages.at[row, 'supply_id']!r} has no plant units: a store is "
            "dispatched with its site's units, so this one is ignored"
        )
        issues.append(
            ctx.issue("storage_without_units", row, message, "supply_id", Severity.WARNING)
        )
    return issues


def _open(value: Any) -> bool:
    """A fuel_distribution limit lets fuel through: above 0, or unreadable (already an error)."""
    if value is None or value is pd.NA or math.isnan(float(value)):
        return True  # its defaults are filled, so only a cell that is not a number is missing
    return bool(float(value) > 0)


def _unbuyable_fuels(
    units: pd.DataFrame,
    frames: Mapping[str, pd.DataFrame | None],
    tables: Mapping[str, pd.DataFrame | None],
    ctx: RowContext,
    damaged: Collection[str],
) -> list[Issue]:
    """Each unit's fuel can be bought at its site, or brought there from a site that buys it.

    Bought: a ``fuels`` row for that site or for every site (null ``supply_id``) whose
    ``import_max_kw`` is null or above 0. Brought: a ``fuel_distribution`` row importing it at
    the site (``import_max_kw`` > 0) and another site that buys it and exports it
    (``export_max_kw`` > 0), as ``heatnet dispatch-solve`` requires. Units whose fuel or site
    is unknown are the reference check's errors, not this rule's; units on a forbidden supply
    are never dispatched (a warning says so), so their fuel is not checked.
    """
    fuels, distribution = tables["fuels"], tables["fuel_distribution"]
    supplies = frames.get("supplies")
    if (
        fuels is None
        or supplies is None
        or {"fuels", "fuel_distribution", "supplies"} & set(damaged)
        or not _has(units, "fuel_id", "supply_id")
        or not _has(fuels, "fuel_id", "supply_id", "import_max_kw")
        or (distribution is not None and not _has(distribution, "fuel_id", "supply_id"))
    ):
        return []
    sold = fuels.loc[fuels["fuel_id"].notna()]
    known = set(sold["fuel_id"])
    open_rows = sold.loc[sold["import_max_kw"].isna() | (sold["import_max_kw"] > 0).fillna(False)]
    everywhere = set(open_rows.loc[open_rows["supply_id"].isna(), "fuel_id"])
    at: dict[str, set[str]] = {}
    for fuel, site in zip(open_rows["fuel_id"], open_rows["supply_id"], strict=True):
        if not pd.isna(site):
            at.setdefault(str(fuel), set()).add(str(site))
    moves: dict[tuple[str, str], tuple[bool, bool]] = {}
    if distribution is not None:
        for _, r in distribution.dropna(subset=["fuel_id", "supply_id"]).iterrows():
            moves[(str(r["fuel_id"]), str(r["supply_id"]))] = (
                _open(r.get("import_max_kw")),
                _open(r.get("export_max_kw")),
            )
    sites = set(supplies["supply_id"].dropna()) if "supply_id" in supplies.columns else set()
    if "constraint" in supplies.columns:
        sites -= set(supplies.loc[supplies["constraint"] == "forbidden", "supply_id"].dropna())
    issues: list[Issue] = []
    for row, fuel, site in zip(units.index, units["fuel_id"], units["supply_id"], strict=True):
        if not bool(ctx.active.get(row, True)) or pd.isna(fuel) or pd.isna(site):
            continue
        fuel, site = str(fuel), str(site)
        if fuel not in known or site not in sites or fuel in everywhere or site in at.get(fuel, ()):
            continue
        imports = moves.get((fuel, site), (False, False))[0]
        senders = [
            other
            for other in sorted(at.get(fuel, ()))
            if other != site and other in sites and moves.get((fuel, other), (False, False))[1]
        ]
        if imports and senders:
            continue
        why = (
            "fuel_distribution brings it there, but no other site both buys it (fuels) and "
            "sends it (fuel_distribution export_max_kw > 0)"
            if imports
            else f"no fuels row sells it there (supply_id {site!r}, or null for every site, with "
            f"import_max_kw null or above 0) and no fuel_distribution row brings it there "
            f"(import_max_kw > 0)"
        )
        message = f"fuel_id {fuel!r} is a fuel nobody can buy at {site}: {why}"
        issues.append(ctx.issue("unbuyable_fuel", row, message, column="fuel_id"))
    return issues


def _unreachable_min_loads(units: pd.DataFrame, ctx: RowContext) -> list[Issue]:
    """A unit's minimum load (min_load_fraction × heat_max_kw) fits its fuel limit."""
    columns = ("min_load_fraction", "heat_max_kw", "efficiency", "fuel_max_kw")
    if not _has(units, *columns):
        return []
    low, top, eff, fuel_max = (units[c].astype("float64") for c in columns)
    most = eff * fuel_max
    over = ctx.active & (low * top > most * (1 + 1e-9)).fillna(False).astype(bool)
    issues = []
    for row in units.index[over.to_numpy(dtype=bool)]:
        message = (
            f"the minimum load {low[row] * top[row]:g} kW (min_load_fraction × heat_max_kw) needs "
            f"more fuel than fuel_max_kw {fuel_max[row]:g} kW gives at efficiency {eff[row]:g} "
            f"({most[row]:g} kW of heat): the unit could never run"
        )
        issues.append(ctx.issue("min_load_unreachable", row, message, column="min_load_fraction"))
    return issues
