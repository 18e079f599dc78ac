"""Render validation results for people (grouped text) and machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from itertools import groupby
from typing import Any

from heatnet.core.issues import Issue
from heatnet.inputs.load import LAYERS, TABLES

_TABLE_ORDER = ("input", *LAYERS, *TABLES)


def _order(issue: Issue) -> tuple[int, str, int, int]:
    table = _TABLE_ORDER.index(issue.table) if issue.table in _TABLE_ORDER else len(_TABLE_ORDER)
    return (
        table,
        issue.table,
        0 if issue.is_error else 1,
        issue.row if issue.row is not None else -1,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_text(
    source: str, issues: Sequence[Issue], summary: Mapping[str, str], *, limit: int = 50
) -> str:
    """A readable report: one block per table, errors first, at most ``limit`` lines a table.

    Parameters
    ----------
    source
        The input file, for the header.
    issues
        Every issue found.
    summary
        Facts to print when the input is usable (feature counts, CRS, sources), in order.
    limit
        Lines shown per table before "... and N more".

    Returns
    -------
    str
        The report, ending in a newline.
    """
    errors = sum(issue.is_error for issue in issues)
    warnings = len(issues) - errors
    verdict = "INVALID" if errors else "valid"
    lines = [f"{source}: {verdict} ({_plural(errors, 'error')}, {_plural(warnings, 'warning')})"]
    for key, value in summary.items():
        lines.append(f"  {key:<18} {value}")
    for table, group in groupby(sorted(issues, key=_order), key=lambda i: i.table):
        found = list(group)
        n_err = sum(i.is_error for i in found)
        lines.append("")
        lines.append(
            f"{table}: {_plural(n_err, 'error')}, {_plural(len(found) - n_err, 'warning')}"
        )
        width = max(len(i.where) for i in found[:limit])
        for issue in found[:limit]:
            level = "ERROR  " if issue.is_error else "warning"
            column = f"[{issue.column}] " if issue.column else ""
            lines.append(f"  {level} {issue.where:<{width}}  {issue.code}: {column}{issue.message}")
        if len(found) > limit:
            lines.append(f"  ... and {len(found) - limit} more (--format json lists them all)")
    return "\n".join(lines) + "\n"


def render_json(source: str, issues: Sequence[Issue], summary: Mapping[str, Any]) -> str:
    """Every issue as JSON: ``{"input", "valid", "errors", "warnings", "summary", "issues"}``."""
    errors = sum(issue.is_error for issue in issues)
    payload = {
        "input": source,
        "valid": errors == 0,
        "errors": errors,
        "warnings": len(issues) - errors,
        "summary": dict(summary),
        "issues": [{**asdict(i), "severity": str(i.severity)} for i in sorted(issues, key=_order)],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n"
