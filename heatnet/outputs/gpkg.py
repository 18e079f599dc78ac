"""Write GeoPackage outputs atomically, in the input CRS, every input column kept."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, FeatureError, FieldError, GeometryError

from heatnet.core.atomic import atomic_output
from heatnet.core.errors import InputError
from heatnet.inputs.validate import Inputs
from heatnet.outputs.styles import write_styles
from heatnet.topology import Network

STYLED_LAYERS = ("paths", "buildings", "supplies")


def _to_input_crs(frame: gpd.GeoDataFrame, inputs: Inputs) -> gpd.GeoDataFrame:
    return frame if inputs.work_crs.equals(inputs.input_crs) else frame.to_crs(inputs.input_crs)


def topology_layers(inputs: Inputs, network: Network) -> dict[str, gpd.GeoDataFrame]:
    """The ``buildings``, ``paths`` and ``supplies`` layers as the topology stage sees them.

    Buildings and supplies keep every input column (ids filled) and gain ``unreachable`` and
    ``unreachable_reason``. Paths hold one row per split piece, whole path, connector and
    forbidden path, with the input path's columns, ``path_id``, ``connector``, ``unreachable``,
    ``peripheral`` and heatnet's ``model_edge`` (which optimiser edge the row belongs to).
    """
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name, table in (("buildings", network.buildings), ("supplies", network.supplies)):
        frame = getattr(inputs, name).copy()
        frame["unreachable"] = table["unreachable"].astype(bool)
        frame["unreachable_reason"] = table["reason"]
        layers[name] = _to_input_crs(frame, inputs)
    rows = network.paths
    attributes = inputs.paths.drop(columns=["path_id", inputs.paths.geometry.name])
    # connectors have no input row: integer and boolean columns become nullable, not float
    attributes = attributes.astype(
        {
            c: "Int64" if pd.api.types.is_integer_dtype(t) else "boolean"
            for c, t in attributes.dtypes.items()
            if pd.api.types.is_integer_dtype(t) or pd.api.types.is_bool_dtype(t)
        }
    )
    joined = attributes.reindex(rows["source_fid"].astype("float64").to_numpy())
    joined.index = rows.index
    overrides = {
        "constraint": rows["constraint"],
        "civil_cost_id": rows["civil_cost_id"],
        "extra_pv": rows["extra_pv"],  # a split path's share, by length
    }
    paths = gpd.GeoDataFrame(
        {
            "path_id": rows.index.to_numpy(),
            **{c: overrides.get(c, joined[c]) for c in attributes.columns},
            "connector": rows["connector"].astype(bool),
            "unreachable": rows["unreachable"].astype(bool),
            "peripheral": rows["peripheral"].astype(bool),
            "model_edge": rows["model_edge"],
        },
        geometry=rows.geometry,
        crs=rows.crs,
    ).reset_index(drop=True)
    layers["paths"] = _to_input_crs(paths, inputs)
    return layers


class OutputWriteError(InputError):
    """The output could not be written (a full disk, a read-only folder): exit 3, nothing left."""

    def __init__(self, path: Path, layer: str, cause: Exception) -> None:
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if len(first) > 200:  # SQLite can put a whole statement in its message
            first = first[:200] + "..."
        free = shutil.disk_usage(path.parent).free if path.parent.exists() else None
        hint = "" if free is None else f"; {free / 1e6:,.1f} MB free there"
        super().__init__(
            f"could not write {path} (layer '{layer}'): {first}{hint}. Nothing was written; "
            "free some space or choose another folder"
        )


def write_layers(
    path: Path,
    layers: dict[str, pd.DataFrame],
    *,
    overwrite: bool,
    protect: tuple[Path, ...] = (),
    styles: bool = False,
) -> Path:
    """Write layers and tables into one new GeoPackage (version 1.2), atomically.

    Parameters
    ----------
    path
        Output file.
    layers
        Layer or table name → frame (GeoDataFrames become spatial layers).
    overwrite
        Replace an existing file.
    protect
        Inputs that must never be overwritten.
    styles
        Store heatnet's default QGIS styles for ``paths``, ``buildings`` and ``supplies``.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    heatnet.core.atomic.OutputExistsError
        Without ``overwrite``, when ``path`` exists: before writing, or because another process
        published it while this one wrote (:func:`heatnet.core.atomic.atomic_output`: of two runs
        writing one output at once exactly one wins; the other leaves no temporary file).
    """
    with atomic_output(path, overwrite=overwrite, protect=protect) as temporary:
        options: dict[str, Any] = {"dataset_options": {"VERSION": "1.2"}}
        for name, frame in layers.items():
            try:
                pyogrio.write_dataframe(frame, temporary, layer=name, driver="GPKG", **options)
            except (
                OSError,
                DataSourceError,
                DataLayerError,
                FeatureError,
                FieldError,
                GeometryError,
            ) as exc:
                raise OutputWriteError(path, name, exc) from exc
            options = {}
        if styles:
            geometry_types = {
                name: str(frame.geom_type.dropna().iloc[0])
                if frame.geom_type.notna().any()
                else "Unknown"
                for name, frame in layers.items()
                if isinstance(frame, gpd.GeoDataFrame) and name in STYLED_LAYERS
            }
            try:
                write_styles(temporary, geometry_types)
            except (OSError, sqlite3.Error) as exc:
                raise OutputWriteError(path, "layer_styles", exc) from exc
    return path
