"""Network graph: reachability from supplies, peripheral paths, and the reduced model graph.

Vertices are junctions (``J<n>``), buildings (``B:<building_id>``) and supplies
(``S:<supply_id>``). Heat never flows *through* a building, so reachability is a search from the
supplies that enters building vertices but never leaves them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import pandas as pd

EDGE_COLUMNS = (
    "u",
    "v",
    "length_m",
    "kind",
    "civil_cost_id",
    "required",
    "existing_diameter",
    "extra_pv",
)


def build_graph(edges: pd.DataFrame, vertices: pd.DataFrame) -> nx.MultiGraph:
    """A multigraph with one edge per row of ``edges`` (key = edge id), parallel edges kept.

    Parameters
    ----------
    edges
        Indexed by edge id, with ``u``, ``v`` and edge attributes.
    vertices
        Indexed by vertex id, with ``kind`` (junction, building, supply) and ``ref_id``.
    """
    graph = nx.MultiGraph()
    kinds, refs = vertices["kind"].to_numpy(), vertices["ref_id"].to_numpy()
    graph.add_nodes_from(
        (v, {"kind": k, "ref_id": r})
        for v, k, r in zip(vertices.index.to_numpy(), kinds, refs, strict=True)
    )
    names = list(edges.columns)
    iu, iv = names.index("u"), names.index("v")
    columns = [edges[c].to_numpy(dtype=object) for c in names]
    graph.add_edges_from(
        (row[iu], row[iv], key, dict(zip(names, row, strict=True)))
        for key, row in zip(edges.index.to_numpy(), zip(*columns, strict=True), strict=True)
    )
    return graph


def reachable_vertices(graph: nx.MultiGraph, supplies: Iterable[Hashable]) -> set[Hashable]:
    """Vertices heat can reach from the supplies without passing through a building."""
    reached = set(supplies)
    stack = list(reached)
    while stack:
        vertex = stack.pop()
        if graph.nodes[vertex]["kind"] == "building":
            continue
        for neighbour in graph.adj[vertex]:
            if neighbour not in reached:
                reached.add(neighbour)
                stack.append(neighbour)
    return reached


def peripheral_edges(graph: nx.MultiGraph) -> set[Hashable]:
    """Edges of a (reachable) graph that lead to no demand.

    Whole components without a building, then dangling junction chains pruned leaf by leaf.
    """
    peripheral: set[Hashable] = set()
    work = nx.MultiGraph(graph)
    for component in list(nx.connected_components(work)):
        if not any(work.nodes[v]["kind"] == "building" for v in component):
            peripheral.update(k for _, _, k in work.edges(component, keys=True))
            work.remove_nodes_from(component)
    leaves = [v for v in work if work.nodes[v]["kind"] == "junction" and work.degree(v) <= 1]
    while leaves:
        vertex = leaves.pop()
        if vertex not in work:
            continue
        neighbours = list(work.adj[vertex])
        peripheral.update(k for _, _, k in work.edges(vertex, keys=True))
        work.remove_node(vertex)
        leaves += [
            n
            for n in neighbours
            if n in work and work.nodes[n]["kind"] == "junction" and work.degree(n) <= 1
        ]
    return peripheral


@dataclass(frozen=True, slots=True)
class ModelGraph:
    """The reduced graph the optimiser works on.

    Attributes
    ----------
    edges
        By model edge id (``E<n>``): ``u``, ``v``, ``length_m``, ``kind`` (path, connector,
        direct), ``members`` (the output path rows it stands for, in order), ``civil_lengths_m``
        (civil cost id → metres), ``required``, ``existing_diameter``, ``extra_pv``.
    graph
        Frozen multigraph of the model edges (key = model edge id).
    """

    edges: pd.DataFrame
    graph: nx.MultiGraph


EdgeIndex = dict[Hashable, dict[str, Any]]


def _mergeable(graph: nx.MultiGraph, vertex: Hashable) -> bool:
    """A junction of degree 2 between two path edges with the same required/existing pipe."""
    if graph.nodes[vertex]["kind"] != "junction" or graph.degree(vertex) != 2:
        return False
    a, b = (data for _, _, data in graph.edges(vertex, data=True))
    if not a["kind"] == b["kind"] == "path" or a["u"] == a["v"]:
        return False
    return all(_same(a[f], b[f]) for f in ("required", "existing_diameter"))


def _same(x: Any, y: Any) -> bool:
    return bool((pd.isna(x) and pd.isna(y)) or x == y)


def _walk(
    graph: nx.MultiGraph, index: EdgeIndex, start: Hashable, key: Hashable, seen: set[Hashable]
) -> tuple[list[Hashable], Hashable]:
    """Follow a chain from ``start`` along edge ``key`` through mergeable junctions."""
    members, vertex = [], start
    while True:
        seen.add(key)
        members.append(key)
        data = index[key]
        vertex = data["v"] if data["u"] == vertex else data["u"]
        if vertex == start or not _mergeable(graph, vertex):
            return members, vertex
        key = next(k for _, _, k in graph.edges(vertex, keys=True) if k not in seen)


def model_graph(graph: nx.MultiGraph) -> tuple[ModelGraph, set[Hashable]]:
    """Merge chains of degree-2 junctions (with matching attributes) into model edges.

    Parameters
    ----------
    graph
        The reachable, non-peripheral graph.

    Returns
    -------
    tuple
        The model graph, and the path edges dropped because their chain closes on itself at a
        junction (a loop that carries heat nowhere).
    """
    index: EdgeIndex = {k: data for _, _, k, data in graph.edges(keys=True, data=True)}
    seen: set[Hashable] = set()
    chains: list[tuple[Hashable, list[Hashable], Hashable]] = []
    # chains start at vertices that end them, so no chain is entered in its middle
    for vertex in sorted(graph, key=str):
        if _mergeable(graph, vertex):
            continue
        for key in sorted((k for _, _, k in graph.edges(vertex, keys=True)), key=str):
            if key not in seen:
                members, end = _walk(graph, index, vertex, key, seen)
                chains.append((vertex, members, end))
    for key in sorted(index, key=str):  # what is left are rings of mergeable junctions
        if key not in seen:
            start = index[key]["u"]
            members, end = _walk(graph, index, start, key, seen)
            chains.append((start, members, end))
    rows: list[dict[str, Any]] = []
    loops: set[Hashable] = set()
    for start, members, end in sorted(chains, key=lambda c: str(c[1][0])):
        if start == end and graph.nodes[start]["kind"] == "junction":
            loops.update(members)
            continue
        rows.append(_model_row(index, members, start, end))
    columns = [
        "u",
        "v",
        "length_m",
        "kind",
        "members",
        "civil_lengths_m",
        "required",
        "existing_diameter",
        "extra_pv",
    ]
    edges = pd.DataFrame(rows, index=[f"E{i + 1}" for i in range(len(rows))], columns=columns)
    model = nx.MultiGraph()
    used = set(edges["u"]) | set(edges["v"])
    model.add_nodes_from(
        (n, graph.nodes[n]) for n in graph if n in used or graph.nodes[n]["kind"] != "junction"
    )
    model.add_edges_from((r["u"], r["v"], eid, r) for eid, r in edges.to_dict("index").items())
    return ModelGraph(edges, nx.freeze(model)), loops


def _model_row(
    index: EdgeIndex, members: list[Hashable], start: Hashable, end: Hashable
) -> dict[str, Any]:
    data = [index[m] for m in members]
    civil: dict[int, float] = {}
    for d in data:
        if pd.isna(d["civil_cost_id"]):  # zero-length direct links dig nothing
            continue
        civil[int(d["civil_cost_id"])] = civil.get(int(d["civil_cost_id"]), 0.0) + float(
            d["length_m"]
        )
    return {
        "u": start,
        "v": end,
        "length_m": float(sum(d["length_m"] for d in data)),
        "kind": data[0]["kind"],
        "members": tuple(str(m) for m in members),
        "civil_lengths_m": civil,
        "required": bool(any(d["required"] for d in data)),
        "existing_diameter": data[0]["existing_diameter"],
        "extra_pv": float(sum(0.0 if pd.isna(d["extra_pv"]) else d["extra_pv"] for d in data)),
    }
