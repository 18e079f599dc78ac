"""Settling a design until its diameters agree with its flows; MIP starts and solver values.

A MIP's design is priced only once settled (docs/bounds.md, "The exact problem"): its
diversity from the connections downstream and its losses from the diameters its loads need go
back into the model, and the model is re-solved with the decisions fixed, until the diameters
stop changing (at most :data:`SETTLE_ROUNDS` rounds).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from heatnet.optimise.evaluate import Design, check_design, evaluate
from heatnet.optimise.highs import Solver, SolveResult
from heatnet.optimise.prepare import ModelData
from heatnet.optimise.tune import set_parameters

log = logging.getLogger(__name__)

SETTLE_ROUNDS = 10
"""Re-solves at most while a design's losses and diameters settle."""
FINAL_GRACE_S = 1.0
"""The runtime limit is hard for searching; pricing the best design found may take this long."""


def decision_values(given: dict[str, dict[Any, float]]) -> dict[str, pd.Series]:
    """Solver-like values from decisions alone (flows and supplies' outputs empty: zero)."""
    values = {name: pd.Series(dtype=float) for name in ("dvin", "svin", "ain", "fp", "fm")}
    values |= {name: pd.Series(dtype=float) for name in ("supp", "supm")}
    return values | {name: pd.Series(v, dtype=float) for name, v in given.items()}


def rejection(data: ModelData, design: Design | None, converged: bool) -> str | None:
    """Why a settled design may not be written (None: it may)."""
    if design is None:
        return "infeasible with its own diversity and losses"
    problems = check_design(data, design)
    if problems:
        return "; ".join(problems)
    if not converged:
        return f"its diameters still changed after {SETTLE_ROUNDS} rounds of correcting losses"
    return None


def start_of(data: ModelData, design: Design) -> dict[str, dict[Any, float]]:
    """A MIP start (connections, supplies, arcs) from a priced design, for prepared ``data``."""
    b, s, e = design.buildings, design.supplies, design.edges
    arcs = data.arcs
    on = e[e["in_network"].to_numpy(bool)]
    direction = {(str(i), str(t)) for i, t in zip(on.index, on["tail"], strict=True)}
    ain = {
        a: float((str(edge), str(tail)) in direction)
        for a, edge, tail in zip(arcs.index, arcs["edge"], arcs["tail"], strict=True)
    }
    return {
        "dvin": {
            v: float(x)
            for v, x in b["in_network"].astype(bool).items()
            if v in data.buildings.index
        },
        "svin": {v: float(x) for v, x in s["in_network"].astype(bool).items()},
        "ain": ain,
    }


def settle(
    data: ModelData, model: Any, solver: Solver, free: SolveResult, remaining_s: float
) -> tuple[Design | None, SolveResult | None, bool]:
    """Settle and price a free solution.

    Fix its decisions and re-solve with the values it implies until its diameters agree with
    its flows. None if it is infeasible once corrected; the flag says whether the diameters
    agreed within :data:`SETTLE_ROUNDS` rounds.
    """
    design = evaluate(data, free.values)
    settled: SolveResult | None = None
    converged = False
    solver.fix(free.values)
    model.settling = 0.0
    try:
        for _ in range(SETTLE_ROUNDS):
            set_parameters(model, data, design)
            settled = solver.solve(
                time_limit_s=max(remaining_s, FINAL_GRACE_S), mip_gap=1e-9, start=None,
                interruptible=False,
            )  # fmt: skip
            if not settled.has_solution:
                log.info("design is infeasible with its own diversity and losses")
                return None, None, False
            again = evaluate(data, settled.values)
            converged = same_sizes(design, again)
            design = again
            if converged:
                break
    finally:
        solver.unfix()
        model.settling = 1.0
    if not converged:
        log.warning(
            "a design's diameters still changed after %d rounds of correcting its losses",
            SETTLE_ROUNDS,
        )
    return design, settled, converged


def same_sizes(a: Design, b: Design) -> bool:
    """Whether two designs lay the same diameter on every edge."""
    x = a.edges["diameter_mm"].to_numpy(dtype=float)
    y = b.edges["diameter_mm"].to_numpy(dtype=float)
    return bool(np.array_equal(np.nan_to_num(x, nan=-1), np.nan_to_num(y, nan=-1)))


def start_from(result: SolveResult) -> dict[str, dict[Any, float]]:
    """A MIP start from a solve's binaries (HiGHS completes the continuous part)."""
    out: dict[str, dict[Any, float]] = {}
    for name in ("dvin", "svin", "ain", "eup", "y"):
        series = result.values.get(name)
        if series is not None:
            out[name] = {k: float(round(v)) for k, v in series.items()}
    return out
