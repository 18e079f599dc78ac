"""Global parameters: parse the (parameter, value) table and ``--set`` overrides by the schema.

Keys, types, ranges, defaults and aliases all come from ``schemas/parameters.schema.json``; the
:class:`Parameters` fields only name them (a drift test keeps the two in step).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import pandas as pd

from heatnet.core.issues import Issue, RowKind, error
from heatnet.inputs.checker import normalise_keyword
from heatnet.inputs.schema import ColumnSpec, SchemaSet

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


@dataclass(frozen=True, slots=True)
class Parameters:
    """Every global parameter, typed, with units in the field names (defaults from the schema)."""

    npv_rate: float
    npv_term_years: int
    plant_lifetime_years: int
    distribution_lifetime_years: int
    building_hx_lifetime_years: int
    runtime_limit_h: float
    mip_gap: float
    param_gap: float
    iteration_limit: int
    flow_temperature_c: float
    return_temperature_c: float
    ground_temperature_c: float
    diversity_limit: float
    diversity_rate: float
    objective: Literal["npv", "kwh"]
    prevent_loops: bool
    min_linear_density_kwh_per_m: float | None
    max_linear_density_kwh_per_m: float | None
    min_kwh: float | None
    max_kwh: float | None
    min_network_length_m: float | None
    max_network_length_m: float | None
    min_npv: float | None
    max_npv: float | None
    max_emissions_factor_kg_per_kwh: float | None
    min_buildings: int | None
    max_buildings: int | None
    min_connections: int | None
    max_connections: int | None
    max_supplies: int | None
    use_connection_capex: bool
    use_connection_repex: bool
    use_connection_opex: bool
    use_supply_capex: bool
    use_supply_repex: bool
    use_supply_opex: bool
    use_pipe_capex: bool
    use_pipe_repex: bool
    use_tariffs: bool
    snap_tolerance_m: float
    max_connector_length_m: float
    pipe_model: Literal["linear", "discrete"]
    heat_loss_model: Literal["fit", "lambda"]
    dispatch_horizon: Literal["typical-days", "year"]
    dispatch_mip_gap: float
    dispatch_runtime_limit_h: float
    dispatch_iterations: int
    dispatch_status_boundary: Literal["free", "cyclic"]


@dataclass(frozen=True, slots=True)
class ParameterValues:
    """Parsed parameters plus where each value came from."""

    parameters: Parameters
    by_key: Mapping[str, Any]
    source: Mapping[str, Literal["default", "table", "--set"]]


def normalise_key(key: str) -> str:
    """``:finance/npv-rate`` and ``Finance/NPV-Rate`` both become ``finance/npv-rate``."""
    return key.strip().lstrip(":").lower()


def suggest_key(key: str, known: Iterable[str]) -> str | None:
    """The closest known key, also matching a bare name such as ``npv-rate``."""
    known = list(known)
    by_leaf = {k.split("/", 1)[-1]: k for k in known}
    if key in by_leaf:
        return by_leaf[key]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return close[0]
    leaf = difflib.get_close_matches(key.split("/", 1)[-1], list(by_leaf), n=1, cutoff=0.6)
    return by_leaf[leaf[0]] if leaf else None


def _in_range(value: float, spec: ColumnSpec) -> str | None:
    if spec.minimum is not None and value < spec.minimum:
        return f"at least {spec.minimum:g}"
    if spec.exclusive_minimum is not None and value <= spec.exclusive_minimum:
        return f"more than {spec.exclusive_minimum:g}"
    if spec.maximum is not None and value > spec.maximum:
        return f"at most {spec.maximum:g}"
    if spec.exclusive_maximum is not None and value >= spec.exclusive_maximum:
        return f"less than {spec.exclusive_maximum:g}"
    return None


def is_blank(raw: Any) -> bool:
    """Whether a parameter cell is NULL: None, NaN or blank text (the parameter's default)."""
    return raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == ""


def parse_value(raw: Any, spec: ColumnSpec) -> Any:
    """Parse one parameter value by its schema type.

    Parameters
    ----------
    raw
        The cell: a string (blank = NULL), a number, a boolean or ``None``.
    spec
        The parameter's spec.

    Returns
    -------
    Any
        The typed value; the default for NULL.

    Raises
    ------
    ValueError
        With a plain message when the value does not fit the parameter.
    """
    if is_blank(raw):
        return spec.default
    kind = spec.value_type
    text = str(raw).strip()
    if kind == "boolean":
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{text!r} is not true or false")
    if kind == "string":
        value = str(normalise_keyword(pd.Series([text]), spec).iloc[0])
        if spec.enum is not None and value not in spec.enum:
            raise ValueError(f"{text!r} is not one of: {', '.join(spec.enum)}")
        return value
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    if kind == "integer":
        if number % 1 != 0:
            raise ValueError(f"{text!r} is not a whole number")
        number = int(number)
    problem = _in_range(number, spec)
    if problem:
        raise ValueError(f"{text!r} must be {problem}")
    return number


def parse_parameters(
    table: pd.DataFrame | None,
    overrides: Mapping[str, str],
    schemas: SchemaSet,
    *,
    row_kind: RowKind = "fid",
) -> tuple[ParameterValues, list[Issue]]:
    """Parse the parameters table, then apply ``--set`` overrides, collecting every problem.

    Parameters
    ----------
    table
        The ``parameters`` table (columns ``parameter``, ``value``), or ``None`` when missing.
    overrides
        ``--set KEY=VALUE`` pairs, applied after the table.
    schemas
        The schema set (keys, types, defaults).
    row_kind
        What the table index counts, for issue locations.

    Returns
    -------
    tuple
        The parameters (defaults where a value was unusable) and the issues found.
    """
    specs = schemas.parameters
    values: dict[str, Any] = {key: spec.default for key, spec in specs.items()}
    source: dict[str, Literal["default", "table", "--set"]] = dict.fromkeys(specs, "default")
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    rows: list[tuple[Any, Any, Any, Literal["table", "--set"]]] = []
    if table is not None and "parameter" in table.columns:
        cells = table["value"] if "value" in table.columns else pd.Series(None, index=table.index)
        rows += list(
            zip(table.index, table["parameter"], cells, ["table"] * len(table), strict=True)
        )
    rows += [(None, key, value, "--set") for key, value in overrides.items()]
    for row, raw_key, raw_value, origin in rows:
        where: dict[str, Any] = {"column": "parameter", "row": None if row is None else int(row)}
        where["row_kind"] = row_kind
        key = normalise_key(str(raw_key)) if raw_key is not None and not pd.isna(raw_key) else ""
        where["feature_id"] = key or None
        label = "--set" if origin == "--set" else "parameter"
        if key not in specs:
            hint = suggest_key(key, specs)
            tip = f"; did you mean '{hint}'?" if hint else ""
            issues.append(
                error(
                    "unknown_parameter",
                    "parameters",
                    f"{label} {raw_key!r} is not a known parameter{tip}",
                    **where,
                )
            )
            continue
        if origin == "table":
            if key in seen:
                issues.append(
                    error(
                        "duplicate_parameter",
                        "parameters",
                        f"parameter '{key}' is given more than once (also row {seen[key]})",
                        **where,
                    )
                )
                continue
            seen[key] = int(row)
        try:
            values[key] = parse_value(raw_value, specs[key])
            source[key] = "default" if is_blank(raw_value) else origin
        except ValueError as exc:
            where["column"] = "value"
            issues.append(
                error("bad_parameter_value", "parameters", f"{label} '{key}': {exc}", **where)
            )
    issues += _check_pairs(values, schemas)
    names = {str(spec.field_name): values[key] for key, spec in specs.items()}
    return ParameterValues(Parameters(**names), values, source), issues


def _check_pairs(values: Mapping[str, Any], schemas: SchemaSet) -> list[Issue]:
    issues = []
    for first, second, rule in schemas.input("parameters").raw.get("x-pairs", []):
        a, b = values[first], values[second]
        if a is None or b is None:
            continue
        if rule == "different" and a == b:
            message = f"'{first}' and '{second}' are both {a}: they must differ"
        elif rule == "min<=max" and a > b:
            message = f"'{first}' ({a}) is larger than '{second}' ({b})"
        else:
            continue
        issues.append(error("conflicting_parameters", "parameters", message, feature_id=first))
    return issues


def value_text(value: Any) -> str | None:
    """A parsed parameter value as the table's string (``true``/``false`` for booleans)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parameters_table(values: ParameterValues) -> pd.DataFrame:
    """The parameters as used, one row per key, in the format's (parameter, value) strings."""
    return pd.DataFrame(
        {
            "parameter": list(values.by_key),
            "value": [value_text(v) for v in values.by_key.values()],
            "source": [values.source[k] for k in values.by_key],
        }
    )


def parameter_fields() -> tuple[str, ...]:
    """The :class:`Parameters` field names (for the drift test)."""
    return tuple(f.name for f in fields(Parameters))


def override_parameters(
    params: Parameters, overrides: Mapping[str, str], schemas: SchemaSet
) -> tuple[Parameters, list[Issue]]:
    """Parameters with ``--set`` overrides applied on top (for a problem read from JSON).

    A key marked ``x-baked`` in the schema is refused (``baked_parameter``): the saved problem
    holds numbers computed from it, which a new value would not change.

    Returns
    -------
    tuple
        The new parameters and every problem with the overrides.
    """
    current = {
        key: value_text(getattr(params, str(spec.field_name)))
        for key, spec in schemas.parameters.items()
    }
    table = pd.DataFrame({"parameter": list(current), "value": list(current.values())})
    values, issues = parse_parameters(table, overrides, schemas)
    return values.parameters, _baked_overrides(overrides, schemas) + issues


def _baked_overrides(overrides: Mapping[str, str], schemas: SchemaSet) -> list[Issue]:
    """A ``baked_parameter`` error for every override of a key a saved problem has baked in."""
    issues = []
    for raw_key, value in overrides.items():
        key = normalise_key(raw_key)
        spec = schemas.parameters.get(key)
        if spec is None or spec.baked is None:
            continue
        message = (
            f"--set '{key}' cannot change a saved problem: {spec.baked}. Rebuild the problem "
            f"with 'heatnet problem INPUT --set {key}={value} -o P.json' and solve that"
        )
        issues.append(
            error(
                "baked_parameter",
                "parameters",
                message,
                column="parameter",
                feature_id=key,
                row_kind="key",
            )
        )
    return issues
