"""heatnet.picture: PNG sheet and HTML page of an output GeoPackage, and the headline figures."""

from __future__ import annotations

import base64
import logging
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from heatnet.core import palette
from heatnet.core.atomic import OutputExistsError
from heatnet.core.errors import InputError
from heatnet.picture import headline, render_report
from heatnet.picture.draw import CONNECTED, _diameter_bands
from heatnet.picture.read import _npv_rate, cashflow_table, cumulative_npv, read_output
from heatnet.picture.render import _sheet_figure
from tests.conftest import layer, sha256, write_gpkg

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RATE_FACTOR = 1.05  # 1 + finance/npv-rate as written in the parameters table
POLYGON = "POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
COURTYARD = (
    "POLYGON ((110 30, 140 30, 140 60, 110 60, 110 30), (118 38, 132 38, 132 52, 118 52, 118 38))"
)


def _square(x: float, y: float, size: float = 10) -> str:
    return POLYGON.format(x0=x, y0=y, x1=x + size, y1=y + size)


def output_frames(*, design: bool = True) -> dict[str, pd.DataFrame | None]:
    """A small output: 6 buildings (polygons and points), 4 paths + 3 connectors, 2 supplies."""
    on = design
    buildings = layer(
        [
            {"building_id": "B1", "in_network": on, "unreachable": False, "geometry": _square(10, 5)},
            {"building_id": "B2", "in_network": on, "unreachable": False, "geometry": _square(60, 5)},
            {"building_id": "B3", "in_network": on, "unreachable": False, "geometry": "POINT (150 10)"},
            {"building_id": "B4", "in_network": False, "unreachable": False, "geometry": COURTYARD},
            {"building_id": "B5", "in_network": False, "unreachable": True, "geometry": _square(320, 5)},
            {"building_id": "B6", "in_network": False, "unreachable": False, "geometry": "POINT (180 40)"},
        ]
    )  # fmt: skip
    buildings["annual_demand_kwh"] = 40000.0
    buildings["connection_cost_pv"] = np.where(buildings["in_network"], -5000.0, np.nan)
    buildings["tariff_pv"] = np.where(buildings["in_network"], 20000.0, np.nan)
    rows = [
        ("P1", False, 80.0, False, "LINESTRING (0 0, 100 0)"),
        ("P2", False, 50.0, False, "LINESTRING (100 0, 200 0)"),
        ("P3", False, None, False, "LINESTRING (100 0, 100 80)"),
        ("P4", False, None, True, "LINESTRING (300 0, 350 0)"),
        ("C-1", True, 25.0, False, "LINESTRING (15 5, 15 0)"),
        ("C-2", True, 25.0, False, "LINESTRING (65 5, 65 0)"),
        ("C-3", True, 25.0, False, "LINESTRING (150 10, 150 0)"),
    ]
    paths = layer(
        [
            {
                "path_id": pid,
                "in_network": on and diameter is not None,
                "connector": connector,
                "diameter_mm": diameter if on else None,
                "diversity": 1.0 if on and diameter else None,
                "load_kw": 20.0 if on and diameter else None,
                "capacity_kw": 40.0 if on and diameter else None,
                "losses_kwh": 5000.0 if on and diameter else None,
                "cost_pv": -1000.0 if on and diameter else None,
                "peripheral": pid == "P3",
                "unreachable": unreachable,
                "geometry": wkt,
            }
            for pid, connector, diameter, unreachable, wkt in rows
        ]
    )
    supplies = layer(
        [
            {"supply_id": "S1", "in_network": on, "diversity": 0.9, "load_kw": 50.0,
             "load_kwh": 135000.0, "plant_pv": -20000.0, "geometry": "POINT (0 -10)"},
            {"supply_id": "S2", "in_network": False, "diversity": None, "load_kw": None,
             "load_kwh": None, "plant_pv": None, "geometry": "POINT (200 -10)"},
        ]
    )  # fmt: skip
    flows: list[tuple[int, float, str, str]] = [(0, -100000.0, "capex", "pipe")]
    for year in range(1, 21):
        flows += [(year, 12000.0, "revenue", "building"), (year, -4000.0, "heat", "supply")]
        flows += [(year, -1000.0, "opex", "supply")]
    flows.append((15, -20000.0, "repex", "supply"))
    npv = sum(value / RATE_FACTOR**year for year, value, _, _ in flows)
    cashflow = pd.DataFrame(flows if on else [], columns=["year", "value", "cost", "type"])
    cashflow = cashflow.astype({"year": "int64", "value": "float64", "cost": str, "type": str})
    for column in ("connection_cost_id", "tariff_id", "civil_cost_id"):
        cashflow[column] = pd.array([pd.NA] * len(cashflow), dtype="Int64")
    for column in ("building_id", "supply_id", "path_id"):
        cashflow[column] = pd.Series([None] * len(cashflow), dtype=object)
    summary = {
        "state": "optimal" if on else "infeasible",
        "objective": npv if on else math.nan,
        "mip_gap": 0.001 if on else math.nan,
        "runtime": 75.4 if on else 0.3,
        "iterations": 2,
        "lower_bound": npv if on else math.nan,
        "upper_bound": npv + 100 if on else math.nan,
        "network_building_count": 3 if on else 0,
        "network_connection_count": 4 if on else 0,
        "network_length": 350.0 if on else 0.0,
        "network_linear_density": 342.9 if on else math.nan,
        "network_kwh": 120000.0 if on else 0.0,
        "network_losses_kwh": 15000.0 if on else 0.0,
        "network_npv": npv if on else math.nan,
        "git_rev": "abc1234",
        "user": "analyst",
        "run": "test-run",
        "start_date": "2025-01-02T03:04:05",
    }
    reasons = pd.DataFrame(
        {
            "reason_type": ["unreachable_building", "capacity"] if not on else ["note"],
            "message": ["B5 has no path to a supply", "peak demand > capacity at <S1> & S2"]
            if not on
            else ["B5 is unreachable"],
        }
    )
    parameters = pd.DataFrame(
        {"parameter": ["finance/npv-rate", "finance/npv-term"], "value": ["0.05", "40"]}
    )
    return {
        "buildings": buildings,
        "paths": paths,
        "supplies": supplies,
        "cashflow": cashflow,
        "solution_summary": pd.DataFrame([summary]),
        "infeasible_reasons": reasons,
        "parameters": parameters,
    }


def write_output(path: Path, *, design: bool = True, **changes: Any) -> Path:
    """Write ``output_frames`` changed by keyword overrides (``None`` leaves a table out)."""
    return write_gpkg(path, {**output_frames(design=design), **changes})


@pytest.fixture(scope="module")
def designed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_output(tmp_path_factory.mktemp("picture") / "out.gpkg")


@pytest.fixture(scope="module")
def infeasible(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_output(tmp_path_factory.mktemp("picture") / "infeasible.gpkg", design=False)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def _count_colour(pixels: np.ndarray, hex_colour: str, tolerance: int = 8) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels - rgb).max(axis=2) <= tolerance).sum())


def test_png_is_a_sensible_non_blank_sheet_and_the_input_is_untouched(designed, tmp_path):
    before = sha256(designed)
    target = render_report(designed, tmp_path / "design.png")
    assert target == tmp_path / "design.png"
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(target) as image:
        assert image.format == "PNG"
        assert 1600 <= image.width <= 4000
        assert 900 <= image.height <= 3000
    pixels = _pixels(target)
    not_white = (pixels < 245).any(axis=2).mean()
    assert 0.03 < not_white < 0.6
    assert len(np.unique(pixels @ np.array([65536, 256, 1]))) > 200
    assert _count_colour(pixels, CONNECTED) > 500  # connected buildings are filled and visible
    assert sha256(designed) == before
    assert [p.name for p in tmp_path.iterdir()] == ["design.png"]  # no temporary left behind


def test_infeasible_output_renders_without_a_design(infeasible, tmp_path):
    target = render_report(infeasible, tmp_path / "none.png")
    pixels = _pixels(target)
    assert (pixels < 245).any(axis=2).mean() > 0.02  # the inputs are still drawn
    assert _count_colour(pixels, CONNECTED) == 0  # and nothing is shown as connected
    figures = headline(infeasible)
    assert figures["State"] == "infeasible (no design)"
    assert figures["NPV"] == figures["Objective"] == figures["Proven gap"] == "—"
    assert figures["Buildings connected"] == "0 of 6 (0.0%)"


def test_headline_figures_are_formatted_from_the_summary(designed):
    assert headline(designed) == {
        "State": "optimal",
        "NPV": "-22,385",
        "Objective": "-22,385",
        "Proven gap": "0.10%",
        "Buildings connected": "3 of 6 (50.0%)",
        "Connections": "4",
        "Network length": "0.35 km",
        "Heat delivered": "120 MWh/yr",
        "Losses": "15.0 MWh/yr (11.1% of heat supplied)",
        "Runtime": "1 min 15 s",
    }


def test_booleans_written_as_integers_read_the_same(designed, tmp_path):
    frames = output_frames()
    for name in ("buildings", "paths", "supplies"):
        for column in ("in_network", "unreachable", "connector"):
            if column in frames[name]:
                frames[name][column] = frames[name][column].astype("int32")
    as_ints = write_gpkg(tmp_path / "ints.gpkg", frames)
    assert headline(as_ints) == headline(designed)
    data = read_output(as_ints)
    assert data.has_design
    assert int(data.buildings["in_network"].sum()) == 3


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_html_is_self_contained_with_figures_and_images(designed, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="heatnet.picture"):
        page = render_report(designed, tmp_path / "design.html").read_text(encoding="utf-8")
    assert caplog.text == ""  # the charted NPV agrees with network_npv
    assert page.startswith("<!DOCTYPE html>")
    # the map's code is inline (no <script src>); outside scripts and styles, nothing external
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE)
    outside = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", "", page, flags=re.S | re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", outside, re.IGNORECASE)
    for external in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert external not in outside
    images = _images(page)
    assert len(images) == 1  # the cashflow chart (the map is drawn by the page's code)
    assert all(image[:8] == PNG_SIGNATURE and len(image) > 10_000 for image in images)
    for figure in ("test-run", "optimal", "3 of 6 (50.0%)", "0.35 km", "-22,385", "5.00%"):
        assert figure in page
    assert "B5 is unreachable" in page


def test_html_of_an_infeasible_output_lists_the_reasons_escaped(infeasible, tmp_path):
    page = render_report(infeasible, tmp_path / "none.html").read_text(encoding="utf-8")
    assert "Why there is no design" in page
    assert "B5 has no path to a supply" in page
    assert "peak demand &gt; capacity at &lt;S1&gt; &amp; S2" in page
    assert "<S1>" not in page
    assert not _images(page)  # no cashflow chart (the map is the page's code)
    assert "Bokeh.embed" in page
    assert "No cash flows" in page


def test_existing_output_is_kept_without_overwrite(designed, tmp_path):
    target = tmp_path / "design.png"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="overwrite"):
        render_report(designed, target)
    assert target.read_bytes() == b"old"
    render_report(designed, target, overwrite=True)
    assert target.read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("suffix", [".pdf", ".gpkg", ".svg", ""])
def test_unsupported_suffix_is_an_input_error(designed, tmp_path, suffix):
    target = tmp_path / f"design{suffix}"
    with pytest.raises(InputError, match=r"\.png or \.html"):
        render_report(designed, target)
    assert not target.exists()


@pytest.mark.parametrize("name", ["buildings", "supplies", "cashflow", "solution_summary"])
def test_missing_layer_or_table_is_named(tmp_path, name):
    source = write_output(tmp_path / "out.gpkg", **{name: None})
    with pytest.raises(InputError, match=f"not a heatnet output.*{name}"):
        render_report(source, tmp_path / "design.png")
    assert not (tmp_path / "design.png").exists()


def test_missing_columns_are_all_named(tmp_path):
    frames = output_frames()
    paths = frames["paths"].drop(columns=["diameter_mm"])
    summary = frames["solution_summary"].drop(columns=["network_npv"])
    source = write_gpkg(
        tmp_path / "out.gpkg", {**frames, "paths": paths, "solution_summary": summary}
    )
    with pytest.raises(InputError, match=r"paths\.diameter_mm, solution_summary\.network_npv"):
        headline(source)


def test_a_file_that_is_not_a_geopackage_is_an_input_error(tmp_path):
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a database")
    with pytest.raises(InputError, match=r"junk\.gpkg"):
        render_report(junk, tmp_path / "design.png")
    with pytest.raises(InputError, match="does not exist"):
        headline(tmp_path / "missing.gpkg")


def test_npv_rate_from_parameters_else_undiscounted():
    def rate(key: str, value: str) -> float | None:
        return _npv_rate(pd.DataFrame({"parameter": ["other", key], "value": ["1", value]}))

    assert rate(":Finance/NPV-Rate", " 0.1 ") == 0.1
    assert rate("finance/npv-rate", "") is None
    assert rate("finance/npv-rate", "lots") is None
    assert rate("finance/npv-term", "0.1") is None
    assert _npv_rate(None) is None


def test_chart_npv_that_disagrees_with_the_summary_is_logged(tmp_path, caplog):
    frames = output_frames()
    frames["solution_summary"]["network_npv"] = 1000.0
    source = write_gpkg(tmp_path / "out.gpkg", frames)
    with caplog.at_level(logging.WARNING, logger="heatnet.picture"):
        render_report(source, tmp_path / "design.html")
    assert "gives an NPV of -22385, but network_npv is 1000" in caplog.text


def test_cumulative_npv_discounts_each_year():
    flows = pd.DataFrame(
        {
            "year": [0, 2, 2, 1],
            "value": [-100.0, 60.0, -10.0, 55.0],
            "cost": ["capex", "revenue", None, "REVENUE"],
        }
    )
    table = cashflow_table(flows)
    assert list(table.columns) == ["capex", "revenue", "other"]
    assert list(table.index) == [0, 1, 2]
    expected = np.cumsum([-100.0, 55.0 / 1.1, 50.0 / 1.1**2])
    np.testing.assert_allclose(cumulative_npv(table, 0.1).to_numpy(), expected)
    np.testing.assert_allclose(cumulative_npv(table, 0.0).to_numpy(), [-100.0, -45.0, 5.0])


def test_pipe_sizes_fall_in_the_palettes_fixed_classes():
    catalogue = np.array([20, 25, 32, 40, 50, 65, 80, 100, 125, 150, 400, np.nan])
    bands = _diameter_bands(catalogue)
    assert [label for _, _, label, _, _ in bands] == [
        "DN ≤ 32", "DN ≤ 50", "DN ≤ 80", "DN ≤ 125", "DN ≤ 200", "DN > 300",
    ]  # fmt: skip
    assert [colour for *_, colour, _ in bands] == [
        palette.PIPE_CLASSES[i].colour for i in (0, 1, 2, 3, 4, 6)
    ]
    widths = [width for *_, width in bands]
    assert widths == sorted(widths)  # wider lines for bigger pipes
    low, high = bands[1][:2]
    assert low > 32
    assert high == 50
    assert _diameter_bands(np.array([np.nan])) == []


def test_qgis_png_and_html_map_use_one_palette(designed):
    """The QGIS style's pipe and building colours are the palette's, as the PNG's and map's are."""
    import xml.etree.ElementTree as ET

    from heatnet.outputs.styles import buildings_qml, paths_qml
    from heatnet.picture.webmap import build_map

    def colours(qml: str) -> list[str]:
        found = []
        for option in ET.fromstring(qml.split("\n", 1)[1]).iter("Option"):
            if option.get("name") in ("line_color", "color") and option.get("value"):
                found.append(option.get("value"))
        return found

    pipe_colours = colours(paths_qml())
    for pipe in palette.PIPE_CLASSES:
        assert pipe_colours.count(palette.rgba(pipe.colour)) == 2  # mains and connectors
    assert palette.rgba(palette.BUILDING_CONNECTED) in colours(buildings_qml("Polygon"))
    assert CONNECTED == palette.BUILDING_CONNECTED
    plot = build_map(read_output(designed))
    drawn = {r.name: r for r in plot.renderers}
    pipes = [r for name, r in drawn.items() if name.startswith("pipes_")]
    assert {r.glyph.line_color for r in pipes} <= {p.colour for p in palette.PIPE_CLASSES}
    fills = {r.glyph.fill_color for n, r in drawn.items() if n.startswith("buildings_connected")}
    assert fills == {palette.BUILDING_CONNECTED}


def test_long_texts_stay_on_the_sheet_without_squeezing_the_panels(tmp_path):
    frames = output_frames(design=False)
    summary = frames["solution_summary"]
    summary["run"] = "a-rather-long-run-name-for-the-north-quarter-extension-phase-two"
    summary["git_rev"] = "heatnet 0.1.0 (git c21a24c52746-dirty)"
    summary["start_date"] = "2026-11-24T11:50:09+00:00"
    summary["user"] = "firstname.lastname@consultancy.example.org"
    frames["infeasible_reasons"] = pd.DataFrame(
        {"reason_type": ["capacity"] * 9, "message": ["peak demand exceeds every supply " * 6] * 9}
    )
    fig = _sheet_figure(read_output(write_gpkg(tmp_path / "out.gpkg", frames)))
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    right_column = [ax for ax in fig.axes if ax.get_position().x0 > 0.5]
    assert len(right_column) == 2
    assert all(ax.get_position().width > 0.3 for ax in right_column)
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in right_column for t in ax.texts]
    assert any("more in the infeasible_reasons table" in t.get_text() for t in texts)
    for t in texts:
        box = t.get_window_extent(renderer)
        assert box.x1 <= fig.bbox.x1 + 1, t.get_text()
        assert box.y0 >= fig.bbox.y0 - 1, t.get_text()


def test_a_building_without_geometry_is_counted_not_drawn(tmp_path):
    frames = output_frames()
    extra = layer(
        [{"building_id": "B7", "in_network": False, "unreachable": False, "geometry": None}]
    )
    frames["buildings"] = pd.concat([frames["buildings"], extra], ignore_index=True)
    source = write_gpkg(tmp_path / "out.gpkg", frames)
    assert headline(source)["Buildings connected"] == "3 of 7 (42.9%)"
    assert render_report(source, tmp_path / "design.png").stat().st_size > 10_000


def test_an_output_in_a_geographic_crs_fills_the_map(tmp_path, caplog):
    # the pad was 20 map units: 20 degrees around a 350 m network left an empty map
    frames = output_frames()
    for name in ("buildings", "paths", "supplies"):
        frames[name] = frames[name].to_crs("EPSG:4326")
    source = write_gpkg(tmp_path / "out.gpkg", frames)
    with caplog.at_level(logging.WARNING):
        pixels = _pixels(render_report(source, tmp_path / "design.png"))
    assert "no scale bar" in caplog.text  # degrees: no bar in metres is drawn
    metric = _pixels(render_report(write_output(tmp_path / "metric.gpkg"), tmp_path / "m.png"))
    # as many connected-building pixels as the same output in metres (a degree is not a metre
    # across at 50 N: the aspect differs a little, the size of the drawing does not)
    assert _count_colour(pixels, CONNECTED) > 0.5 * _count_colour(metric, CONNECTED) > 250


def test_a_report_of_a_wal_output_leaves_its_files_untouched(tmp_path):
    source = write_output(tmp_path / "out.gpkg")
    script = (
        "import os, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA journal_mode=WAL')\n"
        "db.execute('PRAGMA wal_autocheckpoint=0')\n"
        "db.execute(\"UPDATE solution_summary SET run = 'from the wal'\")\n"
        "os._exit(0)\n"  # exit without closing: the frame stays in the -wal
    )
    subprocess.run([sys.executable, "-c", script, str(source)], check=True)
    files = [source, Path(f"{source}-wal"), Path(f"{source}-shm")]
    before = [(sha256(p), p.stat().st_mtime_ns) for p in files]
    html = render_report(source, tmp_path / "design.html").read_text()
    assert "from the wal" in html  # the pending frame was read
    assert [(sha256(p), p.stat().st_mtime_ns) for p in files] == before


# --- the dispatch chart --------------------------------------------------------------------

STORE_TEAL = "#2a9d8f"


def dispatch_frame(days: list[tuple[str, int | None]]) -> pd.DataFrame:
    """Rows of a ``dispatch`` table: for each (day type, day of year), a site, two units (the
    pump with status: on 06-21, starting at 06) and a store discharging 0-5, charging 6-23.
    """
    rows = []
    for day_type, day in days:
        for hour in range(24):
            base = {"day_type": day_type, "days_per_year": 1.0 if day else 10.0,
                    "day_of_year": day, "hour": hour, "supply_id": "S1"}  # fmt: skip
            on = 6 <= hour < 22
            rows += [
                base | {"element_type": "site", "element_id": "S1", "heat_kw": 100.0},
                base | {"element_type": "unit", "element_id": "pump", "heat_kw": 80.0 * on,
                        "on": on, "start": hour == 6},
                base | {"element_type": "unit", "element_id": "boiler", "heat_kw": 20.0},
                base | {"element_type": "storage", "element_id": "tank",
                        "heat_kw": 80.0 if hour < 6 else -0.0 * hour,
                        "level_kwh": 480.0 - 80.0 * min(hour + 1, 6)},
            ]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["on"] = frame["on"].astype("boolean")
    frame["start"] = frame["start"].astype("boolean")
    frame["day_of_year"] = frame["day_of_year"].astype("Int64")
    return frame


def test_a_dispatch_is_charted_below_the_sheet_and_in_its_own_html_section(tmp_path):
    path = write_output(tmp_path / "plants.gpkg", dispatch=dispatch_frame([("winter", None),
                                                                         ("summer", None)]))  # fmt: skip
    plain = render_report(write_output(tmp_path / "plain.gpkg"), tmp_path / "plain.png")
    png = render_report(path, tmp_path / "plants.png")
    with Image.open(plain) as a, Image.open(png) as b:
        assert b.width == a.width
        assert b.height > a.height * 1.4
    assert _count_colour(_pixels(png), STORE_TEAL) > 500  # the store's discharge is drawn
    assert _count_colour(_pixels(plain), STORE_TEAL) == 0
    page = render_report(path, tmp_path / "plants.html").read_text(encoding="utf-8")
    assert "<h2>Dispatch</h2>" in page
    assert "2 day types, 24 hours each" in page
    assert "2 units, 1 stores" in page
    assert len(_images(page)) == 2  # cashflow and dispatch
    plain_page = render_report(write_output(tmp_path / "p2.gpkg"), tmp_path / "p.html")
    assert "<h2>Dispatch</h2>" not in plain_page.read_text(encoding="utf-8")


def test_a_year_hour_by_hour_is_charted_as_each_day_types_mean_day():
    from heatnet.picture.dispatch import typical_days

    frame = dispatch_frame([("winter", 1), ("winter", 2), ("winter", 3)])
    # day 2 runs the boiler at 50 instead of 20, and its pump never runs nor starts
    day2 = frame["day_of_year"] == 2
    frame.loc[day2 & (frame["element_id"] == "boiler"), "heat_kw"] = 50.0
    pump2 = day2 & (frame["element_id"] == "pump")
    frame["on"] = frame["on"].mask(pump2, False)
    frame["start"] = frame["start"].mask(pump2, False)
    frame.loc[pump2, "heat_kw"] = 0.0
    days, averaged = typical_days(frame)
    assert averaged
    assert len(days) == 24 * 4  # one row per hour and element of the one day type
    boiler = days[days["element_id"] == "boiler"]["heat_kw"]
    assert boiler.to_numpy() == pytest.approx([30.0] * 24)  # (20 + 50 + 20) / 3
    pump = days[days["element_id"] == "pump"].set_index("hour")
    assert pump.loc[6, "heat_kw"] == pytest.approx(160.0 / 3)
    assert bool(pump.loc[6, "on"])
    assert bool(pump.loc[6, "start"])
    assert not bool(pump.loc[3, "on"])
    assert days[days["element_id"] == "boiler"]["on"].isna().all()  # no status: no strip
    typical, averaged = typical_days(dispatch_frame([("winter", None)]))
    assert not averaged
    assert len(typical) == 24 * 4


# --- the interactive map of the HTML page --------------------------------------------------


def _renderers(plot) -> dict[str, object]:
    return {r.name: r for r in plot.renderers}


def test_the_web_map_draws_every_feature_with_its_popup(designed):
    from bokeh.models import HoverTool

    from heatnet.picture.webmap import build_map

    data = read_output(designed)
    plot = build_map(data)
    drawn = _renderers(plot)
    b = data.buildings
    used = b["in_network"].astype(bool)
    connected = [
        i for name in ("buildings_connected", "buildings_connected_points") if name in drawn
        for i in drawn[name].data_source.data["building_id"]
    ]  # fmt: skip
    assert sorted(connected) == sorted(b.loc[used, "building_id"])
    pipes = [r for name, r in drawn.items() if name.startswith("pipes_")]
    laid = data.paths[data.paths["in_network"].astype(bool) & ~data.paths["connector"].astype(bool)]
    assert sum(len(r.data_source.data["path_id"]) for r in pipes) == len(laid)
    tips = {
        tuple(r.name for r in tool.renderers): dict(tool.tooltips)
        for tool in plot.tools
        if isinstance(tool, HoverTool)
    }
    assert any("diameter_mm" in t for names, t in tips.items() if names[0].startswith("pipes_"))
    assert all(next(iter(t)) in ("path_id", "building_id", "supply_id") for t in tips.values())
    legend = plot.right[0]
    assert legend.click_policy == "hide"
    assert {"building, connected", "supply, used"} <= {i.label.value for i in legend.items}


def test_the_html_page_holds_the_map_code_and_nothing_external(designed, tmp_path):
    page = render_report(designed, tmp_path / "design.html").read_text(encoding="utf-8")
    assert not re.search(r"""<(script|img|link|iframe)[^>]*\s(src|href)\s*=\s*["']?(https?:)?//""",
                         page, re.IGNORECASE)  # fmt: skip
    assert not re.search(r"<link\s[^>]*href", page, re.IGNORECASE)
    assert "data-root-id" in page  # Bokeh's mount point
    assert "Bokeh.embed" in page
    assert page.count("<h2>Map</h2>") == 1


OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def test_a_background_map_only_when_asked_for_and_then_in_web_mercator(designed):
    from bokeh.models import TileRenderer

    from heatnet.picture.webmap import build_map

    data = read_output(designed)
    plain = build_map(data)
    assert not [r for r in plain.renderers if isinstance(r, TileRenderer)]
    tiled = build_map(data, tiles=OSM, attribution="© OpenStreetMap contributors")
    [background] = [r for r in tiled.renderers if isinstance(r, TileRenderer)]
    assert background.tile_source.url == OSM
    assert background.tile_source.attribution == "© OpenStreetMap contributors"
    # the features moved to Web Mercator: the supply's x is its EPSG:3857 easting
    supply = data.supplies.to_crs(3857).geometry.iloc[0]
    drawn = {r.name: r for r in tiled.renderers}["supplies_used"].data_source.data
    assert drawn["x"][0] == pytest.approx(supply.x, abs=1e-6)
    assert drawn["y"][0] == pytest.approx(supply.y, abs=1e-6)


def test_tiles_are_for_the_html_report_and_need_an_xyz_url(designed, tmp_path, runner):
    from heatnet.cli.commands import cli

    png = runner.invoke(cli, ["report", str(designed), "-o", str(tmp_path / "r.png"),
                              "--tiles", OSM])  # fmt: skip
    assert png.exit_code == 2
    bad = runner.invoke(cli, ["report", str(designed), "-o", str(tmp_path / "r.html"),
                              "--tiles", "https://example.org/tiles.png"])  # fmt: skip
    assert bad.exit_code == 2
    assert not list(tmp_path.iterdir())
    ok = runner.invoke(cli, ["report", str(designed), "-o", str(tmp_path / "r.html"),
                             "--tiles", OSM, "--attribution", "© OSM"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in page
    assert "Web Mercator, over the background tiles" in page
