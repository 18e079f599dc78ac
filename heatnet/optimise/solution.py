"""What the optimiser returns: the solution and the history of its iterations."""

from __future__ import annotations

from dataclasses import dataclass, field

from heatnet.optimise.evaluate import Design


@dataclass(frozen=True, slots=True)
class Iteration:
    """One pass of the loop (for logs and the solution's history).

    ``relaxation`` says whether this MIP was a relaxation of exact pricing (its bound is then a
    proven bound); ``settled`` whether the design's flows, losses and diameters agreed within
    :data:`SETTLE_ROUNDS`; ``rejected`` why the design was not kept (None: it was priced).
    """

    number: int
    status: str
    mip_objective: float | None
    mip_bound: float | None
    settled_objective: float | None
    objective: float | None
    runtime_s: float
    relaxation: bool = False
    settled: bool = True
    rejected: str | None = None


@dataclass(frozen=True, slots=True)
class Solution:
    """What the optimiser found.

    Attributes
    ----------
    state
        ``optimal`` (the written design is proven within :data:`OPTIMAL_GAP` of every design,
        under exact pricing), ``feasible`` (a design, with a larger or unknown gap),
        ``infeasible`` (proven: no design meets the rules), ``no-solution`` (none found in
        time, or every one found broke a rule once priced exactly) or ``error``.
    design
        The best design, priced (None without one).
    objective
        Its objective (objective NPV with the ``objective/use-*`` switches, or delivered kWh).
    network_npv
        Its NPV over every cost class.
    mip_gap, lower_bound, upper_bound
        Lower bound: the design's objective. Upper bound: a proven bound on the objective of
        any design under exact pricing (the best bound of a MIP that is a relaxation of it,
        docs/bounds.md), None when none was proven. Gap: :func:`relative_gap` of the two.
    runtime_s, iterations
        Wall time of the whole optimisation and MIPs solved.
    pipe_model
        ``linear`` or ``discrete``.
    reasons
        ``(reason_type, message)`` when infeasible.
    history
        Every iteration.
    warnings
        ``(code, message, building_id or None)`` about elements the optimiser had to leave out
        (a building no catalogue pipe can carry), designs it rejected, an interrupted search.
    interrupted
        The search was stopped on request: the design is the best found until then.
    """

    state: str
    design: Design | None
    objective: float | None
    network_npv: float | None
    mip_gap: float | None
    lower_bound: float | None
    upper_bound: float | None
    runtime_s: float
    iterations: int
    pipe_model: str
    reasons: tuple[tuple[str, str], ...] = ()
    history: tuple[Iteration, ...] = field(default_factory=tuple)
    warnings: tuple[tuple[str, str, str | None], ...] = ()
    interrupted: bool = False
