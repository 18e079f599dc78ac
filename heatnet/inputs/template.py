"""``heatnet init``: an empty input GeoPackage with every layer, table and column, ready to fill.

Everything written comes from the schemas: column names and types, default parameters (one row
per key, so users see them all) and the default civil cost tables. The optional dispatch tables
(``plant_units`` ...) are written too, without rows: a table without rows counts as absent, so
the template runs without dispatch until ``plant_units`` gets a row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
import pyogrio

from heatnet.core.atomic import atomic_output
from heatnet.inputs.checker import DTYPES
from heatnet.inputs.load import LAYERS, TABLES
from heatnet.inputs.params import value_text
from heatnet.inputs.schema import SchemaSet, TableSchema, load_schemas

_GEOMETRY = {"buildings": "Polygon", "paths": "LineString", "supplies": "Point"}


def _frame(schema: TableSchema, rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    columns = {}
    for spec in schema.attribute_columns:
        dtype = DTYPES.get(spec.value_type, "string")
        cells = [row.get(spec.name) for row in rows] if rows else []
        columns[spec.name] = pd.Series(cells, dtype=dtype)
    return pd.DataFrame(columns)


def write_template(
    path: Path,
    *,
    crs: str,
    overwrite: bool = False,
    buildings: Literal["polygon", "point"] = "polygon",
    schemas: SchemaSet | None = None,
) -> Path:
    """Write an input template GeoPackage.

    Parameters
    ----------
    path
        Where to write it (atomically).
    crs
        CRS of the spatial layers, e.g. ``EPSG:27700``.
    overwrite
        Replace an existing file.
    buildings
        Geometry type of the buildings layer.
    schemas
        The schema set; heatnet's own by default.

    Returns
    -------
    Path
        The written file.
    """
    schemas = schemas or load_schemas()
    geometry = dict(_GEOMETRY, buildings="Point" if buildings == "point" else "Polygon")
    with atomic_output(path, overwrite=overwrite) as temporary:
        options: dict[str, Any] = {"dataset_options": {"VERSION": "1.2"}}
        for name in LAYERS:
            frame = gpd.GeoDataFrame(
                _frame(schemas.input(name)), geometry=gpd.GeoSeries([], crs=crs)
            )
            pyogrio.write_dataframe(
                frame, temporary, layer=name, driver="GPKG", geometry_type=geometry[name], **options
            )
            options = {}
        for name in TABLES:
            schema = schemas.input(name)
            rows: list[dict[str, Any]] | None = (
                [dict(r) for r in schema.default_rows] if schema.default_rows else None
            )
            if name == "parameters":
                rows = [
                    {"parameter": key, "value": value_text(spec.default)}
                    for key, spec in schemas.parameters.items()
                ]
            pyogrio.write_dataframe(_frame(schema, rows), temporary, layer=name, driver="GPKG")
    return path
