"""Progress reports from a run: which stage it is in and how the solver is doing.

The library never prints: it calls a :class:`Progress` it is given. The base class ignores
everything; the command line passes one that draws a status line on a terminal or writes plain
log lines in CI.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SolverUpdate:
    """The solver's state during one MIP of the solve loop.

    Attributes
    ----------
    iteration
        Which MIP of the loop (1, 2, ...).
    incumbent
        Objective of the best solution of this MIP so far (None: none yet).
    bound
        Best bound on the objective (None: not known yet).
    gap
        Relative gap between the two (None: not known yet).
    nodes
        Branch-and-bound nodes explored.
    improved
        True when the update reports a new incumbent.
    """

    iteration: int
    incumbent: float | None
    bound: float | None
    gap: float | None
    nodes: int
    improved: bool


class Progress:
    """Receives progress; this base class ignores it (subclass and override)."""

    def stage(self, name: str) -> None:
        """A stage starts: ``validate``, ``topology``, ``optimise`` or ``write``."""

    def time_limit(self, seconds: float) -> None:
        """The search's runtime limit, told as the ``optimise`` stage starts."""

    def solver(self, update: SolverUpdate) -> None:
        """The solver has a new incumbent, or a periodic update (at most every second)."""

    def design(self, iteration: int, objective: float, best: float) -> None:
        """A design was priced honestly: its objective and the best so far.

        ``iteration`` is the MIP that found it, 0 for the constructive seed design.
        """
