"""Why a problem is infeasible: structural causes, then the rows that cannot be met together.

The model is rebuilt *elastic*: every row a user can make conflict (required elements, demand
groups, supply capacities, every ``constraint/*`` row) gets a slack, and the MIP minimises the
scaled slacks. The rows left with slack are a set that cannot be met together, named in words
("constraint/max-buildings = 1", "building B7 is required").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from heatnet.optimise.build import build_model
from heatnet.optimise.prepare import ModelData, prepare

log = logging.getLogger(__name__)

SLACK_TOL = 1e-6


def elastic_reasons(
    data: ModelData, *, solve: Callable[[Any, float], Any], time_limit_s: float
) -> list[tuple[str, str]]:
    """Rows with slack in the elastic model, as ``(reason_type, message)``.

    Parameters
    ----------
    data
        Prepared problem.
    solve
        ``callable(model, time_limit_s) -> SolveResult`` (kept injectable so this module needs
        no solver import).
    time_limit_s
        Time for the elastic solve.
    """
    # capacities become rows that can be relaxed, not bounds baked into the data
    supplies = data.problem.supplies
    open_problem = dataclasses.replace(
        data.problem,
        supplies=supplies.assign(peak_capacity_kw=np.nan, annual_capacity_kwh=np.nan),
    )
    m = build_model(prepare(open_problem), discrete=False, elastic=True, caps=supplies)
    result = solve(m, time_limit_s)
    if not result.has_solution:
        return [("unexplained", f"the elastic model could not be solved ({result.termination})")]
    reasons: list[tuple[str, str]] = []
    for name, (slack, _, what) in m.soft.rows.items():
        value = slack.value or 0.0
        if value > SLACK_TOL * max(1.0, abs(value)):
            kind = name.split("[", 1)[0].removesuffix("__up")
            reasons.append((kind, f"{what} cannot be met with the rest (short by {value:.6g})"))
    if not reasons:
        reasons.append(
            (
                "unexplained",
                "no constraint row explains it: a pipe or supply may be too small for the "
                "demand it must carry (largest catalogue pipe, supply peak below a building's)",
            )
        )
    return sorted(set(reasons))
