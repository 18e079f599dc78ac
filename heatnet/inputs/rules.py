"""Rules that span tables.

Foreign keys, the civil cost catalogue (and its loss factors for the λ heat-loss model), supply
cost values, demand groups and required elements, and peaks. Each rule takes typed frames and
returns issues.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from itertools import pairwise
from typing import Any

import jsonschema
import numpy as np
import pandas as pd

from heatnet.core.issues import Issue, RowKind, Severity, error, show, warning
from heatnet.core.units import HOURS_PER_YEAR
from heatnet.inputs.checker import RowContext
from heatnet.inputs.params import Parameters, ParameterValues, normalise_key
from heatnet.inputs.schema import SchemaSet


def check_references(
    frames: Mapping[str, pd.DataFrame | None],
    contexts: Mapping[str, RowContext],
    schemas: SchemaSet,
    *,
    unchecked: Collection[str] = (),
) -> list[Issue]:
    """Every ``x-references`` column points at an existing key of its target table.

    A reference into a missing ``tariffs`` table is not an error (no tariffs means no revenue,
    which is warned once); a reference into any other missing table is, because its costs would
    otherwise vanish silently. References into an ``unchecked`` table (one that could not be
    read completely, already an error) are not checked: the row they name may be the unread one.
    """
    issues: list[Issue] = []
    for name, frame in frames.items():
        if frame is None or name not in contexts:
            continue
        ctx = contexts[name]
        for spec in schemas.input(name).attribute_columns:
            if spec.references is None or spec.name not in frame.columns:
                continue
            target, column = spec.references
            target_frame = frames.get(target)
            if (target_frame is None and target == "tariffs") or target in unchecked:
                continue
            if target_frame is not None and column not in target_frame.columns:
                continue  # reported as missing_column
            known = set() if target_frame is None else set(target_frame[column].dropna())
            values = frame[spec.name]
            dangling = ctx.active & values.notna() & ~values.isin(known).fillna(False).astype(bool)
            what = f"no {target} table" if target_frame is None else f"not in {target}.{column}"
            for row in frame.index[dangling.to_numpy(dtype=bool)]:
                message = f"{spec.name} {show(values[row])} is {what}"
                issues.append(ctx.issue(f"unknown_{spec.name}", row, message, column=spec.name))
    return issues


def missing_tariff_ids(buildings: pd.DataFrame, ctx: RowContext) -> list[Issue]:
    """One ``no_tariff_id`` warning naming how many buildings (not forbidden) have no tariff.

    A null ``tariff_id`` means no tariff revenue (the column's schema); when no building has
    one, nothing earns money and a design connects only what it must.
    """
    active = ctx.active.to_numpy(dtype=bool)
    none = active & buildings["tariff_id"].isna().to_numpy(dtype=bool)
    n, total = int(none.sum()), int(active.sum())
    if n == 0:
        return []
    if n == total:
        message = (
            f"none of the {total} buildings has a tariff_id, so none earns tariff revenue: "
            "a design connects only buildings that are required or whose extra_pv pays for them"
        )
    else:
        rows = buildings.index[none][:5]
        named = ", ".join(str(buildings.at[row, "building_id"]) for row in rows)
        more = ", ..." if n > len(rows) else ""
        message = (
            f"{n} of {total} buildings have no tariff_id and earn no tariff revenue ({named}{more})"
        )
    return [warning("no_tariff_id", "buildings", message, column="tariff_id")]


def default_civil_cost(names: pd.DataFrame) -> tuple[int | None, list[Issue]]:
    """The one civil cost id marked ``is_default``; an error unless there is exactly one."""
    defaults = names.loc[names["is_default"].fillna(False).astype(bool), "civil_cost_id"].dropna()
    if len(defaults) == 1:
        return int(defaults.iloc[0]), []
    if len(defaults) == 0:
        message = "no row has is_default = true; exactly one civil cost must be the default (used for connectors and paths with no civil_cost_id)"
        return None, [
            error("no_default_civil_cost", "civil_cost_names", message, column="is_default")
        ]
    ids = ", ".join(str(i) for i in defaults)
    message = f"civil_cost_id {ids} are all marked is_default; exactly one may be"
    return None, [
        error("multiple_default_civil_costs", "civil_cost_names", message, column="is_default")
    ]


def check_civil_diameters(
    paths: pd.DataFrame, civil_costs: pd.DataFrame, default_id: int | None, ctx: RowContext
) -> list[Issue]:
    """Every civil cost id a path uses (and the default) has at least one diameter row."""
    priced = set(civil_costs["civil_cost_id"].dropna())
    issues: list[Issue] = []
    if default_id is not None and default_id not in priced:
        message = f"the default civil_cost_id {default_id} has no diameters in civil_costs"
        issues.append(
            error(
                "no_civil_cost_diameters",
                "civil_costs",
                message,
                column="civil_cost_id",
                feature_id=str(default_id),
            )
        )
    ids = paths["civil_cost_id"]
    missing = ctx.active & ids.notna() & ~ids.isin(priced).fillna(False).astype(bool)
    for row in paths.index[missing.to_numpy(dtype=bool)]:
        message = f"civil_cost_id {ids[row]} has no diameters in civil_costs"
        issues.append(ctx.issue("no_civil_cost_diameters", row, message, column="civil_cost_id"))
    return issues


LOSS_MODEL_KEY = "heatnet/heat-loss-model"
LOSS_FACTOR = "loss_factor_w_per_m_k"


def check_loss_factors(
    civil_costs: pd.DataFrame | None,
    values: ParameterValues,
    ctx: RowContext | None,
    *,
    parameters: pd.DataFrame | None = None,
    parameter_row_kind: RowKind = "fid",
    reported: Collection[Any] = (),
) -> list[Issue]:
    """With ``heatnet/heat-loss-model`` lambda, every diameter has one loss factor λ, not falling.

    The λ model (docs/decisions.md §8.2) takes each catalogue diameter's loss from the
    ``loss_factor_w_per_m_k`` of its ``civil_costs`` rows, so: every row gives it
    (``missing_loss_factor``: per row, or once for the table when no row does); the rows of one
    diameter (one per dig type) give the same value (``conflicting_loss_factor``, on each row
    that differs from the diameter's first); and λ does not fall as the diameter grows
    (``falling_loss_factor``): the optimiser bounds any pipe's loss by the largest pipe's. With
    the fit model the column is not used and nothing is checked.

    Parameters
    ----------
    civil_costs
        The typed table, or ``None`` when the input has none (the default pipe table, which has
        no λ, is then used: one ``missing_loss_factor`` error on the parameter).
    values
        The parsed parameters (which model; where its value came from).
    ctx
        The table's row context (``None`` with no table).
    parameters
        The parameters table as read, to locate the parameter's row.
    parameter_row_kind
        What that table's index counts.
    reported
        Rows whose ``loss_factor_w_per_m_k`` already has an issue (a value that is not a
        number, say): not reported again as empty.
    """
    if values.parameters.heat_loss_model != "lambda":
        return []
    if civil_costs is None or ctx is None:
        return [_loss_model_issue(values, parameters, parameter_row_kind)]
    if LOSS_FACTOR not in civil_costs.columns or len(civil_costs) == 0:
        return []
    factor = civil_costs[LOSS_FACTOR].astype("float64")
    active = ctx.active.to_numpy(dtype=bool)
    empty = active & factor.isna().to_numpy(dtype=bool)
    if empty.all():
        message = (
            f"column {LOSS_FACTOR} is empty on every row (or missing), but parameter "
            f"{LOSS_MODEL_KEY} is lambda, which takes each diameter's heat loss from it: give "
            "the loss factor λ (W/(m K)) on every row"
        )
        return [error("missing_loss_factor", "civil_costs", message, column=LOSS_FACTOR)]
    skip = set(reported)
    issues = [
        ctx.issue(
            "missing_loss_factor",
            row,
            f"{LOSS_FACTOR} is empty, but parameter {LOSS_MODEL_KEY} is lambda, which needs "
            "the loss factor λ (W/(m K)) of every row",
            column=LOSS_FACTOR,
        )
        for row in civil_costs.index[empty]
        if row not in skip
    ]
    if "diameter_mm" in civil_costs.columns:
        issues += _loss_factor_conflicts(civil_costs["diameter_mm"], factor.where(active), ctx)
    return issues


def _loss_factor_conflicts(diameter: pd.Series, factor: pd.Series, ctx: RowContext) -> list[Issue]:
    """Rows of one diameter giving different λ, and diameters whose λ falls below a smaller's."""
    issues: list[Issue] = []
    usable = diameter.notna() & factor.notna()
    agreed: dict[float, tuple[float, Any]] = {}  # diameter: (λ, its first row)
    for size, rows in factor[usable].groupby(diameter[usable].astype("float64"), sort=True):
        first = rows.index[0]
        lam = float(rows.iloc[0])
        name = f"{ctx.row_kind} {first}"
        if not pd.isna(ctx.ids.get(first)):
            name += f" ({ctx.ids[first]})"
        for row in rows.index[(rows != lam).to_numpy(dtype=bool)]:
            message = (
                f"{LOSS_FACTOR} {float(rows[row]):g} differs from {lam:g} on {name}, of the "
                f"same diameter_mm {size:g}: a diameter has one heat loss whatever the dig type"
            )
            issues.append(ctx.issue("conflicting_loss_factor", row, message, column=LOSS_FACTOR))
        if (rows == lam).all():
            agreed[float(str(size))] = (lam, rows.index)
    top: tuple[float, float] | None = None  # (λ, diameter) of the largest λ so far
    for size, (lam, rows) in agreed.items():
        if top is not None and lam < top[0]:
            message = (
                f"{LOSS_FACTOR} {lam:g} at diameter_mm {size:g} is below {top[0]:g} at "
                f"diameter_mm {top[1]:g}: λ must not fall as the diameter grows (a bigger pipe "
                "loses at least as much heat; the optimiser bounds every pipe's loss by the "
                "largest pipe's)"
            )
            issues += [
                ctx.issue("falling_loss_factor", row, message, column=LOSS_FACTOR) for row in rows
            ]
        elif top is None or lam > top[0]:
            top = (lam, size)
    return issues


def _loss_model_issue(
    values: ParameterValues, parameters: pd.DataFrame | None, row_kind: RowKind
) -> Issue:
    """The λ model chosen without a civil_costs table: on the parameter's row when it has one."""
    where: dict[str, Any] = {"column": "value", "feature_id": LOSS_MODEL_KEY}
    origin = values.source.get(LOSS_MODEL_KEY)
    if origin == "table" and parameters is not None and "parameter" in parameters.columns:
        keys = parameters["parameter"].map(lambda k: "" if pd.isna(k) else normalise_key(str(k)))
        rows = parameters.index[(keys == LOSS_MODEL_KEY).to_numpy(dtype=bool)]
        if len(rows) > 0:
            where |= {"row": int(rows[0]), "row_kind": row_kind}
    label = "--set" if origin == "--set" else "parameter"
    message = (
        f"{label} '{LOSS_MODEL_KEY}' is lambda, but there is no civil_costs table (the default "
        f"pipe table has no loss factors): the λ model needs a civil_costs table with "
        f"{LOSS_FACTOR} on every row"
    )
    return error("missing_loss_factor", "parameters", message, **where)


def parse_cost_values(
    supply_costs: pd.DataFrame, schemas: SchemaSet, ctx: RowContext
) -> tuple[pd.Series, list[Issue]]:
    """Parse each ``supply_costs.value`` and check it fits its cost kind.

    A value is a float, a curve or a year series; the forms allowed per kind, and their limits,
    come from the schema (``x-value-forms``, ``x-value-schemas``). A value of the right form
    beyond a limit is ``above_maximum``, naming the limit; any other misfit ``bad_cost_value``.

    Returns
    -------
    tuple
        Parsed values (``float``, ``tuple[tuple[float, float], ...]`` curve, or
        ``tuple[float, ...]`` series; ``None`` where unusable) and the issues.
    """
    spec = schemas.input("supply_costs").columns["value"].raw
    forms: Mapping[str, list[str]] = spec["x-value-forms"]
    validators = {n: jsonschema.Draft202012Validator(s) for n, s in spec["x-value-schemas"].items()}
    parsed: list[Any] = []
    issues: list[Issue] = []
    for row, kind, raw in zip(
        supply_costs.index, supply_costs["cost"], supply_costs["value"], strict=True
    ):
        value, problem, code = _parse_one(raw, forms.get(str(kind), []), validators)
        parsed.append(value)
        if problem and not pd.isna(kind):
            issues.append(
                ctx.issue(
                    code, row, f"value {show(raw)} for cost {kind}: {problem}", column="value"
                )
            )
    return pd.Series(parsed, index=supply_costs.index, dtype=object), issues


_FORMS = {
    "fixed": "a number",
    "per_kw": "a number",
    "per_kwh": "a number",
    "curve": "a list of [kW, ¤/kW] points",
    "series": "a list of yearly prices",
}


def _parse_one(
    raw: Any, allowed: list[str], validators: Mapping[str, Any]
) -> tuple[Any, str | None, str]:
    """The parsed value, or ``None`` with what is wrong and the issue code."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return None, "is empty", "bad_cost_value"
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        data: Any = float(raw)
    else:
        try:
            data = json.loads(str(raw))
        except json.JSONDecodeError as exc:
            return None, f"is neither a number nor valid JSON ({exc.msg})", "bad_cost_value"
    if not _finite(data):
        return None, "holds a number that is not finite", "bad_cost_value"
    return _fit(data, allowed, validators)


def _fit(
    data: Any, allowed: list[str], validators: Mapping[str, Any]
) -> tuple[Any, str | None, str]:
    """Parsed JSON as the first allowed form it fits, or why it fits none."""
    for form in allowed:
        if validators[form].is_valid(data):
            if form == "curve":
                points = tuple((float(kw), float(rate)) for kw, rate in data)
                kws = [kw for kw, _ in points]
                if any(b <= a for a, b in pairwise(kws)):
                    return None, "curve kW values must increase strictly", "bad_cost_value"
                return points, None, ""
            return (tuple(float(v) for v in data) if form == "series" else float(data)), None, ""
    for form in allowed:
        over = _above_limit(validators[form], data)
        if over:
            return None, over, "above_maximum"
    expected = " or ".join(dict.fromkeys(_FORMS[f] for f in allowed)) or "a known cost kind"
    negative = isinstance(data, float) and data < 0
    return None, ("must not be negative" if negative else f"must be {expected}"), "bad_cost_value"


def _finite(data: Any) -> bool:
    if isinstance(data, list):
        return all(_finite(v) for v in data)
    return not isinstance(data, float) or bool(np.isfinite(data))


def _above_limit(validator: Any, data: Any) -> str | None:
    """What exceeds a limit when that is all that keeps ``data`` from fitting the form."""
    errors = list(validator.iter_errors(data))
    if not errors or any(e.validator != "maximum" for e in errors):
        return None
    first = min(errors, key=lambda e: list(e.absolute_path))
    path = list(first.absolute_path)
    where = ""
    if len(path) == 1:  # a series: entry y is year y's price
        where = f"year {path[0]}: "
    elif len(path) == 2:  # a curve: [kW, rate] points
        where = f"point {path[0] + 1} {'kW' if path[1] == 0 else 'rate'}: "
    unit = first.schema.get("x-unit", "")
    return f"{where}{first.instance:g} must be at most {first.validator_value:g} {unit}".rstrip()


def raise_low_peaks(buildings: pd.DataFrame, ctx: RowContext) -> tuple[pd.Series, list[Issue]]:
    """Raise a peak below the mean load (kWh/8760) to it: a building cannot peak below its mean."""
    mean_kw = buildings["annual_demand_kwh"] / HOURS_PER_YEAR
    peak = buildings["peak_demand_kw"]
    low = (ctx.active & (peak < mean_kw)).fillna(False).astype(bool)
    issues = []
    for row in buildings.index[low.to_numpy(dtype=bool)]:
        message = f"peak_demand_kw {peak[row]:g} is below annual_demand_kwh/8760 = {mean_kw[row]:.3f}; raised to it"
        issues.append(ctx.issue("peak_raised", row, message, "peak_demand_kw", Severity.WARNING))
    return peak.where(~low, mean_kw), issues


def check_required_conflicts(
    buildings: pd.DataFrame, supplies: pd.DataFrame, params: Parameters, ctx: RowContext
) -> list[Issue]:
    """Find required elements that another rule forbids.

    A demand group (all or nothing) holding a required and a forbidden building; a required supply
    when ``constraint/max-supplies`` is 0.
    """
    issues: list[Issue] = []
    groups = buildings["demand_group"].map(lambda g: None if pd.isna(g) else str(g))
    grouped = buildings.assign(_group=groups).dropna(subset=["_group"])
    for group, members in grouped.groupby("_group", sort=True):
        forbidden = members.index[members["constraint"] == "forbidden"]
        if len(forbidden) == 0:
            continue
        for row in members.index[members["constraint"] == "required"]:
            message = (
                f"is required but its demand_group {show(group)} also holds forbidden building(s) "
                f"{', '.join(str(ctx.ids.get(f, f)) for f in forbidden[:5])}; the group is all or nothing"
            )
            issues.append(ctx.issue("required_forbidden", row, message, column="constraint"))
    if params.max_supplies == 0:
        required = supplies.index[supplies["constraint"] == "required"]
        for row in required:
            ids = supplies["supply_id"]
            issues.append(
                error(
                    "required_forbidden",
                    "supplies",
                    "is required but constraint/max-supplies is 0",
                    column="constraint",
                    row=int(row),
                    feature_id=str(ids[row]),
                )
            )
    return issues


def fill_ids(ids: pd.Series, prefix: str) -> pd.Series:
    """Generate ``<prefix>-<fid>`` for missing ids, never reusing an id already present.

    The result depends only on the fids and the ids present, so the same input always gets the
    same ids.
    """
    if not ids.isna().any():
        return ids.astype("string")
    taken = set(ids.dropna())
    out = ids.astype(object).where(ids.notna(), None)
    for row in ids.index[ids.isna().to_numpy(dtype=bool)]:
        candidate, k = f"{prefix}-{row}", 1
        while candidate in taken:
            k += 1
            candidate = f"{prefix}-{row}-{k}"
        taken.add(candidate)
        out[row] = candidate
    return out.astype("string")
