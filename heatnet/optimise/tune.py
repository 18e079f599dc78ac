"""Change a built model between solves: correct its diversity and loss parameters."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from heatnet.optimise.build import curve_reach
from heatnet.optimise.evaluate import Design
from heatnet.optimise.prepare import ModelData


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
    curve_reach(model, data)


def reset_parameters(model: pyo.ConcreteModel, data: ModelData) -> None:
    """Put the optimistic initial diversity and losses back (the model is a relaxation again)."""
    for eid, delta in data.delta.items():
        model.delta[eid] = float(delta)
    for eid, loss in data.loss_kw.items():
        model.loss[eid] = float(loss)
    for sid, sigma in data.sigma.items():
        model.sigma[sid] = float(sigma)
    curve_reach(model, data)
