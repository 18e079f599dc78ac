"""One palette for every picture of a design: the QGIS styles, the PNG sheet and the HTML map.

Pipes by diameter class (fixed upper bounds, so a colour means the same size in every output
and every town): light thin blue to dark thick blue, drawn above everything but supplies.
Buildings are light, so thin pipes stay visible across them: a pale orange fill with an orange
outline when connected, near-white with a grey outline when not, a red outline when unreachable.
Supplies are red stars. Colours are ``#rrggbb``; widths in millimetres on paper (QGIS's unit;
:func:`points` for matplotlib and the screen).
"""

from __future__ import annotations

import math
from typing import NamedTuple


class PipeClass(NamedTuple):
    """One diameter class: pipes up to ``upper_mm`` (None: the rest), drawn in ``colour``."""

    upper_mm: float | None
    colour: str
    width_mm: float


PIPE_CLASSES: tuple[PipeClass, ...] = (
    PipeClass(32.0, "#9ecae1", 0.4),
    PipeClass(50.0, "#6baed6", 0.6),
    PipeClass(80.0, "#4292c6", 0.85),
    PipeClass(125.0, "#2171b5", 1.1),
    PipeClass(200.0, "#08519c", 1.5),
    PipeClass(300.0, "#08306b", 2.0),
    PipeClass(None, "#041a3b", 2.6),
)
"""Upper bounds cover the catalogue's DN sizes; lightness falls and width grows with DN."""
PIPE_UNKNOWN = "#e600e6"
"""A pipe in the network without a diameter (should not happen; shown loud)."""
PATH_UNUSED = "#969696"
PATH_UNREACHABLE = "#be78aa"
BUILDING_CONNECTED = "#fdae6b"
BUILDING_CONNECTED_EDGE = "#d94801"
BUILDING_NOT_CONNECTED = "#f0f0f0"
BUILDING_NOT_CONNECTED_EDGE = "#a0a0a0"
UNREACHABLE = "#d62728"
"""The outline (and dashes) of anything unreachable."""
SUPPLY_USED = "#d62728"
SUPPLY_UNUSED = "#c8c8c8"
SUPPLY_EDGE = "#000000"

_POINTS_PER_MM = 72.0 / 25.4


def points(width_mm: float) -> float:
    """A width in millimetres as points (matplotlib's line unit; Bokeh's pixels at 96 dpi ≈)."""
    return width_mm * _POINTS_PER_MM


def pipe_class(diameter_mm: float) -> int:
    """The index in :data:`PIPE_CLASSES` of a diameter (NaN: -1)."""
    if math.isnan(diameter_mm):
        return -1
    for index, (upper, _, _) in enumerate(PIPE_CLASSES):
        if upper is None or diameter_mm <= upper:
            return index
    return len(PIPE_CLASSES) - 1


def class_label(index: int) -> str:
    """``DN ≤ 32``, ..., ``DN > 300``: the legend's words for a class."""
    upper = PIPE_CLASSES[index].upper_mm
    if upper is not None:
        return f"DN ≤ {upper:g}"
    lower = PIPE_CLASSES[index - 1].upper_mm
    return f"DN > {lower:g}"


def rgba(colour: str, alpha: int = 255) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,a``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},{alpha}"
