"""The dispatch of a design: its supply sites' plants hour by hour on typical days.

:func:`dispatch_design` turns a priced design and the input's plant tables (``plant_units``,
``storages``, ``fuels``, ``fuel_distribution``, ``day_types``, ``demand_profiles``) into one
dispatch problem per day type (:mod:`heatnet.dispatch.problem`'s JSON form, checked as a
``dispatch-solve`` problem is) and solves them:

- nodes: the built supplies with plant units. Each connected building is served by the supply
  whose laid pipes reach it (heat flows along them); a site's demand is its buildings' profiles
  (:mod:`heatnet.dispatch.profiles`), scaled to their annual kWh, plus the heat its pipes lose
  as a standing load (heat lost whether or not water flows, as a buried pipe does): the
  design's losses of that site at each day type's temperatures. Without day-type temperatures
  a year of typical days asks exactly the supply's annual output of the design (``load_kwh``);
- links: two sites joined by built pipes (no other site between them) exchange heat both ways,
  up to the smallest laid capacity on the way at the day's flow and return temperatures. Their
  pipes' losses are already in the standing load, so heat arriving = heat entering;
- units, storages, fuels (a fuel row without a ``supply_id`` is sold at every site) and fuel
  distribution as in the tables.

``dispatch/horizon`` ``typical-days``: a day type is one problem of 24 one-hour steps weighted
by its days per year, its stores and on/off status cyclic over the day (or free, by
``dispatch/status-boundary``). The days are independent, so the year's cost is the sum of the
days' and so is its proven bound. ``year``: the 8,760 (or 8,784) hours of a year built from
the day types (:func:`heatnet.dispatch.profiles.calendar`) as one problem, solved in week
windows (:mod:`heatnet.dispatch.windows`: stores and status carried across days and weeks, no
bound claimed); its demand is scaled to ask what the typical days ask, and its links take the
smallest of the days' capacities.

Each site's cost (its units' fuel, operating and start-up costs, result.py's shares) over its
annual output in the design is its *effective heat price*, which :func:`heat_priced` puts in
place of the flat ¤/kWh of those supplies. docs/decisions.md §6.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import networkx as nx
import numpy as np
import pandas as pd

from heatnet.core.errors import InputError
from heatnet.core.units import HOURS_PER_YEAR
from heatnet.dispatch.plant_json import (
    distribution_json,
    fuels_json,
    maybe_float,
    storages_json,
    units_json,
)
from heatnet.dispatch.problem import dispatch_from_json
from heatnet.dispatch.profiles import (
    DEFAULT_PROFILE,
    DayType,
    calendar,
    default_day_types,
    default_profile,
    hourly_kw,
)
from heatnet.dispatch.result import result_to_json
from heatnet.dispatch.solve import proven_gap, solve_dispatch
from heatnet.dispatch.windows import WEEK_STEPS, solve_in_windows
from heatnet.economics.physics import capacity_kw, heat_loss_w_per_m, supply_line_loss_w_per_m
from heatnet.inputs.params import Parameters
from heatnet.inputs.validate import Inputs
from heatnet.optimise.evaluate import Design
from heatnet.optimise.stopping import Stop
from heatnet.problem.definition import Problem

log = logging.getLogger(__name__)

HOURS = 24
YEAR = DayType("year", 1.0)
"""The day type of a year solved whole (``dispatch/horizon`` year): its steps are the hours."""


@dataclass(frozen=True, slots=True)
class DayResult:
    """One day type's dispatch: its RESULT.json content."""

    day_type: DayType
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DesignDispatch:
    """The dispatch of one design.

    Attributes
    ----------
    state
        ``optimal`` when every day's dispatch is (dispatch-solve's rule), else ``feasible``; a
        day's ``infeasible`` / ``no-solution`` state when it has no dispatch (then there are no
        prices).
    objective, bound, gap
        The year's operating cost (¤/yr), the sum of the days' proven bounds, and the relative
        gap between them (None when unknown).
    sites
        By supply id: ``demand_kwh`` (its annual output in the design), ``cost`` (¤/yr) and
        ``price`` (¤/kWh: cost / demand).
    days
        Each day type's result; with ``dispatch/horizon`` year, one result (day type
        :data:`YEAR`) whose steps are the year's hours.
    reasons
        Why a day has no dispatch.
    runtime_s
        Wall time of building and solving every day.
    calendar
        With ``dispatch/horizon`` year: the day type of each day of the year, in order.
    """

    state: str
    objective: float | None
    bound: float | None
    gap: float | None
    sites: pd.DataFrame
    days: tuple[DayResult, ...] = ()
    reasons: tuple[str, ...] = ()
    runtime_s: float = 0.0
    calendar: tuple[str, ...] = ()

    @property
    def prices(self) -> dict[str, float]:
        """Effective ¤/kWh by supply id (empty without a dispatch)."""
        if self.objective is None:
            return {}
        return {str(k): float(v) for k, v in self.sites["price"].items()}


def has_plants(inputs: Inputs) -> bool:
    """Whether the input gives plant units (the dispatch stage is on)."""
    units = inputs.plant_units
    return units is not None and not units.empty


def dispatch_design(
    inputs: Inputs,
    problem: Problem,
    design: Design,
    *,
    stop: Stop | None = None,
    threads: int = 1,
) -> DesignDispatch | None:
    """Dispatch a design's built supplies with plant units on typical days.

    Returns None when no built supply has plant units (nothing to dispatch).
    """
    began = time.perf_counter()
    built = _built_sites(problem, design)
    units = inputs.plant_units
    assert units is not None
    units = units[units["supply_id"].astype(str).isin(set(built.values()))]
    if units.empty:
        return None
    sites = sorted(set(units["supply_id"].astype(str)))
    vertex_of = {sid: v for v, sid in built.items() if sid in sites}
    params = inputs.parameters
    day_types, profiles = _day_types_and_profiles(inputs)
    scales = {d.id: day_scales(d, params) for d in day_types}
    demand = _site_demand(inputs, problem, design, vertex_of, day_types, profiles, scales)
    links = _links(design, vertex_of)
    limit_s = params.dispatch_runtime_limit_h * 3600.0
    year = params.dispatch_horizon == "year"
    options = {
        "status_boundary": params.dispatch_status_boundary,
        "mip_gap": params.dispatch_mip_gap,
        "time_limit_s": max(1.0, limit_s if year else limit_s / max(1, len(day_types))),
        "threads": threads,
    }

    def data(day: DayType, node_kw: Mapping[str, Sequence[float]], link_scale: float,
             fuel_day: Sequence[str]) -> dict[str, Any]:  # fmt: skip
        return {
            "name": f"{problem.name}:{day.id}",
            "steps": {"count": len(fuel_day) * HOURS, "hours": 1.0, "weight": day.days_per_year},
            "nodes": [{"id": s, "demand_kw": list(node_kw[s])} for s in sites],
            "fuels": fuels_json(inputs, sites, fuel_day),
            "units": units_json(units),
            "storages": storages_json(inputs, sites),
            "links": [k | {"capacity_kw": k["capacity_kw"] * link_scale} for k in links],
            "fuel_distribution": distribution_json(inputs, sites),
            "options": options,
        }

    days: list[DayResult] = []
    reasons: list[str] = []
    order: tuple[str, ...] = ()
    if year:
        order = calendar(day_types)
        weights = {d.id: d.days_per_year for d in day_types}
        nodes = {}
        for site in sites:
            typical = sum(weights[d] * sum(kw) for d, kw in demand[site].items())
            series = [kw for d in order for kw in demand[site][d]]
            factor = typical / sum(series) if sum(series) > 0 else 1.0
            nodes[site] = [kw * factor for kw in series]
        link_scale = min(scales[d][0] for d in set(order))
        _solve_day(data(YEAR, nodes, link_scale, order), YEAR, days, reasons, stop=stop)
    else:
        for day in day_types:
            day_data = data(day, {s: demand[s][day.id] for s in sites}, scales[day.id][0], [day.id])
            if not _solve_day(day_data, day, days, reasons, stop=stop):
                break
    runtime = time.perf_counter() - began
    site_demand = {s: _site_kwh(design, vertex_of[s]) for s in sites}
    return _collect(days, reasons, site_demand, runtime, order)


def _collect(
    days: Sequence[DayResult],
    reasons: Sequence[str],
    site_demand: Mapping[str, float],
    runtime: float,
    order: tuple[str, ...],
) -> DesignDispatch:
    """The year's figures and each site's cost and effective price from the days' results."""
    sites = list(site_demand)
    if reasons:
        frame = pd.DataFrame(
            {"demand_kwh": site_demand, "cost": math.nan, "price": math.nan}, index=sites
        )
        state = days[-1].result["state"] if days else "error"
        log.warning("no dispatch: %s", "; ".join(reasons))
        return DesignDispatch(
            state, None, None, None, frame, tuple(days), tuple(reasons), runtime, order
        )
    cost: dict[str, float] = defaultdict(float)
    for d in days:
        for u in d.result["units"]:
            cost[u["node"]] += u["totals"]["cost"]
    objective = float(sum(d.result["objective"] for d in days))
    bounds = [d.result["bound"] for d in days]
    bound = float(sum(bounds)) if all(b is not None for b in bounds) else None
    gap = proven_gap(objective, bound)
    states = {d.result["state"] for d in days}
    state = "optimal" if states == {"optimal"} else "feasible"
    frame = pd.DataFrame(
        {
            "demand_kwh": site_demand,
            "cost": {s: cost.get(s, 0.0) for s in sites},
        },
        index=sites,
    )
    frame["price"] = np.divide(
        frame["cost"].to_numpy(float),
        frame["demand_kwh"].to_numpy(float),
        out=np.zeros(len(frame)),
        where=frame["demand_kwh"].to_numpy(float) > 0,
    )
    log.info(
        "dispatch: %s, %d sites, cost %.6g ¤/yr (bound %s) in %.1f s",
        f"a year of {len(order)} days in windows" if order else f"{len(days)} day types",
        len(sites), objective, "-" if bound is None else f"{bound:.6g}", runtime,
    )  # fmt: skip
    return DesignDispatch(state, objective, bound, gap, frame, tuple(days), (), runtime, order)


def _solve_day(
    data: dict[str, Any],
    day: DayType,
    days: list[DayResult],
    reasons: list[str],
    *,
    stop: Stop | None,
) -> bool:
    """Check and solve one day type's (or the year's) problem; False when it has no dispatch."""
    try:
        checked = dispatch_from_json(data, source=f"dispatch of day type {day.id}")
    except InputError as exc:
        reasons.append(f"day type {day.id}: {exc}")
        return False
    if day is YEAR:
        solution = solve_in_windows(checked, WEEK_STEPS, stop=stop)
    else:
        solution = solve_dispatch(checked, stop=stop)
    days.append(DayResult(day, result_to_json(checked, solution)))
    if not solution.has_dispatch:
        reasons += [f"day type {day.id}: {r}" for r in solution.reasons] or [
            f"day type {day.id}: {solution.state} ({solution.termination})"
        ]
        return False
    return True


def day_scales(day: DayType, params: Parameters) -> tuple[float, float]:
    """(capacity, loss) of the laid pipes on a day type over their design values.

    The design prices pipes at the parameters' flow, return and ground temperatures; a day type
    may give its own (null: the parameter's). Both ratios are the same for every diameter: a
    pipe's capacity goes with ρ(T̄)·|T_flow − T_return| at its design velocity, and its loss
    with |T̄ − T_ground| (``heatnet/heat-loss-model`` fit) or |T_flow − T_ground| (lambda),
    :mod:`heatnet.economics.physics`. A design without losses (or capacity) at its own
    temperatures keeps a ratio of 1.
    """
    design = (params.flow_temperature_c, params.return_temperature_c, params.ground_temperature_c)
    today = (
        design[0] if day.flow_c is None else day.flow_c,
        design[1] if day.return_c is None else day.return_c,
        design[2] if day.ground_c is None else day.ground_c,
    )

    def capacity(flow: float, back: float, _ground: float) -> float:
        return float(capacity_kw(100.0, flow_c=flow, return_c=back))

    def loss(flow: float, back: float, ground: float) -> float:
        if params.heat_loss_model == "lambda":
            return float(supply_line_loss_w_per_m(1.0, flow_c=flow, ground_c=ground))
        return float(heat_loss_w_per_m(100.0, flow_c=flow, return_c=back, ground_c=ground))

    def ratio(f: Any) -> float:
        base = f(*design)
        return f(*today) / base if base > 0 else 1.0

    return ratio(capacity), ratio(loss)


def heat_priced(inputs: Inputs, prices: Mapping[str, float]) -> Inputs:
    """The inputs with each supply in ``prices`` paying that ¤/kWh for heat, and nothing else.

    Its ``cost_per_kwh`` becomes the price and its ``heat_per_kwh`` rows of ``supply_costs`` are
    dropped (the supply gets a private copy of its cost type without them), so the design's
    cashflow counts the dispatch cost once.
    """
    if not prices:
        return inputs
    supplies = inputs.supplies.copy()
    costs = inputs.supply_costs
    ids = supplies["supply_id"].astype(str)
    mine = ids.isin(set(prices)).to_numpy()
    supplies.loc[mine, "cost_per_kwh"] = ids[mine].map(prices).to_numpy(float)
    extra = []
    for fid in supplies.index[mine]:
        kind = supplies.at[fid, "supply_cost_type"]
        if kind is None or (isinstance(kind, float) and math.isnan(kind)):
            continue
        rows = costs[(costs["supply_cost_type"] == kind) & (costs["cost"] != "heat_per_kwh")]
        private = f"{kind}@dispatch:{supplies.at[fid, 'supply_id']}"
        supplies.at[fid, "supply_cost_type"] = private
        extra.append(rows.assign(supply_cost_type=private))
    if extra:
        costs = pd.concat([costs, *extra], ignore_index=True)
    return replace(inputs, supplies=supplies, supply_costs=costs)


# --- the design's sites and their demand ----------------------------------------------------


def _built_sites(problem: Problem, design: Design) -> dict[str, str]:
    """Supply vertex → supply id of the design's built supplies."""
    s = design.supplies
    on = s.index[s["in_network"].to_numpy(bool)]
    ids = problem.supplies["supply_id"]
    return {str(v): str(ids.loc[v]) for v in on if v in ids.index}


def _site_kwh(design: Design, vertex: str) -> float:
    value = float(cast(float, design.supplies.at[vertex, "load_kwh"]))
    return value if math.isfinite(value) else 0.0


def _laid(design: Design) -> pd.DataFrame:
    e = design.edges
    on = e[e["in_network"].to_numpy(bool)]
    return on[on["tail"].notna() & on["head"].notna()]


def _served_by(design: Design, sites: Mapping[str, str]) -> dict[str, str]:
    """Vertex → supply id whose laid pipes reach it (heat flows tail → head)."""
    laid = _laid(design)
    graph = nx.DiGraph()
    for tail, head in zip(laid["tail"], laid["head"], strict=True):
        graph.add_edge(str(tail), str(head))
    served: dict[str, str] = {}
    for sid, vertex in sorted(sites.items()):
        served.setdefault(vertex, sid)
        if vertex in graph:
            for v in nx.descendants(graph, vertex):
                served.setdefault(str(v), sid)
    return served


def _day_types_and_profiles(
    inputs: Inputs,
) -> tuple[tuple[DayType, ...], dict[str, dict[str, tuple[float, ...]]]]:
    """The day types and every profile by day type (24 values), the default one included."""
    table = inputs.day_types
    if table is None or table.empty:
        day_types = default_day_types()
    else:
        day_types = tuple(
            DayType(
                str(r["day_type_id"]),
                float(cast(float, r["days_per_year"])),
                maybe_float(r.get("outdoor_temperature_c")),
                maybe_float(r.get("flow_temperature_c")),
                maybe_float(r.get("return_temperature_c")),
                maybe_float(r.get("ground_temperature_c")),
            )
            for r in table.to_dict("records")
        )
    profiles = {DEFAULT_PROFILE: default_profile(day_types)}
    given = inputs.demand_profiles
    if given is not None and not given.empty:
        for (pid, day), rows in given.groupby(["profile_id", "day_type_id"]):
            values = [0.0] * HOURS
            for hour, value in zip(rows["hour"], rows["value"], strict=True):
                values[int(hour)] = float(value)
            profiles.setdefault(str(pid), {})[str(day)] = tuple(values)
    return day_types, profiles


def _site_demand(
    inputs: Inputs,
    problem: Problem,
    design: Design,
    vertex_of: Mapping[str, str],
    day_types: Sequence[DayType],
    profiles: Mapping[str, Mapping[str, Sequence[float]]],
    scales: Mapping[str, tuple[float, float]],
) -> dict[str, dict[str, tuple[float, ...]]]:
    """Per site and day type: its buildings' hourly kW plus its pipes' losses that day."""
    served = _served_by(design, vertex_of)
    b = problem.buildings
    on = design.buildings["in_network"].reindex(b.index, fill_value=False).to_numpy(bool)
    hosts = _hosts(problem)
    layer = inputs.buildings
    profile_of: dict[str, str] = {}
    if "profile_id" in layer.columns:
        for bid, pid in zip(layer["building_id"].astype(str), layer["profile_id"], strict=True):
            if isinstance(pid, str) and pid:
                profile_of[bid] = pid
    demand = {s: {d.id: np.zeros(HOURS) for d in day_types} for s in vertex_of}
    delivered: dict[str, float] = defaultdict(float)
    for vertex, row in b[on].iterrows():
        site = served.get(str(vertex)) or served.get(hosts.get(str(vertex), ""))
        if site is None or site not in demand:
            continue  # served by a supply without plant units
        kwh = float(row["annual_demand_kwh"])
        profile = profiles[profile_of.get(str(row["building_id"]), DEFAULT_PROFILE)]
        for day, kw in hourly_kw(kwh, profile, day_types).items():
            demand[site][day] += np.asarray(kw)
        delivered[site] += kwh
    out: dict[str, dict[str, tuple[float, ...]]] = {}
    year_h = sum(d.days_per_year for d in day_types) * HOURS or HOURS_PER_YEAR
    for site, vertex in vertex_of.items():
        losses_kw = max(0.0, _site_kwh(design, vertex) - delivered[site]) / year_h
        out[site] = {
            d: tuple(float(x) + losses_kw * scales[d][1] for x in kw)
            for d, kw in demand[site].items()
        }
    return out


def _hosts(problem: Problem) -> dict[str, str]:
    """Building vertex → the vertex its connector meets (the building itself if unknown)."""
    edges = problem.edges
    out: dict[str, str] = {}
    ids = set(map(str, problem.buildings.index))
    for u, v in zip(edges["u"].astype(str), edges["v"].astype(str), strict=True):
        if u in ids:
            out.setdefault(u, v)
        elif v in ids:
            out.setdefault(v, u)
    return out


def _links(design: Design, vertex_of: Mapping[str, str]) -> list[dict[str, Any]]:
    """Both-way links between sites joined by laid pipes with no other site between them.

    Capacity: the smallest laid capacity on the way (at the design's temperatures). Efficiency
    1: the pipes' losses are a standing load of the site that feeds them in the design.
    """
    laid = _laid(design)
    graph = nx.Graph()
    for eid, row in laid.iterrows():
        graph.add_edge(str(row["tail"]), str(row["head"]), id=str(eid))
    site_at = {v: s for s, v in vertex_of.items()}
    links = []
    for a, b in _pairs(sorted(vertex_of.values())):
        if a not in graph or b not in graph or not nx.has_path(graph, a, b):
            continue
        path = nx.shortest_path(graph, a, b)
        if any(v in site_at for v in path[1:-1]):
            continue  # heat passes through another site on the way
        edges = [graph.edges[x, y]["id"] for x, y in itertools.pairwise(path)]
        capacity = float(laid.loc[edges, "capacity_kw"].min())
        if not capacity > 0:
            continue
        links.append(
            {
                "id": f"{site_at[a]}~{site_at[b]}",
                "from": site_at[a],
                "to": site_at[b],
                "capacity_kw": capacity,
                "efficiency": 1.0,
                "both_ways": True,
            }
        )
    return links


def _pairs(items: Sequence[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(items) for b in items[i + 1 :]]
