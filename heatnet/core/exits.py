"""The one exit-code table of the command line, and the outcome → exit-code function.

``heatnet run``, ``solve`` and ``batch`` (and the scenarios a batch records) all take their codes
from here; errors carry theirs (:mod:`heatnet.core.errors`). See docs/decisions.md §5.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes."""

    OK = 0
    """A design was written (or, for ``validate``, the input is valid)."""
    BUG = 1
    """An internal error: a bug in heatnet (or a lost batch cluster)."""
    USAGE = 2
    """The command line itself was wrong (click's usage errors)."""
    INVALID = 3
    """The input cannot be used: nothing was written."""
    INFEASIBLE = 4
    """Proven infeasible: the reasons were written."""
    NO_DESIGN = 5
    """The solver failed or found no design in time."""
    INTERRUPTED = 130
    """Interrupted before any design, or twice (nothing written)."""

    @property
    def status(self) -> str:
        """The word a batch records for a scenario that ended with this code."""
        return _STATUS[self]


_STATUS = {
    ExitCode.OK: "design",
    ExitCode.BUG: "error",
    ExitCode.USAGE: "usage-error",
    ExitCode.INVALID: "invalid-input",
    ExitCode.INFEASIBLE: "infeasible",
    ExitCode.NO_DESIGN: "no-design",
    ExitCode.INTERRUPTED: "interrupted",
}

SEVERITY = (ExitCode.OK, ExitCode.INFEASIBLE, ExitCode.NO_DESIGN, ExitCode.INVALID, ExitCode.BUG)
"""Scenario outcomes from best to worst: a batch exits with its worst scenario's code."""


def outcome_code(state: str, *, has_design: bool) -> ExitCode:
    """The exit code of a finished search.

    Parameters
    ----------
    state
        The solution's state (``optimal``, ``feasible``, ``infeasible``, ``no-solution``, ...).
    has_design
        Whether a design was found (and written).

    Returns
    -------
    ExitCode
        ``OK`` with a design (whatever its state), ``INFEASIBLE`` when infeasibility was
        proven, else ``NO_DESIGN``.
    """
    if has_design:
        return ExitCode.OK
    return ExitCode.INFEASIBLE if state == "infeasible" else ExitCode.NO_DESIGN
