"""Draw a heatnet output on given matplotlib axes: the map, the figures panel, the cashflow.

Every function draws on the :class:`~matplotlib.axes.Axes` it is given and touches nothing else
(no pyplot, no rcParams), so figures can be built in parallel threads.
"""

from __future__ import annotations

import logging
import math
import textwrap
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnchoredOffsetbox, AuxTransformBox, TextArea, VPacker
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter
from numpy.typing import NDArray
from shapely.geometry.polygon import orient

from heatnet.core import palette
from heatnet.picture.read import (
    NPV_RATE_KEY,
    OutputData,
    cashflow_table,
    cumulative_npv,
    flag,
    headline_figures,
    number,
    provenance,
    text,
    title,
)

log = logging.getLogger(__name__)

COST_COLOURS = {
    "capex": "#1f4e79", "repex": "#6f93c4", "opex": "#f2a541", "heat": "#c8553d",
    "extra": "#8e7cc3", "revenue": "#4f9d69", "other": "#9a9a9a",
}  # fmt: skip
CONNECTED = palette.BUILDING_CONNECTED
"""Fill of connected buildings (:mod:`heatnet.core.palette`, shared with QGIS and the HTML map)."""
RED = palette.UNREACHABLE
"""Outline of anything unreachable."""
_GREY_TEXT = "#555555"
_LINE_PT = 17.0
_VALUE_PT = 150.0
_DASH = (0, (4, 2))


# --- the map ---------------------------------------------------------------------------------


def draw_map(ax: Axes, legend_ax: Axes, data: OutputData) -> None:
    """Paths, buildings and supplies on ``ax``; a legend of the kinds present on ``legend_ax``."""
    handles = [*_draw_paths(ax, data.paths), *_draw_buildings(ax, data.buildings)]
    handles += _draw_supplies(ax, data.supplies)
    ax.set_title(title(data), loc="left", fontsize=15, fontweight="bold")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#999999")
    bounds = _extent(data)
    ax.update_datalim([bounds[:2], bounds[2:]])
    ax.margins(0)
    ax.autoscale_view()
    # equal aspect by widening the view (not by shrinking the axes), so the map fills its slot
    ax.set_aspect("equal", adjustable="datalim")
    if _in_metres(data.paths.crs or data.buildings.crs):
        _scale_bar(ax, bounds)
    else:
        log.warning("no scale bar: the output's CRS is not projected in metres")
    north = {"arrowstyle": "-|>", "color": "black", "lw": 1.5}
    ax.annotate("N", xy=(0.965, 0.97), xytext=(0.965, 0.87), xycoords="axes fraction",
                ha="center", va="top", fontsize=11, fontweight="bold", arrowprops=north)  # fmt: skip
    legend_ax.axis("off")
    if handles:
        legend_ax.legend(handles=handles, loc="center", ncol=4, frameon=False, fontsize=9)


def _draw_paths(ax: Axes, paths: gpd.GeoDataFrame) -> list[Any]:
    """Unused, unreachable, then pipes by diameter band (connectors thin and dashed)."""
    geometry = paths.geometry.to_numpy()
    used = flag(paths["in_network"])
    connector = flag(paths["connector"])
    unreachable = flag(paths["unreachable"]) & ~used
    diameter = pd.to_numeric(paths["diameter_mm"], errors="coerce").to_numpy(dtype=float)
    handles: list[Any] = [
        *_add_lines(
            ax,
            geometry[~used & ~unreachable],
            palette.PATH_UNUSED,
            0.7,
            "path, not in network",
            alpha=0.45,
        ),
        *_add_lines(ax, geometry[unreachable], RED, 0.8, "path, unreachable", dash=True),
    ]
    for low, high, label, colour, width in _diameter_bands(diameter[used]):
        inside = used & (diameter >= low) & (diameter <= high)
        handles += _add_lines(ax, geometry[inside & ~connector], colour, width, label, zorder=4)
        thin = max(0.6, width * 0.45)
        _add_lines(ax, geometry[inside & connector], colour, thin, "", zorder=3, dash=True)
    unsized = used & ~np.isfinite(diameter)
    handles += _add_lines(
        ax, geometry[unsized], palette.PIPE_UNKNOWN, 1.5, "pipe, size not given", zorder=4
    )
    if (used & connector).any():
        handles.append(Line2D([], [], color=_GREY_TEXT, lw=0.9, ls=_DASH, label="connector"))
    return handles


def _diameter_bands(diameters: NDArray[np.float64]) -> list[tuple[float, float, str, Any, float]]:
    """(low, high, label, colour, width in points) of each palette class the pipes fall in.

    The classes are fixed (:data:`heatnet.core.palette.PIPE_CLASSES`), so the PNG, the HTML
    map and the QGIS styles give one size one colour; only classes with pipes are listed.
    """
    finite = diameters[np.isfinite(diameters)]
    present = sorted({palette.pipe_class(float(d)) for d in finite})
    bands = []
    for index in present:
        upper = palette.PIPE_CLASSES[index].upper_mm
        lower = palette.PIPE_CLASSES[index - 1].upper_mm if index > 0 else None
        low = -np.inf if lower is None else np.nextafter(lower, np.inf)
        high = np.inf if upper is None else upper
        colour, width = palette.PIPE_CLASSES[index].colour, palette.PIPE_CLASSES[index].width_mm
        bands.append((float(low), float(high), palette.class_label(index), colour,
                      max(1.0, palette.points(width))))  # fmt: skip
    return bands


def _add_lines(
    ax: Axes,
    geoms: NDArray[Any],
    colour: Any,
    width: float,
    label: str,
    *,
    zorder: float = 1,
    dash: bool = False,
    alpha: float = 1.0,
) -> list[LineCollection]:
    """Draw line geometries as one collection; its legend handle, or [] if nothing is drawn."""
    parts = shapely.get_parts(geoms)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]  # LineString, LinearRing
    if parts.size == 0:
        return []
    coords, index = shapely.get_coordinates(parts, return_index=True)
    segments = np.split(coords, np.flatnonzero(np.diff(index)) + 1)
    lines = LineCollection(segments, colors=[colour], linewidths=width, label=label,
                           linestyles=_DASH if dash else "solid", capstyle="round",
                           joinstyle="round", zorder=zorder, alpha=alpha)  # fmt: skip
    ax.add_collection(lines)
    return [lines] if label else []


def _draw_buildings(ax: Axes, buildings: gpd.GeoDataFrame) -> list[Any]:
    """Polygons filled by state, points as dots above the pipes; unreachable hatched red."""
    geometry = buildings.geometry.to_numpy()
    used = flag(buildings["in_network"])
    unreachable = flag(buildings["unreachable"]) & ~used
    kinds = (
        (used, CONNECTED, palette.BUILDING_CONNECTED_EDGE, "", "building, connected"),
        (
            ~used & ~unreachable,
            palette.BUILDING_NOT_CONNECTED,
            palette.BUILDING_NOT_CONNECTED_EDGE,
            "",
            "building, not connected",
        ),
        (unreachable, palette.BUILDING_NOT_CONNECTED, RED, "////", "building, unreachable"),
    )
    handles: list[Any] = []
    for chosen, face, edge, hatch, label in kinds:
        parts = shapely.get_parts(geometry[chosen])
        types = shapely.get_type_id(parts)
        _add_polygons(ax, parts[types == 3], face=face, edge=edge, hatch=hatch)
        xy = shapely.get_coordinates(parts[types == 0])
        ax.scatter(xy[:, 0], xy[:, 1], s=16, c=face, edgecolors=edge, linewidths=0.8, zorder=5)
        if np.isin(types, (0, 3)).any():
            handles.append(Patch(facecolor=face, edgecolor=edge, hatch=hatch, label=label))
    return handles


def _add_polygons(ax: Axes, polygons: NDArray[Any], *, face: str, edge: str, hatch: str) -> None:
    shapes = []
    for polygon in polygons:
        # exterior anticlockwise and holes clockwise, so courtyards stay unfilled
        ringed = orient(polygon, 1.0)
        rings = (MplPath(np.asarray(r.coords)[:, :2]) for r in (ringed.exterior, *ringed.interiors))
        shapes.append(MplPath.make_compound_path(*rings))
    if shapes:
        ax.add_collection(PathCollection(shapes, facecolors=face, edgecolors=edge,
                                         linewidths=0.5, hatch=hatch or None, zorder=2))  # fmt: skip


def _draw_supplies(ax: Axes, supplies: gpd.GeoDataFrame) -> list[Any]:
    """Large markers: a red star where used, a hollow square where not; ids when few."""
    xy = shapely.get_coordinates(shapely.point_on_surface(supplies.geometry.to_numpy()))
    used = flag(supplies["in_network"])
    styles: tuple[tuple[NDArray[np.bool_], str, dict[str, Any]], ...] = (
        (
            used,
            "supply, used",
            {"marker": "*", "s": 360, "c": palette.SUPPLY_USED, "edgecolors": palette.SUPPLY_EDGE},
        ),
        (~used, "supply, not used", {"marker": "s", "s": 150, "c": "white", "edgecolors": "#555"}),
    )
    handles = [
        ax.scatter(xy[chosen, 0], xy[chosen, 1], label=label, linewidths=1.4, zorder=7, **style)
        for chosen, label, style in styles
        if chosen.any()
    ]
    if "supply_id" in supplies.columns and len(supplies) <= 10:
        for (x, y), name in zip(xy, supplies["supply_id"], strict=True):
            ax.annotate(text(name), (x, y), xytext=(9, 7), textcoords="offset points",
                        fontsize=9, fontweight="bold", zorder=8)  # fmt: skip
    return handles


def _extent(data: OutputData) -> tuple[float, float, float, float]:
    """Bounds of everything drawn, padded by 4 % of their larger side (at least 20 m) each side.

    The 20 m are converted to map units: taken as 20 units, they are 20° in a geographic CRS
    and shrink a district to a dot in the middle of an empty map.
    """
    frames = [f for f in (data.buildings, data.paths, data.supplies) if len(f)]
    if not frames:
        return (-100.0, -100.0, 100.0, 100.0)
    boxes = np.vstack([np.asarray(frame.total_bounds, dtype=float) for frame in frames])
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    pad = max(20.0 / _metres_per_unit(frames[0].crs), 0.04 * max(x1 - x0, y1 - y0))
    return (float(x0 - pad), float(y0 - pad), float(x1 + pad), float(y1 + pad))


def _metres_per_unit(crs: Any) -> float:
    """About how many metres one map unit is (1 without a CRS; a degree is ~111 km)."""
    if crs is None or not crs.axis_info:
        return 1.0
    axis = crs.axis_info[0]
    factor = float(axis.unit_conversion_factor or 1.0)
    if crs.is_geographic:  # the factor is radians per unit: arc length on a 6371 km sphere
        return factor * 6_371_000.0
    return factor


def _in_metres(crs: Any) -> bool:
    """Whether a pyproj CRS is projected with metre axes (heatnet's outputs are)."""
    return bool(
        crs is not None and crs.is_projected and crs.axis_info[0].unit_name in ("metre", "meter")
    )


def _scale_bar(ax: Axes, bounds: tuple[float, float, float, float]) -> None:
    """A two-tone bar of a round length (1, 2 or 5 × 10^k m) in the lower-left corner.

    The bar is about a fifth of the larger side of ``bounds`` long; the map slots are wider than
    tall, so that is at most a fifth of the map width once equal aspect widens the view.
    """
    x0, y0, x1, y1 = bounds
    target = max(x1 - x0, y1 - y0) / 5
    step = 10.0 ** math.floor(math.log10(target))
    length = max(m * step for m in (1, 2, 5) if m * step <= target)
    bar = AuxTransformBox(ax.transData)
    for i, colour in enumerate(("black", "white")):
        bar.add_artist(Rectangle((i * length / 2, 0), length / 2, length / 25,
                                 facecolor=colour, edgecolor="black", lw=0.8))  # fmt: skip
    words = f"{length:g} m" if length < 1000 else f"{length / 1000:g} km"
    label = TextArea(words, textprops={"fontsize": 9})
    packed = VPacker(children=[label, bar], align="center", pad=0, sep=3)
    box = AnchoredOffsetbox("lower left", child=packed, pad=0.4, borderpad=0.8, frameon=True)
    box.patch.set(facecolor="white", alpha=0.8, edgecolor="none")
    ax.add_artist(box)


# --- figures panel and cashflow chart --------------------------------------------------------


def _hang(ax: Axes, words: str, *, down: float, right: float = 0.0, **style: Any) -> None:
    """Text hung ``down`` points below the top-left corner of ``ax`` and ``right`` points in.

    The text is left out of the constrained layout: long text would otherwise squeeze the axes
    (and everything placed in it) instead of running on into the margin.
    """
    note = ax.annotate(words, xy=(0, 1), xycoords="axes fraction", xytext=(right, -down),
                       textcoords="offset points", va="top", **style)  # fmt: skip
    note.set_in_layout(False)


def draw_figures(ax: Axes, data: OutputData, *, with_reasons: bool) -> None:
    """The headline figures as a two-column list, the provenance, and maybe the reasons."""
    ax.axis("off")
    ax.set_title("Headline figures", loc="left", fontsize=13, fontweight="bold")
    figures = headline_figures(data)
    for i, (label, value) in enumerate(figures.items()):
        _hang(ax, label, down=i * _LINE_PT, fontsize=11, color=_GREY_TEXT)
        _hang(ax, value, down=i * _LINE_PT, right=_VALUE_PT, fontsize=11, fontweight="bold")
    below = (len(figures) + 0.4) * _LINE_PT
    about = "\n".join(textwrap.wrap(provenance(data), 80))
    _hang(ax, about, down=below, fontsize=8.5, color=_GREY_TEXT, linespacing=1.3)
    if with_reasons:
        _draw_reasons(ax, data, down=below + (1 + about.count("\n")) * _LINE_PT, max_lines=5)


def _draw_reasons(ax: Axes, data: OutputData, *, down: float, max_lines: int) -> None:
    """The infeasible reasons under a heading, wrapped, cut to ``max_lines`` with a count."""
    if data.reasons.empty:
        return
    heading = "Infeasible reasons" if data.has_design else "Why there is no design"
    _hang(ax, heading, down=down, fontsize=11, fontweight="bold", color=RED)
    lines = reason_lines(data.reasons, width=72, max_lines=max_lines)
    _hang(ax, "\n".join(lines), down=down + _LINE_PT, fontsize=9.5, linespacing=1.35)


def reason_lines(reasons: pd.DataFrame, *, width: int, max_lines: int) -> list[str]:
    """Bulleted "type: message" lines wrapped at ``width``, cut to ``max_lines`` with a count."""
    lines: list[str] = []
    pairs = list(zip(reasons["reason_type"], reasons["message"], strict=True))
    for shown, (kind, message) in enumerate(pairs):
        wrapped = textwrap.wrap(f"• {text(kind)}: {text(message)}", width, subsequent_indent="  ")
        if len(lines) + len(wrapped) > max_lines - 1 and shown < len(pairs) - 1:
            return [*lines, f"… and {len(pairs) - shown} more in the infeasible_reasons table"]
        lines += wrapped
    return lines


def has_cashflow(data: OutputData) -> bool:
    """Whether the cashflow table holds any non-zero value."""
    return bool(np.abs(cashflow_table(data.cashflow).to_numpy(dtype=float)).any())


def _check_npv(data: OutputData, charted: float, rate: float) -> None:
    """Warn when the charted NPV is not ``network_npv`` (a wrong or missing rate, usually)."""
    written = number(data.summary["network_npv"])
    if written is not None and not math.isclose(charted, written, rel_tol=1e-3, abs_tol=1.0):
        log.warning(
            "the cashflow discounted at %s = %g gives an NPV of %.0f, but network_npv is %.0f",
            NPV_RATE_KEY,
            rate,
            charted,
            written,
        )


def draw_cashflow(ax: Axes, data: OutputData, *, with_reasons: bool) -> None:
    """Stacked bars by cost kind per year (costs down, revenue up) and the cumulative NPV."""
    ax.set_title("Cashflow", loc="left", fontsize=13, fontweight="bold")
    if not has_cashflow(data):
        ax.axis("off")
        _hang(ax, "No cash flows: there is no network to pay for.", down=4, color=_GREY_TEXT)
        if with_reasons:
            _draw_reasons(ax, data, down=2 * _LINE_PT, max_lines=14)
        return
    table = cashflow_table(data.cashflow)
    rate = data.npv_rate or 0.0
    cumulative = cumulative_npv(table, rate).to_numpy(dtype=float)
    _check_npv(data, float(cumulative[-1]), rate)
    values = table.to_numpy(dtype=float)
    largest = max(np.abs(values).sum(axis=1).max(), np.abs(cumulative).max())
    scale, unit = (1e6, "millions") if largest >= 2e6 else (1e3, "thousands")
    years = table.index.to_numpy()
    above, below = np.zeros(len(years)), np.zeros(len(years))
    for kind, column in zip(table.columns, values.T / scale, strict=True):
        colour = COST_COLOURS[str(kind)]
        ax.bar(years, column.clip(0), bottom=above, width=0.8, color=colour, label=str(kind))
        ax.bar(years, column.clip(None, 0), bottom=below, width=0.8, color=colour)
        above, below = above + column.clip(0), below + column.clip(None, 0)
    rated = f"at {rate:.2%}/yr" if data.npv_rate is not None else "undiscounted"
    ax.plot(years, cumulative / scale, color="black", lw=1.8, label=f"cumulative NPV {rated}")
    ax.annotate(f"NPV {cumulative[-1]:,.0f}", (years[-1], cumulative[-1] / scale), xytext=(-4, 8),
                textcoords="offset points", ha="right", fontsize=9, fontweight="bold")  # fmt: skip
    ax.axhline(0, color="#444444", lw=0.8)
    ax.set_xlabel("year", fontsize=10)
    ax.set_ylabel(f"value ({unit})", fontsize=10)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,g}"))
    ax.tick_params(labelsize=9)
    ax.grid(axis="y", color="#e6e6e6")
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8.5, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
