"""Read the declarative table schemas in ``schemas/`` into typed specs.

The JSON Schema files are the single source of truth for column types, ranges, enums, defaults,
units, foreign keys, geometry types and parameter definitions. This module only reads them; the
vectorised checker (:mod:`heatnet.inputs.checker`) and the parameter parser (:mod:`heatnet.inputs.params`)
apply them, and ``heatnet schema`` prints them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema

from heatnet.core.errors import SchemaError

Role = Literal["input", "output"]
_NO_DEFAULT: Any = object()


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """The rules for one column (or one parameter), read from its JSON Schema property.

    ``baked`` (parameters only, ``x-baked``) says what a saved problem holds computed from the
    parameter, which ``heatnet solve --set`` therefore cannot change; ``None`` for a key read
    when solving.
    """

    name: str
    types: tuple[str, ...]
    description: str
    nullable: bool
    default: Any = _NO_DEFAULT
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    enum: tuple[str, ...] | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)
    keyword: bool = False
    references: tuple[str, str] | None = None
    geometry: tuple[str, ...] | None = None
    id_prefix: str | None = None
    field_name: str | None = None
    baked: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_default(self) -> bool:
        """Whether the schema gives a default (``null`` counts as a default)."""
        return self.default is not _NO_DEFAULT

    @property
    def value_type(self) -> str:
        """The one non-null JSON type, or ``any`` when the column admits several."""
        kinds = [t for t in self.types if t != "null"]
        return kinds[0] if len(kinds) == 1 else "any"

    @property
    def is_geometry(self) -> bool:
        """Whether this is the geometry column of a layer."""
        return self.geometry is not None


@dataclass(frozen=True, slots=True)
class TableSchema:
    """One table or layer: its columns and table-level rules."""

    name: str
    role: Role
    kind: Literal["layer", "table"]
    description: str
    columns: Mapping[str, ColumnSpec]
    required: tuple[str, ...]
    key: tuple[str, ...]
    required_table: bool
    default_rows: tuple[Mapping[str, Any], ...] | None
    parameters: Mapping[str, ColumnSpec]
    raw: Mapping[str, Any]

    @property
    def geometry_column(self) -> ColumnSpec | None:
        """The geometry column spec, for layers."""
        return next((c for c in self.columns.values() if c.is_geometry), None)

    @property
    def attribute_columns(self) -> tuple[ColumnSpec, ...]:
        """Every non-geometry column, in schema order."""
        return tuple(c for c in self.columns.values() if not c.is_geometry)


@dataclass(frozen=True, slots=True)
class SchemaSet:
    """Every schema heatnet ships, split into inputs and outputs by table name."""

    inputs: Mapping[str, TableSchema]
    outputs: Mapping[str, TableSchema]
    directory: Path

    def input(self, name: str) -> TableSchema:
        """The input schema for table ``name``."""
        return self.inputs[name]

    @property
    def parameters(self) -> Mapping[str, ColumnSpec]:
        """Every parameter key with its spec."""
        return self.inputs["parameters"].parameters


def schema_dir() -> Path:
    """Locate the schema files: inside the installed package, else the source tree's root."""
    packaged = resources.files("heatnet") / "schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    source_tree = Path(__file__).resolve().parents[2] / "schemas"
    if source_tree.is_dir():
        return source_tree
    raise SchemaError("heatnet's schema files were not found (broken installation)")


def _column(name: str, prop: Mapping[str, Any]) -> ColumnSpec:
    types = prop.get("type", [])
    types = (types,) if isinstance(types, str) else tuple(types)
    references = None
    if "x-references" in prop:
        table, _, column = str(prop["x-references"]).partition(".")
        references = (table, column)
    enum = prop.get("enum")
    return ColumnSpec(
        name=name,
        types=types,
        description=str(prop.get("description", "")),
        nullable="null" in types,
        default=prop.get("default", _NO_DEFAULT),
        unit=prop.get("x-unit"),
        minimum=prop.get("minimum"),
        maximum=prop.get("maximum"),
        exclusive_minimum=prop.get("exclusiveMinimum"),
        exclusive_maximum=prop.get("exclusiveMaximum"),
        enum=tuple(enum) if enum is not None else None,
        aliases=dict(prop.get("x-aliases", {})),
        keyword=bool(prop.get("x-keyword", False)),
        references=references,
        geometry=tuple(prop["x-geometry"]) if "x-geometry" in prop else None,
        id_prefix=prop.get("x-id-prefix"),
        field_name=prop.get("x-field"),
        baked=prop.get("x-baked"),
        raw=dict(prop),
    )


def _table(raw: Mapping[str, Any], path: Path) -> TableSchema:
    try:
        jsonschema.Draft202012Validator.check_schema(raw)
        props = raw["properties"]
        key = raw.get("x-key", ())
        params = raw.get("x-parameters", {}).get("properties", {})
        return TableSchema(
            name=str(raw["x-table"]),
            role=raw["x-role"],
            kind=raw["x-kind"],
            description=str(raw.get("description", "")),
            columns={name: _column(name, prop) for name, prop in props.items()},
            required=tuple(raw.get("required", ())),
            key=(key,) if isinstance(key, str) else tuple(key),
            required_table=bool(raw.get("x-required-table", False)),
            default_rows=tuple(raw["x-default-rows"]) if "x-default-rows" in raw else None,
            parameters={name: _column(name, prop) for name, prop in params.items()},
            raw=raw,
        )
    except (KeyError, TypeError, jsonschema.SchemaError) as exc:
        raise SchemaError(f"schema file {path.name} is malformed: {exc}") from exc


@cache
def load_schemas(directory: Path | None = None) -> SchemaSet:
    """Read and check every ``*.schema.json`` file.

    Parameters
    ----------
    directory
        Where the schema files are; by default :func:`schema_dir`.

    Returns
    -------
    SchemaSet
        Input and output table schemas by table name.

    Raises
    ------
    SchemaError
        If a file is not valid JSON Schema or lacks heatnet's ``x-`` keywords.
    """
    directory = directory or schema_dir()
    inputs: dict[str, TableSchema] = {}
    outputs: dict[str, TableSchema] = {}
    for path in sorted(directory.glob("*.schema.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema file {path.name} is not valid JSON: {exc}") from exc
        if "x-table" not in raw:  # e.g. the problem schema: not a table
            continue
        table = _table(raw, path)
        (inputs if table.role == "input" else outputs)[table.name] = table
    return SchemaSet(inputs=inputs, outputs=outputs, directory=directory)
