"""Price every element: line items for buildings, supplies and pipes, and model coefficients.

Line items (see :mod:`heatnet.economics.money`) are the single source of every money figure: the
model's coefficients are PVs of items, and the ``cashflow`` output is the same items spread over
years. Each item carries the ``objective/use-*`` class that gates it in the objective; outputs
always count every class.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from heatnet.economics.classes import SUPPLY, CostClass
from heatnet.economics.fit import fit_line
from heatnet.economics.money import (
    ANNUAL,
    ONCE,
    Schedule,
    items_frame,
    present_value,
    repex_pattern,
    series_pattern,
)
from heatnet.economics.pipes import PipeCatalogue
from heatnet.inputs.params import Parameters

log = logging.getLogger(__name__)


def switches(params: Parameters) -> dict[CostClass, bool]:
    """Whether each class counts in the objective (``extra`` always does)."""
    return {c: c.switch is None or bool(getattr(params, c.switch)) for c in CostClass}


def objective_weights(params: Parameters) -> dict[str, float]:
    """1.0 for the classes the objective counts, 0.0 for the others, by column spelling.

    Keyed ``pipe_capex`` (:attr:`CostClass.column`), as the problem's ``pv_*`` columns, in
    :class:`CostClass` order; ``extra`` is always 1.0. The model's objective is every PV times
    its class's weight.
    """
    on = switches(params)
    return {c.column: float(on[c]) for c in CostClass}


def schedule_for(params: Parameters) -> Schedule:
    """The discounting schedule of the parameters."""
    return Schedule(params.npv_rate, params.npv_term_years)


def _block(
    ids: pd.Series,
    amount: ArrayLike,
    cost: str,
    kind: str,
    klass: CostClass,
    pattern: str,
    **refs: Any,
) -> pd.DataFrame:
    amount = np.broadcast_to(np.asarray(amount, dtype=float), (len(ids),))
    records: dict[str, object] = {
        "cost": cost,
        "type": kind,
        "class": klass.value,
        "amount": amount,
        "pattern": pattern,
    }
    records.update({k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in refs.items()})
    return items_frame(records)


def building_items(
    buildings: pd.DataFrame,
    tariffs: pd.DataFrame,
    connection_costs: pd.DataFrame,
    params: Parameters,
) -> pd.DataFrame:
    """Tariff revenue, connection cost and extra_pv items of buildings, as if each is connected.

    Parameters
    ----------
    buildings
        Validated buildings (``building_id``, ``annual_demand_kwh``, ``peak_demand_kw``,
        ``connections``, ``tariff_id``, ``connection_cost_id``, ``extra_pv``).
    tariffs, connection_costs
        Validated tables; a null or absent id means none.
    params
        Lifetimes.

    Returns
    -------
    pandas.DataFrame
        Line items (zero amounts dropped).
    """
    b = buildings.reset_index(drop=True)
    t = b[["tariff_id"]].merge(tariffs, on="tariff_id", how="left").fillna(0.0)
    c = (
        b[["connection_cost_id"]]
        .merge(connection_costs, on="connection_cost_id", how="left")
        .fillna(0.0)
    )
    kwh, kw = b["annual_demand_kwh"].to_numpy(float), b["peak_demand_kw"].to_numpy(float)
    n = b["connections"].to_numpy(float)
    ids = b["building_id"]
    tariff = {"building_id": ids, "tariff_id": b["tariff_id"]}
    conn = {"building_id": ids, "connection_cost_id": b["connection_cost_id"]}

    def part(kind: str) -> NDArray[np.float64]:
        return (
            c[f"{kind}_fixed"] + c[f"{kind}_per_connection"] * n + c[f"{kind}_per_kw"] * kw
        ).to_numpy(float)

    blocks = [
        _block(
            ids,
            t["connection_charge_fixed"] + t["connection_charge_per_kw"] * kw,
            "revenue",
            "building",
            CostClass.TARIFFS,
            ONCE,
            **tariff,
        ),
        _block(
            ids,
            t["annual_charge_fixed"]
            + t["annual_charge_per_kwh"] * kwh
            + t["annual_charge_per_kw"] * kw,
            "revenue",
            "building",
            CostClass.TARIFFS,
            ANNUAL,
            **tariff,
        ),
        _block(
            ids, -part("capex"), "capex", "connection", CostClass.CONNECTION_CAPEX, ONCE, **conn
        ),
        _block(ids, -part("opex"), "opex", "connection", CostClass.CONNECTION_OPEX, ANNUAL, **conn),
        _block(
            ids,
            -part("repex"),
            "repex",
            "connection",
            CostClass.CONNECTION_REPEX,
            repex_pattern(params.building_hx_lifetime_years),
            **conn,
        ),
        _block(
            ids,
            b["extra_pv"].fillna(0.0),
            "extra",
            "building",
            CostClass.EXTRA,
            ONCE,
            building_id=ids,
        ),
    ]
    items = pd.concat(blocks, ignore_index=True)
    return items[items["amount"] != 0].reset_index(drop=True)


def pv_by_class(items: pd.DataFrame, schedule: Schedule, key: str) -> pd.DataFrame:
    """PV of items summed per element (``key`` column) and class; every class is a column."""
    pv = pd.DataFrame(
        {
            key: items[key].to_numpy(),
            "class": items["class"].to_numpy(),
            "pv": present_value(items, schedule),
        }
    )
    table = pv.pivot_table(index=key, columns="class", values="pv", aggfunc="sum", fill_value=0.0)
    return table.reindex(columns=[c.value for c in CostClass], fill_value=0.0)


def supply_items(
    supplies: pd.DataFrame,
    supply_costs: pd.DataFrame,
    capacity_kw: ArrayLike,
    output_kwh: ArrayLike,
    params: Parameters,
    *,
    curves: bool = True,
) -> pd.DataFrame:
    """Cost items of supplies built with the given capacity and annual output.

    The simple columns of ``supplies`` plus every ``supply_costs`` row of the supply's type:
    ``*_fixed`` constants, ``*_per_kw`` constants or capacity curves (unit rate interpolated at
    the capacity, flat beyond the ends: total = capacity · rate(capacity)) and ``heat_per_kwh``
    constants or year series. ``curves=False`` leaves the curve rows out (their cost is not
    linear in capacity; see :func:`curve_total`).
    """
    s = supplies.reset_index(drop=True)
    cap = np.broadcast_to(np.asarray(capacity_kw, dtype=float), (len(s),))
    kwh = np.broadcast_to(np.asarray(output_kwh, dtype=float), (len(s),))
    ids = s["supply_id"]
    patterns = supply_patterns(params)
    blocks = []
    for kind, pattern in patterns.items():
        amount = s[f"{kind}_fixed"].to_numpy(float) + s[f"{kind}_per_kw"].to_numpy(float) * cap
        blocks.append(
            _block(ids, -amount, kind, "supply", _supply_class(kind), pattern, supply_id=ids)
        )
    blocks.append(
        _block(
            ids,
            -s["cost_per_kwh"].to_numpy(float) * kwh,
            "heat",
            "supply",
            CostClass.SUPPLY_OPEX,
            ANNUAL,
            supply_id=ids,
        )
    )
    position = {sid: i for i, sid in enumerate(ids)}
    typed = s["supply_cost_type"].astype(object).where(s["supply_cost_type"].notna(), None)
    rows = supply_costs.merge(
        pd.DataFrame({"supply_cost_type": typed, "supply_id": ids}), on="supply_cost_type"
    )
    for row in rows.itertuples(index=False):
        i, cost = position[row.supply_id], str(row.cost)
        value: Any = row.value  # float, or a tuple (curve or year series): parsed by validation
        kind, _, unit = cost.partition("_")
        if cost == "heat_per_kwh":
            pattern = ANNUAL if isinstance(value, float) else series_pattern(value)
            price = 1.0 if isinstance(value, tuple) else float(value)
            blocks.append(
                _block(
                    ids[i : i + 1],
                    -price * kwh[i],
                    "heat",
                    "supply",
                    CostClass.SUPPLY_OPEX,
                    pattern,
                    supply_id=ids[i : i + 1],
                )
            )
            continue
        if unit == "per_kw" and isinstance(value, tuple):
            if not curves:
                continue
            amount = curve_total(value, cap[i])
        else:
            amount = float(value) * (cap[i] if unit == "per_kw" else 1.0)
        blocks.append(
            _block(
                ids[i : i + 1],
                -amount,
                kind,
                "supply",
                _supply_class(kind),
                patterns[kind],
                supply_id=ids[i : i + 1],
            )
        )
    items = pd.concat(blocks, ignore_index=True)
    return items[items["amount"] != 0].reset_index(drop=True)


def _supply_class(kind: str) -> CostClass:
    """The class of a supply cost kind (``capex``, ``opex``, ``repex``)."""
    return CostClass(f"supply-{kind}")


def supply_patterns(params: Parameters) -> dict[str, str]:
    """When a supply's capex, opex and repex fall (the cash-flow pattern of each kind)."""
    return {"capex": ONCE, "opex": ANNUAL, "repex": repex_pattern(params.plant_lifetime_years)}


def curve_pv(
    supply_cost_type: str,
    supply_costs: pd.DataFrame,
    capacity_kw: ArrayLike,
    schedule: Schedule,
    params: Parameters,
) -> dict[CostClass, NDArray[np.float64]]:
    """PV by class of a supply's ¤/kW capacity curves at each capacity (vectorised).

    The same money as the curve items of :func:`supply_items` (``−curve_total`` per curve row,
    in that row's pattern), without building item frames per capacity.
    """
    kw = np.asarray(capacity_kw, dtype=float)
    out = {c: np.zeros(len(kw)) for c in SUPPLY}
    if supply_costs.empty:
        return out
    patterns = supply_patterns(params)
    mine = supply_costs[supply_costs["supply_cost_type"] == supply_cost_type]
    for cost, value in zip(mine["cost"].astype(str), mine["value"], strict=True):
        kind, _, unit = cost.partition("_")
        if unit != "per_kw" or not isinstance(value, tuple):
            continue
        points = np.array(value, dtype=float)
        total = kw * np.interp(kw, points[:, 0], points[:, 1])
        out[_supply_class(kind)] -= total * schedule.factor(patterns[kind])
    return out


def curve_total(points: tuple[tuple[float, float], ...], capacity_kw: float) -> float:
    """Total cost at a capacity of a ¤/kW curve: capacity · rate(capacity), rate interpolated."""
    kw, rate = zip(*points, strict=True)
    return float(capacity_kw * np.interp(capacity_kw, kw, rate))


CURVE_RTOL = 1e-4
"""Largest chord error of the model's piecewise-linear supply cost curve on a curve segment,
relative to the total cost at that segment's end (so larger, relatively, near its start)."""
MAX_PIECES = 64
"""At most this many pieces per segment of a cost curve (beyond, the error bound is looser)."""


def curve_breakpoints(
    points: tuple[tuple[float, float], ...], max_kw: float, *, rtol: float = CURVE_RTOL
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Breakpoints (kW, total ¤) for a piecewise-linear model of a ¤/kW curve up to ``max_kw``.

    Between two curve points the total x·rate(x) is quadratic; the chord across a piece of
    width h is off by at most |r₁ − r₀|·h²/(4·(x₁ − x₀)) ¤. Each segment is cut into pieces
    until that is at most ``rtol`` × the total at the segment's end (or 1 ¤), up to
    :data:`MAX_PIECES` pieces (logged when that is not enough), so the model prices a plant
    close to what the output, which prices it exactly, writes.
    """
    kw = np.array([p[0] for p in points])
    rate = np.array([p[1] for p in points])
    ends = np.unique(np.r_[0.0, kw[kw < max_kw], max_kw])
    xs = [ends[:1]]
    for x0, x1 in itertools.pairwise(ends):
        r0, r1 = np.interp([x0, x1], kw, rate)
        width = x1 - x0
        error = abs(r1 - r0) * width / 4.0
        tolerance = max(rtol * abs(curve_total(points, x1)), 1.0)
        wanted = int(max(1, np.ceil(np.sqrt(error / tolerance))))
        if wanted > MAX_PIECES:
            log.info(
                "cost curve segment %g-%g kW: %d pieces would be needed for a %g error, "
                "using %d (chord error up to %.4g)",
                x0, x1, wanted, rtol, MAX_PIECES, error / MAX_PIECES**2,
            )  # fmt: skip
        pieces = min(MAX_PIECES, wanted)
        xs.append(np.linspace(x0, x1, pieces + 1)[1:])
    out = np.concatenate(xs)
    return out, np.array([curve_total(points, x) for x in out])


def pipe_items(rows: pd.DataFrame, catalogue: PipeCatalogue, params: Parameters) -> pd.DataFrame:
    """Capex, repex and extra_pv items of built pipe rows.

    Parameters
    ----------
    rows
        One row per built path row: ``path_id``, ``length_m``, ``civil_cost_id``,
        ``diameter_mm`` (the pipe laid), ``existing`` (True when an existing pipe is kept as
        is: repex only, docs/decisions.md §2) and ``extra_pv``.
    catalogue
        Costs per metre by civil id and diameter (interpolated for diameters not listed).
    params
        The distribution lifetime.
    """
    cost_m = catalogue.cost_per_m(rows["civil_cost_id"].astype(int), rows["diameter_mm"])
    principal = cost_m * rows["length_m"].to_numpy(float)
    existing = rows["existing"].to_numpy(bool)
    refs = {"path_id": rows["path_id"], "civil_cost_id": rows["civil_cost_id"]}
    ids = rows["path_id"]
    blocks = [
        _block(
            ids,
            np.where(existing, 0.0, -principal),
            "capex",
            "pipe",
            CostClass.PIPE_CAPEX,
            ONCE,
            **refs,
        ),
        _block(
            ids,
            -principal,
            "repex",
            "pipe",
            CostClass.PIPE_REPEX,
            repex_pattern(params.distribution_lifetime_years),
            **refs,
        ),
        _block(
            ids,
            rows["extra_pv"].fillna(0.0).to_numpy(float),
            "extra",
            "pipe",
            CostClass.EXTRA,
            ONCE,
            path_id=ids,
        ),
    ]
    items = pd.concat(blocks, ignore_index=True)
    return items[items["amount"] != 0].reset_index(drop=True)


def pipe_pv_per_m(
    cost_m: NDArray[np.float64], schedule: Schedule, params: Parameters
) -> Mapping[CostClass, NDArray[np.float64]]:
    """PV per metre of laying a new pipe, by class, for a cost-per-metre array (any shape)."""
    repex = schedule.factor(repex_pattern(params.distribution_lifetime_years))
    return {CostClass.PIPE_CAPEX: -cost_m, CostClass.PIPE_REPEX: -cost_m * repex}


def pipe_line_coefficients(
    catalogue: PipeCatalogue,
    civil_lengths_m: Sequence[Mapping[int, float]],
    kw_low: ArrayLike,
    kw_high: ArrayLike,
    schedule: Schedule,
    params: Parameters,
) -> dict[CostClass, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Coefficients of the ``linear`` pipe model, per edge and class.

    PV per metre (fixed) and PV per metre per kW of capacity, from a least-squares line through
    the cost-by-capacity curve over the edge's feasible kW range.

    The fit is linear in the curve's values, so an edge over several dig types gets the
    length-weighted mix of the per-dig-type fits: one vectorised fit per civil cost id.

    Returns
    -------
    dict
        ``{"pipe-capex": (fixed, per_kw), "pipe-repex": (fixed, per_kw)}``, arrays per edge
        (negative: costs).
    """
    ids = list(catalogue.cost_m.index)
    weights = catalogue.civil_shares(civil_lengths_m)
    fixed = np.zeros(len(weights))
    slope = np.zeros(len(weights))
    for k, civil in enumerate(ids):
        used = weights[:, k] > 0
        if not used.any():
            continue
        curve = catalogue.cost_m.loc[civil].to_numpy(dtype=float)
        c, m = fit_line(
            catalogue.capacity_kw,
            curve,
            np.asarray(kw_low, float)[used],
            np.asarray(kw_high, float)[used],
        )
        fixed[used] += weights[used, k] * c
        slope[used] += weights[used, k] * m
    per_m = pipe_pv_per_m(np.ones(1), schedule, params)
    return {klass: (factor[0] * fixed, factor[0] * slope) for klass, factor in per_m.items()}


def supply_coefficients(
    supplies: pd.DataFrame, supply_costs: pd.DataFrame, schedule: Schedule, params: Parameters
) -> dict[str, pd.DataFrame]:
    """Linear money coefficients of supplies, by class: PV if built, per kW, per kWh/yr.

    Derived from :func:`supply_items` at unit quantities, so the model's coefficients and the
    written cashflow come from the same items. Capacity curves are left out here: see
    :func:`curve_breakpoints` for their piecewise-linear model.

    Returns
    -------
    dict
        ``{"fixed": ..., "per_kw": ..., "per_kwh": ...}``, each a frame by ``supply_id`` with a
        column per class (negative: costs).
    """

    def pv(capacity: float, output: float) -> pd.DataFrame:
        items = supply_items(supplies, supply_costs, capacity, output, params, curves=False)
        table = pv_by_class(items, schedule, "supply_id")
        return table.reindex(supplies["supply_id"].to_numpy(), fill_value=0.0)

    fixed = pv(0.0, 0.0)
    return {"fixed": fixed, "per_kw": pv(1.0, 0.0) - fixed, "per_kwh": pv(0.0, 1.0) - fixed}


def diameter_options(
    catalogue: PipeCatalogue, kw_low: ArrayLike, kw_high: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """For the ``discrete`` pipe model: the catalogue rows an edge may use.

    An edge that must carry at least ``kw_low`` and at most ``kw_high`` needs a diameter from
    the smallest that carries ``kw_low`` up to the smallest that carries ``kw_high``; anything
    else is either too small or never needed.

    Returns
    -------
    tuple
        First and last allowed catalogue index per edge (inclusive; the largest pipe when none
        carries the load). Where no diameter is between the two (``kw_low`` above ``kw_high``
        across a step of the catalogue) last is below first: the range is empty.
    """
    last_row = len(catalogue.diameter_mm) - 1
    first = np.searchsorted(catalogue.capacity_kw, np.asarray(kw_low, dtype=float) - 1e-9)
    last = np.searchsorted(catalogue.capacity_kw, np.asarray(kw_high, dtype=float) - 1e-9)
    return np.minimum(first, last_row), np.minimum(last, last_row)
