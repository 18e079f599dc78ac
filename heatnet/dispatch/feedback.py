"""The dispatch stage of ``heatnet run``: dispatch the design, price its heat, design again.

The design MIP prices a supply's heat at a flat ¤/kWh. With plant units the heat of a design
costs what its dispatch costs, which depends on the design (how much each site serves, the
links between sites). :func:`dispatch_loop`:

1. dispatches the design (:func:`heatnet.dispatch.from_design.dispatch_design`) and reprices
   it with each dispatched supply's *effective* ¤/kWh (its dispatch cost over its annual
   output) in place of the flat one: its NPV with its own operating cost;
2. while ``dispatch/iterations`` allows and the prices moved by more than
   :data:`PRICE_RTOL`, optimises again with those prices, and dispatches that design;
3. keeps the design whose NPV with its own dispatch is best.

The written cashflow therefore sums to ``network_npv`` with the dispatch cost in it. The
proven bound of a MIP holds for the prices it was solved with; a design written with other
prices (its own dispatch's) has no proven bound, so its gap is reported unknown (docs/bounds.md
is about the flat-price problem). docs/decisions.md §6.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from heatnet.core.issues import Issue, warning
from heatnet.core.progress import Progress
from heatnet.dispatch.from_design import DesignDispatch, dispatch_design, heat_priced
from heatnet.dispatch.tables import dispatch_tables, supply_columns
from heatnet.economics.prices import objective_weights
from heatnet.inputs.validate import Inputs
from heatnet.optimise.evaluate import Design
from heatnet.optimise.highs import SolverOptions
from heatnet.optimise.loop import optimise
from heatnet.optimise.solution import Solution
from heatnet.problem.definition import SUPPLY_CLASSES, Problem
from heatnet.problem.from_network import network_problem
from heatnet.topology import Network

log = logging.getLogger(__name__)

PRICE_RTOL = 0.01
"""Design again only while some site's effective ¤/kWh moved by more than this (relative)."""


@dataclass(frozen=True, slots=True)
class Dispatched:
    """The design to write with its dispatch, and the inputs and problem that price it."""

    inputs: Inputs
    problem: Problem
    solution: Solution
    dispatch: DesignDispatch | None
    rounds: int
    issues: tuple[Issue, ...] = ()
    designs: int = 1

    def headline(self) -> str:
        """One closing line: the year's operating cost and how sure it is."""
        d = self.dispatch
        if d is None or d.objective is None:
            return "no dispatch (the flat ¤/kWh of the supplies stands): see warnings"
        gap = "-" if d.gap is None else f"{d.gap:.2%}"
        span = (
            f"a year of {len(d.calendar)} days in week windows"
            if d.calendar
            else f"{len(d.days)} day types"
        )
        return (
            f"{d.objective:,.0f} ¤/yr operating cost ({d.state}, gap {gap}), "
            f"{span}, design {self.rounds} of {self.designs} dispatched"
        )


def dispatch_loop(
    inputs: Inputs,
    network: Network,
    problem: Problem,
    solution: Solution,
    options: SolverOptions | None,
    progress: Progress | None = None,
) -> Dispatched:
    """Dispatch, reprice and redesign (module docstring); the best design with its dispatch."""
    params = inputs.parameters
    rounds = params.dispatch_iterations
    threads = options.threads if options is not None else 1
    best: Dispatched | None = None
    issues: list[Issue] = []
    previous: dict[str, float] = {}
    current_problem, current = problem, solution
    for number in range(rounds + 1):
        design = current.design
        assert design is not None
        dispatch = dispatch_design(inputs, current_problem, design, threads=threads)
        if dispatch is None or dispatch.objective is None:
            why = (
                "no built supply has plant units"
                if dispatch is None
                else "; ".join(dispatch.reasons)
            )
            issues.append(
                warning("no_dispatch", "plant_units", f"design {number + 1} not dispatched: {why}")
            )
            if best is None:
                best = Dispatched(inputs, current_problem, current, dispatch, number + 1)
            break
        prices = dispatch.prices
        priced_inputs = heat_priced(inputs, prices)
        priced_problem = network_problem(priced_inputs, network, name=problem.name)
        written = _repriced(
            current, current_problem, priced_problem, design, same=prices == previous
        )
        log.info(
            "design %d with its own dispatch: objective %.6g (designed at %.6g), prices %s",
            number + 1, written.objective or math.nan, current.objective or math.nan,
            ", ".join(f"{k} {v:.4g} ¤/kWh" for k, v in sorted(prices.items())),
        )  # fmt: skip
        candidate = Dispatched(priced_inputs, priced_problem, written, dispatch, number + 1)
        if best is None or _better(candidate, best):
            best = candidate
        moved = _moved(previous, prices)
        if number == rounds or moved <= PRICE_RTOL:
            break
        previous = prices
        if progress is not None:
            progress.stage("optimise")
        redesigned = optimise(priced_problem, options, progress=progress)
        if progress is not None:
            progress.stage("dispatch")
        if redesigned.design is None:
            break
        current_problem, current = priced_problem, redesigned
    assert best is not None
    return replace(best, issues=tuple(issues), designs=number + 1)


def _better(a: Dispatched, b: Dispatched) -> bool:
    if b.solution.objective is None:
        return a.solution.objective is not None
    return a.solution.objective is not None and a.solution.objective > b.solution.objective


def _moved(before: dict[str, float], after: dict[str, float]) -> float:
    """The largest relative change of a site's price (inf for a site not priced before)."""
    if not before:
        return math.inf
    worst = 0.0
    for site, price in after.items():
        old = before.get(site)
        if old is None:
            return math.inf
        worst = max(worst, abs(price - old) / max(abs(old), 1e-9))
    return worst


def _repriced(
    solution: Solution, designed: Problem, priced: Problem, design: Design, *, same: bool
) -> Solution:
    """The solution with its design's objective and NPV at the new heat prices.

    Only the supplies' per-kWh coefficients differ between the two problems, so the design's
    figures move by (new − old coefficient) × its annual output at each supply. The bound
    holds only when the prices are those the MIP was solved with (``same``).
    """
    kwh = design.supplies["load_kwh"].where(design.supplies["in_network"], 0.0).fillna(0.0)
    weights = objective_weights(priced.parameters)
    objective_shift = npv_shift = 0.0
    for c in SUPPLY_CLASSES:
        column = f"per_kwh_{c}"
        delta = priced.supplies[column] - designed.supplies[column]
        moved = float((delta * kwh.reindex(delta.index, fill_value=0.0)).sum())
        npv_shift += moved
        objective_shift += weights[c] * moved  # as optimise.prepare weighs the classes
    objective = None if solution.objective is None else solution.objective + objective_shift
    npv = None if solution.network_npv is None else solution.network_npv + npv_shift
    if same:
        return replace(solution, objective=objective, network_npv=npv, lower_bound=objective)
    state = solution.state if solution.state != "optimal" else "feasible"
    return replace(
        solution, state=state, objective=objective, network_npv=npv, lower_bound=objective,
        upper_bound=None, mip_gap=None,
    )  # fmt: skip


def with_dispatch(layers: dict[str, Any], dispatch: DesignDispatch) -> dict[str, Any]:
    """The run's output layers plus the dispatch tables and the supplies' dispatch columns."""
    out = dict(layers)
    supplies = out["supplies"].copy()
    for column, values in supply_columns(dispatch, supplies["supply_id"]).items():
        supplies[column] = values
    out["supplies"] = supplies
    tables = dispatch_tables(dispatch)
    ordered: dict[str, pd.DataFrame] = {}
    for name, frame in out.items():
        ordered[name] = frame
        if name == "cashflow":
            ordered.update(tables)
    if "dispatch" not in ordered:
        ordered.update(tables)
    return ordered
