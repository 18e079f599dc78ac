"""The input layers as the topology stage sees them.

What ``heatnet topology`` writes, and what a run's output layers start from.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from heatnet.inputs.validate import Inputs
from heatnet.topology import Network


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
