"""What is proven about a design: bounds that hold for every design, and the gap they leave.

See docs/bounds.md. These are plain functions of prepared data and figures (no solver): the
optimiser (:mod:`heatnet.optimise.loop`) and the writer of outputs (:mod:`heatnet.outputs.results`) both use
them, so the state and gap written are computed one way.
"""

from __future__ import annotations

import logging

import numpy as np

from heatnet.economics import objective_weights
from heatnet.optimise.prepare import ModelData
from heatnet.problem.definition import SUPPLY_CLASSES

log = logging.getLogger(__name__)

OPTIMAL_GAP = 1e-4
"""``optimal`` means the written design is proven within this relative gap of the best design."""
BOUND_RTOL = 1e-6
"""A bound below a priced design by at most this (relative) is solver tolerance, not a bug."""


def relative_gap(upper: float | None, lower: float | None) -> float | None:
    """(upper − lower) / max(|lower|, 1): the proven relative distance from the best design.

    None without a bound or a design. The denominator is at least 1 (¤, or kWh) so that a
    design worth 0 has a finite gap, in ¤; for |lower| ≥ 1 it is (upper − lower)/|lower|.
    """
    if upper is None or lower is None or not np.isfinite(upper):
        return None
    return max(0.0, (upper - lower) / max(abs(lower), 1.0))


def proven_state(gap: float | None) -> str:
    """``optimal`` at a proven gap of at most :data:`OPTIMAL_GAP`, else ``feasible``."""
    return "optimal" if gap is not None and gap <= OPTIMAL_GAP else "feasible"


def honest_bound(upper: float | None, lower: float) -> float | None:
    """The bound to write beside a design worth ``lower``.

    A bound is never below a design that exists; one below it by solver tolerance is raised to
    it (logged), a larger shortfall is kept as it is (it would be a bug, and tests look for it).
    """
    if upper is None:
        return None
    if upper < lower and lower - upper <= BOUND_RTOL * max(1.0, abs(lower)):
        log.debug("bound %.12g raised to the design's %.12g (solver tolerance)", upper, lower)
        return lower
    if upper < lower:
        log.error("bound %.12g is below a priced design %.12g: please report this", upper, lower)
    return upper


def curve_slack(data: ModelData) -> float:
    """How much the model's supply cost curves may overstate exact PV (added to the bound).

    The model prices a ¤/kW curve by chords through breakpoints; exact pricing between two
    breakpoints may be dearer or cheaper. Every supply's largest shortfall, objective-weighted
    (:data:`heatnet.problem.definition.SUPPLY_COLUMNS` ``curve_slack_*``), is added, so the bound stays a
    bound of exact prices.
    """
    s = data.problem.supplies
    weights = objective_weights(data.params)
    total = 0.0
    for c in SUPPLY_CLASSES:
        column = f"curve_slack_{c}"
        if column in s:
            total += (
                float(np.nan_to_num(s[column].to_numpy(float)).clip(min=0.0).sum()) * weights[c]
            )
    return total if data.params.objective == "npv" else 0.0


def trivial_bound(data: ModelData) -> float | None:
    """A bound no design can beat, known before any MIP: everything that can pay, summed.

    NPV: every building worth connecting (its value, folded connector included, if positive)
    and every path's positive ``extra_pv``, with pipes and supplies free; valid while supplies
    only cost (no positive supply PV) and pipes only cost. kWh: every building that can be
    connected. A run stopped before the first MIP proves anything still has this bound.
    """
    b = data.buildings
    can = ~b["too_big"].to_numpy(bool)
    if data.params.objective == "kwh":
        return float(b["kwh"].to_numpy(float)[can].sum())
    s = data.supplies
    paid = [s["fixed"], s["per_kw"], s["per_kwh"]]
    if any((col.to_numpy(float) > 0).any() for col in paid) or any(
        max(curve, default=0.0) > 0 for curve in s["curve_value"]
    ):
        return None
    extra = data.problem.edges["extra_pv"].to_numpy(float)
    value = b["value"].to_numpy(float)[can]
    return float(value.clip(min=0.0).sum() + extra.clip(min=0.0).sum()) + curve_slack(data)
