"""Bring your own layers: a mapping file that says where heatnet's layers and tables are.

``--map mapping.toml`` lets a user's existing data be read as it is, without renaming anything
first. One TOML table per heatnet layer or table (``buildings``, ``paths``, ``supplies``,
``tariffs``, ... ``parameters``), each key optional::

    [buildings]
    file = "city.gpkg"          # any source GDAL reads (GeoPackage, shapefile, GeoJSON, ...),
                                # relative to the mapping file; default: the INPUT
    layer = "bldg_2024"         # its layer name there; default: heatnet's name (a one-layer
                                # source such as a shapefile: its only layer)
    columns = { building_id = "gml_id", annual_demand_kwh = "heat_mwh" }
                                # heatnet's column = the source's column
    constants = { constraint = "optional", connections = 1 }
                                # a column every row shares, where the source has none
    factors = { annual_demand_kwh = 1000.0 }
                                # multiply after renaming: MWh → kWh

The mapped frame then goes through the same checks as any input (``heatnet validate``); its
problems name the heatnet table and column, and the source file and layer are its origin.
docs/decisions.md §1 records the format.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from heatnet.core.errors import ValidationError
from heatnet.core.issues import Issue, error
from heatnet.inputs.schema import SchemaSet, load_schemas

KEYS = ("file", "layer", "columns", "constants", "factors")
"""The keys a table of the mapping file may have."""


@dataclass(frozen=True, slots=True)
class TableMap:
    """Where one heatnet layer or table comes from and how its columns are named."""

    name: str
    file: Path | None = None
    layer: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    factors: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LayerMapping:
    """A read and checked mapping file: its path and each mapped table."""

    path: Path
    tables: Mapping[str, TableMap]

    def get(self, name: str) -> TableMap | None:
        """The mapping of heatnet's ``name``, or None when it is read as usual."""
        return self.tables.get(name)


def read_mapping(path: Path, schemas: SchemaSet | None = None) -> LayerMapping:
    """Read a mapping file and check it against the schemas.

    Raises
    ------
    ValidationError
        Every problem at once (table ``mapping``): unreadable TOML, unknown tables, keys or
        heatnet columns (with the closest known name), values of the wrong kind, a source file
        that does not exist.
    """
    schemas = schemas or load_schemas()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError([_issue(f"cannot read {path}: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([_issue(f"{path} is not valid TOML: {exc}")]) from exc
    issues: list[Issue] = []
    tables: dict[str, TableMap] = {}
    known = list(schemas.inputs)
    for name, entry in data.items():
        if name not in schemas.inputs:
            issues.append(_issue(f"[{name}] is not a heatnet layer or table{_hint(name, known)}"))
            continue
        if not isinstance(entry, dict):
            issues.append(_issue(f"[{name}] must be a table of keys ({', '.join(KEYS)})"))
            continue
        found, table = _table(path, name, entry, schemas)
        issues += found
        if table is not None:
            tables[name] = table
    if any(i.is_error for i in issues):
        raise ValidationError(issues)
    return LayerMapping(Path(path), tables)


def _table(
    path: Path, name: str, entry: Mapping[str, Any], schemas: SchemaSet
) -> tuple[list[Issue], TableMap | None]:
    issues = [
        _issue(f"[{name}] {key}: not a mapping key{_hint(key, KEYS)}")
        for key in entry
        if key not in KEYS
    ]
    columns = [c for c in schemas.input(name).columns if c != "geometry"]
    if name == "parameters":
        columns = ["parameter", "value"]
    file = entry.get("file")
    source: Path | None = None
    if file is not None:
        if not isinstance(file, str) or not file:
            issues.append(_issue(f"[{name}] file: must be a path (text)"))
        else:
            source = (Path(path).parent / file) if not Path(file).is_absolute() else Path(file)
            if not source.exists():
                issues.append(_issue(f"[{name}] file: {source} does not exist"))
    layer = entry.get("layer")
    if layer is not None and (not isinstance(layer, str) or not layer):
        issues.append(_issue(f"[{name}] layer: must be a layer name (text)"))
    parts = {key: _part(name, key, entry.get(key, {}), columns, issues) for key in PARTS}
    both = sorted(set(parts["columns"]) & set(parts["constants"]))
    if both:
        issues.append(_issue(f"[{name}] {', '.join(both)}: both a source column and a constant"))
    if any(i.is_error for i in issues):
        return issues, None
    table = TableMap(
        name,
        source,
        layer,
        parts["columns"],
        parts["constants"],
        {k: float(v) for k, v in parts["factors"].items()},
    )
    return issues, table


PARTS = ("columns", "constants", "factors")


def _part(
    name: str, key: str, given: Any, columns: list[str], issues: list[Issue]
) -> dict[str, Any]:
    """One of a table's ``columns``, ``constants`` or ``factors``, its problems into ``issues``."""
    if not isinstance(given, dict):
        issues.append(_issue(f"[{name}] {key}: must be a table (column = value)"))
        return {}
    for column, value in given.items():
        if column not in columns:
            issues.append(
                _issue(
                    f"[{name}] {key}.{column}: {name} has no column {column!r}"
                    f"{_hint(column, columns)}"
                )
            )
        elif key == "columns" and (not isinstance(value, str) or not value):
            issues.append(_issue(f"[{name}] columns.{column}: must be a source column name"))
        elif key == "factors" and not _positive_number(value):
            issues.append(_issue(f"[{name}] factors.{column}: must be a number above 0"))
    return dict(given)


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def apply_mapping(
    frame: pd.DataFrame, table: TableMap, shown: str
) -> tuple[pd.DataFrame, list[Issue]]:
    """The frame with heatnet's column names, constants and unit factors (a new frame).

    ``shown`` names the source (file and layer) in messages. A mapped source column that is
    missing is an error naming the mapping's column and the source's columns; a factor on a
    column that is not numbers is an error. The source's own column of a heatnet name that
    another column is mapped to is dropped (the mapping says which one to use).
    """
    issues: list[Issue] = []
    out = frame.copy()
    missing = [f"{mine} = {theirs!r}" for mine, theirs in table.columns.items()
               if theirs not in out.columns]  # fmt: skip
    if missing:
        have = ", ".join(str(c) for c in out.columns if c != "geometry")
        issues.append(
            error(
                "mapped_column_missing",
                table.name,
                f"{shown} has no column for the mapping's {'; '.join(missing)} (it has: {have})",
            )
        )
    renames = {theirs: mine for mine, theirs in table.columns.items() if theirs in out.columns}
    clash = [mine for mine in renames.values() if mine in out.columns and mine not in renames]
    out = out.drop(columns=clash).rename(columns=renames)
    for column, value in table.constants.items():
        out[column] = value
    for column, factor in table.factors.items():
        if column not in out.columns:
            continue
        numbers = pd.to_numeric(out[column], errors="coerce")
        bad = numbers.isna() & out[column].notna()
        if bad.any():
            rows = ", ".join(str(i) for i in out.index[bad][:5])
            issues.append(
                error(
                    "mapped_factor_on_text",
                    table.name,
                    f"factors.{column} = {factor:g}: {shown} has values that are not numbers "
                    f"(rows {rows})",
                    column=column,
                )
            )
            continue
        out[column] = numbers * factor
    return out, issues


def _issue(message: str) -> Issue:
    return error("bad_mapping", "mapping", message)


def _hint(word: str, known: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
