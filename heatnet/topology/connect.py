"""Connect buildings and supplies to the noded paths.

An element that touches or crosses a path joins it at distance zero; otherwise one straight
connector runs from its outline (a point: the point) to the nearest point of the nearest path
piece, at most ``max_connector_length_m`` long. Connection points become split requests, so the
piece is split there and the connector meets a junction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Connections:
    """Where each element joins the network, as parallel arrays over the elements.

    Attributes
    ----------
    piece
        Index of the piece it joins, or -1 when nothing is within reach.
    point
        The connection point on that piece (``None`` when unreachable).
    connector
        The connector line from the element's outline to ``point``; ``None`` when it touches.
    distance_m
        Connector length (0 when touching; ``inf`` when unreachable).
    """

    piece: NDArray[np.int64]
    point: NDArray[np.object_]
    connector: NDArray[np.object_]
    distance_m: NDArray[np.float64]


def connect(
    elements: NDArray[np.object_],
    pieces: NDArray[np.object_],
    *,
    rank: NDArray[np.int64],
    max_length_m: float,
) -> Connections:
    """Find one connection per element (``None`` geometries are left unconnected).

    Parameters
    ----------
    elements
        Building or supply geometries (points, polygons, multipolygons) in the work CRS.
    pieces
        Noded path pieces (no connectors: connectors never attach to connectors).
    rank
        Tie-break order of the pieces (by id, so the choice never depends on row order).
    max_length_m
        Longest connector allowed.

    Returns
    -------
    Connections
        One entry per element.
    """
    n = len(elements)
    piece = np.full(n, -1, dtype=np.int64)
    point = np.full(n, None, dtype=object)
    connector = np.full(n, None, dtype=object)
    distance = np.full(n, np.inf)
    usable = np.flatnonzero(~shapely.is_missing(elements) & ~shapely.is_empty(elements))
    if len(pieces) == 0 or len(usable) == 0:
        return Connections(piece, point, connector, distance)
    tree = shapely.STRtree(pieces)
    geoms = elements[usable]
    # touching or crossing: join at the shared point nearest the element's representative point
    el, pc = tree.query(geoms, predicate="intersects")
    if len(el):
        shared = shapely.intersection(geoms[el], pieces[pc])
        anchor = shapely.point_on_surface(geoms[el])
        where = shapely.get_point(shapely.shortest_line(shared, anchor), 0)
        gap = shapely.distance(where, anchor)
        order = np.lexsort((rank[pc], gap, el))
        el, pc, where = el[order], pc[order], where[order]
        first = np.r_[True, el[1:] != el[:-1]]
        rows = usable[el[first]]
        piece[rows], point[rows], distance[rows] = pc[first], where[first], 0.0
    rest = np.flatnonzero(piece[usable] < 0)
    if len(rest) == 0:
        return Connections(piece, point, connector, distance)
    far = geoms[rest]
    (el, pc), dist = tree.query_nearest(
        far, max_distance=max_length_m, return_distance=True, all_matches=True
    )
    if len(el):
        order = np.lexsort((rank[pc], el))  # equally near pieces: the first by id
        el, pc, dist = el[order], pc[order], dist[order]
        first = np.r_[True, el[1:] != el[:-1]]
        el, pc, dist = el[first], pc[first], dist[first]
        lines = shapely.shortest_line(far[el], pieces[pc])
        rows = usable[rest[el]]
        piece[rows], connector[rows], distance[rows] = pc, lines, dist
        point[rows] = shapely.get_point(lines, 1)
    return Connections(piece, point, connector, distance)
