"""The index structure the model builders share: who touches whom, made once from the data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from heatnet.optimise.prepare import ModelData


@dataclass(frozen=True, slots=True)
class Indices:
    """Who touches whom in the model: the index structure the model builders share.

    Made once from :class:`ModelData` by :meth:`of` and passed to every builder, so no builder
    depends on what another one left on the model. Plain ids, no Pyomo; read-only mappings.
    Every tuple keeps the order of the table it comes from (``data.arcs``, ``data.buildings``,
    ``data.options``), so a model built from it is the same row for row.

    Attributes
    ----------
    edge_of, tail, head
        By arc: its edge, the vertex it leaves, the vertex it enters.
    arcs_of
        By edge (every edge of ``data.edges``): its arcs, one or two.
    arcs_in, arcs_out
        By vertex (every vertex of ``data.vertices``): the arcs entering / leaving it.
    hosted
        By vertex that hosts any building (in order of first appearance in ``data.buildings``):
        the buildings whose demand is drawn there; a vertex hosting none is absent.
    supplies
        Supply vertices.
    into_building
        Arcs entering an (unfolded) building vertex.
    out_of_supply
        Arcs leaving a supply vertex.
    options_of
        By edge with ``discrete`` diameter choices: their ``(edge, option)`` keys.
    """

    edge_of: Mapping[str, str]
    tail: Mapping[str, str]
    head: Mapping[str, str]
    arcs_of: Mapping[str, tuple[str, ...]]
    arcs_in: Mapping[str, tuple[str, ...]]
    arcs_out: Mapping[str, tuple[str, ...]]
    hosted: Mapping[str, tuple[str, ...]]
    supplies: frozenset[str]
    into_building: tuple[str, ...]
    out_of_supply: tuple[str, ...]
    options_of: Mapping[str, tuple[tuple[str, str], ...]]

    @classmethod
    def of(cls, data: ModelData) -> Indices:
        """The index structure of prepared data."""
        arcs = data.arcs
        ids = [str(a) for a in arcs.index]
        edge_of = dict(zip(ids, map(str, arcs["edge"]), strict=True))
        tail = dict(zip(ids, map(str, arcs["tail"]), strict=True))
        head = dict(zip(ids, map(str, arcs["head"]), strict=True))
        arcs_of: dict[str, list[str]] = {str(e): [] for e in data.edges.index}
        arcs_in: dict[str, list[str]] = {str(v): [] for v in data.vertices}
        arcs_out: dict[str, list[str]] = {str(v): [] for v in data.vertices}
        for a in ids:
            arcs_of.setdefault(edge_of[a], []).append(a)
            arcs_out.setdefault(tail[a], []).append(a)
            arcs_in.setdefault(head[a], []).append(a)
        hosted: dict[str, list[str]] = defaultdict(list)
        for vertex, host in zip(data.buildings.index, data.buildings["host"], strict=True):
            hosted[str(host)].append(str(vertex))
        supplies = frozenset(map(str, data.supplies.index))
        buildings = set(map(str, data.buildings.index))
        options_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for edge, option in zip(data.options["edge"], data.options["option"], strict=True):
            options_of[str(edge)].append((str(edge), str(option)))
        return cls(
            edge_of=MappingProxyType(edge_of),
            tail=MappingProxyType(tail),
            head=MappingProxyType(head),
            arcs_of=_frozen(arcs_of),
            arcs_in=_frozen(arcs_in),
            arcs_out=_frozen(arcs_out),
            hosted=_frozen(hosted),
            supplies=supplies,
            into_building=tuple(a for a in ids if head[a] in buildings),
            out_of_supply=tuple(a for a in ids if tail[a] in supplies),
            options_of=_frozen(options_of),
        )


T = TypeVar("T")


def _frozen(lists: Mapping[str, list[T]]) -> Mapping[str, tuple[T, ...]]:
    """A read-only mapping of tuples from a mapping of lists (order kept)."""
    return MappingProxyType({k: tuple(v) for k, v in lists.items()})
