"""Property tests: any single corruption of the real sample gives exit 3, a message naming table,
row and column, no traceback, and an input file left byte-identical."""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatnet.cli import cli
from heatnet.load import LAYERS, TABLES
from tests.conftest import SAMPLE, sha256, write_gpkg


@cache
def sample_frames() -> dict[str, pd.DataFrame]:
    return {name: pyogrio.read_dataframe(SAMPLE, layer=name) for name in (*LAYERS, *TABLES)}


def frames() -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in sample_frames().items()}


NUMERIC = {
    "buildings": ["annual_demand_kwh", "peak_demand_kw"],
    "supplies": ["peak_capacity_kw", "capex_fixed", "cost_per_kwh"],
    "tariffs": ["annual_charge_per_kwh", "annual_charge_fixed"],
    "connection_costs": ["capex_fixed", "capex_per_kw"],
    "civil_costs": ["cost_m"],
}
REQUIRED = {
    "buildings": ["annual_demand_kwh", "peak_demand_kw"],
    "civil_costs": ["cost_m", "diameter_mm", "civil_cost_id"],
    "tariffs": ["tariff_id"],
    "supply_costs": ["value", "cost"],
}
BOUNDED = {  # columns with a physical limit below 1e12
    "buildings": ["annual_demand_kwh", "peak_demand_kw"],
    "paths": ["existing_diameter"],
    "supplies": ["peak_capacity_kw", "annual_capacity_kwh", "cost_per_kwh"],
    "civil_costs": ["diameter_mm", "cost_m"],
}
FOREIGN = {
    "buildings": ["tariff_id", "connection_cost_id"],
    "paths": ["civil_cost_id"],
    "supplies": ["supply_cost_type"],
}


def set_cell(frame, pos, column, value):
    frame[column] = frame[column].astype(object)
    frame.iloc[pos, frame.columns.get_loc(column)] = value


@st.composite
def mutations(draw):
    """(description, changes to the frames or raw bytes, table, column, pos or None)."""
    data = frames()
    kind = draw(st.sampled_from(["drop_column", "wrong_type", "negative", "null_geometry", "empty_geometry",
                                 "missing_crs", "dangling_key", "garbage_json", "unknown_parameter",
                                 "empty_layer", "not_gpkg", "too_large"]))  # fmt: skip
    if kind == "not_gpkg":
        return kind, draw(st.binary(min_size=0, max_size=64)), "input", None, None
    if kind in ("drop_column", "wrong_type", "negative", "dangling_key", "too_large"):
        pool = {
            "drop_column": REQUIRED,
            "wrong_type": NUMERIC,
            "negative": NUMERIC,
            "dangling_key": FOREIGN,
            "too_large": BOUNDED,
        }[kind]
        table = draw(st.sampled_from(sorted(pool)))
        column = draw(st.sampled_from(pool[table]))
        frame = data[table]
        if kind == "drop_column":
            data[table] = frame.drop(columns=column)
            return kind, data, table, column, None
        pos = draw(st.integers(0, len(frame) - 1))
        value = {"wrong_type": draw(st.sampled_from(["abc", "1,5", "ten", "--"])), "negative": -draw(st.floats(0.01, 1e6)),
                 "dangling_key": 987654 if column != "supply_cost_type" else "no-such-type",
                 "too_large": draw(st.floats(1e12, 1e300))}[kind]  # fmt: skip
        set_cell(frame, pos, column, value)
        return kind, data, table, column, pos
    if kind in ("null_geometry", "empty_geometry", "missing_crs", "empty_layer"):
        table = draw(st.sampled_from(list(LAYERS)))
        frame = data[table]
        if kind == "missing_crs":
            data[table] = frame.set_crs(None, allow_override=True)
            return kind, data, table, None, None
        if kind == "empty_layer":
            data[table] = frame.iloc[0:0]
            return kind, data, table, None, None
        pos = draw(st.integers(0, len(frame) - 1))
        geoms = np.array(frame.geometry, dtype=object)
        empty = {
            "buildings": "POINT EMPTY",
            "paths": "LINESTRING EMPTY",
            "supplies": "POINT EMPTY",
        }[table]
        geoms[pos] = None if kind == "null_geometry" else shapely.from_wkt(empty)
        data[table] = frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs))
        return kind, data, table, "geometry", pos
    if kind == "garbage_json":
        pos = draw(st.integers(0, len(data["supply_costs"]) - 1))
        garbage = draw(
            st.sampled_from(["[[1, 2", "{'a': 1}", "[1, [2]]", "null", "[[0, 1], [0, 2]]", "abc"])
        )
        set_cell(data["supply_costs"], pos, "value", garbage)
        return kind, data, "supply_costs", "value", pos
    key = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-/", min_size=1, max_size=20))
    data["parameters"] = pd.concat(
        [data["parameters"], pd.DataFrame({"parameter": [f"zz{key}"], "value": ["1"]})],
        ignore_index=True,
    )
    return kind, data, "parameters", "parameter", len(data["parameters"]) - 1


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutation=mutations())
def test_any_single_corruption_is_reported_cleanly(mutation):
    kind, data, table, column, pos = mutation
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "broken.gpkg"
        if kind == "not_gpkg":
            path.write_bytes(data)
        else:
            write_gpkg(path, data)
        before = sha256(path)
        result = CliRunner().invoke(cli, ["validate", str(path), "--format", "json"])
        assert sha256(path) == before
    assert result.exit_code == 3, (kind, result.output)
    assert "Traceback" not in result.output
    report = json.loads(result.output)
    errors = [i for i in report["issues"] if i["severity"] == "error"]
    assert any(i["table"] == table for i in errors), (kind, errors)
    if column is not None:
        assert any(i["table"] == table and i["column"] == column for i in errors), (kind, errors)
    if pos is not None:
        fid = pos + 1  # GeoPackage fids count from 1 in the written file
        assert any(i["table"] == table and i["row"] == fid and i["message"] for i in errors), (
            kind,
            errors,
        )


def test_values_beyond_physical_limits_exit_3_naming_table_row_column_and_limit(tmp_path):
    # the three: a 100 km pipe, a 1e15 kW plant, a building using 1e20 kWh a year
    data = frames()
    set_cell(data["civil_costs"], 3, "diameter_mm", 1e8)
    set_cell(data["supplies"], 0, "peak_capacity_kw", 1e15)
    set_cell(data["buildings"], 4, "annual_demand_kwh", 1e20)
    path, out = write_gpkg(tmp_path / "huge.gpkg", data), tmp_path / "out.gpkg"
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    blocks = {b.split(":", 1)[0]: b for b in result.output.split("\n\n")[1:]}
    for table, fid, feature, column, limit in [
        ("civil_costs", 4, "1/100000000.0", "diameter_mm", "must be at most 3000 mm"),
        ("supplies", 1, "S1", "peak_capacity_kw", "must be at most 1e+07 kW"),
        ("buildings", 5, "B005", "annual_demand_kwh", "must be at most 8.76e+09 kWh/yr"),
    ]:
        lines = [x for x in blocks[table].splitlines() if "above_maximum" in x]
        assert len(lines) == 1, blocks[table]
        assert f"fid {fid} ({feature})" in lines[0]
        assert f"[{column}]" in lines[0]
        assert lines[0].endswith(limit)
