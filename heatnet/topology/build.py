"""The topology recipe: node, connect, build the graph, classify, reduce."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from heatnet.core.issues import Issue, error, warning
from heatnet.inputs.validate import Inputs
from heatnet.topology.connect import Connections, connect
from heatnet.topology.graph import (
    EDGE_COLUMNS,
    ModelGraph,
    build_graph,
    model_graph,
    peripheral_edges,
    reachable_vertices,
)
from heatnet.topology.ids import connector_ids, piece_ids, taken_ids
from heatnet.topology.noding import (
    NODE_EPS_M,
    Pieces,
    crossing_requests,
    explode,
    node_ids,
    snap_requests,
    split,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Network:
    """The network built from the inputs; everything indexed by stable ids.

    Attributes
    ----------
    paths
        Output path rows (work CRS), indexed by ``path_id``: split pieces, whole paths,
        connectors and forbidden input paths. Columns: ``source_fid`` (input fid, NA for
        connectors), ``connector``, ``building_id`` / ``supply_id`` (connectors), ``u``, ``v``
        (vertices; NA when not in the graph), ``length_m``, ``civil_cost_id`` (default filled),
        ``constraint``, ``existing_diameter``, ``extra_pv``, ``unreachable``, ``peripheral``,
        ``model_edge``.
    buildings, supplies
        By input fid: the id, ``vertex``, ``connection`` (direct, connector or NA),
        ``connector_id``, ``connection_m``, ``unreachable`` and ``reason``.
    junctions
        Junction points (work CRS) by vertex id ``J<n>``.
    graph
        Frozen multigraph of every connected element (key = output ``path_id``, or ``D:<vertex>``
        for the zero-length link of an element that touches a path).
    model
        The reduced graph for the optimiser.
    issues
        Structural problems: unreachable required elements and the like.
    """

    paths: gpd.GeoDataFrame
    buildings: pd.DataFrame
    supplies: pd.DataFrame
    junctions: gpd.GeoDataFrame
    graph: nx.MultiGraph
    model: ModelGraph
    issues: tuple[Issue, ...]


def build_network(inputs: Inputs) -> Network:
    """Build the network from validated inputs (pure: no I/O, inputs untouched).

    Parameters
    ----------
    inputs
        Validated inputs (geometry in the metric work CRS).

    Returns
    -------
    Network
        Pieces, connectors, vertices, flags, the graph and the model graph.
    """
    params = inputs.parameters
    paths = inputs.paths[inputs.paths["constraint"] != "forbidden"]
    buildings = inputs.buildings[inputs.buildings["constraint"] != "forbidden"]
    supplies = inputs.supplies[inputs.supplies["constraint"] != "forbidden"]
    pieces = explode(paths.geometry.to_numpy())
    pieces, snap_to, snap_at = snap_requests(pieces, params.snap_tolerance_m)
    cross_to, cross_at = crossing_requests(pieces.geometry)
    pieces = split(pieces, np.r_[snap_to, cross_to], np.r_[snap_at, cross_at])
    rank = _piece_rank(paths, pieces)
    limit = params.max_connector_length_m
    at_b = connect(buildings.geometry.to_numpy(), pieces.geometry, rank=rank, max_length_m=limit)
    at_s = connect(supplies.geometry.to_numpy(), pieces.geometry, rank=rank, max_length_m=limit)
    requests = np.r_[at_b.piece, at_s.piece]
    points = np.r_[at_b.point, at_s.point]
    pieces = split(pieces, requests[requests >= 0], points[requests >= 0])
    pieces = _drop_empty(pieces)
    start, end, xy = node_ids(pieces)
    # a sliver whose two ends fell into one junction (ends within 1 mm, chained) is no path
    keep = (start != end) | (shapely.length(pieces.geometry) > 10 * NODE_EPS_M)
    pieces = Pieces(
        pieces.geometry[keep], pieces.source[keep], pieces.part[keep], pieces.offset_m[keep]
    )
    start, end = start[keep], end[keep]
    pieces = _pin_ends(pieces, start, end, xy)
    junctions = gpd.GeoDataFrame(
        geometry=shapely.points(xy),
        index=pd.Index([f"J{i}" for i in range(len(xy))], name="vertex"),
        crs=inputs.work_crs,
    )
    taken = taken_ids(inputs.paths["path_id"])
    rows = _piece_rows(inputs, paths, pieces, start, end, taken)
    vertex_at = shapely.STRtree(shapely.points(xy))
    b_table, b_links = _elements(buildings, inputs.buildings, at_b, "building", vertex_at, limit)
    s_table, s_links = _elements(supplies, inputs.supplies, at_s, "supply", vertex_at, limit)
    names = connector_ids(len(b_links) + len(s_links), taken)
    links = pd.concat([b_links, s_links], ignore_index=True)
    connectors = _connector_rows(links, names, inputs.default_civil_cost_id, inputs.work_crs)
    b_table.loc[b_links["fid"].to_numpy(), "connector_id"] = names[: len(b_links)]
    s_table.loc[s_links["fid"].to_numpy(), "connector_id"] = names[len(b_links) :]
    forbidden = _forbidden_rows(inputs)
    all_rows = pd.concat([rows, connectors, forbidden])
    return _classify(inputs, all_rows, b_table, s_table, junctions)


def _piece_rank(paths: gpd.GeoDataFrame, pieces: Pieces) -> NDArray[np.int64]:
    """Order pieces by (path id, part, offset).

    Ties between equally near pieces are then broken by ids, never by row order.
    """
    ids = paths["path_id"].astype(str).to_numpy()[pieces.source]
    order = np.lexsort((pieces.offset_m, pieces.part, ids))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _drop_empty(pieces: Pieces) -> Pieces:
    keep = shapely.length(pieces.geometry) > 0
    return Pieces(
        pieces.geometry[keep], pieces.source[keep], pieces.part[keep], pieces.offset_m[keep]
    )


def _pin_ends(
    pieces: Pieces, start: NDArray[np.int64], end: NDArray[np.int64], xy: NDArray[np.float64]
) -> Pieces:
    """Write each junction's coordinates into the piece ends that meet there, so they touch exactly."""
    geoms = pieces.geometry.copy()
    if len(geoms) == 0:
        return pieces
    coords = shapely.get_coordinates(geoms)
    counts = shapely.get_num_coordinates(geoms)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    coords[first] = xy[start]
    coords[first + counts - 1] = xy[end]
    geoms = shapely.linestrings(coords, indices=np.repeat(np.arange(len(geoms)), counts))
    return Pieces(np.asarray(geoms, dtype=object), pieces.source, pieces.part, pieces.offset_m)


def _piece_rows(
    inputs: Inputs,
    paths: gpd.GeoDataFrame,
    pieces: Pieces,
    start: NDArray[np.int64],
    end: NDArray[np.int64],
    taken: set[str],
) -> gpd.GeoDataFrame:
    ids = piece_ids(
        paths["path_id"].reset_index(drop=True), pieces.source, pieces.part, pieces.offset_m, taken
    )
    src = paths.iloc[pieces.source]
    civil = src["civil_cost_id"].fillna(inputs.default_civil_cost_id).astype("int64")
    length = shapely.length(pieces.geometry)
    # a split path's extra_pv is shared by its pieces in proportion to length (all of them used:
    # the path's own extra_pv)
    whole = pd.Series(length).groupby(pieces.source).transform("sum").to_numpy()
    share = np.divide(length, whole, out=np.ones_like(length), where=whole > 0)
    return gpd.GeoDataFrame(
        {
            "source_fid": pd.array(src.index.to_numpy(), dtype="Int64"),
            "connector": False,
            "building_id": pd.NA,
            "supply_id": pd.NA,
            "u": [f"J{i}" for i in start],
            "v": [f"J{i}" for i in end],
            "length_m": length,
            "kind": "path",
            "civil_cost_id": civil.to_numpy(),
            "constraint": src["constraint"].to_numpy(),
            "existing_diameter": src["existing_diameter"].to_numpy(),
            "extra_pv": pd.to_numeric(src["extra_pv"]).to_numpy(float) * share,
        },
        geometry=gpd.GeoSeries(pieces.geometry, crs=inputs.work_crs).to_numpy(),
        index=pd.Index(ids, name="path_id"),
        crs=inputs.work_crs,
    )


def _elements(
    active: gpd.GeoDataFrame,
    every: gpd.GeoDataFrame,
    at: Connections,
    kind: str,
    tree: shapely.STRtree,
    limit_m: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-element connection table (every input row) and the connector links to draw."""
    key = "building_id" if kind == "building" else "supply_id"
    prefix = "B:" if kind == "building" else "S:"
    table = pd.DataFrame(
        {
            key: every[key].to_numpy(),
            "vertex": pd.Series(pd.NA, index=every.index, dtype="string"),
            "junction": pd.Series(pd.NA, index=every.index, dtype="string"),
            "connection": pd.Series(pd.NA, index=every.index, dtype="string"),
            "connector_id": pd.Series(pd.NA, index=every.index, dtype="string"),
            "connection_m": np.nan,
            "unreachable": False,
            "reason": pd.Series(pd.NA, index=every.index, dtype="string"),
        },
        index=every.index,
    )
    joined = at.piece >= 0
    fids = active.index.to_numpy()[joined]
    nearest = (
        tree.query_nearest(at.point[joined], all_matches=False)[1]
        if joined.any()
        else np.zeros(0, dtype=np.int64)
    )
    table.loc[fids, "vertex"] = [prefix + str(i) for i in active.loc[fids, key]]
    table.loc[fids, "junction"] = [f"J{j}" for j in nearest]
    table.loc[fids, "connection_m"] = at.distance_m[joined]
    direct = at.distance_m[joined] == 0
    table.loc[fids, "connection"] = np.where(direct, "direct", "connector")
    far = active.index.to_numpy()[~joined]
    table.loc[far, "unreachable"] = True
    table.loc[far, "reason"] = f"no path within heatnet/max-connector-length ({limit_m:g} m)"
    links = pd.DataFrame(
        {
            "fid": fids[~direct],
            "kind": kind,
            "ref": active.loc[fids[~direct], key].to_numpy(),
            "vertex": table.loc[fids[~direct], "vertex"].to_numpy(),
            "junction": table.loc[fids[~direct], "junction"].to_numpy(),
            "length_m": at.distance_m[joined][~direct],
            "geometry": at.connector[joined][~direct],
        }
    )
    return table, links


def _connector_rows(
    links: pd.DataFrame, names: list[str], civil_id: int, crs: object
) -> gpd.GeoDataFrame:
    is_building = (links["kind"] == "building").to_numpy()
    return gpd.GeoDataFrame(
        {
            "source_fid": pd.array([pd.NA] * len(links), dtype="Int64"),
            "connector": True,
            "building_id": links["ref"].where(is_building, None).to_numpy(),
            "supply_id": links["ref"].where(~is_building, None).to_numpy(),
            # drawn from the element's outline to the path, but heat flows path → element
            "u": links["junction"].to_numpy(),
            "v": links["vertex"].to_numpy(),
            "length_m": links["length_m"].to_numpy(dtype=float),
            "kind": "connector",
            "civil_cost_id": civil_id,
            "constraint": "optional",
            "existing_diameter": np.nan,
            "extra_pv": np.nan,
        },
        geometry=links["geometry"].to_numpy(),
        index=pd.Index(names, name="path_id"),
        crs=crs,
    )


def _forbidden_rows(inputs: Inputs) -> gpd.GeoDataFrame:
    forbidden = inputs.paths[inputs.paths["constraint"] == "forbidden"]
    return gpd.GeoDataFrame(
        {
            "source_fid": pd.array(forbidden.index.to_numpy(), dtype="Int64"),
            "connector": False,
            "kind": "forbidden",
            "length_m": forbidden.geometry.length.to_numpy(),
            "constraint": "forbidden",
            "civil_cost_id": forbidden["civil_cost_id"]
            .fillna(inputs.default_civil_cost_id)
            .to_numpy(),
            "existing_diameter": forbidden["existing_diameter"].to_numpy(),
            "extra_pv": forbidden["extra_pv"].to_numpy(),
        },
        geometry=forbidden.geometry.to_numpy(),
        index=pd.Index(forbidden["path_id"].astype(str).to_numpy(), name="path_id"),
        crs=inputs.work_crs,
    )


def _direct_edges(table: pd.DataFrame) -> pd.DataFrame:
    """Zero-length links from touching elements to the junction they touch."""
    direct = table[table["connection"] == "direct"]
    return pd.DataFrame(
        {
            "u": direct["junction"].to_numpy(),
            "v": direct["vertex"].to_numpy(),
            "length_m": 0.0,
            "kind": "direct",
            "civil_cost_id": pd.NA,
            "required": False,
            "existing_diameter": np.nan,
            "extra_pv": np.nan,
        },
        index=pd.Index([f"D:{v}" for v in direct["vertex"]], name="path_id"),
    )


def _vertices(
    junctions: gpd.GeoDataFrame, buildings: pd.DataFrame, supplies: pd.DataFrame
) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {"kind": "junction", "ref_id": junctions.index.to_numpy()},
            index=junctions.index.to_numpy(),
        )
    ]
    for table, kind, key in (
        (buildings, "building", "building_id"),
        (supplies, "supply", "supply_id"),
    ):
        joined = table[table["vertex"].notna()]
        frames.append(
            pd.DataFrame(
                {"kind": kind, "ref_id": joined[key].to_numpy()}, index=joined["vertex"].to_numpy()
            )
        )
    return pd.concat(frames)


def _classify(
    inputs: Inputs,
    rows: gpd.GeoDataFrame,
    buildings: pd.DataFrame,
    supplies: pd.DataFrame,
    junctions: gpd.GeoDataFrame,
) -> Network:
    """Graph, reachability, peripheral paths, model graph and structural issues."""
    in_graph = rows[rows["kind"] != "forbidden"].copy()
    in_graph["required"] = (in_graph["constraint"] == "required").to_numpy()
    edges = pd.concat(
        [in_graph.drop(columns="geometry"), _direct_edges(buildings), _direct_edges(supplies)]
    )
    edges = edges[list(EDGE_COLUMNS)]
    vertices = _vertices(junctions, buildings, supplies)
    graph = build_graph(edges, vertices)
    sources = supplies["vertex"].dropna().tolist()
    reached = reachable_vertices(graph, sources)
    dead = {k for u, v, k in graph.edges(keys=True) if u not in reached or v not in reached}
    alive = [u in reached and v in reached for u, v in zip(edges["u"], edges["v"], strict=True)]
    live = build_graph(
        edges.loc[np.array(alive, dtype=bool)], vertices[vertices.index.isin(list(reached))]
    )
    peripheral: set[Hashable] = set()
    while True:  # dropping a ring can leave a dead end or a mergeable junction: go again
        peripheral |= _prune(live, peripheral_edges(live))
        model, loops = model_graph(live)
        if not loops:
            break
        peripheral |= _prune(live, loops)
    out = rows.copy()
    out["unreachable"] = out.index.isin(list(dead))
    out["peripheral"] = out.index.isin(list(peripheral))
    member_of = {m: eid for eid, members in model.edges["members"].items() for m in members}
    out["model_edge"] = pd.Series(
        [member_of.get(str(i)) for i in out.index], index=out.index, dtype="string"
    )
    issues: list[Issue] = []
    for table, name, key in (
        (buildings, "buildings", "building_id"),
        (supplies, "supplies", "supply_id"),
    ):
        orphan = table["vertex"].notna() & ~table["vertex"].isin(list(reached))
        table.loc[orphan, "unreachable"] = True
        table.loc[orphan, "reason"] = "no supply can reach it"
        issues += _element_issues(inputs, table, name, key)
    issues += _path_issues(out, inputs.paths["path_id"])
    log.info(
        "topology: %d path rows (%d connectors), %d junctions, %d model edges; %d unreachable buildings",
        len(out),
        int(out["connector"].sum()),
        len(junctions),
        len(model.edges),
        int(buildings["unreachable"].sum()),
    )
    return Network(out, buildings, supplies, junctions, nx.freeze(graph), model, tuple(issues))


def _prune(graph: nx.MultiGraph, keys: set[Hashable]) -> set[Hashable]:
    """Remove edges (by key) and the junctions left without edges; return the keys."""
    graph.remove_edges_from([(u, v, k) for u, v, k in list(graph.edges(keys=True)) if k in keys])
    graph.remove_nodes_from(
        [n for n in list(graph) if graph.degree(n) == 0 and graph.nodes[n]["kind"] == "junction"]
    )
    return keys


def _element_issues(inputs: Inputs, table: pd.DataFrame, name: str, key: str) -> list[Issue]:
    """One issue per unreachable element, its message naming the element's id.

    A required element's message is also its ``infeasible_reasons`` row.
    """
    constraint = getattr(inputs, name)["constraint"]
    kind = "building" if name == "buildings" else "supply"
    issues = []
    for fid in table.index[table["unreachable"].to_numpy(dtype=bool)]:
        required = constraint[fid] == "required"
        ident = str(table.loc[fid, key])
        message = (
            f"{'required ' if required else ''}{kind} {ident} is unreachable: "
            f"{table.loc[fid, 'reason']}"
        )
        if required:
            code = f"unreachable_required_{kind}"
            issues.append(error(code, name, message, row=int(fid), feature_id=ident))
        else:
            issues.append(warning("unreachable", name, message, row=int(fid), feature_id=ident))
    return issues


def _path_issues(rows: gpd.GeoDataFrame, path_ids: pd.Series) -> list[Issue]:
    """A required path piece that is unreachable or leads nowhere, named by path and piece."""
    bad = rows[(rows["constraint"] == "required") & (rows["unreachable"] | rows["peripheral"])]
    issues = []
    for pid, r in bad.iterrows():
        fid = None if pd.isna(r.source_fid) else int(r.source_fid)
        parent = str(pid) if fid is None else str(path_ids[fid])
        what = parent if parent == str(pid) else f"{parent} (piece {pid})"
        why = "unreachable" if r.unreachable else "peripheral (leads to no demand)"
        issues.append(
            error(
                "required_path_unusable",
                "paths",
                f"required path {what} is {why}",
                row=fid,
                feature_id=str(pid),
            )
        )
    return issues
