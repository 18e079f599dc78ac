"""The one exception hierarchy of heatnet.

Every error a user can cause derives from :class:`HeatnetError` and carries the process exit code
the command line uses for it (:class:`heatnet.core.exits.ExitCode`), so the CLI never guesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from heatnet.core.exits import ExitCode

if TYPE_CHECKING:
    from heatnet.core.issues import Issue


class HeatnetError(Exception):
    """Base class of every error heatnet raises on purpose."""

    exit_code: ClassVar[ExitCode] = ExitCode.BUG


class InputError(HeatnetError):
    """The input cannot be used (unreadable file, refused output path, ...); exit code 3."""

    exit_code: ClassVar[ExitCode] = ExitCode.INVALID


class UsageError(InputError):
    """A call the command line refuses as it stands; exit code 2, as a bad option is.

    An output that exists without --overwrite, an output that is an input or a folder, an
    unsupported output suffix.
    """

    exit_code: ClassVar[ExitCode] = ExitCode.USAGE


class MissingExtraError(UsageError):
    """A command whose optional dependencies are not installed (``pip install 'heatnet[X]'``).

    Exit code 2: the command cannot be used as heatnet is installed; nothing was done.
    """


class SchemaError(HeatnetError):
    """A schema file shipped with heatnet is broken: a bug, so exit code 1."""

    exit_code: ClassVar[ExitCode] = ExitCode.BUG


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
