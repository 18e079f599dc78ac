"""Node the path network: explode multi-lines, snap near-miss ends, split at every crossing.

Pieces remember the input row and the offset along the input line where they start, so ids can
be numbered along the line after every split (noding and connectors) is done. Split points are
written into the pieces exactly, so pieces meeting at a split share the same coordinates; a final
clustering within ``NODE_EPS_M`` turns piece ends into junction nodes.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

NODE_EPS_M = 1e-3
"""Piece ends closer than this are one junction; split points closer than this are one split."""


@dataclass(frozen=True, slots=True)
class Pieces:
    """Line pieces as parallel arrays.

    Attributes
    ----------
    geometry
        LineStrings.
    source
        Position of the input path row each piece comes from.
    part
        Part number within a multi-line input path.
    offset_m
        Distance along the input part at which the piece starts.
    """

    geometry: NDArray[np.object_]
    source: NDArray[np.int64]
    part: NDArray[np.int64]
    offset_m: NDArray[np.float64]


def explode(lines: NDArray[np.object_]) -> Pieces:
    """One piece per part of each (multi-)line."""
    parts, index = shapely.get_parts(lines, return_index=True)
    part = np.zeros(len(parts), dtype=np.int64)
    if len(index):
        starts = np.r_[0, np.flatnonzero(np.diff(index)) + 1]
        part = np.arange(len(index)) - np.repeat(starts, np.diff(np.r_[starts, len(index)]))
    return Pieces(parts.astype(object), index.astype(np.int64), part, np.zeros(len(parts)))


def snap_requests(
    pieces: Pieces, tolerance_m: float
) -> tuple[Pieces, NDArray[np.int64], NDArray[np.object_]]:
    """Extend line ends that lie within ``tolerance_m`` of another line, but not on it.

    Each such end gets one new vertex at the nearest point of the other line (the line is
    extended, never moved), and that point is returned as a split request for the other line,
    so noding joins the two exactly.

    Returns
    -------
    tuple
        The snapped pieces (new geometry; the input is not modified), and the split requests:
        target piece index and point.
    """
    geoms = pieces.geometry.copy()
    empty_i = np.zeros(0, dtype=np.int64)
    if tolerance_m <= 0 or len(geoms) < 2:
        return pieces, empty_i, np.zeros(0, dtype=object)
    n = len(geoms)
    ends = np.concatenate([shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)])
    owner = np.concatenate([np.arange(n), np.arange(n)])
    tree = shapely.STRtree(geoms)
    near_end, near_line = tree.query(ends, predicate="dwithin", distance=tolerance_m)
    keep = owner[near_end] != near_line
    near_end, near_line = near_end[keep], near_line[keep]
    dist = shapely.distance(ends[near_end], geoms[near_line])
    touching = np.zeros(len(ends), dtype=bool)
    touching[near_end[dist <= 0]] = True
    order = np.lexsort((near_line, dist, near_end))
    near_end, near_line, dist = near_end[order], near_line[order], dist[order]
    first = np.r_[True, near_end[1:] != near_end[:-1]] if len(near_end) else np.zeros(0, bool)
    pick = first & ~touching[near_end]
    ends_to_snap, targets = near_end[pick], near_line[pick]
    points = shapely.get_point(shapely.shortest_line(ends[ends_to_snap], geoms[targets]), 1)
    coords = shapely.get_coordinates(points)
    for end, xy in zip(ends_to_snap, coords, strict=True):
        line = owner[end]
        vertices = shapely.get_coordinates(geoms[line])
        vertices = np.vstack([xy, vertices]) if end < n else np.vstack([vertices, xy])
        geoms[line] = shapely.linestrings(vertices)
    snapped = Pieces(geoms, pieces.source, pieces.part, pieces.offset_m)
    return snapped, targets.astype(np.int64), points


def crossing_requests(geoms: NDArray[np.object_]) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """Points where lines cross, touch or overlap, as (line, point) split requests for both lines.

    Overlapping stretches are split at their two ends; a line's crossing with itself is not noded.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    meet = shapely.intersection(geoms[left], geoms[right])
    parts, which = shapely.get_parts(meet, return_index=True)
    kinds = shapely.get_type_id(parts)
    is_line = kinds == 1
    # overlaps: their boundary (two end points) splits both lines
    bounds, bidx = shapely.get_parts(shapely.boundary(parts[is_line]), return_index=True)
    points = np.concatenate([parts[kinds == 0], bounds])
    pair = np.concatenate([which[kinds == 0], which[is_line][bidx]])
    lines = np.concatenate([left[pair], right[pair]])
    return lines.astype(np.int64), np.concatenate([points, points])


def split(pieces: Pieces, lines: NDArray[np.int64], points: NDArray[np.object_]) -> Pieces:
    """Split pieces at the given points, each projected onto its line.

    Each point is written into the pieces exactly, so both sides of a split share it.

    Parameters
    ----------
    pieces
        The pieces to split.
    lines
        Index into ``pieces`` of each split request.
    points
        The split points (on or very near their line).

    Returns
    -------
    Pieces
        Pieces in the order: unsplit and split pieces of line 0, then line 1, ...; each split
        piece's ``offset_m`` is its start offset along the original input part.
    """
    requests: dict[int, list[tuple[float, NDArray[np.float64]]]] = defaultdict(list)
    if len(lines):
        along = shapely.line_locate_point(pieces.geometry[lines], points)
        coords = shapely.get_coordinates(points)
        for line, d, xy in zip(lines, along, coords, strict=True):
            requests[int(line)].append((float(d), xy))
    out_geom: list[object] = []
    out_src: list[int] = []
    out_part: list[int] = []
    out_off: list[float] = []
    for i, geom in enumerate(pieces.geometry):
        cuts = requests.get(i)
        pieces_i = _cut(geom, cuts) if cuts else [(geom, 0.0)]
        for piece, start in pieces_i:
            out_geom.append(piece)
            out_src.append(int(pieces.source[i]))
            out_part.append(int(pieces.part[i]))
            out_off.append(float(pieces.offset_m[i]) + start)
    return Pieces(
        np.array(out_geom, dtype=object),
        np.array(out_src, dtype=np.int64),
        np.array(out_part, dtype=np.int64),
        np.array(out_off, dtype=np.float64),
    )


def _cut(geom: object, cuts: list[tuple[float, NDArray[np.float64]]]) -> list[tuple[object, float]]:
    """Cut one line at distances along it; returns (piece, start distance) pairs."""
    vertices = shapely.get_coordinates(geom)
    steps = np.hypot(*np.diff(vertices, axis=0).T)
    cum = np.r_[0.0, np.cumsum(steps)]
    length = cum[-1]
    cuts = sorted(cuts, key=lambda c: c[0])
    stops: list[tuple[float, NDArray[np.float64]]] = [(0.0, vertices[0])]
    for d, xy in cuts:
        if NODE_EPS_M < d < length - NODE_EPS_M and d - stops[-1][0] > NODE_EPS_M:
            stops.append((d, xy))
    stops.append((length, vertices[-1]))
    result: list[tuple[object, float]] = []
    for (d0, p0), (d1, p1) in itertools.pairwise(stops):
        inner = vertices[(cum > d0 + NODE_EPS_M) & (cum < d1 - NODE_EPS_M)]
        result.append((shapely.linestrings(np.vstack([p0, inner, p1])), d0))
    return result


def node_ids(pieces: Pieces) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Cluster piece ends within ``NODE_EPS_M`` into junctions.

    Returns
    -------
    tuple
        Start node and end node of every piece, and the junction coordinates (n x 2). Junctions
        are numbered in (x, y) order, so numbering does not depend on row order.
    """
    n = len(pieces.geometry)
    ends = np.concatenate(
        [shapely.get_point(pieces.geometry, 0), shapely.get_point(pieces.geometry, -1)]
    )
    tree = shapely.STRtree(ends)
    a, b = tree.query(ends, predicate="dwithin", distance=NODE_EPS_M)
    parent = np.arange(len(ends))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i, j in zip(a[a < b], b[a < b], strict=True):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(len(ends))], dtype=np.int64)
    xy = shapely.get_coordinates(ends)
    # each junction sits at its smallest end by (x, y): not at the first end in row order, so
    # the pieces' geometry does not depend on the order of the input rows
    smallest: dict[int, int] = {}
    for i in np.lexsort((xy[:, 1], xy[:, 0])):
        smallest.setdefault(int(roots[i]), int(i))
    unique_roots = np.unique(roots)
    at = np.array([smallest[int(r)] for r in unique_roots], dtype=np.int64)
    order = np.lexsort((xy[at, 1], xy[at, 0]))
    number = np.empty(len(ends), dtype=np.int64)
    number[unique_roots[order]] = np.arange(len(unique_roots))
    node = number[roots]
    return node[:n], node[n:], xy[at[order]]
