"""Benchmark ``heatnet dispatch-solve``: a year of typical days, and a year of hours in week windows.

Part of ``make bench`` (``bench/run.py``, the "dispatch" section), or on its own::

    python bench/dispatch.py [--skip-hourly]

Both cases dispatch the same deterministic plant (below) and run in a fresh interpreter each
(this file with ``--child CASE``, one JSON line back). They write their problems to
``build/bench/dispatch-hourly.json`` and ``build/bench/dispatch-typical/MM-day.json``, so
``heatnet dispatch-solve`` can be run on them by hand.

* ``typical``: a year as 12 × 2 typical days (each month's weekday and weekend day, 24 one-hour
  steps each, weighted by the days each stands for), one problem per day with its status and
  stores cyclic over the day (as the design stage dispatches typical days), each solved to a
  1 % gap (``options.mip_gap`` 0.01). The days are independent, so the year's objective and
  bound are the days' sums and its gap is proven. Target: ≤ 15 s for the 24 solves (model
  builds included) on a 2-core machine. (Not one problem of 576 steps: its stores would carry
  heat from a day that stands for 9 days to one that stands for 22, heat the year does not
  have; measured, that year came out 9 % cheaper than its days solved apart.)
* ``hourly``: the same year hour by hour, 8,760 steps: each day of a 365-day year that starts
  on a Monday is its month's weekday or weekend day, its demand scaled by a smooth
  deterministic day-to-day factor (0.82-1.18, mean ~1) so that no two weeks are alike; solved
  in week windows (``heatnet.dispatch.windows.solve_in_windows``, 168 steps, 53 windows, the
  last a day) to 1 % each, within 10 s a window on average (``options.time_limit_s`` 530 s for
  the year, shared). Figures: total time, windows, time per window, windows that stopped at
  their time limit and their gaps (no target). Summer weeks are the hard ones: every status
  unit's minimum load is above the summer demand, so their runs with a store compete closely
  with the peak boiler.

The plant: four sites A-D (mean winter loads 900, 500, 700 and 400 kW; summer about a sixth,
hot water); six units, four with on/off status (minimum load, minimum up and down times,
start-up cost): a large gas unit and a gas peak boiler without status at A, gas boilers at B,
C and D, an electric heat pump (COP 3) at D with a night/day/evening power price; stores at A
(6 MWh) and D (2.5 MWh); links A-B, B-C, A-D both ways and C-D one way; gas bought at A and C
only, distributed copperplate to B and D (and between A and C).

* ``feedback``: ``heatnet run`` (``heatnet.pipeline.run``) on the sample district twice, each
  design MIP limited to :data:`FEEDBACK_LIMIT_H`: ``district.gpkg`` (no plant units: a plain
  run) and ``district-plants.gpkg`` (the same district with a heat pump, a gas boiler and a
  store at its supply: the run dispatches each design on the built-in typical days and designs
  again at the dispatch's heat price, up to ``dispatch/iterations`` times). Figures: both wall
  times and the extra, the designs made, the dispatch's share, the heat price found and the
  NPVs (no target).

This module is imported by ``bench/run.py``, which must stay small (see its docstring): only the
child (``--child``) imports heatnet.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import optimise

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"

TYPICAL_TARGET_S = 15.0
FEEDBACK_LIMIT_H = "0.0083"
"""Each design MIP of the feedback case: 30 s (the run's optimiser/runtime-limit)."""
MIP_GAP = 0.01
WINDOW_STEPS = 168
TIME_LIMIT_S = 600.0
"""The typical days' time limit: far beyond what they need; a safety net."""
WINDOW_TIME_S = 10.0
"""The hourly year's time limit per window, on average: ``options.time_limit_s`` is this
times the windows, shared (a window may take the time left over the windows left)."""

MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MONTH_MEAN_C = (0.5, 1.5, 5.0, 9.5, 14.0, 17.0, 19.0, 18.5, 14.5, 10.0, 5.0, 1.5)
BASE_C = 15.5
HOT_WATER = 0.15
"""Share of a winter day's heat that is hot water, the same all year."""
WEEKDAY = (
    0.60, 0.55, 0.55, 0.55, 0.60, 0.85, 1.55, 1.70, 1.45, 1.10, 0.95, 1.00,
    1.00, 0.95, 0.85, 0.90, 1.00, 1.20, 1.35, 1.35, 1.25, 1.10, 0.90, 0.70,
)  # fmt: skip
WEEKEND = (
    0.60, 0.55, 0.55, 0.55, 0.55, 0.65, 0.85, 1.30, 1.55, 1.50, 1.30, 1.10,
    1.10, 1.05, 1.00, 0.95, 1.05, 1.20, 1.30, 1.30, 1.20, 1.10, 0.95, 0.75,
)  # fmt: skip
SITES = {"A": 900.0, "B": 500.0, "C": 700.0, "D": 400.0}
"""Mean heat load of each site on a day of the coldest month, kW."""


def _power_price(hour: int) -> float:
    """¤/kWh of electricity by hour of the day: night, day, evening peak."""
    if hour < 6 or hour >= 22:
        return 0.08
    return 0.28 if 17 <= hour < 20 else 0.20


def _gas_price(month: int) -> float:
    """¤/kWh of gas at A by month (dearer in winter); C pays 0.003 more."""
    return 0.040 + 0.006 * math.cos(2 * math.pi * month / 12)


def _level(month: int) -> float:
    """A day's heat in ``month`` relative to the coldest month's: hot water + degree days."""
    hdd = [max(0.0, BASE_C - t) for t in MONTH_MEAN_C]
    return HOT_WATER + (1 - HOT_WATER) * hdd[month] / max(hdd)


def typical_days() -> list[tuple[int, bool, float]]:
    """(month, weekend, days it stands for): 12 × 2 typical days of a 365-day year."""
    return [
        (month, weekend, days * (2 / 7 if weekend else 5 / 7))
        for month, days in enumerate(MONTH_DAYS)
        for weekend in (False, True)
    ]


def _day(month: int, weekend: bool, factor: float = 1.0) -> dict[str, list[float]]:
    """Demand (kW per hour, per site) on one day."""
    shape = WEEKEND if weekend else WEEKDAY
    level = _level(month) * factor
    return {site: [base * level * s for s in shape] for site, base in SITES.items()}


def _day_factor(day: int) -> float:
    """A smooth deterministic weather swing from day to day (0.82-1.18, mean about 1)."""
    return 1 + 0.12 * math.sin(2 * math.pi * day / 11.0) + 0.06 * math.sin(2 * math.pi * day / 4.3)


def year_days() -> list[tuple[int, bool, float]]:
    """(month, weekend, factor) for each day of a 365-day year starting on a Monday."""
    out = []
    day = 0
    for month, days in enumerate(MONTH_DAYS):
        for _ in range(days):
            out.append((month, day % 7 >= 5, _day_factor(day)))
            day += 1
    return out


def plant() -> dict[str, Any]:
    """Units, stores, links and fuel distribution (the same for both cases)."""

    def unit(uid: str, node: str, fuel: str, eff: float, cap: float, **more: Any) -> dict[str, Any]:
        return {
            "id": uid,
            "node": node,
            "fuel": fuel,
            "efficiency": eff,
            "heat_max_kw": cap,
            **more,
        }

    def link(lid: str, a: str, b: str, cap: float, eff: float, both: bool) -> dict[str, Any]:
        return {"id": lid, "from": a, "to": b, "capacity_kw": cap, "efficiency": eff,
                "both_ways": both}  # fmt: skip

    return {
        "units": [
            unit("gas_unit_a", "A", "gas", 0.90, 1200, min_load_fraction=0.4, min_up_h=4,
                 min_down_h=3, startup_cost=60),
            unit("peak_a", "A", "gas", 0.88, 1500, cost_per_kwh=0.004),
            unit("boiler_b", "B", "gas", 0.92, 900, min_load_fraction=0.3, min_up_h=3,
                 min_down_h=2, startup_cost=25),
            unit("boiler_c", "C", "gas", 0.95, 1400, min_load_fraction=0.35, min_up_h=6,
                 min_down_h=4, startup_cost=80),
            unit("boiler_d", "D", "gas", 0.90, 600, min_load_fraction=0.3, min_up_h=2,
                 min_down_h=2, startup_cost=15),
            unit("heat_pump_d", "D", "power", 3.0, 300),
        ],
        "storages": [
            {"id": "tank_a", "node": "A", "capacity_kwh": 6000, "charge_max_kw": 1000,
             "eta_charge": 0.98, "eta_discharge": 0.98, "loss_per_h": 0.002},
            {"id": "tank_d", "node": "D", "capacity_kwh": 2500, "charge_max_kw": 400,
             "eta_charge": 0.97, "eta_discharge": 0.97, "loss_per_h": 0.003},
        ],
        "links": [
            link("ab", "A", "B", 800, 0.97, True),
            link("bc", "B", "C", 600, 0.97, True),
            link("ad", "A", "D", 300, 0.95, True),
            link("cd", "C", "D", 400, 0.96, False),
        ],
        "fuel_distribution": [
            {"fuel": "gas", "node": "A", "export_max_kw": 2000, "import_max_kw": 500},
            {"fuel": "gas", "node": "C", "export_max_kw": 1500, "import_max_kw": 500},
            {"fuel": "gas", "node": "B", "import_max_kw": 1100, "cost_per_kwh": 0.002},
            {"fuel": "gas", "node": "D", "import_max_kw": 800, "cost_per_kwh": 0.002},
        ],
    }  # fmt: skip


def day_problems() -> dict[str, dict[str, Any]]:
    """The typical days' problems (JSON form) by name (``01-weekday``, ...): 24 steps each."""
    return {
        f"{month + 1:02d}-{'weekend' if weekend else 'weekday'}": problem(
            [(month, weekend, 1.0)], n
        )
        for month, weekend, n in typical_days()
    }


def hourly_problem() -> dict[str, Any]:
    """The year hour by hour (JSON form): 8,760 steps."""
    return problem(year_days(), 1.0)


def problem(days: list[tuple[int, bool, float]], weight: float) -> dict[str, Any]:
    """The dispatch problem (JSON form) of ``days`` (month, weekend, factor) in a row, each
    step weighted by ``weight``: status and stores cyclic over them.
    """
    demand: dict[str, list[float]] = {site: [] for site in SITES}
    gas, power = [], []
    for month, weekend, factor in days:
        for site, kw in _day(month, weekend, factor).items():
            demand[site] += [round(x, 3) for x in kw]
        gas += [round(_gas_price(month), 6)] * 24
        power += [_power_price(h) for h in range(24)]
    count = 24 * len(days)
    windows = -(-count // WINDOW_STEPS)
    limit = TIME_LIMIT_S if count <= WINDOW_STEPS else WINDOW_TIME_S * windows
    return {
        "format": "heatnet-dispatch",
        "name": f"bench, {count} steps",
        "steps": {"count": count, "hours": 1.0, "weight": weight},
        "nodes": [{"id": site, "demand_kw": series} for site, series in demand.items()],
        "fuels": [
            {"id": "gas", "node": "A", "price_per_kwh": gas, "import_max_kw": 4000,
             "emissions_kg_per_kwh": 0.2},
            {"id": "gas", "node": "C", "price_per_kwh": [round(p + 0.003, 6) for p in gas],
             "import_max_kw": 2500, "emissions_kg_per_kwh": 0.2},
            {"id": "power", "node": "D", "price_per_kwh": power, "emissions_kg_per_kwh": 0.1},
        ],
        **plant(),
        "options": {"status_boundary": "cyclic", "mip_gap": MIP_GAP,
                    "time_limit_s": limit, "threads": 1},
    }  # fmt: skip


# --- the child: one measured solve ------------------------------------------------------------


def child(case: str) -> dict[str, Any]:
    """Build, check and solve ``case`` (the typical days one by one, or the hourly year in week
    windows); its figures as a dict.
    """
    import os
    import resource

    began = time.perf_counter()
    import pyomo.environ  # noqa: F401  (dependencies are imported before the clock starts)

    from heatnet.dispatch import dispatch_from_json, solve_dispatch, solve_in_windows

    import_s = time.perf_counter() - began
    if case == "typical":
        return _typical(import_s, dispatch_from_json, solve_dispatch)
    if case == "feedback":
        return _feedback()
    data = hourly_problem()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dispatch-hourly.json").write_text(json.dumps(data), encoding="utf-8")
    t0 = time.perf_counter()
    checked = dispatch_from_json(data)
    check_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    solution = solve_in_windows(checked, WINDOW_STEPS)
    solve_s = time.perf_counter() - t0
    windows = [
        {"steps": w.steps, "state": w.state, "termination": w.termination, "gap": w.gap,
         "runtime_s": w.runtime_s, "objective": w.objective}
        for w in solution.windows
    ]  # fmt: skip
    demand_kwh = sum(
        w * sum(series[t] for series in checked.demand.values())
        for t, w in enumerate(checked.weight)
    )
    return {
        "case": case,
        "steps": checked.steps,
        "import_s": import_s,
        "check_s": check_s,
        "solve_s": solve_s,
        "state": solution.state,
        "termination": solution.termination,
        "objective": solution.objective,
        "bound": solution.bound,
        "gap": solution.gap,
        "demand_kwh": demand_kwh,
        "windows": windows,
        "time_limit_s": checked.options.time_limit_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loadavg_end": list(os.getloadavg()),
    }


def _typical(import_s: float, read: Any, solve: Any) -> dict[str, Any]:
    """The 24 typical days, each solved on its own; the year's figures are their sums."""
    import os
    import resource

    folder = OUT / "dispatch-typical"
    folder.mkdir(parents=True, exist_ok=True)
    days = []
    check_s = solve_s = 0.0
    for name, data in day_problems().items():
        (folder / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
        t0 = time.perf_counter()
        checked = read(data)
        t1 = time.perf_counter()
        solution = solve(checked)
        t2 = time.perf_counter()
        check_s, solve_s = check_s + t1 - t0, solve_s + t2 - t1
        demand = sum(
            checked.weight[t] * sum(d[t] for d in checked.demand.values()) for t in range(24)
        )
        days.append(
            {"day": name, "state": solution.state, "objective": solution.objective,
             "bound": solution.bound, "solve_s": t2 - t1, "demand_kwh": demand}
        )  # fmt: skip
    known = all(d["objective"] is not None and d["bound"] is not None for d in days)
    objective = sum(d["objective"] for d in days) if known else None
    bound = sum(d["bound"] for d in days) if known else None
    gap = None if objective is None else max(0.0, (objective - bound) / max(abs(objective), 1.0))
    states = [d["state"] for d in days]
    return {
        "case": "typical",
        "steps": 24 * len(days),
        "days": days,
        "import_s": import_s,
        "check_s": check_s,
        "solve_s": solve_s,
        "state": "optimal" if set(states) == {"optimal"} else "feasible" if known else "none",
        "objective": objective,
        "bound": bound,
        "gap": gap,
        "demand_kwh": sum(d["demand_kwh"] for d in days),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loadavg_end": list(os.getloadavg()),
    }


def _feedback() -> dict[str, Any]:
    """The plain district run and the same district with plant units and dispatch feedback."""
    import os
    import resource

    from heatnet.pipeline import run

    OUT.mkdir(parents=True, exist_ok=True)
    runs = {}
    for name, sample in (("plain", "district.gpkg"), ("plants", "district-plants.gpkg")):
        t0 = time.perf_counter()
        outcome = run(
            ROOT / "sample_data" / sample,
            OUT / f"feedback-{name}.gpkg",
            overwrite=True,
            overrides={"optimiser/runtime-limit": FEEDBACK_LIMIT_H},
        )
        wall = time.perf_counter() - t0
        figures: dict[str, Any] = {
            "wall_s": wall,
            "state": outcome.summary["state"],
            "npv": outcome.summary["network_npv"],
            "buildings": outcome.summary["network_building_count"],
        }
        done = outcome.dispatched
        if done is not None and done.dispatch is not None:
            d = done.dispatch
            figures |= {
                "designs": done.designs,
                "written": done.rounds,
                "dispatch_s": d.runtime_s,
                "days": len(d.days),
                "cost": d.objective,
                "gap": d.gap,
                "prices": d.prices,
            }
        runs[name] = figures
    return {
        "case": "feedback",
        "runs": runs,
        "objective": runs["plants"].get("cost"),
        "state": runs["plants"]["state"],
        "termination": None,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loadavg_end": list(os.getloadavg()),
    }


# --- reporting --------------------------------------------------------------------------------


def measure(case: str) -> dict[str, Any]:
    return optimise.run_child([sys.executable, str(Path(__file__)), "--child", case])


def _money(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _per_kwh(result: dict[str, Any]) -> str:
    if result["objective"] is None or not result["demand_kwh"]:
        return "-"
    return f"{result['objective'] / result['demand_kwh']:.4f}"


def report_typical(result: dict[str, Any]) -> None:
    solve_s = result["solve_s"]
    days = result["days"]
    verdict = optimise._verdict(solve_s <= TYPICAL_TARGET_S)
    slowest = max(days, key=lambda d: d["solve_s"])
    states = ", ".join(
        f"{sum(d['state'] == s for d in days)} {s}" for s in dict.fromkeys(d["state"] for d in days)
    )
    print(
        f"  (a) a year as 12 x 2 typical days ({result['steps']} steps): one problem of 24 steps "
        f"per day, weight = the days it stands for, status and stores cyclic over the day, each "
        f"to a {MIP_GAP:.0%} gap"
    )
    print(
        f"    solve         {solve_s:6.2f} s for the {len(days)} days (model builds + HiGHS + "
        f"reads; slowest {slowest['day']} {slowest['solve_s']:.2f} s; checks "
        f"{result['check_s']:.2f} s, imports {result['import_s']:.2f} s)   target ≤ "
        f"{TYPICAL_TARGET_S:g} s   {verdict}"
    )
    print(
        f"    result        {result['state']} (days {states}), year's gap "
        f"{optimise._pct(result['gap'])} (days independent: proven), objective "
        f"{_money(result['objective'])} ¤/yr, bound {_money(result['bound'])}; "
        f"{result['demand_kwh'] / 1e6:,.2f} GWh demand, {_per_kwh(result)} ¤/kWh"
    )
    print(f"    peak memory   {result['peak_mb']:.0f} MB; {optimise._load(result)}")


def report_feedback(result: dict[str, Any]) -> None:
    plain, plants = result["runs"]["plain"], result["runs"]["plants"]
    limit_s = float(FEEDBACK_LIMIT_H) * 3600
    print(
        "  (c) heatnet run on the sample district: plain (district.gpkg) and with plant units "
        f"and dispatch feedback (district-plants.gpkg), each design MIP limited to {limit_s:.0f} s"
    )
    print(
        f"    wall          plain {plain['wall_s']:.1f} s; with dispatch {plants['wall_s']:.1f} s: "
        f"{plants['wall_s'] - plain['wall_s']:+.1f} s (no target)"
    )
    if "designs" not in plants:
        print("    dispatch      none (see the run's warnings)")
    else:
        prices = ", ".join(f"{k} {v:.4f}" for k, v in sorted(plants["prices"].items()))
        print(
            f"    dispatch      {plants['designs']} designs dispatched (design {plants['written']} "
            f"written), {plants['days']} day types in {plants['dispatch_s']:.1f} s for the "
            f"written one; operating cost {_money(plants['cost'])} ¤/yr (gap "
            f"{optimise._pct(plants['gap'])}); heat price {prices} ¤/kWh"
        )
    print(
        f"    result        NPV plain {_money(plain['npv'])} ({plain['buildings']} buildings, "
        f"{plain['state']}); with dispatch {_money(plants['npv'])} ({plants['buildings']} "
        f"buildings, {plants['state']})"
    )
    print(f"    peak memory   {result['peak_mb']:.0f} MB; {optimise._load(result)}")


def report_hourly(result: dict[str, Any]) -> None:
    windows = result["windows"]
    times = [w["runtime_s"] for w in windows]
    gaps = [w["gap"] for w in windows if w["gap"] is not None]
    states = ", ".join(
        f"{sum(w['state'] == s for w in windows)} {s}"
        for s in dict.fromkeys(w["state"] for w in windows)
    )
    print(
        f"  (b) the same year hour by hour: {result['steps']:,} steps in windows of "
        f"{WINDOW_STEPS} (a week), each from the state the one before ended in, each to "
        f"{MIP_GAP:.0%}"
    )
    print(
        f"    total         {result['solve_s']:6.2f} s for {len(windows)} windows (check "
        f"{result['check_s']:.2f} s, imports {result['import_s']:.2f} s; no target)"
    )
    if times:
        print(
            f"    per window    mean {statistics.mean(times):.2f} s, median "
            f"{statistics.median(times):.2f} s, max {max(times):.2f} s (window "
            f"{times.index(max(times)) + 1}), min {min(times):.2f} s"
        )
    worst = f"{max(gaps):.2%}" if gaps else "-"
    stopped = [i for i, w in enumerate(windows) if w["termination"] == "maxTimeLimit"]
    print(
        f"    result        {result['state']}: windows {states}, largest window gap {worst}; "
        f"objective {_money(result['objective'])} ¤/yr (no bound: windows do not look ahead); "
        f"{result['demand_kwh'] / 1e6:,.2f} GWh demand, {_per_kwh(result)} ¤/kWh"
    )
    if stopped:
        lost = sum(windows[i]["gap"] * abs(windows[i]["objective"]) for i in stopped)
        print(
            f"    time limit    {len(stopped)} windows stopped at their share of "
            f"{result['time_limit_s']:g} s (weeks {stopped[0] + 1}-{stopped[-1] + 1}), gaps "
            f"{min(windows[i]['gap'] for i in stopped):.1%}-"
            f"{max(windows[i]['gap'] for i in stopped):.1%}: at most {_money(lost)} ¤ "
            "between them and their windows' bounds"
        )
    print(f"    peak memory   {result['peak_mb']:.0f} MB; {optimise._load(result)}")


def run_section(*, hourly: bool = True) -> list[str]:
    """Run and print the cases; returns problems (a case without a dispatch)."""
    print(
        "dispatch: heatnet dispatch-solve on 4 sites, 6 units (4 with status), 2 stores, 4 links, "
        f"gas bought at 2 sites (one fresh process per case; heatnet at {optimise._revision()})"
    )
    problems = []
    cases = ("typical", "hourly", "feedback") if hourly else ("typical", "feedback")
    reports = {"typical": report_typical, "hourly": report_hourly, "feedback": report_feedback}
    for case in cases:
        result = measure(case)
        reports[case](result)
        if result["objective"] is None:
            problems.append(f"{case}: no dispatch ({result['state']}, {result['termination']})")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-hourly", action="store_true", help="the typical days only")
    parser.add_argument(
        "--child", choices=("typical", "hourly", "feedback"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return 0
    for problem_ in run_section(hourly=not args.skip_hourly):
        print(f"WARNING: dispatch, {problem_}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
