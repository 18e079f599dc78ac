"""Problems found in the inputs or along the way, as plain records.

Checks append :class:`Issue` records and carry on; only after every check has run does the caller
decide whether any error stops the run (collect-then-raise), so a user sees every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class Severity(StrEnum):
    """How bad an issue is: errors stop the run, warnings are reported and kept."""

    ERROR = "error"
    WARNING = "warning"


RowKind = Literal["fid", "line", "key"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, located as precisely as the input allows.

    Attributes
    ----------
    severity
        Error (stops the run) or warning.
    code
        Stable snake_case token (``missing_column``, ``unknown_tariff_id``, ...). Tests and
        machines match on it; the message is for people.
    table
        Input table or layer (``buildings``, ``parameters``, ...), or ``input`` for the file.
    message
        Plain-language description naming the feature and what is wrong.
    column
        Column concerned, if any.
    row
        GeoPackage feature id (``fid``), CSV line number, or ``None`` for table-level issues.
    feature_id
        The row's own id (``building_id``, ``tariff_id``, parameter key, ...) when it has one.
    row_kind
        What ``row`` counts: ``fid`` (GeoPackage), ``line`` (CSV file line) or ``key``.
    """

    severity: Severity
    code: str
    table: str
    message: str
    column: str | None = None
    row: int | None = None
    feature_id: str | None = None
    row_kind: RowKind = "fid"

    @property
    def is_error(self) -> bool:
        """Whether this issue stops the run."""
        return self.severity is Severity.ERROR

    @property
    def where(self) -> str:
        """Short human location, e.g. ``fid 12 (B-7)``."""
        parts = []
        if self.row is not None:
            parts.append(f"{self.row_kind} {self.row}")
        if self.feature_id is not None:
            parts.append(f"({self.feature_id})" if parts else str(self.feature_id))
        return " ".join(parts)


def error(code: str, table: str, message: str, **where: object) -> Issue:
    """Build an error issue; ``where`` takes the optional :class:`Issue` fields."""
    return Issue(Severity.ERROR, code, table, message, **where)  # type: ignore[arg-type]


def warning(code: str, table: str, message: str, **where: object) -> Issue:
    """Build a warning issue; ``where`` takes the optional :class:`Issue` fields."""
    return Issue(Severity.WARNING, code, table, message, **where)  # type: ignore[arg-type]


def has_errors(issues: Iterable[Issue]) -> bool:
    """Whether any issue is an error."""
    return any(issue.is_error for issue in issues)


def show(value: Any) -> str:
    """A value as a message shows it: its repr, numpy scalars as plain numbers.

    ``5.0``, not ``np.float64(5.0)`` (numpy 2 reprs name the type).
    """
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        value = item()
    return repr(value)
