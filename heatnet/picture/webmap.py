"""The interactive map of the HTML report: pan, zoom and a pop-up for every feature.

Drawn with Bokeh (its JavaScript inlined, so the page works offline and needs no tile server) in
the output's own coordinates, with the PNG map's palette (:mod:`heatnet.picture.draw`): paths
not in the network grey, unreachable ones dashed red, pipes by diameter band (the same bands,
colours and widths; connectors dashed), buildings filled when connected, supplies as stars.
Hovering a feature shows its output columns; clicking a legend entry hides that layer.

A background map only when the user gives one (``tiles``: an XYZ tile URL such as
``https://tile.openstreetmap.org/{z}/{x}/{y}.png``, with its ``attribution``): the layers are then
drawn in Web Mercator (EPSG:3857) over those tiles, which the browser fetches from that server;
without one the page needs nothing outside itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import geopandas as gpd
import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import shapely
from bokeh.embed import components
from bokeh.models import ColumnDataSource, HoverTool, WMTSTileSource
from bokeh.models.annotations import Legend
from bokeh.plotting import figure
from bokeh.resources import INLINE

from heatnet.core import palette
from heatnet.picture.draw import CONNECTED, RED, _diameter_bands
from heatnet.picture.read import OutputData, flag

UNUSED = palette.PATH_UNUSED
"""Paths not in the network (:mod:`heatnet.core.palette`, as on the PNG and in QGIS)."""
NOT_CONNECTED = palette.BUILDING_NOT_CONNECTED
SUPPLY = palette.SUPPLY_USED
MAX_TIP_COLUMNS = 14
"""Columns shown in a pop-up; the rest are in the GeoPackage."""
_SKIP = {"geometry"}


def map_resources() -> str:
    """Bokeh's JavaScript and CSS, inline: put once in the page's ``<head>``."""
    rendered: str = INLINE.render()
    return rendered


def map_components(
    data: OutputData, *, tiles: str | None = None, attribution: str = ""
) -> tuple[str, str]:
    """The map's ``<script>`` and ``<div>`` for the page (:func:`map_resources` in its head)."""
    script, div = components(build_map(data, tiles=tiles, attribution=attribution))
    return script, div


def build_map(data: OutputData, *, tiles: str | None = None, attribution: str = "") -> Any:
    """The Bokeh figure: one named renderer per layer and kind, each with its pop-up.

    With ``tiles`` (an XYZ URL template), the layers are drawn in Web Mercator over them.
    """
    if tiles is not None:
        data = in_web_mercator(data)
    plot = figure(
        match_aspect=True,
        sizing_mode="stretch_width",
        height=650,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        active_scroll="wheel_zoom",
        toolbar_location="above",
        name="heatnet_map",
    )
    plot.xaxis.visible = plot.yaxis.visible = False
    plot.grid.visible = False
    if tiles is not None:
        plot.add_tile(WMTSTileSource(url=tiles, attribution=attribution), name="background")
    plot.background_fill_color = "#ffffff"
    # drawn in this order: buildings under the pipes, supplies on top
    buildings = _buildings(plot, data.buildings)
    items = [*_paths(plot, data.paths), *buildings, *_supplies(plot, data.supplies)]
    legend = Legend(items=items, click_policy="hide", location="top_left")
    legend.label_text_font_size = "9pt"
    plot.add_layout(legend, "right")
    return plot


def in_web_mercator(data: OutputData) -> OutputData:
    """The output's layers in EPSG:3857, where XYZ tiles are (a layer without a CRS is kept)."""
    moved = {
        name: (layer.to_crs(3857) if layer.crs is not None else layer)
        for name, layer in (("buildings", data.buildings), ("paths", data.paths),
                            ("supplies", data.supplies))
    }  # fmt: skip
    return replace(data, **moved)


# --- layers ---------------------------------------------------------------------------------------


def _paths(plot: Any, paths: gpd.GeoDataFrame) -> list[tuple[str, list[Any]]]:
    used = flag(paths["in_network"])
    connector = flag(paths["connector"])
    unreachable = flag(paths["unreachable"]) & ~used
    diameter = pd.to_numeric(paths["diameter_mm"], errors="coerce").to_numpy(dtype=float)
    items = [
        _lines(plot, paths[~used & ~unreachable], "paths_unused", UNUSED, 1.0,
               "path, not in network", alpha=0.6),
        _lines(plot, paths[unreachable], "paths_unreachable", RED, 1.2, "path, unreachable",
               dash=True),
    ]  # fmt: skip
    connectors: list[Any] = []
    for i, (low, high, label, colour, width) in enumerate(_diameter_bands(diameter[used])):
        inside = used & (diameter >= low) & (diameter <= high)
        hexed = mcolors.to_hex(colour)
        items.append(_lines(plot, paths[inside & ~connector], f"pipes_{i}", hexed, width, label))
        thin = _lines(plot, paths[inside & connector], f"connectors_{i}", hexed,
                      max(1.0, width * 0.45), "", dash=True)  # fmt: skip
        connectors += thin[1] if thin is not None else []
    unsized = used & ~np.isfinite(diameter)
    items.append(_lines(plot, paths[unsized], "pipes_unsized", "#444444", 1.5, "pipe, no size"))
    if connectors:  # one legend entry (dashed, in their pipe's colour) hides them all
        items.append(("connector", connectors))
    return [item for item in items if item is not None]


def _lines(
    plot: Any,
    rows: gpd.GeoDataFrame,
    name: str,
    colour: str,
    width: float,
    label: str,
    *,
    dash: bool = False,
    alpha: float = 1.0,
) -> tuple[str, list[Any]] | None:
    if rows.empty:
        return None
    parts = rows.explode(index_parts=False)
    parts = parts[shapely.get_type_id(parts.geometry.to_numpy()) == 1]
    if parts.empty:
        return None
    coords = [shapely.get_coordinates(g) for g in parts.geometry.to_numpy()]
    source = _source(parts, xs=[c[:, 0].tolist() for c in coords],
                     ys=[c[:, 1].tolist() for c in coords])  # fmt: skip
    renderer = plot.multi_line(
        "xs", "ys", source=source, line_color=colour, line_width=width, name=name,
        line_alpha=alpha,
        line_dash="dashed" if dash else "solid", line_cap="round", line_join="round",
        hover_line_color="#000000", hover_line_width=width + 1.5,
    )  # fmt: skip
    _hover(plot, renderer, parts, "path_id")
    return label, [renderer]


def _buildings(plot: Any, buildings: gpd.GeoDataFrame) -> list[tuple[str, list[Any]]]:
    used = flag(buildings["in_network"])
    unreachable = flag(buildings["unreachable"])
    items = []
    for mask, name, fill, label in (
        (used, "buildings_connected", CONNECTED, "building, connected"),
        (~used & ~unreachable, "buildings_not_connected", NOT_CONNECTED,
         "building, not connected"),
        (~used & unreachable, "buildings_unreachable", NOT_CONNECTED, "building, unreachable"),
    ):  # fmt: skip
        rows = buildings[mask]
        if rows.empty:
            continue
        edge = (
            RED if name.endswith("unreachable")
            else palette.BUILDING_CONNECTED_EDGE if name.endswith("_connected")
            else palette.BUILDING_NOT_CONNECTED_EDGE
        )  # fmt: skip
        renderers = _shapes(plot, rows, name, fill, edge)
        if renderers:
            items.append((label, renderers))
    return items


def _shapes(plot: Any, rows: gpd.GeoDataFrame, name: str, fill: str, edge: str) -> list[Any]:
    """Polygons as filled shapes (holes kept), points as dots: one renderer each kind."""
    kinds = shapely.get_type_id(rows.geometry.to_numpy())
    renderers = []
    areas = rows[np.isin(kinds, (3, 6))]
    if not areas.empty:
        xs, ys = zip(*(_polygons(g) for g in areas.geometry.to_numpy()), strict=True)
        source = _source(areas, xs=list(xs), ys=list(ys))
        renderer = plot.multi_polygons(
            "xs", "ys", source=source, fill_color=fill, line_color=edge, line_width=0.6,
            fill_alpha=0.85, hover_line_color="#000000", hover_line_width=2.0, name=name,
        )  # fmt: skip
        _hover(plot, renderer, areas, "building_id")
        renderers.append(renderer)
    dots = rows[kinds == 0]
    if not dots.empty:
        source = _source(dots, x=shapely.get_x(dots.geometry.to_numpy()).tolist(),
                         y=shapely.get_y(dots.geometry.to_numpy()).tolist())  # fmt: skip
        renderer = plot.scatter(
            "x", "y", source=source, size=7, fill_color=fill, line_color=edge,
            hover_line_color="#000000", name=f"{name}_points",
        )  # fmt: skip
        _hover(plot, renderer, dots, "building_id")
        renderers.append(renderer)
    return renderers


def _polygons(geom: Any) -> tuple[list[list[list[float]]], list[list[list[float]]]]:
    """Bokeh's multi_polygons layout of one (multi)polygon: polygons → rings (outer first)."""
    xs, ys = [], []
    for polygon in shapely.get_parts(geom):
        rings = [polygon.exterior, *polygon.interiors]
        xs.append([list(np.asarray(r.coords)[:, 0]) for r in rings])
        ys.append([list(np.asarray(r.coords)[:, 1]) for r in rings])
    return xs, ys


def _supplies(plot: Any, supplies: gpd.GeoDataFrame) -> list[tuple[str, list[Any]]]:
    if supplies.empty:
        return []
    points = shapely.centroid(supplies.geometry.to_numpy())
    used = flag(supplies["in_network"])
    items = []
    for mask, name, label, alpha in ((used, "supplies_used", "supply, used", 1.0),
                                      (~used, "supplies_unused", "supply, not used", 0.35)):  # fmt: skip
        if not mask.any():
            continue
        rows = supplies[mask]
        source = _source(rows, x=shapely.get_x(points[mask]).tolist(),
                         y=shapely.get_y(points[mask]).tolist())  # fmt: skip
        renderer = plot.scatter(
            "x", "y", source=source, marker="star", size=18, fill_color=SUPPLY,
            fill_alpha=alpha, line_color="#000000", name=name,
        )  # fmt: skip
        _hover(plot, renderer, rows, "supply_id")
        items.append((label, [renderer]))
    return items


# --- pop-ups ----------------------------------------------------------------------------------


def tip_columns(frame: pd.DataFrame, first: str) -> list[str]:
    """The columns a pop-up shows: the id, then the others in file order (:data:`MAX_TIP_COLUMNS`)."""
    columns = [c for c in frame.columns if c not in _SKIP]
    ordered = [first, *(c for c in columns if c != first)] if first in columns else columns
    return ordered[:MAX_TIP_COLUMNS]


def _source(rows: gpd.GeoDataFrame, **coords: Sequence[Any]) -> ColumnDataSource:
    data: dict[str, Any] = dict(coords)
    for column in rows.columns:
        if column not in _SKIP:
            data[str(column)] = [_text(v) for v in rows[column].to_numpy()]
    return ColumnDataSource(data)


def _hover(plot: Any, renderer: Any, rows: pd.DataFrame, first: str) -> None:
    tips = [(c, f"@{{{c}}}") for c in tip_columns(rows, first)]
    plot.add_tools(HoverTool(renderers=[renderer], tooltips=tips))


def _text(value: Any) -> str:
    """A cell as a pop-up shows it: numbers to 6 significant digits, null as a dash."""
    if value is None or value is pd.NA:
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return "—"
        return f"{number:,.6g}" if abs(number) < 1e15 else f"{number:.6g}"
    return str(value)
