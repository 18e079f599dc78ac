"""Economics and pipe physics: pure functions that price a design (no solver, no geometry).

The same line items feed the model's coefficients and the ``cashflow`` output, so the objective
and the written NPV cannot drift apart.
"""

from heatnet.economics.classes import CONNECTION, PATH, PIPE, SUPPLY, SWITCHED, CostClass
from heatnet.economics.diversity import (
    diversity,
    diversity_factor,
    pipe_diversity,
    undiversified_peak_kw,
)
from heatnet.economics.fit import fit_line
from heatnet.economics.money import Schedule, cashflow, present_value
from heatnet.economics.pipes import PipeCatalogue, build_catalogue
from heatnet.economics.prices import (
    building_items,
    curve_breakpoints,
    diameter_options,
    objective_weights,
    pipe_items,
    pipe_line_coefficients,
    pv_by_class,
    schedule_for,
    supply_coefficients,
    supply_items,
    switches,
)

__all__ = [
    "CONNECTION",
    "PATH",
    "PIPE",
    "SUPPLY",
    "SWITCHED",
    "CostClass",
    "PipeCatalogue",
    "Schedule",
    "build_catalogue",
    "building_items",
    "cashflow",
    "curve_breakpoints",
    "diameter_options",
    "diversity",
    "diversity_factor",
    "fit_line",
    "objective_weights",
    "pipe_diversity",
    "pipe_items",
    "pipe_line_coefficients",
    "present_value",
    "pv_by_class",
    "schedule_for",
    "supply_coefficients",
    "supply_items",
    "switches",
    "undiversified_peak_kw",
]
