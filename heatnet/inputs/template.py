"""``heatnet init``: an empty input GeoPackage with every layer, table and column, ready to fill.

Everything written comes from the schemas: column names and types, the parameters (one row per
key with a blank ``value``: the default until the user writes one, so ``heatnet validate`` counts
only what a user set; the ``default``, ``unit`` and ``description`` columns are there to read and
are ignored when reading) and the default civil cost tables. The optional dispatch tables
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
from heatnet.core.errors import InputError
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
            frame = _frame(schema, rows)
            if name == "parameters":
                frame = parameters_frame(schemas)
            pyogrio.write_dataframe(frame, temporary, layer=name, driver="GPKG")
    return path


def parameters_frame(schemas: SchemaSet) -> pd.DataFrame:
    """One row per parameter: its key, a blank value, and its default, unit and description."""
    keys = list(schemas.parameters)
    specs = [schemas.parameters[k] for k in keys]
    return pd.DataFrame(
        {
            "parameter": pd.Series(keys, dtype="string"),
            "value": pd.Series([None] * len(keys), dtype="string"),
            "default": pd.Series([value_text(s.default) for s in specs], dtype="string"),
            "unit": pd.Series([s.unit for s in specs], dtype="string"),
            "description": pd.Series([s.description for s in specs], dtype="string"),
        }
    )


def crs_of(text: str) -> str:
    """A CRS given as text (``EPSG:25832``, WKT, PROJ) or as a file whose CRS to take.

    Raises
    ------
    InputError
        If the text is neither a CRS pyproj knows nor a file GDAL reads with a CRS.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    path = Path(text)
    if path.exists():
        try:
            layers = pyogrio.list_layers(path)
            for name in layers[:, 0]:
                wkt = pyogrio.read_info(path, layer=name).get("crs")
                if wkt:
                    return str(CRS.from_user_input(wkt).to_string())
        except (pyogrio.errors.DataSourceError, OSError, CRSError) as exc:
            raise InputError(f"--crs: cannot read a CRS from {path}: {exc}") from exc
        raise InputError(f"--crs: {path} has no layer with a CRS")
    try:
        return str(CRS.from_user_input(text).to_string())
    except CRSError as exc:
        raise InputError(
            f"--crs: {text!r} is not a CRS (e.g. EPSG:25832) nor a file to take one from"
        ) from exc
