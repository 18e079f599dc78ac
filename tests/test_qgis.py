"""Default QGIS styles in the output GeoPackage: the table QGIS reads, and a real QGIS render.

The QGIS part runs ``tests/qgis_check.py`` with the system Python (``HEATNET_QGIS_PYTHON``,
default ``/usr/bin/python3``) and is skipped where it cannot import ``qgis.core``. Set
``HEATNET_QGIS_GPKG`` to check an existing output (e.g. from ``heatnet run``) instead of the
synthetic one, and ``HEATNET_QGIS_PNG_DIR`` to keep the rendered PNGs.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from contextlib import closing
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from heatnet.core.errors import HeatnetError
from heatnet.outputs.gpkg import write_layers
from heatnet.outputs.styles import STYLE_NAME, buildings_qml, symbol_kind, write_styles
from tests.conftest import QGIS_PYTHON, ROOT, has_qgis, layer

QGIS_CHECK = Path(__file__).with_name("qgis_check.py")
STYLED = ("paths", "buildings", "supplies")
FIELDS = {
    "paths": ("diameter_mm", "in_network", "connector", "unreachable"),
    "buildings": ("in_network", "unreachable"),
    "supplies": ("in_network",),
}


def _path(path_id, wkt, *, in_network, diameter=None, connector=False, unreachable=False):
    return {
        "path_id": path_id,
        "in_network": in_network,
        "connector": connector,
        "diameter_mm": diameter,
        "unreachable": unreachable,
        "peripheral": False,
        "geometry": wkt,
    }


def synthetic_layers(variant: str) -> dict[str, pd.DataFrame]:
    """A small output: mains of every diameter class, a connector, unused and unreachable paths.

    ``variant`` "polygons" has polygon buildings and a point supply; "points" has point
    buildings and a polygon supply (both shapes occur in inputs).
    """
    mains = [
        _path(f"P{i}", f"LINESTRING ({i * 60} 0, {i * 60 + 60} 0)", in_network=True, diameter=dn)
        for i, dn in enumerate((25.0, 40.0, 65.0, 100.0, 150.0, 250.0, 400.0))
    ]
    paths = layer(
        [
            *mains,
            _path("C1", "LINESTRING (90 0, 90 40)", in_network=True, diameter=32.0, connector=True),
            _path(
                "C2", "LINESTRING (330 0, 330 -40)", in_network=True, diameter=50.0, connector=True
            ),
            _path("U1", "LINESTRING (0 0, 0 120, 420 120)", in_network=False),
            _path("U2", "LINESTRING (420 0, 420 120)", in_network=False),
            _path("X1", "LINESTRING (200 160, 300 200)", in_network=False, unreachable=True),
        ]
    )
    if variant == "polygons":
        shapes = ["POLYGON ((80 40, 100 40, 100 60, 80 60, 80 40))",
                  "POLYGON ((320 -40, 340 -40, 340 -60, 320 -60, 320 -40))",
                  "POLYGON ((250 60, 270 60, 270 80, 250 80, 250 60))",
                  "POLYGON ((300 200, 320 200, 320 220, 300 220, 300 200))"]  # fmt: skip
        supply = "POINT (0 0)"
    else:
        shapes = ["POINT (90 50)", "POINT (330 -50)", "POINT (260 70)", "POINT (310 210)"]
        supply = "POLYGON ((-20 -20, 0 -20, 0 0, -20 0, -20 -20))"
    buildings = layer(
        [
            {"building_id": f"B{i + 1}", "in_network": i < 2, "unreachable": i == 3, "geometry": w}
            for i, w in enumerate(shapes)
        ]
    )
    supplies = layer([{"supply_id": "S1", "in_network": True, "geometry": supply}])
    cashflow = pd.DataFrame({"year": [0, 1], "net_eur": [-1000.0, 200.0]})
    return {"buildings": buildings, "paths": paths, "supplies": supplies, "cashflow": cashflow}


def write_synthetic(path: Path, variant: str) -> Path:
    layers = synthetic_layers(variant)
    write_layers(path, layers, overwrite=False)
    types = {n: str(f.geom_type.iloc[0]) for n, f in layers.items() if n in STYLED}
    write_styles(path, types)
    return path


@pytest.fixture(params=["polygons", "points"])
def styled_gpkg(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    given = os.environ.get("HEATNET_QGIS_GPKG")
    if given:
        if request.param != "polygons":
            pytest.skip("HEATNET_QGIS_GPKG given: checking that one file")
        return Path(given)
    return write_synthetic(tmp_path / f"out-{request.param}.gpkg", request.param)


def _parse(qml: str) -> ET.Element:
    doctype, body = qml.split("\n", 1)
    assert doctype.startswith("<!DOCTYPE qgis")
    return ET.fromstring(body)


def _rows(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql, args).fetchall()


def test_layer_styles_as_qgis_reads_them(styled_gpkg: Path) -> None:
    assert _rows(
        styled_gpkg, "SELECT data_type FROM gpkg_contents WHERE table_name = ?", "layer_styles"
    ) == [("attributes",)]
    geometry = dict(_rows(styled_gpkg, "SELECT table_name, column_name FROM gpkg_geometry_columns"))
    present = [name for name in STYLED if name in geometry]
    assert present == list(STYLED)
    rows = _rows(
        styled_gpkg,
        "SELECT f_table_name, f_geometry_column, f_table_catalog, f_table_schema, styleQML"
        " FROM layer_styles WHERE useAsDefault = 1 ORDER BY f_table_name",
    )
    assert [row[0] for row in rows] == sorted(present)
    for name, column, catalog, schema, qml in rows:
        assert column == geometry[name]
        assert (catalog, schema) == ("", "")  # QGIS matches on '' here, not NULL
        root = _parse(str(qml))
        assert root.tag == "qgis"
        mentioned = " ".join(v for e in root.iter() for v in (*e.attrib.values(), e.text or ""))
        for field in FIELDS[str(name)]:
            by_attribute = root.find(f".//renderer-v2[@attr='{field}']") is not None
            assert f'"{field}"' in mentioned or by_attribute, (name, field)
        if name != "paths":
            assert [c.get("value") for c in root.iter("category")] == ["true", "false"]
        keys = [rule.get("key") for rule in root.iter("rule")]
        assert len(keys) == len(set(keys))


def test_every_layer_still_reads(styled_gpkg: Path) -> None:
    listed = {str(name) for name, _ in pyogrio.list_layers(styled_gpkg)}
    assert set(STYLED) <= listed
    assert "layer_styles" in listed
    for name in STYLED:
        assert len(pyogrio.read_dataframe(styled_gpkg, layer=name)) > 0
    styles = pyogrio.read_dataframe(styled_gpkg, layer="layer_styles", read_geometry=False)
    assert set(STYLED) <= set(styles["f_table_name"])
    info = pyogrio.read_info(styled_gpkg, layer="layer_styles")
    assert info["features"] == len(styles)  # GDAL's cached count agrees


def test_symbols_follow_geometry(tmp_path: Path) -> None:
    path = write_synthetic(tmp_path / "points.gpkg", "points")
    kinds = dict(
        _rows(path, "SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault = 1")
    )
    symbol_types = {
        name: {s.get("type") for s in _parse(str(qml)).iter("symbol")}
        for name, qml in kinds.items()
    }
    assert symbol_types == {
        "paths": {"line"},
        "buildings": {"marker"},
        "supplies": {"fill", "marker"},
    }
    assert symbol_kind("MultiPolygon Z") == "fill"
    assert symbol_kind("GeometryCollection") is None
    assert "<layerGeometryType>2</layerGeometryType>" in buildings_qml("Polygon")


def test_rewriting_keeps_one_default_per_layer(tmp_path: Path) -> None:
    path = write_synthetic(tmp_path / "twice.gpkg", "polygons")
    write_styles(path, {"paths": "Unknown", "buildings": "Polygon", "connectors": "LineString"})
    defaults = _rows(
        path,
        "SELECT f_table_name, count(*) FROM layer_styles WHERE useAsDefault = 1"
        " GROUP BY f_table_name ORDER BY f_table_name",
    )
    assert defaults == [("buildings", 1), ("paths", 1), ("supplies", 1)]
    assert _rows(path, "SELECT count(*) FROM layer_styles WHERE styleName = ?", STYLE_NAME) == [
        (3,)
    ]


def _without_styles(path: Path) -> Path:
    """Drop any layer_styles (whether write_layers stores styles is its caller's choice)."""
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("DROP TABLE IF EXISTS layer_styles")
        for table in ("gpkg_contents", "gpkg_ogr_contents"):
            connection.execute(f"DELETE FROM {table} WHERE table_name = 'layer_styles'")
    return path


def test_missing_layer_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bare.gpkg"
    frames = synthetic_layers("polygons")
    write_layers(path, {"paths": frames["paths"]}, overwrite=False)
    _without_styles(path)
    with pytest.raises(HeatnetError, match="supplies"):
        write_styles(path, {"paths": "LineString", "supplies": "Point"})
    tables = {row[0] for row in _rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "layer_styles" not in tables  # nothing half-written


def _run_qgis_check(gpkg: Path, png: Path) -> subprocess.CompletedProcess[str]:
    if not has_qgis():
        pytest.skip(
            f"QGIS not importable by {QGIS_PYTHON} "
            "(apt-get install python3-qgis qgis-providers); set HEATNET_QGIS_PYTHON otherwise"
        )
    png.unlink(missing_ok=True)
    result = subprocess.run(
        [QGIS_PYTHON, str(QGIS_CHECK), str(gpkg), str(png)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
    )
    print(result.stdout, result.stderr)
    return result


def test_qgis_loads_and_renders(styled_gpkg: Path, tmp_path: Path) -> None:
    png_dir = Path(os.environ.get("HEATNET_QGIS_PNG_DIR") or tmp_path)
    png = png_dir / f"{styled_gpkg.stem}.png"
    result = _run_qgis_check(styled_gpkg, png)
    assert result.returncode == 0, result.stderr
    assert "OK: default styles load and render" in result.stdout
    assert png.is_file()
    assert png.stat().st_size > 1000


def test_qgis_check_fails_without_styles(tmp_path: Path) -> None:
    path = tmp_path / "unstyled.gpkg"
    write_layers(path, synthetic_layers("polygons"), overwrite=False)
    result = _run_qgis_check(_without_styles(path), tmp_path / "unstyled.png")
    assert result.returncode == 1
    assert "paths: renderer is 'singleSymbol'" in result.stderr
    assert "buildings: renderer is 'singleSymbol'" in result.stderr


def test_a_topology_output_is_styled_by_role_and_reach(tmp_path: Path) -> None:
    """heatnet topology writes its own styles: paths by role, buildings and supplies by reach."""
    import sqlite3
    import xml.etree.ElementTree as ET

    from heatnet.pipeline import topology

    out = tmp_path / "network.gpkg"
    topology(ROOT / "sample_data" / "tiny.gpkg", out)
    with sqlite3.connect(out) as connection:
        rows = dict(
            connection.execute(
                "SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault"
            ).fetchall()
        )
    assert set(rows) == {"paths", "buildings", "supplies"}
    paths = ET.fromstring(rows["paths"].split("\n", 1)[1])
    labels = {rule.get("label") for rule in paths.iter("rule")}
    assert labels == {"Unreachable", "Connector", "Peripheral", "Path"}
    for name in ("buildings", "supplies"):
        renderer = ET.fromstring(rows[name].split("\n", 1)[1]).find("renderer-v2")
        assert renderer is not None
        assert renderer.get("attr") == "unreachable"
        values = {c.get("value") for c in renderer.iter("category")}
        assert values == {"true", "false"}
