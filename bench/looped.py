"""Deterministic synthetic *looped* street grids for the topology and optimiser benchmarks.

Unlike ``bench/synthetic.py`` (streets already cut at every junction), the streets here are long
lines that cross many others, so ``build_network`` has real noding to do:

* a square grid of ``k + 1`` horizontal and ``k + 1`` vertical streets, ``BLOCK_M`` apart, so
  every one of the ``k x k`` blocks is a closed loop;
* every ``MAIN_EVERY``-th street is a main road drawn as one line across the whole grid (it
  crosses all ``k + 1`` streets of the other direction; civil cost 2, hard dig); the others are
  broken mid-block into runs of several blocks (on average ``1 / BREAK_P``), with one vertex in
  the middle of every block they run along (as digitised streets have);
* at ``GAP_P`` of those breaks the next run starts ``GAP_M`` short of the previous one's end, a
  near miss that snapping (``heatnet/snap-tolerance``, 0.1 m by default) has to close;
* buildings are small rectangles (7-10 m a side) on a 4 x 4 lattice of plots per block, set back
  5-12 m (outer plots) or 23-30 m (inner plots) from the street, so they never touch a street and
  each needs a connector; about ``FILL`` of the plots are used;
* a few supplies sit in the middle of blocks, 50 m from the nearest street.

``--optimise`` gives the optimiser benchmark's variant of the same grid: 2 supplies, a quarter
of the way in from opposite corners, with cheaper heat so that connecting some but not all
buildings pays (see ``OPTIMISE_HEAT_COST_PER_KWH``).

The same arguments always give the same file (fixed numpy seed); the file is cached next to a
sidecar ``.version`` file and rebuilt only when the generator or its arguments change::

    python bench/looped.py OUT.gpkg N_BUILDINGS [--seed S] [--optimise]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from synthetic import CRS, X0, Y0, _tables, _write, building_frame

#: Bump whenever the generated data changes, so cached files are rebuilt.
GENERATOR_VERSION = "looped-1"
SEED = 20250202
BLOCK_M = 100.0
MAIN_EVERY = 5
BREAK_P = 0.15
GAP_P = 0.2
GAP_M = 0.05
PLOTS_PER_SIDE = 4
FILL = 0.8
#: Building footprint side range (m).
SIDE_M = (7.0, 10.0)
#: Setback from the street of the outer and inner plots of a block (m): outer plots occupy
#: [5, 22] m from their street, inner ones [23, 40] m, so plots never overlap.
SETBACK_OUTER_M = (5.0, 12.0)
SETBACK_INNER_M = (23.0, 30.0)
N_SUPPLIES = 4
#: The optimiser benchmark's variant (``--optimise``): 2 supplies selling heat at 0.03 ¤/kWh
#: instead of 0.05. With the shared tables (tariff 0.10 ¤/kWh + 50 ¤/kW + 120 ¤/yr, substation
#: 7,000 ¤ + renewals, soft dig 280 + 3.7 ¤/mm per m) a building is worth ~12,000 ¤ (PV, its
#: connector and its heat included; median 10,000, 10 % of them below zero) against ~11,400 ¤
#: of street per building if every street is dug, and each supply costs ~1 M¤ fixed: the
#: optimum connects dense, high-demand streets near the supplies and leaves the rest (at 0.05
#: ¤/kWh a building is worth ~5,000 ¤ and the best design is about break-even).
OPTIMISE_SUPPLIES = 2
OPTIMISE_HEAT_COST_PER_KWH = 0.03


def blocks_per_side(n_buildings: int) -> int:
    """Blocks per side so that ``n_buildings`` fill about ``FILL`` of the plots."""
    per_block = PLOTS_PER_SIDE**2
    return max(2, math.ceil(math.sqrt(n_buildings / (per_block * FILL))))


def _street_runs(k: int, rng: np.random.Generator) -> list[tuple[int, int, float, float, bool]]:
    """(direction, street, start m, end m, main road) of every street line, along the street.

    Direction 0 runs along x (a horizontal street at y = street * BLOCK_M), 1 along y.
    """
    span = k * BLOCK_M
    runs = []
    for direction in (0, 1):
        for street in range(k + 1):
            main = street % MAIN_EVERY == 0
            if main:
                runs.append((direction, street, 0.0, span, True))
                continue
            breaks = np.flatnonzero(rng.random(k) < BREAK_P)
            gaps = rng.random(len(breaks)) < GAP_P
            start = 0.0
            for block, gap in zip(breaks, gaps, strict=True):
                at = (block + 0.5) * BLOCK_M
                runs.append((direction, street, start, at, False))
                start = at + (GAP_M if gap else 0.0)
            runs.append((direction, street, start, span, False))
    return runs


def _paths(k: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    runs = _street_runs(k, rng)
    mids = (np.arange(k) + 0.5) * BLOCK_M
    geometry = []
    for direction, street, start, end, _ in runs:
        along = np.r_[start, mids[(mids > start) & (mids < end)], end]
        across = np.full(len(along), street * BLOCK_M)
        xy = np.stack([along, across] if direction == 0 else [across, along], axis=1)
        geometry.append(shapely.linestrings(xy + np.array([X0, Y0])))
    main = np.array([run[4] for run in runs])
    n = len(runs)
    return gpd.GeoDataFrame(
        {
            "path_id": [f"P{i:06d}" for i in range(1, n + 1)],
            "constraint": np.full(n, "optional", dtype=object),
            "existing_diameter": np.full(n, np.nan),
            "civil_cost_id": np.where(main, 2, 1).astype("int64"),
            "extra_pv": np.full(n, np.nan),
        },
        geometry=np.array(geometry, dtype=object),
        crs=CRS,
    )


def _extent(
    plot: np.ndarray, block: np.ndarray, side: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Low and high edge, along one axis, of footprints on lattice column/row ``plot``."""
    n = len(plot)
    outer = (plot == 0) | (plot == PLOTS_PER_SIDE - 1)
    setback = np.where(outer, rng.uniform(*SETBACK_OUTER_M, n), rng.uniform(*SETBACK_INNER_M, n))
    near_low = plot < PLOTS_PER_SIDE // 2
    low_street, high_street = block * BLOCK_M, (block + 1) * BLOCK_M
    low = np.where(near_low, low_street + setback, high_street - setback - side)
    return low, low + side


def _buildings(n_buildings: int, k: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    per_block = PLOTS_PER_SIDE**2
    chosen = np.sort(rng.choice(k * k * per_block, size=n_buildings, replace=False))
    block, plot = np.divmod(chosen, per_block)
    bx, by = np.divmod(block, k)
    px, py = np.divmod(plot, PLOTS_PER_SIDE)
    x0, x1 = _extent(px, bx, rng.uniform(*SIDE_M, n_buildings), rng)
    y0, y1 = _extent(py, by, rng.uniform(*SIDE_M, n_buildings), rng)
    geometry = shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)
    return building_frame(geometry, rng)


def _supply_blocks(k: int, n_supplies: int) -> list[tuple[int, int]]:
    """Blocks holding the supplies: two sit a quarter of the way in from opposite corners (each
    has its own half of the grid to serve); otherwise corner, centre, corner, off-centre."""
    if n_supplies == 2:
        return [(k // 4, k // 4), (3 * k // 4, 3 * k // 4)]
    blocks = [(0, 0), (k // 2, k // 2), (k - 1, k - 1), (k // 4, 3 * k // 4)]
    if not 1 <= n_supplies <= len(blocks):
        raise ValueError(f"{n_supplies} supplies: 1 to {len(blocks)} are placed")
    return blocks[:n_supplies]


def _supplies(
    k: int, total_peak_kw: float, n_supplies: int = N_SUPPLIES, heat_cost: float = 0.05
) -> gpd.GeoDataFrame:
    """Supplies in the middle of blocks (no plot there), sharing 1.5x the total peak demand."""
    blocks = _supply_blocks(k, n_supplies)
    n = len(blocks)
    capacity = np.full(n, round(1.5 * total_peak_kw / n, -3))
    return gpd.GeoDataFrame(
        {
            "supply_id": [f"S{i}" for i in range(1, n + 1)],
            "constraint": ["optional"] * n,
            "annual_capacity_kwh": np.full(n, np.nan),
            "peak_capacity_kw": capacity,
            "capex_fixed": np.full(n, 500_000.0),
            "capex_per_kw": np.full(n, 600.0),
            "opex_fixed": np.full(n, 20_000.0),
            "opex_per_kw": np.full(n, 15.0),
            "repex_fixed": np.zeros(n),
            "repex_per_kw": np.full(n, 300.0),
            "cost_per_kwh": np.full(n, heat_cost),
            "emissions_per_kwh": np.full(n, 0.11),
            "supply_cost_type": pd.Series(pd.NA, index=range(n), dtype="string"),
        },
        geometry=shapely.points(
            [(X0 + (bx + 0.5) * BLOCK_M, Y0 + (by + 0.5) * BLOCK_M) for bx, by in blocks]
        ),
        crs=CRS,
    )


def make_layers(
    n_buildings: int, seed: int = SEED, *, optimise: bool = False
) -> dict[str, pd.DataFrame]:
    """Every layer and table of a looped-grid input, in GeoPackage order.

    ``optimise``: the optimiser benchmark's variant (same streets and buildings, see
    ``_optimise_economics``).
    """
    rng = np.random.default_rng(seed)
    k = blocks_per_side(n_buildings)
    paths = _paths(k, rng)
    buildings = _buildings(n_buildings, k, rng)
    peak = float(buildings["peak_demand_kw"].sum())
    if not optimise:
        return {"buildings": buildings, "paths": paths, "supplies": _supplies(k, peak), **_tables()}
    supplies = _supplies(k, peak, OPTIMISE_SUPPLIES, OPTIMISE_HEAT_COST_PER_KWH)
    return {"buildings": buildings, "paths": paths, "supplies": supplies, **_tables()}


def ensure_gpkg(path: Path, n_buildings: int, seed: int = SEED, *, optimise: bool = False) -> bool:
    """Write the GeoPackage unless an identical one is cached; True if (re)built."""
    key: dict[str, object] = {"generator": GENERATOR_VERSION, "n_buildings": n_buildings}
    if optimise:  # (only then, so the topology benchmark's cached files stay valid)
        key["optimise"] = [OPTIMISE_SUPPLIES, OPTIMISE_HEAT_COST_PER_KWH]
    stamp = json.dumps(key | {"seed": seed}, sort_keys=True)
    sidecar = path.with_name(path.name + ".version")
    if path.is_file() and sidecar.is_file() and sidecar.read_text(encoding="utf-8") == stamp:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    sidecar.unlink(missing_ok=True)
    partial = path.with_name(path.stem + ".partial.gpkg")
    partial.unlink(missing_ok=True)
    _write(partial, make_layers(n_buildings, seed, optimise=optimise))
    partial.replace(path)
    sidecar.write_text(stamp, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("n_buildings", type=int)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--optimise", action="store_true", help="the optimiser benchmark's variant (2 supplies)"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    built = ensure_gpkg(args.output, args.n_buildings, args.seed, optimise=args.optimise)
    took = time.perf_counter() - start
    print(f"generated {args.output} in {took:.1f} s" if built else f"reused {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
