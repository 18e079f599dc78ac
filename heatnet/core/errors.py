"""The one exception hierarchy of heatnet.

Every error a user can cause derives from :class:`HeatnetError` and carries the process exit code
the command line uses for it (DECISIONS 5), so the CLI never needs to guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from heatnet.core.issues import Issue


class HeatnetError(Exception):
    """Base class of every error heatnet raises on purpose."""

    exit_code: ClassVar[int] = 1


class InputError(HeatnetError):
    """The input cannot be used (unreadable file, refused output path, ...); exit code 3."""

    exit_code: ClassVar[int] = 3


class SchemaError(HeatnetError):
    """A schema file shipped with heatnet is broken: a bug, so exit code 1."""

    exit_code: ClassVar[int] = 1


class ValidationError(InputError):
    """The inputs break one or more rules; carries every problem found, not just the first.

    Parameters
    ----------
    issues
        All issues found, errors and warnings alike (the report shows both).
    """

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        n_errors = sum(1 for issue in self.issues if issue.is_error)
        super().__init__(f"{n_errors} error(s) in the input")


class SolverError(HeatnetError):
    """The solver failed or found no design in time; exit code 5."""

    exit_code: ClassVar[int] = 5
