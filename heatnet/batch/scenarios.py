"""The scenarios file of ``heatnet batch``: one row per scenario, times the sweeps.

Columns: ``scenario`` (its name), ``input`` (a GeoPackage, relative to the file), optional
``tables``, and any number of parameter columns named by parameter key, overriding the input's
``parameters`` table (a blank cell keeps the input's value). ``--sweep KEY=START:STOP:STEP``
multiplies every row by a range of one parameter, STOP included (several sweeps: their product).
Every problem with the file is reported at once, with its CSV line.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatnet.core.errors import ValidationError
from heatnet.core.issues import Issue, error
from heatnet.inputs.params import normalise_key, parse_parameters, suggest_key
from heatnet.inputs.schema import load_schemas

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")
"""Scenario names become file names: letters, digits and ``. _ = + -``."""
RESERVED = frozenset({"summary", "manifest"})
"""Scenario names the batch's own files use (``summary.gpkg``, ``manifest.json``)."""
NAME_MAX = 255
"""The longest file name most file systems allow, in bytes."""
LONGEST_NAME = NAME_MAX - len(".gpkg-journal")
"""The longest scenario name (sweep suffixes included): ``<name>.gpkg`` and the ``-journal``
SQLite writes beside it when the output is opened for writing (QGIS) must be valid file names."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One run: a name, an input (and tables), and parameter overrides (key → text)."""

    name: str
    input: Path
    tables: Path | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def output_name(self) -> str:
        """The scenario's output file name in the batch folder."""
        return f"{self.name}.gpkg"


def read_scenarios(path: Path, sweeps: Sequence[str] = ()) -> list[Scenario]:
    """Read a scenarios CSV and expand its sweeps.

    Parameters
    ----------
    path
        The CSV: ``scenario``, ``input``, optional ``tables``, parameter columns.
    sweeps
        ``KEY=START:STOP:STEP`` ranges (STOP included), each multiplying every row.

    Returns
    -------
    list of Scenario
        In file order, each row's sweep values in order.

    Raises
    ------
    ValidationError
        Every problem with the file at once (unknown columns, bad names or values, missing
        inputs, duplicate names), each naming its line and column.
    """
    try:
        table = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, skip_blank_lines=False
        )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ValidationError(
            (error("unreadable_scenarios", "scenarios", f"cannot read {path}: {exc}"),)
        ) from exc
    schemas = load_schemas()
    known = set(schemas.parameters)
    columns, issues = _parameter_columns(table, known)
    ranges, found = _parse_sweeps(sweeps, known)
    issues += found
    if {"scenario", "input"} - set(table.columns):
        raise ValidationError(tuple(issues))
    scenarios: list[Scenario] = []
    first_line: dict[str, int] = {}
    rows = [{str(k): v for k, v in r.items()} for r in table.to_dict("records")]
    for number, row in enumerate(rows, start=2):  # line 1: the header; blank lines count
        if not any(str(v).strip() for v in row.values()):
            continue
        expanded, found = _row_scenarios(row, number, path.parent, columns, ranges)
        issues += found
        for scenario in expanded:
            issues += _check_overrides(scenario, schemas, number)
            if scenario.name in first_line:
                issues.append(
                    error(
                        "duplicate_id",
                        "scenarios",
                        f"scenario '{scenario.name}' is also on line {first_line[scenario.name]}",
                        column="scenario",
                        row=number,
                        feature_id=scenario.name,
                        row_kind="line",
                    )
                )
            first_line.setdefault(scenario.name, number)
        scenarios += expanded
    if not scenarios and not issues:
        issues.append(error("no_scenarios", "scenarios", f"{path} has no scenarios"))
    if issues:
        raise ValidationError(tuple(issues))
    return scenarios


def _parameter_columns(table: pd.DataFrame, known: set[str]) -> tuple[dict[str, str], list[Issue]]:
    """Parameter columns (column → key), and the columns that are not parameters or missing."""
    columns: dict[str, str] = {}
    issues: list[Issue] = []
    for column in table.columns:
        name = str(column).strip()
        if name in ("scenario", "input", "tables"):
            continue
        key = normalise_key(name)
        if key in known and key in columns.values():
            issues.append(
                error(
                    "duplicate_parameter",
                    "scenarios",
                    f"two columns set '{key}'",
                    column=name,
                )
            )
            continue
        if key in known:
            columns[str(column)] = key
            continue
        hint = suggest_key(key, known)
        issues.append(
            error(
                "unknown_parameter",
                "scenarios",
                f"column '{name}' is not a parameter key"
                + (f" (did you mean '{hint}'?)" if hint else ""),
                column=name,
            )
        )
    for required in ("scenario", "input"):
        if required not in table.columns:
            issues.append(
                error("missing_column", "scenarios", f"no '{required}' column", column=required)
            )
    return columns, issues


def _row_scenarios(
    row: Mapping[str, Any],
    line: int,
    base: Path,
    columns: Mapping[str, str],
    ranges: Sequence[tuple[str, list[str]]],
) -> tuple[list[Scenario], list[Issue]]:
    """The scenarios of one CSV row (one per sweep combination) and what is wrong with it."""
    name = str(row["scenario"]).strip()
    issues: list[Issue] = []

    def bad(code: str, column: str, message: str) -> None:
        issues.append(
            error(
                code,
                "scenarios",
                message,
                column=column,
                row=line,
                feature_id=name or None,
                row_kind="line",
            )
        )

    if name.lower() in RESERVED:
        bad(
            "bad_scenario_name",
            "scenario",
            f"scenario name '{name}' is taken by the batch's own {name.lower()} file",
        )
    elif not NAME.match(name):
        bad(
            "bad_scenario_name",
            "scenario",
            f"scenario name '{name}' must be letters, digits and . _ = + - (it names the "
            "output file)",
        )
    # an input the batch cannot see is not checked here: on a cluster only the workers may see
    # it, and a missing one fails its own scenario (exit 3), not the batch
    source = _resolve(base, row["input"])
    if source is None:
        bad("missing_input", "input", "no input given")
    tables = _resolve(base, row.get("tables", ""))
    overrides = {
        key: str(row[column]).strip() for column, key in columns.items() if str(row[column]).strip()
    }
    scenarios = []
    for combination in itertools.product(*[[(k, v) for v in vs] for k, vs in ranges]):
        swept = dict(combination)
        suffix = "".join(f"__{k.rsplit('/', 1)[-1]}={v}" for k, v in swept.items())
        scenarios.append(Scenario(name + suffix, source or Path(), tables, {**overrides, **swept}))
    longest = max((s.name for s in scenarios), key=lambda n: len(n.encode()), default=name)
    if NAME.match(name) and len(longest.encode()) > LONGEST_NAME:
        suffixed = " (with its sweep suffix)" if longest != name else ""
        bad(
            "bad_scenario_name",
            "scenario",
            f"scenario name '{longest[:40]}...'{suffixed} is {len(longest.encode())} characters "
            f"long; it names the output file, so at most {LONGEST_NAME} (file names end at "
            f"{NAME_MAX} bytes, and SQLite adds '.gpkg-journal' beside the output)",
        )
    return scenarios, issues


def _resolve(base: Path, text: object) -> Path | None:
    value = str(text).strip()
    if not value:
        return None
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _parse_sweeps(
    sweeps: Sequence[str], known: set[str]
) -> tuple[list[tuple[str, list[str]]], list[Issue]]:
    """``KEY=START:STOP:STEP`` → (key, values as text), STOP included (within 1e-9 of a step)."""
    ranges: list[tuple[str, list[str]]] = []
    issues: list[Issue] = []
    for sweep in sweeps:
        key, _, span = sweep.partition("=")
        key = normalise_key(key.strip())
        parts = span.split(":")
        problem = None
        if key not in known:
            problem = f"'{key}' is not a parameter key"
        elif len(parts) != 3:
            problem = "must be KEY=START:STOP:STEP"
        else:
            try:
                start, stop, step = (float(p) for p in parts)
            except ValueError:
                problem = "START, STOP and STEP must be numbers"
            else:
                if not (math.isfinite(start) and math.isfinite(stop) and step > 0):
                    problem = "STEP must be positive and every bound finite"
                elif stop < start:
                    problem = "STOP must not be below START"
                elif (stop - start) / step > 10_000:
                    problem = "more than 10,000 values"
        if problem:
            issues.append(error("bad_sweep", "sweep", f"--sweep {sweep}: {problem}"))
            continue
        count = math.floor((stop - start) / step + 1e-9) + 1
        values = [f"{v:.10g}" for v in start + step * np.arange(count)]
        ranges.append((key, values))
    return ranges, issues


def _check_overrides(scenario: Scenario, schemas: Any, line: int) -> list[Issue]:
    """The scenario's parameter values, checked as ``--set`` overrides would be."""
    _, found = parse_parameters(
        pd.DataFrame({"parameter": [], "value": []}), dict(scenario.overrides), schemas
    )
    return [
        error(
            i.code,
            "scenarios",
            f"scenario '{scenario.name}': {i.message}",
            row=line,
            feature_id=scenario.name,
            column=i.feature_id,
            row_kind="line",
        )
        for i in found
        if i.is_error
    ]
