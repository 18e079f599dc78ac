"""What a solve returns (:class:`SolveResult`), its status, and the solver's settings.

Kept apart from :mod:`heatnet.optimise.highs` (which re-exports them) so that the adapter holds
only the talking to HiGHS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

TERMINATION = {
    "kOptimal": "convergenceCriteriaSatisfied",
    "kInfeasible": "provenInfeasible",
    "kUnboundedOrInfeasible": "infeasibleOrUnbounded",
    "kUnbounded": "unbounded",
    "kObjectiveBound": "objectiveLimit",
    "kObjectiveTarget": "objectiveLimit",
    "kTimeLimit": "maxTimeLimit",
    "kIterationLimit": "iterationLimit",
    "kSolutionLimit": "iterationLimit",
    "kInterrupt": "interrupted",
    "kLoadError": "error",
    "kModelError": "error",
    "kPresolveError": "error",
    "kSolveError": "error",
    "kPostsolveError": "error",
}
"""HiGHS model status → the words of a :attr:`SolveResult.termination` (Pyomo's names)."""


class SolveStatus(StrEnum):
    """What a solve achieved."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no-solution"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """Solver settings (the MIP gap and time limit come from the parameters per solve).

    ``log_solver``: HiGHS' log lines go to heatnet's log (at DEBUG); never to stdout.
    """

    threads: int = 1
    seed: int = 0
    log_solver: bool = False


@dataclass(frozen=True, slots=True)
class SolveResult:
    """One solve.

    Attributes
    ----------
    status
        Mapped status; ``feasible`` means a solution within a limit (gap not proven).
    termination
        HiGHS' status in Pyomo's words (``convergenceCriteriaSatisfied``, ``maxTimeLimit``,
        ``interrupted`` after a stop request, ...).
    objective, bound
        Incumbent objective and best bound (None when unknown).
    gap
        Relative gap |bound − objective| / max(1, |objective|) (None when unknown).
    runtime_s
        Wall time of this solve.
    values
        Variable values by name (:data:`heatnet.optimise.highs.VARIABLES` in the model).
    start_accepted
        Whether HiGHS took the MIP start given (None: no start, or nothing to check).
    """

    status: SolveStatus
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    runtime_s: float
    values: dict[str, pd.Series] = field(default_factory=dict)
    start_accepted: bool | None = None

    @property
    def has_solution(self) -> bool:
        """Whether values are available."""
        return self.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
