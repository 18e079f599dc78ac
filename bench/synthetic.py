"""Deterministic synthetic heatnet input GeoPackages for benchmarks.

A square street grid (EPSG:27700) split into exactly ``n_paths`` segments, ``n_buildings`` small
rectangles on free plots inside the blocks, a few supplies, and every non-spatial table. The
same arguments always give the same features (fixed numpy seed); the file is cached next to a
sidecar ``.version`` file and rebuilt only when the generator or its arguments change::

    python bench/synthetic.py OUT.gpkg N_BUILDINGS N_PATHS [--seed S]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

#: Bump whenever the generated data changes, so cached files are rebuilt.
GENERATOR_VERSION = "1"
SEED = 20250101
CRS = "EPSG:27700"
X0, Y0 = 400_000.0, 300_000.0
#: Street spacing (m) and the plots in each block: a 4 x 4 lattice, 17 m apart.
BLOCK_M = 80.0
PLOT_OFFSETS = np.array([14.5, 31.5, 48.5, 65.5])
#: Building footprint ~10 x 12 m (+-0.5 m), centre jitter +-1.5 m: plots never overlap.
FOOTPRINT_M = (10.0, 12.0)
#: Every HARD_DIG_EVERY-th street is a main road (civil cost 2, hard dig).
HARD_DIG_EVERY = 10
FIXED_TIMESTAMP = "2025-01-01T00:00:00.000Z"

PIPE_DIAMETERS = [20, 25, 32, 40, 50, 65, 80, 100, 125, 150, 200, 250, 300, 400, 450, 500]


def _grid_size(n_paths: int) -> int:
    """Largest k for which k horizontal + k vertical streets give at most n_paths segments."""
    k = 2
    while 2 * (k + 1) * k <= n_paths:
        k += 1
    if 2 * k * (k - 1) > n_paths:
        raise ValueError(f"n_paths={n_paths} is too small for a street grid")
    return k


def _paths(n_paths: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Streets cut at every junction; some segments also cut mid-block to hit n_paths exactly."""
    k = _grid_size(n_paths)
    ticks = np.arange(k) * BLOCK_M
    # a segment between two neighbouring junctions, horizontal then vertical streets
    line, step = np.meshgrid(np.arange(k), np.arange(k - 1), indexing="ij")
    line, step = line.ravel(), step.ravel()
    x0 = np.concatenate([ticks[step], ticks[line]])
    y0 = np.concatenate([ticks[line], ticks[step]])
    x1 = np.concatenate([ticks[step + 1], ticks[line]])
    y1 = np.concatenate([ticks[line], ticks[step + 1]])
    street = np.concatenate([line, line])
    extra = n_paths - len(x0)
    split = np.zeros(len(x0), dtype=bool)
    split[rng.choice(len(x0), size=extra, replace=False)] = True
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    # split segments become [start, mid] and [mid, end]
    sx0 = np.concatenate([x0, mx[split]])
    sy0 = np.concatenate([y0, my[split]])
    sx1 = np.concatenate([np.where(split, mx, x1), x1[split]])
    sy1 = np.concatenate([np.where(split, my, y1), y1[split]])
    street = np.concatenate([street, street[split]])
    coords = np.stack([np.stack([sx0, sy0], axis=1), np.stack([sx1, sy1], axis=1)], axis=1)
    geometry = shapely.linestrings(coords + np.array([X0, Y0]))
    n = len(geometry)
    return gpd.GeoDataFrame(
        {
            "path_id": [f"P{i:06d}" for i in range(1, n + 1)],
            "constraint": np.full(n, "optional", dtype=object),
            "existing_diameter": np.full(n, np.nan),
            "civil_cost_id": np.where(street % HARD_DIG_EVERY == 0, 2, 1).astype("int64"),
            "extra_pv": np.full(n, np.nan),
        },
        geometry=geometry,
        crs=CRS,
    )


def _constraints(n: int, rng: np.random.Generator) -> np.ndarray:
    draw = rng.random(n)
    out = np.full(n, "optional", dtype=object)
    out[draw < 0.01] = "required"
    out[(draw >= 0.01) & (draw < 0.02)] = "forbidden"
    return out


def building_frame(geometry: np.ndarray, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Buildings layer attributes for the given footprints (draws from ``rng`` in a fixed order)."""
    n_buildings = len(geometry)
    annual = np.round(rng.lognormal(np.log(12_000.0), 0.5, n_buildings), 1)
    full_load_hours = rng.uniform(1_500.0, 2_500.0, n_buildings)
    peak = np.round(annual / full_load_hours, 3)  # always >= annual / 8760
    connections = np.where(rng.random(n_buildings) < 0.05, rng.integers(2, 9, n_buildings), 1)
    return gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:06d}" for i in range(1, n_buildings + 1)],
            "annual_demand_kwh": annual,
            "peak_demand_kw": peak,
            "connections": connections.astype("int64"),
            "constraint": _constraints(n_buildings, rng),
            "demand_group": pd.Series(pd.NA, index=range(n_buildings), dtype="string"),
            "connection_cost_id": np.ones(n_buildings, dtype="int64"),
            "tariff_id": np.ones(n_buildings, dtype="int64"),
            "extra_pv": np.full(n_buildings, np.nan),
        },
        geometry=geometry,
        crs=CRS,
    )


def _buildings(n_buildings: int, n_paths: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Rectangles on distinct plots of the blocks, with lognormal demands."""
    blocks_per_side = _grid_size(n_paths) - 1
    per_block = len(PLOT_OFFSETS) ** 2
    plots = blocks_per_side**2 * per_block
    if n_buildings > plots:
        raise ValueError(f"{n_buildings} buildings do not fit on {plots} plots")
    chosen = np.sort(rng.choice(plots, size=n_buildings, replace=False))
    block, plot = np.divmod(chosen, per_block)
    bx, by = np.divmod(block, blocks_per_side)
    px, py = np.divmod(plot, len(PLOT_OFFSETS))
    cx = X0 + bx * BLOCK_M + PLOT_OFFSETS[px] + rng.uniform(-1.5, 1.5, n_buildings)
    cy = Y0 + by * BLOCK_M + PLOT_OFFSETS[py] + rng.uniform(-1.5, 1.5, n_buildings)
    half_w = (FOOTPRINT_M[0] + rng.uniform(-0.5, 0.5, n_buildings)) / 2
    half_h = (FOOTPRINT_M[1] + rng.uniform(-0.5, 0.5, n_buildings)) / 2
    geometry = shapely.box(cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    return building_frame(geometry, rng)


def _supplies(n_paths: int) -> gpd.GeoDataFrame:
    """Three energy centres just off streets: south-west corner, centre, north-east corner."""
    span = (_grid_size(n_paths) - 1) * BLOCK_M
    spots = [(-15.0, -15.0), (span / 2 + 5.0, span / 2 + 5.0), (span + 15.0, span + 15.0)]
    n = len(spots)
    return gpd.GeoDataFrame(
        {
            "supply_id": [f"S{i}" for i in range(1, n + 1)],
            "constraint": ["optional"] * n,
            "annual_capacity_kwh": np.full(n, np.nan),
            "peak_capacity_kw": [400_000.0, 300_000.0, 200_000.0],
            "capex_fixed": [500_000.0, 400_000.0, 250_000.0],
            "capex_per_kw": [600.0, 700.0, 800.0],
            "opex_fixed": [20_000.0, 15_000.0, 10_000.0],
            "opex_per_kw": [15.0, 15.0, 20.0],
            "repex_fixed": [0.0, 0.0, 0.0],
            "repex_per_kw": [300.0, 300.0, 350.0],
            "cost_per_kwh": [0.045, 0.05, 0.06],
            "emissions_per_kwh": [0.11, 0.11, 0.2],
            "supply_cost_type": pd.Series(pd.NA, index=range(n), dtype="string"),
        },
        geometry=shapely.points([(X0 + x, Y0 + y) for x, y in spots]),
        crs=CRS,
    )


def _tables() -> dict[str, pd.DataFrame]:
    civil = pd.DataFrame(
        {
            "diameter_mm": np.array(PIPE_DIAMETERS * 2, dtype="float64"),
            "civil_cost_id": np.repeat([1, 2], len(PIPE_DIAMETERS)).astype("int64"),
            "cost_m": np.concatenate(
                [
                    [280.0 + 3.7 * d for d in PIPE_DIAMETERS],  # soft dig
                    [600.0 + 4.2 * d for d in PIPE_DIAMETERS],  # hard dig
                ]
            ),
        }
    )
    return {
        "tariffs": pd.DataFrame(
            {
                "tariff_id": np.array([1], dtype="int64"),
                "name": ["domestic"],
                "annual_charge_fixed": [120.0],
                "annual_charge_per_kwh": [0.10],
                "annual_charge_per_kw": [50.0],
                "connection_charge_fixed": [3_500.0],
                "connection_charge_per_kw": [0.0],
            }
        ),
        "connection_costs": pd.DataFrame(
            {
                "connection_cost_id": np.array([1], dtype="int64"),
                "name": ["substation"],
                "capex_fixed": [3_000.0],
                "capex_per_connection": [4_000.0],
                "capex_per_kw": [50.0],
                "repex_fixed": [0.0],
                "repex_per_connection": [4_000.0],
                "repex_per_kw": [50.0],
                "opex_fixed": [0.0],
                "opex_per_connection": [100.0],
                "opex_per_kw": [0.0],
            }
        ),
        "civil_costs": civil,
        "civil_cost_names": pd.DataFrame(
            {
                "civil_cost_id": np.array([1, 2], dtype="int64"),
                "name": ["soft dig", "hard dig"],
                "is_default": [True, False],
            }
        ),
        "supply_costs": pd.DataFrame(
            {
                "supply_cost_type": ["heat_pump", "heat_pump"],
                "type": ["plant", "electricity"],
                "cost": ["capex_per_kw", "heat_per_kwh"],
                "value": ["[[100, 900], [1000, 700]]", "[0.05, 0.051, 0.052]"],
            }
        ),
        "parameters": pd.DataFrame(
            {
                "parameter": ["finance/npv-rate", "finance/npv-term"],
                "value": ["0.03", "40"],
            }
        ),
    }


def make_layers(n_buildings: int, n_paths: int, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """Every layer and table of a synthetic input, in GeoPackage order."""
    rng = np.random.default_rng(seed)
    paths = _paths(n_paths, rng)
    buildings = _buildings(n_buildings, n_paths, rng)
    return {
        "buildings": buildings,
        "paths": paths,
        "supplies": _supplies(n_paths),
        **_tables(),
    }


def _write(path: Path, layers: dict[str, pd.DataFrame]) -> None:
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        for name, frame in layers.items():
            pyogrio.write_dataframe(frame, path, driver="GPKG", layer=name, use_arrow=True)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def ensure_gpkg(path: Path, n_buildings: int, n_paths: int, seed: int = SEED) -> bool:
    """Write the synthetic GeoPackage unless an identical one is cached; True if (re)built."""
    stamp = json.dumps(
        {
            "generator": GENERATOR_VERSION,
            "n_buildings": n_buildings,
            "n_paths": n_paths,
            "seed": seed,
        },
        sort_keys=True,
    )
    sidecar = path.with_name(path.name + ".version")
    if path.is_file() and sidecar.is_file() and sidecar.read_text(encoding="utf-8") == stamp:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    sidecar.unlink(missing_ok=True)
    partial = path.with_name(path.stem + ".partial.gpkg")
    partial.unlink(missing_ok=True)
    _write(partial, make_layers(n_buildings, n_paths, seed))
    partial.replace(path)
    sidecar.write_text(stamp, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("n_buildings", type=int)
    parser.add_argument("n_paths", type=int)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    built = ensure_gpkg(args.output, args.n_buildings, args.n_paths, args.seed)
    took = time.perf_counter() - start
    print(f"generated {args.output} in {took:.1f} s" if built else f"reused {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
