"""How long handing the network MIP to HiGHS takes, and re-sending it after the loop changes it.

Two routes, on the looped town grid of ``bench/looped.py --optimise`` (``linear`` pipes):

* ``persistent``: Pyomo's persistent HiGHS interface (``pyomo.contrib.solver``), what
  ``heatnet.optimise.highs`` used before: ``set_instance`` loads, ``update_parameters`` re-syncs;
* ``direct``: ``heatnet.optimise.highs.Solver``: the rows read through Pyomo's public
  ``generate_standard_repn`` into matrices passed to highspy, re-synced by re-evaluating only
  what uses a changed mutable parameter (and changed variable bounds).

The re-syncs are the loop's: nothing changed; a design's diversity and losses put back on a
third of the edges (``set_parameters``); ``settling`` switched (every settle); ``relaxing``
switched (the bound phase). Then reading a solution back (into Pyomo and pandas). Each figure
is one measurement in this process; prints one line per figure::

    python bench/measure_highs_load.py [N_BUILDINGS ...]      (default: 2000 10000)
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory

from heatnet import pipeline
from heatnet.optimise.build import build_model
from heatnet.optimise.highs import Solver, SolverOptions
from heatnet.optimise.prepare import ModelData, prepare
from heatnet.problem.from_network import network_problem
from heatnet.topology import build_network

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"


def grid(n_buildings: int) -> Path:
    """The optimiser benchmark's looped grid (generated once, cached by bench/looped.py)."""
    path = OUT / f"looped-optimise-{n_buildings // 1000}k.gpkg"
    OUT.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "bench" / "looped.py"), str(path), str(n_buildings)]
    subprocess.run([*command, "--optimise"], check=True, capture_output=True, cwd=ROOT)
    return path


def model_data(path: Path) -> ModelData:
    outcome = pipeline.check(path, overrides={})
    if outcome.inputs is None:
        raise SystemExit(f"{path} did not validate")
    return prepare(network_problem(outcome.inputs, build_network(outcome.inputs)))


def timed(label: str, func: Callable[[], Any]) -> Any:
    gc.collect()
    began = time.perf_counter()
    out = func()
    print(f"  {label:<44} {time.perf_counter() - began:8.3f} s", flush=True)
    return out


def design_values(model: Any, data: ModelData, factor: float) -> None:
    """What ``set_parameters`` does after pricing a design: a third of the edges changed."""
    for eid in list(data.edges.index)[: len(data.edges) // 3]:
        model.delta[eid] = float(data.delta[eid]) * factor
        model.loss[eid] = float(data.loss_kw[eid]) * factor + 0.01


def changes(model: Any, data: ModelData, resync: Callable[[], Any], prefix: str) -> None:
    timed(f"{prefix} re-sync, nothing changed", resync)
    design_values(model, data, 0.9)
    timed(f"{prefix} re-sync, a design's delta/loss (1/3 edges)", resync)
    model.settling = 0.0
    timed(f"{prefix} re-sync, settling switched", resync)
    model.settling = 1.0
    model.relaxing = 0.0
    timed(f"{prefix} re-sync, relaxing switched", resync)
    model.relaxing = 1.0
    design_values(model, data, 1.0 / 0.9)
    resync()


def persistent(data: ModelData) -> None:
    model = timed("build the Pyomo model", lambda: build_model(data, discrete=False))
    solver: Any = SolverFactory("highs")
    timed("persistent load (set_instance)", lambda: solver.set_instance(model))
    changes(model, data, solver.update_parameters, "persistent")


def direct(data: ModelData) -> None:
    model = timed("build the Pyomo model", lambda: build_model(data, discrete=False))
    solver = Solver(model, SolverOptions())
    # (private methods: the same steps Solver.solve takes before HiGHS runs)
    timed("direct load (read rows + pass to highspy)", solver._sync)
    changes(model, data, solver._sync, "direct")
    highs = solver._sync()
    highs.setOptionValue("time_limit", 5.0)
    timed("direct: 5 s MIP from nothing (for a solution)", highs.run)
    timed("direct: read a solution back (Pyomo + pandas)", lambda: solver._values(highs))


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [2000, 10000]
    for n in sizes:
        data = model_data(grid(n))
        print(
            f"{n} buildings: {len(data.buildings)} in the problem, {len(data.edges)} edges, "
            f"{len(data.arcs)} arcs",
            flush=True,
        )
        direct(data)
        persistent(data)
        m = build_model(data, discrete=False)
        rows = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True))
        cols = sum(1 for _ in m.component_data_objects(pyo.Var))
        print(f"  ({cols} variables, {rows} rows)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
