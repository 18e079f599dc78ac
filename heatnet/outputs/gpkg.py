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
from heatnet.outputs.styles import write_styles

STYLED_LAYERS = ("paths", "buildings", "supplies")


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
    topology: bool = False,
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
    topology
        With ``styles``: the styles of a ``heatnet topology`` output (paths by role, the rest
        by reach) instead of a design's.

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
                write_styles(temporary, geometry_types, topology=topology)
            except (OSError, sqlite3.Error) as exc:
                raise OutputWriteError(path, "layer_styles", exc) from exc
    return path
