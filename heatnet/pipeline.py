"""The library entry points the command line calls; the only place stages are chained."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from heatnet.issues import Issue
from heatnet.load import read_inputs
from heatnet.validate import Inputs, check_inputs

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The outcome of validating an input: every issue, and the typed inputs when usable."""

    source: Path
    issues: tuple[Issue, ...]
    inputs: Inputs | None

    @property
    def ok(self) -> bool:
        """Whether the input has no errors."""
        return self.inputs is not None

    def summary(self) -> dict[str, str]:
        """Facts about a usable input, for the report header."""
        if self.inputs is None:
            return {}
        inputs = self.inputs
        facts = {}
        for name in ("buildings", "paths", "supplies"):
            layer = getattr(inputs, name)
            forbidden = int((layer["constraint"] == "forbidden").sum())
            required = int((layer["constraint"] == "required").sum())
            facts[name] = f"{len(layer)} ({required} required, {forbidden} forbidden)"
        for name in ("tariffs", "connection_costs", "civil_costs", "supply_costs"):
            facts[name] = f"{len(getattr(inputs, name))} rows"
        facts["crs"] = inputs.input_crs.to_string()
        if not inputs.work_crs.equals(inputs.input_crs):
            facts["work crs"] = inputs.work_crs.to_string()
        changed = [k for k, v in inputs.parameter_values.source.items() if v != "default"]
        facts["parameters"] = f"{len(changed)} set, the rest default"
        return facts


def check(
    path: Path, *, tables: Path | None = None, overrides: Mapping[str, str] | None = None
) -> CheckReport:
    """Read and validate an input GeoPackage, collecting every issue.

    Parameters
    ----------
    path
        The input GeoPackage.
    tables
        Optional GeoPackage or CSV folder with the non-spatial tables.
    overrides
        ``--set KEY=VALUE`` parameter overrides.

    Returns
    -------
    CheckReport
        Issues and, when there are no errors, the typed inputs.

    Raises
    ------
    ValidationError
        Only when the file cannot be read at all (the issue says why).
    """
    raw = read_inputs(path, tables=tables)
    inputs, issues = check_inputs(raw, overrides=overrides)
    log.info("validated %s: %d issue(s)", path, len(issues))
    return CheckReport(path, issues, inputs)
