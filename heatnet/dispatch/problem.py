"""The dispatch problem: its JSON form (``schemas/dispatch.schema.json``), checked, as dataclasses.

:func:`dispatch_from_json` checks the data against the schema *and* for sense (unknown node and
fuel ids, lists of the wrong length, a unit whose fuel nobody can buy at its node or bring to
it, ...) in one pass, so that every problem is reported at once, each with its JSON path
(``$.units[2].efficiency``); the sense checks skip values the schema already refused. The
rules the problem stands for are in docs/decisions.md §6.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from heatnet.core.errors import InputError
from heatnet.problem.json_form import json_schema, non_finite, read_json

DISPATCH_FORMAT = "heatnet-dispatch"
BOUNDARIES = ("free", "cyclic")


@dataclass(frozen=True, slots=True)
class FuelRow:
    """Where a fuel can be bought: at ``node``, at ``price`` per step, at most ``import_max_kw``."""

    id: str
    node: str
    price: tuple[float, ...]
    import_max_kw: float | None
    emissions_kg_per_kwh: float

    @property
    def key(self) -> str:
        """``fuel@node``: how the result names the row."""
        return f"{self.id}@{self.node}"


@dataclass(frozen=True, slots=True)
class Unit:
    """A plant turning fuel into heat at a node."""

    id: str
    node: str
    fuel: str
    efficiency: float
    heat_max_kw: float
    fuel_max_kw: float | None
    min_load_fraction: float
    min_up_h: float
    min_down_h: float
    startup_cost: float
    cost_per_kwh: float

    @property
    def has_status(self) -> bool:
        """Whether the unit needs an on/off status (a binary per step)."""
        return (
            self.min_load_fraction > 0
            or self.min_up_h > 0
            or self.min_down_h > 0
            or self.startup_cost > 0
        )

    @property
    def heat_cap_kw(self) -> float:
        """The most heat it can give: ``heat_max_kw``, and ``efficiency · fuel_max_kw`` if lower."""
        if self.fuel_max_kw is None:
            return self.heat_max_kw
        return min(self.heat_max_kw, self.efficiency * self.fuel_max_kw)


@dataclass(frozen=True, slots=True)
class Storage:
    """A heat store at a node."""

    id: str
    node: str
    capacity_kwh: float
    charge_max_kw: float
    discharge_max_kw: float
    eta_charge: float
    eta_discharge: float
    loss_per_h: float


@dataclass(frozen=True, slots=True)
class Link:
    """A pipe moving heat from ``source`` to ``target`` (and back when ``both_ways``)."""

    id: str
    source: str
    target: str
    capacity_kw: float
    efficiency: float
    both_ways: bool


@dataclass(frozen=True, slots=True)
class Distribution:
    """A node's part in the copperplate distribution of a fuel."""

    fuel: str
    node: str
    export_max_kw: float
    import_max_kw: float
    cost_per_kwh: float

    @property
    def key(self) -> str:
        """``fuel@node``: how the result names the row."""
        return f"{self.fuel}@{self.node}"


@dataclass(frozen=True, slots=True)
class Options:
    """How to solve."""

    status_boundary: str = "free"
    mip_gap: float = 1e-4
    time_limit_s: float = 3600.0
    threads: int = 1
    seed: int = 0

    @property
    def cyclic(self) -> bool:
        """Whether on/off status wraps round (the step before the first is the last)."""
        return self.status_boundary == "cyclic"


@dataclass(frozen=True, slots=True)
class UnitState:
    """A status unit before the first step: on or off, and for how long.

    ``hours`` runs from the start of the step in which it was switched (on, or off) to the
    start of the first step; ``math.inf`` when it was not switched since nothing is known (no
    minimum up or down time is left to serve).
    """

    on: bool
    hours: float = math.inf


@dataclass(frozen=True, slots=True)
class InitialState:
    """What is known before the first step: the third boundary, besides ``free`` and ``cyclic``.

    A year solved in windows (:mod:`heatnet.dispatch.windows`) starts each window from the
    state the window before ended in. With an initial state nothing wraps round: the step
    before the first is this state, for status units and stores alike, and the last step is
    the end (as with ``free``).

    Attributes
    ----------
    step
        The first step's number in the whole horizon (the names of steps in messages).
    levels
        Each store's level (kWh) before the first step; a store not listed may start at any
        level (a variable, 0 … capacity).
    units
        Each status unit's state before the first step; a unit not listed has nothing before
        the first step (as with ``free``: no start counted there).
    """

    step: int = 0
    levels: Mapping[str, float] = field(default_factory=dict)
    units: Mapping[str, UnitState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DispatchProblem:
    """A checked dispatch problem; every per-step tuple has one value per step.

    ``initial``: None (the JSON form's only choice) for the boundaries of ``options`` (status
    ``free`` or ``cyclic``, stores cyclic); an :class:`InitialState` to start from a known
    state instead (a window of a longer horizon), in place of both.
    """

    name: str
    hours: tuple[float, ...]
    weight: tuple[float, ...]
    nodes: tuple[str, ...]
    demand: Mapping[str, tuple[float, ...]]
    fuels: tuple[FuelRow, ...]
    units: tuple[Unit, ...]
    storages: tuple[Storage, ...]
    links: tuple[Link, ...]
    distribution: tuple[Distribution, ...]
    options: Options
    initial: InitialState | None = None

    @property
    def steps(self) -> int:
        """How many steps."""
        return len(self.hours)


# --- the schema ------------------------------------------------------------------------------


@cache
def dispatch_schema() -> dict[str, Any]:
    """``schemas/dispatch.schema.json`` (SchemaError if it is broken: a broken installation)."""
    return json_schema("dispatch")


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """An ``anyOf`` error's useful sub-errors (``[1, -2]``: the -2), else the error itself."""
    inner = [c for c in error.context or () if c.validator != "type"]
    return [leaf for c in inner for leaf in _leaves(c)] if inner else [error]


def schema_errors(data: Any) -> list[str]:
    """Every error of ``data`` against the dispatch schema, as ``"<JSON path>: <message>"``."""
    validator = jsonschema.Draft202012Validator(dispatch_schema())
    found = [leaf for e in validator.iter_errors(data) for leaf in _leaves(e)]
    found.sort(key=lambda e: ([str(p).zfill(12) for p in e.absolute_path], e.message))
    return list(dict.fromkeys(f"{e.json_path}: {e.message}" for e in found))


def _defaults(kind: str) -> dict[str, Any]:
    """The schema's defaults for the items of array ``kind`` (or of object ``options``)."""
    prop = dispatch_schema()["properties"][kind]
    props = prop["items"]["properties"] if prop["type"] == "array" else prop["properties"]
    return {k: p["default"] for k, p in props.items() if "default" in p}


# --- sense -----------------------------------------------------------------------------------


class _Checker:
    """The checks the schema cannot make, on data that may also break the schema.

    Each check looks only at values of the right type, so a value the schema refused gives
    no second, confusing message here.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: list[str] = []
        steps = data.get("steps")
        count = steps.get("count") if isinstance(steps, dict) else None
        ok = isinstance(count, int) and not isinstance(count, bool) and count >= 1
        self.count: int | None = count if ok else None

    def rows(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        """The well-formed (object) items of array ``kind``, with their index."""
        items = self.data.get(kind, [])
        if not isinstance(items, list):
            return []
        return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]

    def length(self, value: Any, where: str) -> None:
        """A per-step list must have one value per step."""
        if isinstance(value, list) and self.count is not None and len(value) != self.count:
            self.errors.append(
                f"{where}: {len(value)} values, but steps.count is {self.count} (one per step)"
            )

    def unique(self, kind: str, keys: Sequence[str], what: str) -> None:
        first: dict[tuple[Any, ...], int] = {}
        for i, row in self.rows(kind):
            key = tuple(row.get(k) for k in keys)
            if not all(isinstance(k, str) for k in key):
                continue
            if key in first:
                self.errors.append(
                    f"$.{kind}[{i}]: {what} {'/'.join(key)!r} is also in $.{kind}[{first[key]}]"
                )
            else:
                first[key] = i

    def known(self, value: Any, where: str, known: set[str], what: str) -> bool:
        """Whether ``value`` names a known id (an error if it is a string that does not)."""
        if not isinstance(value, str):
            return False
        if value not in known:
            listed = ", ".join(repr(k) for k in sorted(known)[:8]) or "none"
            self.errors.append(f"{where}: unknown {what} {value!r} (known: {listed})")
            return False
        return True


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _sources(check: _Checker) -> tuple[dict[str, set[str]], dict[tuple[str, str], Any]]:
    """Nodes where each fuel can be bought, and the distribution rows by (fuel, node)."""
    buyable: dict[str, set[str]] = {}
    for _, row in check.rows("fuels"):
        fuel, node, limit = row.get("id"), row.get("node"), row.get("import_max_kw")
        if isinstance(fuel, str) and isinstance(node, str) and (limit is None or limit != 0):
            buyable.setdefault(fuel, set()).add(node)
    dist = {
        (row["fuel"], row["node"]): row
        for _, row in check.rows("fuel_distribution")
        if isinstance(row.get("fuel"), str) and isinstance(row.get("node"), str)
    }
    return buyable, dist


def _reachable(
    fuel: str, node: str, buyable: Mapping[str, set[str]], dist: Mapping[Any, Any]
) -> bool:
    """Whether a unit at ``node`` can get ``fuel``: bought there, or distributed to it."""
    if node in buyable.get(fuel, set()):
        return True
    row = dist.get((fuel, node))
    if row is None or not (_number(row.get("import_max_kw")) or 0) > 0:
        return False
    return any(
        (_number(dist[(fuel, m)].get("export_max_kw")) or 0) > 0
        for m in buyable.get(fuel, set())
        if (fuel, m) in dist and m != node
    )


def _sense_errors(data: Mapping[str, Any]) -> list[str]:
    """Every error the schema cannot find."""
    check = _Checker(data)
    _shape_errors(check)
    nodes = {row["id"] for _, row in check.rows("nodes") if isinstance(row.get("id"), str)}
    fuels = {row["id"] for _, row in check.rows("fuels") if isinstance(row.get("id"), str)}
    _reference_errors(check, nodes, fuels)
    _unit_errors(check, nodes, fuels)
    return check.errors


def _shape_errors(check: _Checker) -> None:
    """Per-step lists with one value per step; unique ids."""
    steps = check.data.get("steps")
    if isinstance(steps, dict):
        for key in ("hours", "weight"):
            check.length(steps.get(key), f"$.steps.{key}")
    for i, row in check.rows("nodes"):
        check.length(row.get("demand_kw"), f"$.nodes[{i}].demand_kw")
    for i, row in check.rows("fuels"):
        check.length(row.get("price_per_kwh"), f"$.fuels[{i}].price_per_kwh")
    for kind, keys, what in (
        ("nodes", ("id",), "node"), ("units", ("id",), "unit"), ("storages", ("id",), "storage"),
        ("links", ("id",), "link"), ("fuels", ("id", "node"), "fuel/node"),
        ("fuel_distribution", ("fuel", "node"), "fuel/node"),
    ):  # fmt: skip
        check.unique(kind, keys, what)


def _reference_errors(check: _Checker, nodes: set[str], fuels: set[str]) -> None:
    """Nodes and fuels named must exist; a link joins two different nodes."""
    for kind in ("fuels", "units", "storages", "fuel_distribution"):
        for i, row in check.rows(kind):
            check.known(row.get("node"), f"$.{kind}[{i}].node", nodes, "node")
    for i, row in check.rows("links"):
        ends = [check.known(row.get(e), f"$.links[{i}].{e}", nodes, "node") for e in ("from", "to")]
        if all(ends) and row["from"] == row["to"]:
            check.errors.append(f"$.links[{i}]: 'from' and 'to' are both {row['from']!r}")
    for i, row in check.rows("fuel_distribution"):
        check.known(row.get("fuel"), f"$.fuel_distribution[{i}].fuel", fuels, "fuel")


def _unit_errors(check: _Checker, nodes: set[str], fuels: set[str]) -> None:
    """A unit's fuel can be bought at its node or distributed to it; its minimum load can run."""
    buyable, dist = _sources(check)
    for i, row in check.rows("units"):
        fuel, node = row.get("fuel"), row.get("node")
        if not isinstance(fuel, str):
            pass
        elif fuel not in fuels:
            check.errors.append(
                f"$.units[{i}].fuel: unknown fuel {fuel!r}: no row of fuels sells it"
            )
        elif isinstance(node, str) and node in nodes and not _reachable(fuel, node, buyable, dist):
            check.errors.append(
                f"$.units[{i}].fuel: {fuel!r} can be neither bought at node {node!r} nor "
                f"distributed to it (fuels, fuel_distribution)"
            )
        low, top = _number(row.get("min_load_fraction")), _number(row.get("heat_max_kw"))
        eff, fuel_max = _number(row.get("efficiency")), _number(row.get("fuel_max_kw"))
        if low and top and eff and eff > 0 and fuel_max is not None and low * top > eff * fuel_max:
            check.errors.append(
                f"$.units[{i}].min_load_fraction: the minimum load {low * top:g} kW needs more "
                f"fuel than fuel_max_kw {fuel_max:g} kW allows at efficiency {eff:g}"
            )


# --- JSON -> problem -------------------------------------------------------------------------


def _series(value: Any, count: int) -> tuple[float, ...]:
    if isinstance(value, list):
        return tuple(float(v) for v in value)
    return (float(value),) * count


def _build(data: Mapping[str, Any]) -> DispatchProblem:
    """The problem from checked data (defaults filled in)."""
    count = int(data["steps"]["count"])
    steps = {"hours": 1.0, "weight": 1.0} | data["steps"]
    rows = {k: [_defaults(k) | r for r in data.get(k, [])] for k in _KINDS}
    nodes = tuple(str(n["id"]) for n in rows["nodes"])
    demand = {
        str(n["id"]): _series(n["demand_kw"], count)
        for n in rows["nodes"]
        if n["demand_kw"] is not None
    }
    options = _defaults("options") | data.get("options", {})
    return DispatchProblem(
        name=str(data.get("name", "dispatch")),
        hours=_series(steps["hours"], count),
        weight=_series(steps["weight"], count),
        nodes=nodes,
        demand=demand,
        fuels=tuple(
            FuelRow(
                f["id"], f["node"], _series(f["price_per_kwh"], count),
                None if f["import_max_kw"] is None else float(f["import_max_kw"]),
                float(f["emissions_kg_per_kwh"]),
            )
            for f in rows["fuels"]
        ),
        units=tuple(
            Unit(
                u["id"], u["node"], u["fuel"], float(u["efficiency"]), float(u["heat_max_kw"]),
                None if u["fuel_max_kw"] is None else float(u["fuel_max_kw"]),
                float(u["min_load_fraction"]), float(u["min_up_h"]), float(u["min_down_h"]),
                float(u["startup_cost"]), float(u["cost_per_kwh"]),
            )
            for u in rows["units"]
        ),
        storages=tuple(
            Storage(
                s["id"], s["node"], float(s["capacity_kwh"]), float(s["charge_max_kw"]),
                float(s["charge_max_kw"] if s["discharge_max_kw"] is None else s["discharge_max_kw"]),
                float(s["eta_charge"]), float(s["eta_discharge"]), float(s["loss_per_h"]),
            )
            for s in rows["storages"]
        ),
        links=tuple(
            Link(
                k["id"], k["from"], k["to"], float(k["capacity_kw"]), float(k["efficiency"]),
                bool(k["both_ways"]),
            )
            for k in rows["links"]
        ),
        distribution=tuple(
            Distribution(
                d["fuel"], d["node"], float(d["export_max_kw"]), float(d["import_max_kw"]),
                float(d["cost_per_kwh"]),
            )
            for d in rows["fuel_distribution"]
        ),
        options=Options(
            status_boundary=str(options["status_boundary"]),
            mip_gap=float(options["mip_gap"]),
            time_limit_s=float(options["time_limit_s"]),
            threads=int(options["threads"]),
            seed=int(options["seed"]),
        ),
    )  # fmt: skip


_KINDS = ("nodes", "fuels", "units", "storages", "links", "fuel_distribution")


def dispatch_from_json(data: Any, *, source: str = "the input") -> DispatchProblem:
    """A dispatch problem from its JSON form, with every problem in it reported at once.

    Parameters
    ----------
    data
        Parsed JSON (see ``schemas/dispatch.schema.json``).
    source
        What to call the data in error messages (e.g. the file name).

    Returns
    -------
    DispatchProblem
        The problem, defaults filled in, per-step values expanded to one per step.

    Raises
    ------
    InputError
        Listing every schema error and every error of sense, each with its JSON path.
    """
    errors = non_finite(data) or schema_errors(data)
    if isinstance(data, dict):
        errors += _sense_errors(data)
    if errors:
        lines = "".join(f"\n  {e}" for e in errors)
        raise InputError(
            f"{source} is not a valid dispatch problem ({len(errors)} error(s)):{lines}"
        )
    return _build(data)


def _option_value(text: str) -> Any:
    """A ``--set`` value: JSON when it reads as JSON (numbers, true, null), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def apply_overrides(data: Any, overrides: Mapping[str, str]) -> Any:
    """``data`` with ``options/KEY=VALUE`` overrides applied (checked later, with the rest).

    Raises
    ------
    InputError
        If a key is not ``options/<name>`` (the schema then checks the name and value).
    """
    bad = [k for k in overrides if not k.startswith("options/") or k == "options/"]
    if bad:
        raise InputError(
            f"--set: only options can be set, as options/KEY=VALUE; not {', '.join(map(repr, bad))}"
        )
    if not overrides or not isinstance(data, dict):
        return data
    options = data.get("options")
    options = dict(options) if isinstance(options, dict) else {}
    for key, value in overrides.items():
        options[key.removeprefix("options/")] = _option_value(value)
    return {**data, "options": options}


def read_dispatch(path: Path | str, overrides: Mapping[str, str] | None = None) -> DispatchProblem:
    """Read a dispatch problem from a JSON file, with ``options/KEY=VALUE`` overrides.

    Raises
    ------
    InputError
        If the file cannot be read, is not JSON, or is not a valid dispatch problem.
    """
    path = Path(path)
    data = read_json(path)
    return dispatch_from_json(apply_overrides(data, overrides or {}), source=str(path))
