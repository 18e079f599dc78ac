"""Numbers the model needs, prepared from a :class:`~heatnet.problem.definition.Problem` (no Pyomo here).

Reductions before the model sees anything:

- **Folded connections.** A building whose only edge leads to a non-building vertex (its
  connector, or the zero-length link of a building touching a path) needs that edge exactly when
  it is connected, and the edge then carries exactly that building's load: diversity leaves a
  single building's given peak unchanged. So the edge's pipe is known in advance (the cheapest
  catalogue diameter that carries the peak, or the existing pipe if it does), its cost joins the
  building's value and its demand (plus the connector's loss) is drawn at the other end. This
  removes one binary and two flows per building and is exact.
- **Arc elimination.** Heat never leaves a building and never enters a supply; an arc with no
  supply upstream or no building downstream (over a bridge) is dropped.
- **Bounds** from :mod:`heatnet.optimise.flow_bounds` give every big-M and the "no pipe to nowhere" floor:
  a built arc carries at least the smallest single peak downstream (no fixed 1 kW floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.economics import (
    diameter_options,
    diversity,
    objective_weights,
    schedule_for,
    undiversified_peak_kw,
)
from heatnet.economics.prices import pipe_line_coefficients
from heatnet.inputs.params import Parameters
from heatnet.optimise.envelope import Cuts, concave_cuts, convex_cuts, step_choice, step_values
from heatnet.optimise.flow_bounds import SUMS, arc_bounds
from heatnet.problem.definition import (
    PIPE_CLASSES,
    PV_CLASSES,
    SUPPLY_CLASSES,
    Problem,
    existing_pipe_pv,
    loss_bound_kw,
    pipe_pv_table,
)

OPTION_COLUMNS = ("edge", "option", "capacity_kw", "value", "diameter_mm", "existing", "loss_kw")


@dataclass(frozen=True, slots=True)
class ModelData:
    """Everything the model builders read, indexed by the problem's ids.

    Attributes
    ----------
    problem
        The problem the data was prepared from.
    buildings
        By building vertex: ``host`` (vertex its demand is drawn at), ``edge`` (folded edge id or
        None), ``peak_kw`` (undiversified), ``mean_kw`` (demand plus folded connector loss),
        ``kwh``, ``connections``, ``required``, ``group``, ``length_m`` (folded edge length),
        ``value`` (objective PV if connected, folded pipe included), ``value_all`` (every
        class), ``folded_diameter_mm``, ``folded_existing``.
    edges
        Non-folded edges by id: ``u``, ``v``, ``length_m``, ``required``, ``max_kw`` (largest
        pipe), ``existing_kw`` (NaN: none), linear-model coefficients ``fixed``, ``per_kw``,
        ``existing_fixed`` (objective PV), ``step_pv`` and ``step_loss`` (objective PV and heat loss,
        kW, of the pipe exact sizing lays for loads up to each catalogue capacity).
    arcs
        By arc id ``<edge>+`` (u → v) / ``<edge>-`` (v → u): ``edge``, ``tail``, ``head``,
        ``peak_ub``, ``mean_ub``, ``floor_kw``, ``connections``.
    options
        ``discrete`` pipe model choices: rows (``edge``, ``option``, ``capacity_kw``, ``value``,
        ``diameter_mm``, ``existing``).
    supplies
        By supply vertex: ``cap_kw`` (diversified limit), ``peak_ub`` (undiversified),
        ``mean_ub``, ``required``, ``fixed``, ``per_kw``, ``per_kwh`` (objective PV per kWh/yr),
        ``emissions_per_kwh``, ``curve_kw`` / ``curve_value`` (tuples, may be empty).
    vertices
        Every non-building vertex and every unfolded building vertex.
    delta, loss_kw, sigma
        Initial (optimistic) pipe diversity, pipe loss (kW when built) and supply diversity.
    loss_bound_kw
        Largest conceivable total loss (all edges at the largest pipe).
    prices
        Pipe prices of every problem edge (for sizing and pricing designs).
    """

    problem: Problem
    buildings: pd.DataFrame
    edges: pd.DataFrame
    arcs: pd.DataFrame
    options: pd.DataFrame
    supplies: pd.DataFrame
    vertices: list[str]
    delta: pd.Series
    loss_kw: pd.Series
    sigma: pd.Series
    loss_bound_kw: float
    prices: PipePrices

    @property
    def params(self) -> Parameters:
        """The problem's parameters."""
        return self.problem.parameters


@dataclass(frozen=True, slots=True)
class Sized:
    """The pipe an edge gets for a load: catalogue row ``k`` (-1: the existing pipe)."""

    k: int
    diameter_mm: float
    capacity_kw: float
    pv: dict[str, float]

    @property
    def existing(self) -> bool:
        """Whether the existing pipe is kept."""
        return self.k < 0


@dataclass(frozen=True, slots=True)
class PipePrices:
    """Pipe prices per problem edge (aligned with ``problem.edges``), computed once.

    PV of every catalogue diameter by class, PV of keeping the existing pipe, and the existing
    pipe's capacity (NaN: none).
    """

    new: dict[str, NDArray[np.float64]]
    existing: dict[str, NDArray[np.float64]]
    existing_kw: NDArray[np.float64]
    existing_mm: NDArray[np.float64]
    capacity_kw: NDArray[np.float64]
    diameter_mm: NDArray[np.float64]

    @classmethod
    def of(cls, problem: Problem) -> PipePrices:
        """Prices of a problem's edges."""
        cat, edges, params = problem.catalogue, problem.edges, problem.parameters
        civil = list(edges["civil_lengths_m"])
        diameter = edges["existing_diameter_mm"].to_numpy(dtype=float)
        return cls(
            pipe_pv_table(cat, civil, params),
            existing_pipe_pv(cat, civil, diameter, params),
            np.where(
                np.isnan(diameter),
                np.nan,
                cat.capacity_of(np.nan_to_num(diameter, nan=float(cat.diameter_mm[0]))),
            ),
            diameter,
            cat.capacity_kw,
            cat.diameter_mm,
        )

    def size(self, i: int, kw: float) -> Sized:
        """The pipe edge ``i`` gets for ``kw``.

        The existing pipe while it carries the load, else the cheapest catalogue pipe that does
        (the largest if none does).
        """
        if self.existing_kw[i] >= kw - 1e-9:  # NaN (no existing pipe) compares False
            pv = {c: float(self.existing[c][i]) for c in PIPE_CLASSES}
            return Sized(-1, float(self.existing_mm[i]), float(self.existing_kw[i]), pv)
        total = sum(self.new[c][i] for c in PIPE_CLASSES)
        k = cheapest_option(self.capacity_kw, total, kw)
        pv = {c: float(self.new[c][i, k]) for c in PIPE_CLASSES}
        return Sized(k, float(self.diameter_mm[k]), float(self.capacity_kw[k]), pv)

    def size_all(
        self, rows: NDArray[np.intp], kw: NDArray[np.float64]
    ) -> tuple[
        NDArray[np.bool_], NDArray[np.float64], NDArray[np.float64], dict[str, NDArray[np.float64]]
    ]:
        """:meth:`size` for edges ``rows`` at loads ``kw`` at once.

        Returns, per edge, whether the existing pipe is kept, the diameter, the capacity, and
        the PVs by class: the same figures as :meth:`size` edge by edge.
        """
        total: NDArray[np.float64] | float = 0.0
        for c in PIPE_CLASSES:  # summed in the same order as size's
            total = total + self.new[c][rows]
        fits = self.capacity_kw[None, :] >= kw[:, None] - 1e-9
        k = np.argmax(np.where(fits, total, -np.inf), axis=1)  # the first of the cheapest
        k[~fits.any(axis=1)] = len(self.capacity_kw) - 1
        keep = self.existing_kw[rows] >= kw - 1e-9  # NaN (no existing pipe) compares False
        diameter = np.where(keep, self.existing_mm[rows], self.diameter_mm[k])
        capacity = np.where(keep, self.existing_kw[rows], self.capacity_kw[k])
        pv = {c: np.where(keep, self.existing[c][rows], self.new[c][rows, k]) for c in PIPE_CLASSES}
        return keep, diameter, capacity, pv


def prepare(problem: Problem) -> ModelData:
    """Fold connections, eliminate arcs, bound flows and compute every coefficient."""
    params = problem.parameters
    weights = objective_weights(params)
    edges = problem.edges
    loss_bound = loss_bound_kw(edges, problem.catalogue)
    folded = _folded(problem)
    prices = PipePrices.of(problem)
    buildings = _buildings(problem, folded, prices, weights)
    folded_edges = {e for e, _ in folded.values()}
    b = problem.buildings.index
    net = edges[~edges.index.isin(list(folded_edges))]
    net = net[~(net["u"].isin(b) & net["v"].isin(b))]  # heat never crosses a building
    vertices = sorted(
        (set(net["u"]) | set(net["v"]) | set(problem.supplies.index) | set(buildings["host"]))
        - set(folded)
    )
    arcs = _arcs(problem, net, _aggregates(problem, buildings, vertices), loss_bound)
    net = net[net.index.isin(arcs["edge"].unique())]
    edge_table, delta, loss = _edges(problem, net, arcs, prices, weights)
    options = (
        _options(problem, net, arcs, prices, weights)
        if params.pipe_model == "discrete"
        else pd.DataFrame(columns=OPTION_COLUMNS)
    )
    supplies = _supplies(
        problem, buildings, weights, loss_bound, max(params.diversity_limit, 1e-12)
    )
    n_all = np.full(len(problem.supplies), int(problem.buildings["connections"].sum()))
    sigma = pd.Series(
        diversity(n_all, limit=params.diversity_limit, rate=params.diversity_rate),
        index=problem.supplies.index,
    )
    return ModelData(
        problem, buildings, edge_table, arcs, options, supplies, vertices, delta, loss, sigma,
        loss_bound, prices,
    )  # fmt: skip


def _buildings(
    problem: Problem,
    folded: dict[str, tuple[str, str]],
    prices: PipePrices,
    weights: dict[str, float],
) -> pd.DataFrame:
    """Per building: demand, value, and its folded connector (sized for the given peak)."""
    params, cat, edges = problem.parameters, problem.catalogue, problem.edges
    b = problem.buildings
    position = {str(e): i for i, e in enumerate(edges.index)}
    peak = undiversified_peak_kw(
        b["peak_demand_kw"], b["connections"],
        limit=params.diversity_limit, rate=params.diversity_rate,
    )  # fmt: skip
    given = dict(zip(b.index, b["peak_demand_kw"].to_numpy(float), strict=True))
    length = edges["length_m"].to_numpy(float)
    extra = edges["extra_pv"].to_numpy(float)
    n = len(b)
    host = np.array(b.index, dtype=object)
    edge_of = np.full(n, None, dtype=object)
    f_diam, f_loss, f_len = np.full(n, np.nan), np.zeros(n), np.zeros(n)
    f_exist = np.zeros(n, dtype=bool)
    pipe_value, pipe_all = np.zeros(n), np.zeros(n)
    row_of = {v: j for j, v in enumerate(b.index)}
    mean = dict(zip(b.index, b["annual_demand_kwh"].to_numpy(float) / HOURS_PER_YEAR, strict=True))
    too_big = np.zeros(n, dtype=bool)
    for vertex, (eid, other) in folded.items():
        i, j = position[eid], row_of[vertex]
        host[j], edge_of[j], f_len[j] = other, eid, length[i]
        if length[i] <= 0:
            pv = dict.fromkeys(PIPE_CLASSES, 0.0)
        else:
            # the connector carries the larger of the building's peak and its mean plus the
            # connector's own loss (as every pipe carries max(diversified peak, mean flow))
            kw = max(given[vertex], mean[vertex])
            for _ in range(3):
                pipe = prices.size(i, kw)
                f_loss[j] = length[i] * float(cat.loss_at_diameter(pipe.diameter_mm)) / 1000.0
                need = max(given[vertex], mean[vertex] + f_loss[j])
                if need <= pipe.capacity_kw + 1e-9 or need <= kw:
                    break
                kw = need
            too_big[j] = need > pipe.capacity_kw + 1e-9  # not even the largest pipe carries it
            f_diam[j], f_exist[j], pv = pipe.diameter_mm, pipe.existing, pipe.pv
        pipe_value[j] = sum(pv[c] * weights[c] for c in PIPE_CLASSES) + extra[i]
        pipe_all[j] = sum(pv.values()) + extra[i]
    # a building no catalogue pipe can carry cannot be connected, folded or not: every pipe
    # into it carries at least its given peak
    too_big |= b["peak_demand_kw"].to_numpy(float) > cat.max_capacity_kw + 1e-9
    value = sum(b[f"pv_{c}"].to_numpy(float) * w for c, w in weights.items())
    value_all = b[[f"pv_{c}" for c in PV_CLASSES]].to_numpy(float).sum(axis=1)
    required_edges = set(edges.index[edges["required"].to_numpy(bool)])
    return pd.DataFrame(
        {
            "host": host,
            "edge": edge_of,
            "peak_kw": np.asarray(peak, dtype=float),
            "given_peak_kw": b["peak_demand_kw"].to_numpy(float),
            "mean_kw": b["annual_demand_kwh"].to_numpy(float) / HOURS_PER_YEAR + f_loss,
            "connector_loss_kw": f_loss,
            "kwh": b["annual_demand_kwh"].to_numpy(float),
            "connections": b["connections"].to_numpy(np.int64),
            "required": b["required"].to_numpy(bool)
            | np.array([e in required_edges for e in edge_of], dtype=bool),
            "group": b["demand_group"].to_numpy(object),
            "length_m": f_len,
            "value": value + pipe_value,
            "value_all": value_all + pipe_all,
            "folded_diameter_mm": f_diam,
            "folded_existing": f_exist,
            "too_big": too_big,
        },
        index=b.index,
    )


def _aggregates(problem: Problem, buildings: pd.DataFrame, vertices: list[str]) -> pd.DataFrame:
    """Per vertex what the bounds add up: demand hosted there, supply capacity."""
    agg = pd.DataFrame(0.0, index=vertices, columns=list(SUMS))
    agg["min_peak_kw"] = np.inf
    by_host = buildings.groupby("host")
    hosts = by_host.size().index
    agg.loc[hosts, "peak_kw"] = by_host["peak_kw"].sum()
    agg.loc[hosts, "mean_kw"] = by_host["mean_kw"].sum()
    agg.loc[hosts, "connections"] = by_host["connections"].sum()
    agg.loc[hosts, "buildings"] = by_host.size()
    agg.loc[hosts, "min_peak_kw"] = by_host["given_peak_kw"].min()
    s = problem.supplies
    cap = s["peak_capacity_kw"].fillna(np.inf).to_numpy(float)
    # supply capacity is diversified: undiversified flow out can reach cap / diversity limit
    # a diversity limit of 0 leaves the undiversified flow unbounded by capacity
    floor = max(problem.parameters.diversity_limit, 1e-12)
    agg.loc[s.index, "supply_kw"] = np.minimum(cap / floor, 1e12)
    agg.loc[s.index, "supplies"] = 1.0
    return agg


def _arcs(
    problem: Problem, net: pd.DataFrame, agg: pd.DataFrame, loss_bound: float
) -> pd.DataFrame:
    """Both directions of every network edge, bounded; useless arcs dropped."""
    tails = [*net["u"], *net["v"]]
    heads = [*net["v"], *net["u"]]
    ids = [f"{e}+" for e in net.index] + [f"{e}-" for e in net.index]
    bounds = arc_bounds(net, agg, tails, heads)
    arcs = pd.DataFrame(
        {
            "edge": [*net.index, *net.index],
            "tail": tails,
            "head": heads,
            "peak_ub": bounds.peak_kw,
            "mean_ub": bounds.mean_kw + loss_bound,
            "floor_kw": bounds.min_peak_kw,
            "connections": bounds.connections,
            "useful": bounds.useful,
        },
        index=ids,
    )
    out_of_building = arcs["tail"].isin(problem.buildings.index)
    into_supply = arcs["head"].isin(problem.supplies.index)
    keep = arcs["useful"] & ~out_of_building & ~into_supply & (arcs["peak_ub"] > 0)
    return arcs[keep].drop(columns="useful")


def _edges(
    problem: Problem,
    net: pd.DataFrame,
    arcs: pd.DataFrame,
    prices: PipePrices,
    weights: dict[str, float],
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Edge table with the envelope cuts of the ``linear`` model, initial diversity and losses.

    Every initial value is the most optimistic one a design can meet, so the first MIP is a
    relaxation of exact pricing (docs/bounds.md): diversity at the most connections the edge
    can have downstream, the loss of the smallest pipe it could get, and pipe cost by the
    concave envelope of the catalogue's steps over the loads it can carry.
    """
    params, cat = problem.parameters, problem.catalogue
    by_edge = arcs.groupby("edge")
    peak_hi = by_edge["peak_ub"].max().reindex(net.index).to_numpy(float)
    mean_hi = by_edge["mean_ub"].max().reindex(net.index).to_numpy(float)
    floor = by_edge["floor_kw"].min().reindex(net.index).to_numpy(float)
    count = by_edge["connections"].max().reindex(net.index).to_numpy(float)
    delta = diversity(count, limit=params.diversity_limit, rate=params.diversity_rate)
    # the most a built pipe can carry: big-Ms come from demand, never from the catalogue alone
    high = np.minimum(np.maximum(peak_hi, mean_hi), cat.max_capacity_kw)
    # a pipe carries at least its largest single building downstream; only on trees is the
    # smallest building beyond it a valid floor (with loops a pipe may carry a share)
    low = np.minimum(floor if params.prevent_loops else np.zeros(len(net)), high)
    length = net["length_m"].to_numpy(float)
    extra = net["extra_pv"].to_numpy(float)
    rows = problem.edges.index.get_indexer(net.index)
    have = prices.existing_kw[rows]
    total = np.sum([prices.new[c][rows] for c in PIPE_CLASSES], axis=0)
    objective = sum(prices.new[c][rows] * weights[c] for c in PIPE_CLASSES) + extra[:, None]
    keep = sum(prices.existing[c][rows] * weights[c] for c in PIPE_CLASSES) + extra
    cuts: list[Cuts] = []
    step_pv: list[tuple[float, ...]] = []
    step_loss: list[tuple[float, ...]] = []
    loss_cuts: list[tuple[tuple[float, ...], tuple[float, ...]]] = []
    loss_new = cat.loss_w_per_m * 1e-3  # kW per metre of each catalogue pipe
    loss_have = cat.loss_at_diameter(net["existing_diameter_mm"].to_numpy(float)) * 1e-3
    for j in range(len(net)):
        values = step_values(cat.capacity_kw, total[j], objective[j])
        step_pv.append(tuple(map(float, values)))
        start = low[j] if np.isnan(have[j]) else max(low[j], min(have[j], high[j]))
        cuts.append(concave_cuts(cat.capacity_kw, values, float(start), float(high[j])))
        # the loss exact sizing gives each load: the existing pipe's while it carries it, then
        # the laid pipe's; its convex minorant bounds the loss below by the pipe's capacity
        lost = loss_new[step_choice(total[j])] * length[j]
        step_loss.append(tuple(map(float, lost)))
        if np.isnan(have[j]):
            steps, at = cat.capacity_kw, lost
        else:
            bigger = cat.capacity_kw > have[j]
            steps = np.r_[have[j], cat.capacity_kw[bigger]]
            at = np.r_[loss_have[j] * length[j], lost[bigger]]
        loss_cuts.append(convex_cuts(steps, at, float(low[j]), float(high[j])))
    # the least-squares line the design iterations price pipes by (unbiased, so its designs
    # are better than the envelope's; the envelope is only for bounds)
    fit_hi = np.minimum(np.maximum(delta * peak_hi, floor), cat.max_capacity_kw)
    fit_lo = np.minimum(floor, fit_hi)
    civil = [dict(c) for c in net["civil_lengths_m"]]
    fit = pipe_line_coefficients(cat, civil, fit_lo, fit_hi, schedule_for(params), params)
    coeff = {klass.column: pair for klass, pair in fit.items()}
    line_fixed = sum(coeff[c][0] * weights[c] for c in PIPE_CLASSES) * length
    line_per_kw = sum(coeff[c][1] * weights[c] for c in PIPE_CLASSES) * length
    table = pd.DataFrame(
        {
            "u": net["u"],
            "v": net["v"],
            "length_m": length,
            "required": net["required"].to_numpy(bool),
            "max_kw": high,
            "existing_kw": have,
            "existing_diameter_mm": net["existing_diameter_mm"].to_numpy(float),
            "cuts": cuts,
            "step_pv": step_pv,
            "step_loss": step_loss,
            "loss_cuts": loss_cuts,
            "loss_max_kw": length * np.fmax(float(loss_new[-1]), np.nan_to_num(loss_have)),
            "fixed": line_fixed + extra,
            "per_kw": line_per_kw,
            "existing_fixed": keep,
        },
        index=net.index,
    )
    smallest = cat.diameter_mm[0] if not params.prevent_loops else cat.diameter_for(low)
    loss_w = np.fmin(
        cat.loss_at_diameter(smallest),
        cat.loss_at_diameter(table["existing_diameter_mm"].to_numpy(float)),
    )
    loss = length * loss_w / 1000.0
    return table, pd.Series(delta, index=net.index), pd.Series(loss, index=net.index)


def cheapest_option(capacity_kw: NDArray[np.float64], cost: NDArray[np.float64], kw: float) -> int:
    """Index of the cheapest catalogue pipe (largest negative PV) carrying ``kw``, or the largest."""
    ok = capacity_kw >= kw - 1e-9
    if not ok.any():
        return len(capacity_kw) - 1
    return int(np.flatnonzero(ok)[np.argmax(cost[ok])])


def _folded(problem: Problem) -> dict[str, tuple[str, str]]:
    """Building vertex → (its only edge, the other end) where that end is not a building."""
    edges = problem.edges
    b = problem.buildings.index
    ends = pd.concat(
        [
            pd.DataFrame({"vertex": edges["u"], "other": edges["v"], "edge": edges.index}),
            pd.DataFrame({"vertex": edges["v"], "other": edges["u"], "edge": edges.index}),
        ]
    )
    ends = ends[ends["vertex"].isin(b) & (ends["vertex"] != ends["other"])]
    counts = ends["vertex"].value_counts()
    single = ends[ends["vertex"].map(counts).to_numpy() == 1]
    single = single[~single["other"].isin(b)]
    return {
        str(v): (str(e), str(o))
        for v, e, o in zip(single["vertex"], single["edge"], single["other"], strict=True)
    }


def _options(
    problem: Problem,
    net: pd.DataFrame,
    arcs: pd.DataFrame,
    prices: PipePrices,
    weights: dict[str, float],
) -> pd.DataFrame:
    """Diameter choices of the ``discrete`` model.

    From the smallest pipe that carries the smallest load the edge can have to the smallest that
    carries the largest (:func:`heatnet.economics.diameter_options`; the existing pipe, if any,
    plus new pipes bigger than it).
    """
    cat = problem.catalogue
    capacity, diameters = cat.capacity_kw, cat.diameter_mm
    by_edge = arcs.groupby("edge")
    hi = by_edge[["peak_ub", "mean_ub"]].max().max(axis=1).reindex(net.index)
    lo = by_edge["floor_kw"].min().reindex(net.index)
    if not problem.parameters.prevent_loops:  # shares of one building may meet: no floor
        lo = lo * 0.0
    first, last = diameter_options(cat, lo.to_numpy(float), hi.to_numpy(float))
    rows = problem.edges.index.get_indexer(net.index)
    extra = net["extra_pv"].to_numpy(float)
    length = net["length_m"].to_numpy(float)
    existing_mm = net["existing_diameter_mm"].to_numpy(float)
    records: list[tuple[str, str, float, float, float, bool, float]] = []
    for j, eid in enumerate(net.index):
        i, have = rows[j], float(prices.existing_kw[rows[j]])
        if not np.isnan(have):
            value = sum(prices.existing[c][i] * weights[c] for c in PIPE_CLASSES) + extra[j]
            lost = length[j] * float(cat.loss_at_diameter(existing_mm[j])) / 1000.0
            records.append((str(eid), "existing", have, float(value), existing_mm[j], True, lost))
        # option k stands for loads up to its capacity: exact sizing lays the cheapest pipe
        # that carries them, which may be a larger one when the catalogue is not monotone
        total = sum(prices.new[c][i] for c in PIPE_CLASSES)
        worth = sum(prices.new[c][i] * weights[c] for c in PIPE_CLASSES)
        step = step_values(capacity, total, worth)
        laid = step_choice(total)
        for k in range(int(first[j]), int(last[j]) + 1):
            if capacity[k] <= have:  # False when there is no existing pipe (NaN)
                continue
            value = step[k] + extra[j]
            name = f"DN{diameters[k]:g}"
            lost = length[j] * float(cat.loss_w_per_m[laid[k]]) / 1000.0
            records.append((str(eid), name, float(capacity[k]), float(value), float(diameters[k]), False, lost))  # fmt: skip
    return pd.DataFrame(records, columns=list(OPTION_COLUMNS))


def _supplies(
    problem: Problem,
    buildings: pd.DataFrame,
    weights: dict[str, float],
    loss_bound: float,
    limit: float,
) -> pd.DataFrame:
    s = problem.supplies
    total_peak = float(buildings["peak_kw"].sum())
    total_mean = float(buildings["mean_kw"].sum()) + loss_bound
    cap = s["peak_capacity_kw"].fillna(np.inf)
    cap_kw = np.minimum(cap, max(total_peak, total_mean))
    annual = s["annual_capacity_kwh"].fillna(np.inf) / HOURS_PER_YEAR
    points, curves = [], []
    for _, row in s.iterrows():
        xs = tuple(float(x) for x in row["curve_kw"])
        ys = np.zeros(len(xs))
        for c in SUPPLY_CLASSES:
            if len(xs):
                ys = ys + np.asarray(row[f"curve_{c}"], dtype=float) * weights[c]
        values = tuple(float(y) for y in ys)
        if xs and xs[0] > 0:  # exact pricing holds the first value below the first breakpoint
            xs, values = (0.0, *xs), (values[0], *values)
        points.append(xs)
        curves.append(values)
    return pd.DataFrame(
        {
            "cap_kw": cap_kw,
            "peak_ub": np.minimum(cap_kw / limit, total_peak),
            "mean_ub": np.minimum(np.minimum(cap_kw, annual), total_mean),
            "required": s["required"],
            "fixed": sum(s[f"fixed_{c}"] * weights[c] for c in SUPPLY_CLASSES),
            "per_kw": sum(s[f"per_kw_{c}"] * weights[c] for c in SUPPLY_CLASSES),
            "per_kwh": sum(s[f"per_kwh_{c}"] * weights[c] for c in SUPPLY_CLASSES),
            "emissions_per_kwh": s["emissions_per_kwh"],
            "curve_kw": points,
            "curve_value": curves,
        },
        index=s.index,
    )
