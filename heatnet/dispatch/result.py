"""RESULT.json of ``heatnet dispatch-solve``: per step and element every flow, and yearly totals.

Series have one value per step. A year's total weights a step by ``weight · hours`` (energy) or
``weight`` (starts). Fuel is pooled per fuel and step (distribution is copperplate: whose fuel a
unit burns cannot be traced), so a unit's fuel cost and emissions are its share of the fuel
used times what that fuel cost and emitted in that step: the units' costs add up to the
objective.

A horizon solved in windows (:mod:`heatnet.dispatch.windows`) has one series over all of its
steps, like one solved whole, and ``windows`` lists each window's steps, state, objective,
bound, gap and runtime (null when solved whole); its ``bound`` and ``gap`` are null.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from heatnet.core.atomic import atomic_output
from heatnet.dispatch.problem import DispatchProblem, Unit
from heatnet.dispatch.solve import DispatchSolution

RESULT_FORMAT = "heatnet-dispatch-result"
VERSION = 1
AT_CAPACITY_RTOL = 1e-6
"""A link carries its capacity when the heat entering it is within this (relative) of it."""
RUNNING_RTOL = 1e-6
"""A unit without status runs in a step when its heat exceeds this share of its capacity."""


def _yearly(series: Sequence[float], factor: Sequence[float]) -> float:
    return float(sum(v * f for v, f in zip(series, factor, strict=True)))


def _series(values: Mapping[Any, float], key: Any, count: int) -> list[float]:
    return [values.get((key, t), 0.0) for t in range(count)]


class _Year:
    """A solution's series and the factors that turn them into yearly totals."""

    def __init__(self, problem: DispatchProblem, values: Mapping[str, Mapping[Any, float]]) -> None:
        self.problem = problem
        self.values = values
        self.count = problem.steps
        self.wh = [w * h for w, h in zip(problem.weight, problem.hours, strict=True)]
        self.w = list(problem.weight)

    def series(self, name: str, key: Any) -> list[float]:
        return _series(self.values.get(name, {}), key, self.count)

    def fuel_pool(self) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """Per fuel and step: ¤ and kg per kWh of fuel used (0 where none is used)."""
        p = self.problem
        money: dict[str, list[float]] = defaultdict(lambda: [0.0] * self.count)
        mass: dict[str, list[float]] = defaultdict(lambda: [0.0] * self.count)
        used: dict[str, list[float]] = defaultdict(lambda: [0.0] * self.count)
        for i, r in enumerate(p.fuels):
            for t, b in enumerate(self.series("bought", i)):
                money[r.id][t] += b * r.price[t]
                mass[r.id][t] += b * r.emissions_kg_per_kwh
        for j, d in enumerate(p.distribution):
            for t, a in enumerate(self.series("dist", j)):
                money[d.fuel][t] += a * d.cost_per_kwh
        for u in p.units:
            for t, heat in enumerate(self.series("heat", u.id)):
                used[u.fuel][t] += heat / u.efficiency

        def per_kwh(pool: Mapping[str, list[float]]) -> dict[str, list[float]]:
            return {
                f: [x / used[f][t] if used[f][t] > 0 else 0.0 for t, x in enumerate(xs)]
                for f, xs in pool.items()
            }

        return per_kwh(money), per_kwh(mass)

    def unit(
        self, u: Unit, price: Mapping[str, list[float]], kg: Mapping[str, list[float]]
    ) -> dict[str, Any]:
        heat = self.series("heat", u.id)
        fuel = [h / u.efficiency for h in heat]
        zero = [0.0] * self.count
        if u.has_status:
            on, start = self.series("on", u.id), self.series("start", u.id)
        else:
            tol = RUNNING_RTOL * max(1.0, u.heat_cap_kw)
            on, start = [1.0 if h > tol else 0.0 for h in heat], zero
        heat_kwh = _yearly(heat, self.wh)
        fuel_cost = _yearly(
            [f * c for f, c in zip(fuel, price.get(u.fuel, zero), strict=True)], self.wh
        )
        operating = u.cost_per_kwh * heat_kwh
        startups = u.startup_cost * _yearly(start, self.w)
        return {
            "id": u.id,
            "node": u.node,
            "fuel": u.fuel,
            "heat_kw": heat,
            "fuel_kw": fuel,
            "on": on if u.has_status else None,
            "start": start if u.has_status else None,
            "totals": {
                "heat_kwh": heat_kwh,
                "fuel_kwh": _yearly(fuel, self.wh),
                "running_hours": _yearly(on, self.wh),
                "full_load_hours": heat_kwh / u.heat_max_kw if u.heat_max_kw > 0 else 0.0,
                "starts": _yearly(start, self.w),
                "fuel_cost": fuel_cost,
                "operating_cost": operating,
                "startup_cost": startups,
                "cost": fuel_cost + operating + startups,
                "emissions_kg": _yearly(
                    [f * e for f, e in zip(fuel, kg.get(u.fuel, zero), strict=True)], self.wh
                ),
            },
        }

    def storages(self) -> list[dict[str, Any]]:
        out = []
        for s in self.problem.storages:
            charge, discharge = self.series("charge", s.id), self.series("discharge", s.id)
            given = _yearly(discharge, self.wh)
            out.append(
                {
                    "id": s.id,
                    "node": s.node,
                    "charge_kw": charge,
                    "discharge_kw": discharge,
                    "level_kwh": self.series("level", s.id),
                    "totals": {
                        "charged_kwh": _yearly(charge, self.wh),
                        "discharged_kwh": given,
                        "cycles": given / s.capacity_kwh if s.capacity_kwh > 0 else 0.0,
                    },
                }
            )
        return out

    def links(self) -> list[dict[str, Any]]:
        out = []
        for k in self.problem.links:
            enter = self.series("enter", k.id)
            back = self.series("back", k.id) if k.both_ways else [0.0] * self.count
            full = k.capacity_kw * (1 - AT_CAPACITY_RTOL)
            at_capacity = [
                k.capacity_kw > 0 and max(a, b) >= full for a, b in zip(enter, back, strict=True)
            ]
            record: dict[str, Any] = {
                "id": k.id,
                "from": k.source,
                "to": k.target,
                "entering_kw": enter,
                "arriving_kw": [k.efficiency * x for x in enter],
                "back_entering_kw": back if k.both_ways else None,
                "back_arriving_kw": [k.efficiency * x for x in back] if k.both_ways else None,
                "at_capacity": at_capacity,
            }
            entering = _yearly(enter, self.wh) + _yearly(back, self.wh)
            record["totals"] = {
                "entering_kwh": _yearly(enter, self.wh),
                "back_entering_kwh": _yearly(back, self.wh),
                "arriving_kwh": k.efficiency * entering,
                "losses_kwh": (1 - k.efficiency) * entering,
                "hours_at_capacity": _yearly([float(a) for a in at_capacity], self.wh),
            }
            out.append(record)
        return out

    def fuels(self) -> list[dict[str, Any]]:
        out = []
        for i, r in enumerate(self.problem.fuels):
            bought = self.series("bought", i)
            out.append(
                {
                    "id": r.id,
                    "node": r.node,
                    "bought_kw": bought,
                    "totals": {
                        "bought_kwh": _yearly(bought, self.wh),
                        "cost": _yearly(
                            [b * c for b, c in zip(bought, r.price, strict=True)], self.wh
                        ),
                        "emissions_kg": r.emissions_kg_per_kwh * _yearly(bought, self.wh),
                    },
                }
            )
        return out

    def distribution(self) -> list[dict[str, Any]]:
        out = []
        for j, d in enumerate(self.problem.distribution):
            amount = self.series("dist", j)
            out.append(
                {
                    "fuel": d.fuel,
                    "node": d.node,
                    "amount_kw": amount,
                    "totals": {
                        "imported_kwh": _yearly([max(a, 0.0) for a in amount], self.wh),
                        "exported_kwh": _yearly([max(-a, 0.0) for a in amount], self.wh),
                        "cost": d.cost_per_kwh * _yearly(amount, self.wh),
                    },
                }
            )
        return out


def result_to_json(problem: DispatchProblem, solution: DispatchSolution) -> dict[str, Any]:
    """RESULT.json's content: the solve's figures, then every series and total.

    Without a dispatch the element lists are empty and the totals null.
    """
    out: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "version": VERSION,
        "problem": problem.name,
        "state": solution.state,
        "termination": solution.termination,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "mip_gap": problem.options.mip_gap,
        "runtime": solution.runtime_s,
        "reasons": list(solution.reasons),
        "windows": [asdict(w) for w in solution.windows] if solution.windows else None,
        "steps": {
            "count": problem.steps,
            "hours": list(problem.hours),
            "weight": list(problem.weight),
        },
    }
    empty: dict[str, Any] = {
        k: [] for k in ("nodes", "units", "storages", "links", "fuels", "fuel_distribution")
    }
    if not solution.has_dispatch:
        return out | empty | {"totals": None}
    year = _Year(problem, solution.values)
    price, kg = year.fuel_pool()
    units = [year.unit(u, price, kg) for u in problem.units]
    fuels = year.fuels()
    distribution = year.distribution()
    zero = (0.0,) * problem.steps
    nodes = [{"id": n, "demand_kw": list(problem.demand.get(n, zero))} for n in problem.nodes]

    def total(rows: list[dict[str, Any]], key: str) -> float:
        return float(sum(r["totals"][key] for r in rows))

    return out | {
        "nodes": nodes,
        "units": units,
        "storages": year.storages(),
        "links": year.links(),
        "fuels": fuels,
        "fuel_distribution": distribution,
        "totals": {
            "cost": total(units, "cost"),
            "fuel_cost": total(fuels, "cost") + total(distribution, "cost"),
            "operating_cost": total(units, "operating_cost"),
            "startup_cost": total(units, "startup_cost"),
            "distribution_cost": total(distribution, "cost"),
            "emissions_kg": total(fuels, "emissions_kg"),
            "demand_kwh": sum(_yearly(problem.demand.get(n, zero), year.wh) for n in problem.nodes),
            "heat_kwh": total(units, "heat_kwh"),
        },
    }


def write_result(data: Mapping[str, Any], path: Path | str, *, overwrite: bool) -> None:
    """Write RESULT.json atomically (``heatnet.core.atomic``): the old file or the new one."""
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    with atomic_output(Path(path), overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
