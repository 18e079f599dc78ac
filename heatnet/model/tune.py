"""Change a built model between solves: fix a design's decisions, correct its parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from heatnet.model.data import ModelData
from heatnet.model.evaluate import ON, Design

DECISIONS = ("dvin", "svin", "ain")


def fix_decisions(model: pyo.ConcreteModel, values: dict[str, pd.Series]) -> None:
    """Fix connections, supplies and pipe directions to a solution's (rounded) values."""
    for name in DECISIONS:
        var = getattr(model, name)
        series = values.get(name, pd.Series(dtype=float))
        for key, v in var.items():
            v.fix(1.0 if float(series.get(key, 0.0)) > ON else 0.0)


def unfix_decisions(model: pyo.ConcreteModel) -> None:
    """Free the decisions again."""
    for name in DECISIONS:
        for v in getattr(model, name).values():
            v.unfix()


def set_parameters(model: pyo.ConcreteModel, data: ModelData, design: Design) -> None:
    """Put a design's diversity and losses into the model for the elements it uses.

    Unused pipes and supplies keep what they had (initially the optimistic values), so the next
    MIP is not biased against elements the last design happened not to use.
    """
    e = design.edges.loc[design.edges.index.intersection(data.edges.index)]
    used = e[e["in_network"].to_numpy(dtype=bool)]
    for eid, delta, loss in zip(used.index, used["diversity"], used["loss_kw"], strict=True):
        if np.isfinite(delta):
            model.delta[eid] = float(delta)
        if np.isfinite(loss):
            model.loss[eid] = float(loss)
    s = design.supplies[design.supplies["in_network"].to_numpy(dtype=bool)]
    for sid, sigma in s["diversity"].items():
        if np.isfinite(sigma):
            model.sigma[sid] = float(sigma)


def parameter_values(model: pyo.ConcreteModel) -> dict[str, Any]:
    """The current diversity and loss parameters (for logs and tests)."""
    return {
        "delta": {k: pyo.value(v) for k, v in model.delta.items()},
        "loss": {k: pyo.value(v) for k, v in model.loss.items()},
        "sigma": {k: pyo.value(v) for k, v in model.sigma.items()},
    }
