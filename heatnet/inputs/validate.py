"""Turn :class:`~heatnet.inputs.load.RawInputs` into typed, checked :class:`Inputs`.

Every check runs and every problem is collected: :func:`check_inputs` returns them all, with
the typed inputs only when none of them is an error (the caller raises
:class:`~heatnet.core.errors.ValidationError`).
Forbidden rows are carried along untouched but not validated (format rule).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from heatnet.core.issues import Issue, error, has_errors, warning
from heatnet.inputs.checker import (
    DTYPES,
    RowContext,
    check_table,
    missing_column_issue,
    normalise_keyword,
    null_mask,
)
from heatnet.inputs.dispatch_rules import (
    check_dispatch,
    given,
    unchecked_references,
)
from heatnet.inputs.geometry import check_geometry, harmonise_crs, missing_crs
from heatnet.inputs.load import DISPATCH_TABLES, LAYERS, RawInputs
from heatnet.inputs.params import Parameters, ParameterValues, parse_parameters
from heatnet.inputs.rules import (
    LOSS_FACTOR,
    check_civil_diameters,
    check_loss_factors,
    check_references,
    check_required_conflicts,
    default_civil_cost,
    fill_ids,
    missing_tariff_ids,
    parse_cost_values,
    raise_low_peaks,
)
from heatnet.inputs.schema import SchemaSet, TableSchema, load_schemas

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inputs:
    """Validated inputs: typed columns, ids filled, geometry in a metric work CRS.

    Attributes
    ----------
    buildings, paths, supplies
        Layers indexed by GeoPackage fid, every input column kept, schema columns typed,
        ``constraint`` normalised to ``required``/``optional``/``forbidden``, ids generated where
        missing, geometry in ``work_crs``.
    tariffs, connection_costs, civil_costs, civil_cost_names, supply_costs
        Typed tables (documented defaults when absent); ``supply_costs.value`` holds parsed
        values (float, curve or year series).
    parameters
        Typed global parameters; ``parameter_values`` also says where each came from.
    input_crs, work_crs
        The CRS outputs are written in, and the metric CRS geometry work uses.
    default_civil_cost_id
        The civil cost for connectors and paths without one.
    issues
        The warnings found (errors would have stopped validation).
    plant_units, storages, fuels, fuel_distribution, day_types, demand_profiles
        The dispatch tables (docs/decisions.md §6), typed with defaults filled, indexed as
        read; ``None`` when absent or without rows (dispatch runs only with ``plant_units``).
        ``fuels.price_per_kwh`` holds parsed prices: ``float``, ``list[float]`` (24 hourly
        prices) or ``dict[str, list[float]]`` (24 hourly prices by ``day_type_id``).
    """

    source: Path
    buildings: gpd.GeoDataFrame
    paths: gpd.GeoDataFrame
    supplies: gpd.GeoDataFrame
    tariffs: pd.DataFrame
    connection_costs: pd.DataFrame
    civil_costs: pd.DataFrame
    civil_cost_names: pd.DataFrame
    supply_costs: pd.DataFrame
    parameters: Parameters
    parameter_values: ParameterValues
    input_crs: CRS
    work_crs: CRS
    default_civil_cost_id: int
    issues: tuple[Issue, ...]
    plant_units: pd.DataFrame | None = None
    storages: pd.DataFrame | None = None
    fuels: pd.DataFrame | None = None
    fuel_distribution: pd.DataFrame | None = None
    day_types: pd.DataFrame | None = None
    demand_profiles: pd.DataFrame | None = None


def _context(frame: pd.DataFrame, schema: TableSchema, row_kind: Any) -> RowContext:
    """Row ids for messages and the mask of rows to validate (not forbidden)."""
    label = [c for c in schema.raw.get("x-label", schema.key) if c in frame.columns]
    ids = pd.Series(pd.NA, index=frame.index, dtype="string")
    for column in label:
        raw = frame[column]
        text = raw.astype("string").str.strip().where(~null_mask(raw))
        ids = text if column == label[0] else ids + "/" + text
    active = pd.Series(True, index=frame.index)
    if "constraint" in frame.columns and "constraint" in schema.columns:
        constraint = normalise_keyword(frame["constraint"], schema.columns["constraint"])
        active = (constraint != "forbidden").fillna(True).astype(bool)
    return RowContext(schema.name, ids, active, row_kind)


def _check_layer(
    raw: RawInputs, name: str, schemas: SchemaSet
) -> tuple[gpd.GeoDataFrame | None, RowContext | None, list[Issue]]:
    frame = raw.layers[name]
    if frame is None:
        return None, None, []
    schema = schemas.input(name)
    if not isinstance(frame, gpd.GeoDataFrame):
        return (
            None,
            None,
            [
                error(
                    "bad_geometry_type",
                    name,
                    f"layer '{name}' has no geometry column",
                    column="geometry",
                )
            ],
        )
    if len(frame) == 0:
        return None, None, [error("empty_layer", name, f"layer '{name}' has no rows")]
    ctx = _context(frame, schema, raw.row_kinds[name])
    typed, issues = check_table(frame, schema, ctx)
    spec = schema.geometry_column
    allowed = spec.geometry if spec is not None and spec.geometry else ()
    typed, geometry_issues = check_geometry(
        gpd.GeoDataFrame(typed, geometry=frame.geometry.name, crs=frame.crs),
        allowed,
        ctx,
        raw.geometry_notes.get(name),
    )
    key = schema.key[0]
    typed[key] = fill_ids(typed[key], schema.columns[key].id_prefix or name[0].upper())
    return typed, ctx, issues + geometry_issues


def _check_tables(
    raw: RawInputs, schemas: SchemaSet
) -> tuple[dict[str, pd.DataFrame | None], dict[str, RowContext], list[Issue]]:
    frames: dict[str, pd.DataFrame | None] = {}
    contexts: dict[str, RowContext] = {}
    issues: list[Issue] = []
    for name, frame in raw.tables.items():
        if name == "parameters" or frame is None:
            frames[name] = None
            continue
        schema = schemas.input(name)
        ctx = _context(frame, schema, raw.row_kinds[name])
        frames[name], found = check_table(
            frame.drop(columns="geometry", errors="ignore"), schema, ctx
        )
        contexts[name] = ctx
        issues += found
    issues += _fill_civil_defaults(frames, schemas)
    if frames["tariffs"] is None and "tariffs" not in raw.damaged:
        issues.append(
            warning("no_tariffs", "tariffs", "no tariffs table: no building earns revenue")
        )
    for name in ("tariffs", "connection_costs", "supply_costs"):
        if frames[name] is None:
            frames[name] = _empty(schemas.input(name))
    for name in DISPATCH_TABLES:
        frames[name] = given(frames.get(name))
    return frames, contexts, issues


def _empty(schema: TableSchema) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.name: pd.Series(dtype=DTYPES.get(c.value_type, object))
            for c in schema.attribute_columns
        }
    )


def _defaults(schema: TableSchema) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(schema.default_rows or ()))
    typed, _ = check_table(
        frame,
        schema,
        RowContext(
            schema.name,
            pd.Series(pd.NA, index=frame.index),
            pd.Series(True, index=frame.index),
            "key",
        ),
    )
    return typed


def _fill_civil_defaults(frames: dict[str, pd.DataFrame | None], schemas: SchemaSet) -> list[Issue]:
    """Missing civil tables: the reference pipe table, or names derived from civil_costs."""
    costs, names = frames.get("civil_costs"), frames.get("civil_cost_names")
    if costs is None and names is None:
        log.info("no civil_costs / civil_cost_names: using the default pipe table")
        frames["civil_costs"] = _defaults(schemas.input("civil_costs"))
        frames["civil_cost_names"] = _defaults(schemas.input("civil_cost_names"))
        return []
    if costs is None:
        frames["civil_costs"] = _empty(schemas.input("civil_costs"))
        return [
            error(
                "missing_table",
                "civil_costs",
                "civil_cost_names is given but civil_costs is missing: no pipe can be priced",
            )
        ]
    if names is None:
        ids = sorted(costs["civil_cost_id"].dropna().unique())
        frames["civil_cost_names"] = pd.DataFrame(
            {
                "civil_cost_id": pd.Series(ids, dtype="Int64"),
                "name": pd.Series([f"civil cost {i}" for i in ids], dtype="string"),
                "is_default": pd.Series([len(ids) == 1] * len(ids), dtype="boolean"),
            }
        )
    return []


def _parameter_table(raw: RawInputs) -> tuple[pd.DataFrame | None, list[Issue]]:
    """The parameters table, or ``None`` (and ``missing_column``) without both its columns.

    A table without ``value`` is refused rather than read as every key blank (= the default),
    which would silently ignore every parameter the user set.
    """
    table = raw.tables.get("parameters")
    if table is None:
        return None, []
    present = [str(c) for c in table.columns]
    absent = [c for c in ("parameter", "value") if c not in present]
    issues = [missing_column_issue(table="parameters", name=c, present=present) for c in absent]
    return (None if absent else table), issues


def _loss_factor_issues(
    raw: RawInputs,
    civil_costs: pd.DataFrame | None,
    values: ParameterValues,
    contexts: Mapping[str, RowContext],
    param_table: pd.DataFrame | None,
    found: list[Issue],
) -> list[Issue]:
    """:func:`~heatnet.inputs.rules.check_loss_factors` on the table as given (``None``: absent).

    A table that could not be read at all is reported already; a loss factor already reported
    (not a number, say) is not reported again as empty.
    """
    given = raw.tables.get("civil_costs") is not None
    if not given and "civil_costs" in raw.damaged:
        return []
    return check_loss_factors(
        civil_costs if given else None,
        values,
        contexts.get("civil_costs"),
        parameters=param_table,
        parameter_row_kind=raw.row_kinds.get("parameters", "fid"),
        reported={i.row for i in found if i.table == "civil_costs" and i.column == LOSS_FACTOR},
    )


def check_inputs(
    raw: RawInputs, *, overrides: Mapping[str, str] | None = None, schemas: SchemaSet | None = None
) -> tuple[Inputs | None, tuple[Issue, ...]]:
    """Run every check and return the typed inputs (``None`` if there are errors) and all issues.

    Parameters
    ----------
    raw
        The inputs as read.
    overrides
        ``--set KEY=VALUE`` parameter overrides.
    schemas
        The schema set; heatnet's own by default.

    Returns
    -------
    tuple
        ``(inputs, issues)``; ``inputs`` is ``None`` when any issue is an error.
    """
    schemas = schemas or load_schemas()
    issues = list(raw.issues)
    issues += missing_crs(raw.layers)  # with every other problem, not after they are fixed
    param_table, found = _parameter_table(raw)
    issues += found
    values, found = parse_parameters(
        param_table, overrides or {}, schemas, row_kind=raw.row_kinds.get("parameters", "fid")
    )
    issues += found
    layers: dict[str, gpd.GeoDataFrame | None] = {}
    contexts: dict[str, RowContext] = {}
    for name in LAYERS:
        layers[name], ctx, found = _check_layer(raw, name, schemas)
        issues += found
        if ctx is not None:
            contexts[name] = ctx
    issues += output_column_clashes(layers, schemas)
    tables, table_contexts, found = _check_tables(raw, schemas)
    issues += found
    contexts.update(table_contexts)
    frames: dict[str, pd.DataFrame | None] = {**layers, **tables}
    unchecked = raw.damaged | unchecked_references(frames, raw.damaged)
    issues += check_references(frames, contexts, schemas, unchecked=unchecked)
    dispatch, found = check_dispatch(frames, contexts, schemas, damaged=raw.damaged)
    issues += found
    if layers["buildings"] is not None and "buildings" in contexts:
        issues += missing_tariff_ids(layers["buildings"], contexts["buildings"])
    names = tables["civil_cost_names"]
    usable = names is not None and {"civil_cost_id", "is_default"} <= set(names.columns)
    default_id, found = default_civil_cost(names) if usable else (None, [])  # type: ignore[arg-type]
    issues += found
    buildings, paths, supplies = layers["buildings"], layers["paths"], layers["supplies"]
    civil_costs = tables["civil_costs"]
    if paths is not None and civil_costs is not None and "civil_cost_id" in civil_costs.columns:
        issues += check_civil_diameters(paths, civil_costs, default_id, contexts["paths"])
    issues += _loss_factor_issues(raw, civil_costs, values, contexts, param_table, issues)
    supply_costs = tables["supply_costs"]
    if (
        supply_costs is not None
        and "supply_costs" in contexts
        and {"cost", "value"} <= set(supply_costs.columns)
    ):
        parsed, found = parse_cost_values(supply_costs, schemas, contexts["supply_costs"])
        supply_costs = supply_costs.assign(value=parsed)
        issues += found
    if buildings is not None and {"annual_demand_kwh", "peak_demand_kw"} <= set(buildings.columns):
        peak, found = raise_low_peaks(buildings, contexts["buildings"])
        buildings = buildings.assign(peak_demand_kw=peak)
        issues += found
        if supplies is not None:
            issues += check_required_conflicts(
                buildings, supplies, values.parameters, contexts["buildings"]
            )
    if buildings is None or paths is None or supplies is None or has_errors(issues):
        return None, tuple(issues)
    projected, input_crs, work_crs, found = harmonise_crs(
        {"buildings": buildings, "paths": paths, "supplies": supplies}
    )
    issues += found
    if has_errors(issues) or input_crs is None or work_crs is None or default_id is None:
        return None, tuple(issues)
    inputs = Inputs(
        source=raw.source,
        **projected,
        tariffs=cast(pd.DataFrame, tables["tariffs"]),
        connection_costs=cast(pd.DataFrame, tables["connection_costs"]),
        civil_costs=cast(pd.DataFrame, tables["civil_costs"]),
        civil_cost_names=cast(pd.DataFrame, names),
        supply_costs=cast(pd.DataFrame, supply_costs),
        parameters=values.parameters,
        parameter_values=values,
        input_crs=input_crs,
        work_crs=work_crs,
        default_civil_cost_id=default_id,
        issues=tuple(issues),
        plant_units=dispatch["plant_units"],
        storages=dispatch["storages"],
        fuels=dispatch["fuels"],
        fuel_distribution=dispatch["fuel_distribution"],
        day_types=dispatch["day_types"],
        demand_profiles=dispatch["demand_profiles"],
    )
    return inputs, tuple(issues)


def output_column_clashes(
    layers: Mapping[str, pd.DataFrame | None], schemas: SchemaSet
) -> list[Issue]:
    """Input columns whose names differ from an output column's only in case.

    GeoPackage column names are case-insensitive, so ``Tariff_PV`` beside heatnet's
    ``tariff_pv`` cannot be written; found before any work, as input errors.
    """
    issues = []
    for name in ("buildings", "paths", "supplies"):
        added = {c.lower(): c for c in schemas.outputs[name].columns}
        added["unreachable_reason"] = "unreachable_reason"
        layer = layers.get(name)
        if layer is None:
            continue
        for column in layer.columns:
            own = added.get(str(column).lower())
            if own is not None and own != column:
                issues.append(
                    error(
                        "output_column_clash",
                        name,
                        f"column '{column}' would clash with heatnet's output column '{own}' "
                        "(GeoPackage column names ignore case): rename it",
                        column=str(column),
                    )
                )
    return issues
