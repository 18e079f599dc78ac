"""Property tests: any single corruption of the real sample gives exit 3, a message naming table,
row and column, no traceback, and an input file left byte-identical.

Then a corpus of malformed files ("nothing lost, nothing misread"), each through ``heatnet
validate`` and/or ``heatnet run`` in a child process: malformed CSV tables, damaged and WAL-mode
GeoPackages, curved and measured geometries, parameters that validated and then crashed.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from contextlib import closing
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatnet.cli.commands import cli
from heatnet.inputs.load import LAYERS, TABLES
from tests.conftest import SAMPLE, TINY, sha256, write_gpkg
from tests.runs import heatnet


def stored(path: Path) -> list[str]:
    """The layers and tables heatnet reads that ``path`` holds (the samples have no dispatch tables)."""
    held = {str(name) for name, _ in pyogrio.list_layers(path)}
    return [name for name in (*LAYERS, *TABLES) if name in held]


@cache
def sample_frames() -> dict[str, pd.DataFrame]:
    return {name: pyogrio.read_dataframe(SAMPLE, layer=name) for name in stored(SAMPLE)}


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


# ---------------------------------------------------------------------------------------------
# Nothing lost, nothing misread: a corpus of malformed files through the command line

Expected = tuple[str, int | None, str | None, str]
"""An error the report must hold: table, row (fid or CSV line) or None, column or None, words."""


def files_state(paths: Sequence[Path]) -> dict[str, tuple[str, int] | None]:
    """Each file's SHA-256 and mtime (ns), or None when absent."""
    return {str(p): (sha256(p), p.stat().st_mtime_ns) if p.exists() else None for p in paths}


def refused(
    source: Path,
    expected: Sequence[Expected],
    *,
    args: Sequence[object] = (),
    watch: Sequence[Path] = (),
    commands: Sequence[str] = ("validate", "run"),
) -> None:
    """Each command exits 3 without a traceback, names every expected error, changes nothing."""
    watched = [source, *watch]
    before = files_state(watched)
    output = source.parent / "refused-design.gpkg"
    for command in commands:
        extra = ["--format", "json"] if command == "validate" else ["-o", output]
        result = heatnet(command, source, *args, *extra)
        assert result.returncode == 3, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        if command == "validate":
            errors = [i for i in json.loads(result.stdout)["issues"] if i["severity"] == "error"]
            for table, row, column, words in expected:
                found = [i for i in errors if (i["table"], i["row"], i["column"]) == (table, row, column)]  # fmt: skip
                assert any(words in i["message"] for i in found), (
                    table,
                    row,
                    column,
                    words,
                    errors,
                )
        else:  # the same report, as text on stderr
            for table, row, column, words in expected:
                blocks = result.stderr.split("\n\n")
                block = next(b for b in blocks if re.match(rf"{table}: \d+ errors?,", b))
                line = next((x for x in block.splitlines() if words in x), "")
                assert line.lstrip().startswith("ERROR"), (words, block)
                if row is not None:
                    assert f" {row}" in line.split(":", 1)[0], (row, line)
                if column is not None:
                    assert f"[{column}]" in line, (column, line)
        assert not output.exists()
        assert files_state(watched) == before, command


def tiny_copy(folder: Path) -> Path:
    return Path(shutil.copy(TINY, folder / "tiny.gpkg"))


def tiny_frames() -> dict[str, pd.DataFrame]:
    return {name: pyogrio.read_dataframe(TINY, layer=name) for name in stored(TINY)}


def csv_bytes(*lines: str) -> bytes:
    return "\n".join([*lines, ""]).encode()


TARIFFS = "tariff_id,name,annual_charge_fixed,annual_charge_per_kwh,annual_charge_per_kw,connection_charge_fixed,connection_charge_per_kw"  # fmt: skip
TARIFF = "1,standard,100.0,0.1,20.0,500.0,0.0"
CSV_CASES: dict[str, tuple[str, bytes, Expected]] = {
    "unbalanced quote": ("tariffs.csv", csv_bytes(TARIFFS, '1,"standard,100.0,0.1,20.0,500.0,0.0'), ("tariffs", 2, None, "never closed")),
    "text after a closing quote": ("tariffs.csv", csv_bytes(TARIFFS, '1,"standard"x,100.0,0.1,20.0,500.0,0.0'), ("tariffs", 2, None, "not valid CSV")),
    "extra field": ("tariffs.csv", csv_bytes(TARIFFS, TARIFF + ",99"), ("tariffs", 2, None, "8 fields but the header has 7")),
    "missing fields": ("tariffs.csv", csv_bytes(TARIFFS, "1,standard,100.0"), ("tariffs", 2, None, "3 fields but the header has 7")),
    "latin-1 bytes": ("tariffs.csv", f"{TARIFFS}\n1,Grün,100.0,0.1,20.0,500.0,0.0\n".encode("latin-1"), ("tariffs", 2, "name", "byte 0xFC in column 'name' is not UTF-8")),
    "utf-16": ("tariffs.csv", f"{TARIFFS}\n{TARIFF}\n".encode("utf-16"), ("tariffs", None, None, "UTF-16")),
    "utf-16 without a byte-order mark": ("tariffs.csv", f"{TARIFFS}\n{TARIFF}\n".encode("utf-16-le"), ("tariffs", None, None, "NUL bytes")),
    "empty file": ("tariffs.csv", b"", ("tariffs", None, None, "is empty")),
    "only blank lines": ("tariffs.csv", b"\n\r\n\n", ("tariffs", None, None, "only blank lines")),
    "binary file": ("tariffs.csv", bytes(range(256)) * 4, ("tariffs", None, None, "binary file")),
    "a GeoPackage named .csv": ("tariffs.csv", TINY.read_bytes(), ("tariffs", None, None, "SQLite database")),
    "duplicated header": ("tariffs.csv", csv_bytes(TARIFFS.replace("annual_charge_per_kw,", "annual_charge_fixed,"), TARIFF), ("tariffs", 1, "annual_charge_fixed", "2 times")),
    "semicolons": ("tariffs.csv", csv_bytes(TARIFFS.replace(",", ";"), TARIFF.replace(",", ";")), ("tariffs", 1, None, "';'-separated")),
    "values under no header": ("tariffs.csv", csv_bytes(TARIFFS + ",", TARIFF + ",5"), ("tariffs", 1, None, "have no name")),
    "blank lines before a bad value": ("tariffs.csv", csv_bytes(TARIFFS, "", "", TARIFF.replace("20.0", "-20.0")), ("tariffs", 4, "annual_charge_per_kw", "must be at least 0")),
    "a quoted line break before a bad value": ("tariffs.csv", csv_bytes(TARIFFS, '1,"two', 'lines",100.0,0.1,20.0,500.0,0.0', "", "2,x,-1,0.1,20.0,500.0,0.0"), ("tariffs", 5, "annual_charge_fixed", "must be at least 0")),
    "parameters without a value column": ("parameters.csv", csv_bytes("parameter", "finance/npv-rate"), ("parameters", None, "value", "'value' is missing")),
}  # fmt: skip
RUN_TOO = {"unbalanced quote", "latin-1 bytes", "empty file", "blank lines before a bad value"}
"""The CSV cases also given to ``heatnet run`` (the same reading; a run costs a process)."""


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_malformed_csv_tables_exit_3_naming_file_line_and_column(case, tmp_path):
    name, data, expected = CSV_CASES[case]
    folder = tmp_path / "tables"
    folder.mkdir()
    for table, frame in tiny_frames().items():
        if table in TABLES:
            frame.drop(columns="geometry", errors="ignore").to_csv(folder / f"{table}.csv", index=False)  # fmt: skip
    (folder / name).write_bytes(data)
    commands = ("validate", "run") if case in RUN_TOO else ("validate",)
    refused(tiny_copy(tmp_path), [expected], args=["--tables", folder],
            watch=sorted(folder.iterdir()), commands=commands)  # fmt: skip


def page_of(path: Path, table: str) -> int:
    """The first (root) page of a table's b-tree."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0])  # fmt: skip


def corrupt_page(folder: Path, table: str) -> Path:
    """tiny with the page holding ``table``'s rows overwritten: 'database disk image is malformed'."""
    path = tiny_copy(folder)
    data = bytearray(path.read_bytes())
    size = struct.unpack(">H", data[16:18])[0]
    start = (page_of(path, table) - 1) * size
    data[start : start + size] = b"\xa5" * size
    path.write_bytes(bytes(data))
    return path


def with_wkb(
    path: Path,
    geometries: Mapping[str, Sequence[bytes]],
    constraints: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """tiny with some layers' geometries replaced by raw WKB (curves, M, TINs: what GeoDataFrames
    cannot write), declared as geometry type Unknown, and optionally new ``constraint`` values."""
    for name in stored(TINY):
        meta, _, geometry, fields = pyogrio.raw.read(TINY, layer=name)
        kind = meta["geometry_type"]
        if name in geometries:
            geometry, kind = np.array(list(geometries[name]), dtype=object), "Unknown"
        if constraints and name in constraints:
            fields[list(meta["fields"]).index("constraint")] = np.array(
                constraints[name], dtype=object
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL registers its extension for TIN and curves
            pyogrio.raw.write(path, geometry=geometry, field_data=fields, fields=meta["fields"], layer=name,
                              driver="GPKG", geometry_type=kind, crs=meta["crs"])  # fmt: skip
    return path


def wkb_points(code: int, points: Sequence[tuple[float, ...]]) -> bytes:
    return struct.pack("<BII", 1, code, len(points)) + b"".join(struct.pack(f"<{len(p)}d", *p) for p in points)  # fmt: skip


def wkb_parts(code: int, parts: Sequence[bytes]) -> bytes:
    return struct.pack("<BII", 1, code, len(parts)) + b"".join(parts)


def iso(wkt: str) -> bytes:
    return shapely.to_wkb(shapely.from_wkt(wkt), flavor="iso")


ARC = [(400000.0, 300000.0), (400100.0, 300010.0), (400200.0, 300000.0)]
"""A circular arc along tiny's street: centre (400100, 299505), radius 505 m."""
CIRCLE = [(400040.0, 300010.0), (400050.0, 300020.0), (400060.0, 300010.0), (400050.0, 300000.0), (400040.0, 300010.0)]  # fmt: skip
"""A full circle of radius 10 m around (400050, 300010), tiny's building B1 (at 400050, 300015)."""
TRIANGLE = [(400040.0, 300010.0), (400060.0, 300010.0), (400050.0, 300020.0), (400040.0, 300010.0)]  # fmt: skip


def _missing_crs_and_a_bad_cell(folder: Path) -> Path:
    frames = tiny_frames()
    frames["supplies"] = frames["supplies"].set_crs(None, allow_override=True)
    set_cell(frames["buildings"], 0, "peak_demand_kw", "lots")
    return write_gpkg(folder / "tiny.gpkg", frames)


def _with_parameters(folder: Path, table: pd.DataFrame) -> Path:
    return write_gpkg(folder / "tiny.gpkg", {**tiny_frames(), "parameters": table})


def _truncated(folder: Path) -> Path:
    path = folder / "tiny.gpkg"
    path.write_bytes(TINY.read_bytes()[:80_000])
    return path


def _tin() -> bytes:
    triangle = wkb_parts(17, [wkb_points(0, TRIANGLE)[5:]])  # one ring: count, then points
    return wkb_parts(16, [triangle])


GPKG_CASES = {
    "corrupt data page of a layer": (lambda f: corrupt_page(f, "buildings"), [("buildings", None, None, "database disk image is malformed")]),
    "corrupt data page of a table": (lambda f: corrupt_page(f, "parameters"), [("parameters", None, None, "database disk image is malformed")]),
    "truncated file": (_truncated, [("input", None, None, "malformed")]),
    "parameters without a value column": (lambda f: _with_parameters(f, pd.DataFrame({"parameter": ["finance/npv-rate"]})), [("parameters", None, "value", "'value' is missing")]),
    "max-connector-length 0": (lambda f: _with_parameters(f, pd.DataFrame({"parameter": ["finance/npv-rate", "heatnet/max-connector-length"], "value": ["0.03", "0"]})), [("parameters", 2, "value", "must be more than 0")]),
    "missing CRS beside another error": (_missing_crs_and_a_bad_cell, [("supplies", None, None, "no coordinate reference system"), ("buildings", 1, "peak_demand_kw", "is not a number")]),
    "a TIN building": (lambda f: with_wkb(f / "tiny.gpkg", {"buildings": [_tin(), iso("POINT (400120 300020)"), iso("POINT (400180 300090)")]}), [("buildings", 1, "geometry", "TIN")]),
    "a collection holding a curve": (lambda f: with_wkb(f / "tiny.gpkg", {"paths": [wkb_parts(7, [wkb_points(8, ARC)])]}), [("paths", 1, "geometry", "holds curves")]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(GPKG_CASES))
def test_damaged_or_unusable_geopackages_exit_3_naming_where(case, tmp_path):
    build, expected = GPKG_CASES[case]
    source = build(tmp_path)
    refused(source, expected)
    if "corrupt" in case or "truncated" in case:  # the message names the file
        report = json.loads(heatnet("validate", source, "--format", "json").stdout)
        assert any(str(source) in i["message"] for i in report["issues"])


def pending_wal(path: Path, sql: str) -> None:
    """Put ``path`` in WAL mode with one committed transaction left in its -wal (not checkpointed).

    A child process commits and exits without closing the database, as a crashed or still
    running editor (QGIS) would leave it; closing would checkpoint the frames and remove the -wal.
    """
    script = (
        "import os, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA journal_mode=WAL')\n"
        "db.execute('PRAGMA wal_autocheckpoint=0')\n"
        "db.execute(sys.argv[2])\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path), sql], check=True)


def test_a_wal_geopackage_is_read_with_its_pending_frames_and_left_untouched(tmp_path):
    source = tiny_copy(tmp_path)
    pending_wal(source, "UPDATE parameters SET value = '12' WHERE parameter = 'finance/npv-term'")
    files = [source, Path(f"{source}-wal"), Path(f"{source}-shm")]
    assert all(p.stat().st_size > 0 for p in files)
    before = files_state(files)
    checked = heatnet("validate", source)
    assert checked.returncode == 0, checked.stderr
    assert files_state(files) == before  # bytes and mtimes of the database, -wal and -shm
    out = tmp_path / "design.gpkg"
    ran = heatnet("run", source, "-o", out)
    assert ran.returncode == 0, ran.stderr
    assert files_state(files) == before
    used = pyogrio.read_dataframe(out, layer="parameters").set_index("parameter")["value"]
    assert used["finance/npv-term"] == "12"  # the pending frame was read, not the stale page
    # and an invalid value only in the -wal is seen too
    pending_wal(source, "UPDATE parameters SET value = 'soon' WHERE parameter = 'finance/npv-term'")
    refused(source, [("parameters", 2, "value", "'soon' is not a number")],
            watch=files[1:], commands=("validate",))  # fmt: skip


def test_curves_are_read_as_straight_segments_with_a_warning_even_on_forbidden_rows(tmp_path):
    # a CircularString street and a CurvePolygon building (forbidden): linearised, warned, run
    buildings = [wkb_parts(10, [wkb_points(8, CIRCLE)]), iso("POINT (400120 300020)"), iso("POINT (400180 300090)")]  # fmt: skip
    paths = [wkb_parts(9, [wkb_points(8, ARC), wkb_points(2, [ARC[-1], (400200.0, 299995.0)])])]
    source = with_wkb(tmp_path / "tiny.gpkg", {"buildings": buildings, "paths": paths},
                      {"buildings": ["forbidden", "optional", "optional"]})  # fmt: skip
    before = sha256(source)
    out = tmp_path / "design.gpkg"
    result = heatnet("run", source, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sha256(source) == before
    warned = pyogrio.read_dataframe(out, layer="warnings")
    warned = warned[warned["code"] == "linearised_geometry"]
    assert sorted(zip(warned["table_name"], warned["row"], strict=True)) == [("buildings", 1), ("paths", 1)]  # fmt: skip
    assert warned["message"].str.contains("CompoundCurve|CurvePolygon").all()
    written = pyogrio.read_dataframe(out, layer="buildings").set_index("building_id")
    circle = written.geometry["B1"]  # forbidden, still written: as a polygon on the circle
    assert circle.geom_type == "Polygon"
    radius = np.hypot(*(np.asarray(circle.exterior.coords) - (400050.0, 300010.0)).T)
    assert np.allclose(radius, 10.0, atol=1e-6)
    assert circle.area == pytest.approx(np.pi * 100, rel=1e-4)  # chords of at most 1 degree
    pieces = pyogrio.read_dataframe(out, layer="paths")
    street = pieces[~pieces["connector"].astype(bool)]
    arc = 505.0 * 2 * np.arcsin(100 / 505.0)
    assert street.length.sum() == pytest.approx(arc + 5.0, rel=2e-5)


def test_measured_geometries_lose_m_with_a_warning_and_run_end_to_end(tmp_path):
    # a PointM building crashed at the write, after the whole solve
    points = [
        "POINT M (400050 300015 1)",
        "POINT ZM (400120 300020 5 2)",
        "POINT M (400180 300090 3)",
    ]
    source = with_wkb(tmp_path / "tiny.gpkg", {
        "buildings": [iso(w) for w in points],
        "paths": [iso("LINESTRING M (400000 300000 0, 400200 300000 200)")],
    })  # fmt: skip
    before = sha256(source)
    out = tmp_path / "design.gpkg"
    result = heatnet("run", source, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sha256(source) == before
    warned = pyogrio.read_dataframe(out, layer="warnings")
    dropped = warned[warned["code"] == "dropped_m"].set_index("table_name")["message"]
    assert sorted(dropped.index) == ["buildings", "paths"]
    assert dropped["buildings"].startswith("M (measure) values of 3 feature(s) were dropped")
    written = pyogrio.read_dataframe(out, layer="buildings")
    assert not shapely.has_m(written.geometry.to_numpy()).any()
    assert not shapely.has_z(written.geometry.to_numpy()).any()
    assert [(g.x, g.y) for g in written.geometry] == [(400050, 300015), (400120, 300020), (400180, 300090)]  # fmt: skip
    assert bool(written["in_network"].any())
