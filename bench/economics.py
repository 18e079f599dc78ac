"""Benchmark: money coefficients for 100,000 buildings and 200,000 edges (target ≤ 2 s).

Run in a fresh process by ``bench/run.py``; prints one JSON line with the timings.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np
import pandas as pd

from heatnet.economics import build_catalogue, building_items, pv_by_class, schedule_for
from heatnet.economics.prices import pipe_line_coefficients
from heatnet.inputs.params import parse_parameters
from heatnet.inputs.schema import load_schemas

SEED = 7


def inputs(n_buildings: int, n_edges: int):
    rng = np.random.default_rng(SEED)
    buildings = pd.DataFrame({
        "building_id": [f"B{i}" for i in range(n_buildings)],
        "annual_demand_kwh": rng.lognormal(np.log(12_000.0), 0.5, n_buildings),
        "peak_demand_kw": rng.uniform(4, 70, n_buildings),
        "connections": rng.integers(1, 5, n_buildings),
        "tariff_id": rng.integers(1, 3, n_buildings),
        "connection_cost_id": rng.integers(1, 3, n_buildings),
        "extra_pv": np.where(rng.random(n_buildings) < 0.01, 1000.0, np.nan),
    })  # fmt: skip
    tariffs = pd.DataFrame({"tariff_id": [1, 2], "annual_charge_fixed": [120.0, 300.0], "annual_charge_per_kwh": [0.105, 0.095],
                            "annual_charge_per_kw": [50.0, 40.0], "connection_charge_fixed": [3500.0, 6000.0],
                            "connection_charge_per_kw": [0.0, 20.0]})  # fmt: skip
    costs = pd.DataFrame(
        {"connection_cost_id": [1, 2]}
        | {
            f"{k}_{u}": [100.0, 200.0]
            for k in ("capex", "opex", "repex")
            for u in ("fixed", "per_connection", "per_kw")
        }
    )
    diameters = [20, 25, 32, 40, 50, 65, 80, 100, 125, 150, 200, 250, 300, 400, 450, 500]
    civil = pd.DataFrame({"diameter_mm": np.tile(diameters, 2).astype(float), "civil_cost_id": np.repeat([1, 2], len(diameters)),
                          "cost_m": np.r_[np.linspace(287, 2677, 16), np.linspace(615, 4798, 16)]})  # fmt: skip
    mix = rng.random(n_edges)
    lengths = [{1: 50.0 * f, 2: 50.0 * (1 - f)} if f > 0.3 else {1: 40.0} for f in mix]
    low = rng.uniform(0, 50, n_edges)
    high = low + rng.uniform(0, 5000, n_edges)
    return buildings, tariffs, costs, civil, lengths, low, high


def main() -> int:
    n_buildings, n_edges = int(sys.argv[1]), int(sys.argv[2])
    buildings, tariffs, costs, civil, lengths, low, high = inputs(n_buildings, n_edges)
    parsed, _ = parse_parameters(None, {}, load_schemas())
    params = parsed.parameters
    start = time.perf_counter()
    schedule = schedule_for(params)
    items = building_items(buildings, tariffs, costs, params)
    pv = pv_by_class(items, schedule, "building_id")
    t_buildings = time.perf_counter() - start
    catalogue = build_catalogue(civil, params)
    coef = pipe_line_coefficients(catalogue, lengths, low, high, schedule, params)
    total = time.perf_counter() - start
    if len(pv) != n_buildings or len(coef["pipe-capex"][0]) != n_edges:
        raise SystemExit("economics benchmark produced the wrong number of coefficients")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "buildings_s": t_buildings,
                "edges_s": total - t_buildings,
                "total_s": total,
                "peak_mb": peak_mb,
                "items": len(items),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
