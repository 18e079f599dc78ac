"""The library entry points the command line calls; the only place stages are chained."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from heatnet.core.atomic import check_output
from heatnet.core.errors import ValidationError
from heatnet.core.exits import ExitCode, outcome_code
from heatnet.core.issues import Issue
from heatnet.core.progress import Progress
from heatnet.dispatch.feedback import Dispatched, dispatch_loop, with_dispatch
from heatnet.dispatch.from_design import has_plants
from heatnet.inputs.load import read_inputs
from heatnet.inputs.mapping import read_mapping
from heatnet.inputs.params import override_parameters
from heatnet.inputs.schema import load_schemas
from heatnet.inputs.validate import Inputs, check_inputs
from heatnet.optimise.highs import SolverOptions
from heatnet.optimise.loop import optimise
from heatnet.optimise.solution import Solution
from heatnet.outputs.gpkg import write_layers
from heatnet.outputs.network_layers import topology_layers
from heatnet.outputs.results import RunInfo, results, solution_issues
from heatnet.outputs.solution_json import write_solution
from heatnet.problem.definition import Problem
from heatnet.problem.from_network import network_problem
from heatnet.problem.json_form import read_problem, write_problem
from heatnet.topology import Network, build_network

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """The outcome of validating an input: every issue, and the typed inputs when usable."""

    source: Path
    issues: tuple[Issue, ...]
    inputs: Inputs | None

    @property
    def ok(self) -> bool:
        """Whether the input has no errors."""
        return self.inputs is not None

    def facts(self) -> dict[str, Any]:
        """Facts about a usable input, as numbers and lists (``validate --format json``).

        Per layer its ``rows`` and how many are ``required`` and ``forbidden``; per table its
        ``rows``; the input's ``crs`` (and ``work_crs`` when geometry work needs another);
        ``parameters``: the keys ``set`` (in the table with a value, or by ``--set``) and how
        many are left at their ``default``.
        """
        if self.inputs is None:
            return {}
        inputs = self.inputs
        facts: dict[str, Any] = {}
        for name in ("buildings", "paths", "supplies"):
            layer = getattr(inputs, name)
            facts[name] = {
                "rows": len(layer),
                "required": int((layer["constraint"] == "required").sum()),
                "forbidden": int((layer["constraint"] == "forbidden").sum()),
            }
        for name in ("tariffs", "connection_costs", "civil_costs", "supply_costs"):
            facts[name] = {"rows": len(getattr(inputs, name))}
        facts["crs"] = inputs.input_crs.to_string()
        if not inputs.work_crs.equals(inputs.input_crs):
            facts["work_crs"] = inputs.work_crs.to_string()
        source = inputs.parameter_values.source
        changed = sorted(k for k, v in source.items() if v != "default")
        facts["parameters"] = {"set": changed, "default": len(source) - len(changed)}
        return facts

    def summary(self) -> dict[str, str]:
        """:meth:`facts` in words, for the report header."""
        out: dict[str, str] = {}
        for key, value in self.facts().items():
            if key == "parameters":
                out[key] = f"{len(value['set'])} set, the rest default"
            elif isinstance(value, dict) and "required" in value:
                out[key] = (
                    f"{value['rows']} ({value['required']} required, {value['forbidden']} forbidden)"
                )
            elif isinstance(value, dict):
                out[key] = f"{value['rows']} rows"
            else:
                out[key.replace("_", " ")] = str(value)
        return out


def check(
    path: Path,
    *,
    tables: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    mapping: Path | None = None,
) -> CheckOutcome:
    """Read and validate an input GeoPackage, collecting every issue.

    Parameters
    ----------
    path
        The input GeoPackage.
    tables
        Optional GeoPackage or CSV folder with the non-spatial tables.
    overrides
        ``--set KEY=VALUE`` parameter overrides.
    mapping
        A mapping file (``--map``, :mod:`heatnet.inputs.mapping`): where each layer and table
        is and how its columns are named.

    Returns
    -------
    CheckOutcome
        Issues and, when there are no errors, the typed inputs.

    Raises
    ------
    ValidationError
        Only when the file (or the mapping) cannot be read at all (the issue says why).
    """
    layout = None if mapping is None else read_mapping(mapping)
    raw = read_inputs(path, tables=tables, mapping=layout)
    inputs, issues = check_inputs(raw, overrides=overrides)
    log.info("validated %s: %d issue(s)", path, len(issues))
    return CheckOutcome(path, issues, inputs)


@dataclass(frozen=True, slots=True)
class TopologyOutcome:
    """The network built from an input, and where it was written."""

    output: Path
    network: Network
    warnings: tuple[Issue, ...]

    def summary(self) -> dict[str, str]:
        """Counts a person checks first, for the command's closing lines."""
        paths, net = self.network.paths, self.network
        pieces = paths[~paths["connector"] & (paths["constraint"] != "forbidden")]
        return {
            "path pieces": f"{len(pieces)} ({int(pieces['unreachable'].sum())} unreachable, {int(pieces['peripheral'].sum())} peripheral)",
            "connectors": str(int(paths["connector"].sum())),
            "junctions": str(len(net.junctions)),
            "unreachable": f"{int(net.buildings['unreachable'].sum())} buildings, {int(net.supplies['unreachable'].sum())} supplies",
            "model graph": f"{len(net.model.edges)} edges, {net.model.graph.number_of_nodes()} vertices",
            "output": str(self.output),
        }


def topology(
    path: Path,
    output: Path,
    *,
    tables: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    overwrite: bool = False,
    mapping: Path | None = None,
) -> TopologyOutcome:
    """Validate an input, build its network and write it for inspection in QGIS.

    Parameters
    ----------
    path
        The input GeoPackage.
    output
        Where to write ``buildings``, ``paths`` (pieces and connectors) and ``supplies``.
    tables
        Optional GeoPackage or CSV folder with the non-spatial tables.
    overrides
        ``--set KEY=VALUE`` parameter overrides.
    overwrite
        Replace an existing output.

    Returns
    -------
    TopologyOutcome
        The network, the output path and every warning (input and topology).

    Raises
    ------
    ValidationError
        When the input has errors (nothing is written).
    """
    report, inputs, network = _network(path, tables, overrides, mapping)
    protect = _inputs_of(path, tables, mapping)
    write_layers(
        output, dict(topology_layers(inputs, network)), overwrite=overwrite, protect=protect,
        styles=True, topology=True,
    )  # fmt: skip
    return TopologyOutcome(output, network, report.issues + network.issues)


def _inputs_of(path: Path, tables: Path | None, mapping: Path | None) -> tuple[Path, ...]:
    """Every file a run reads (no output may be one): input, --tables, --map, mapped files."""
    files = [path, *(p for p in (tables, mapping) if p is not None)]
    if mapping is not None:
        files += [t.file for t in read_mapping(mapping).tables.values() if t.file is not None]
    return tuple(files)


def _network(
    path: Path,
    tables: Path | None,
    overrides: Mapping[str, str] | None,
    mapping: Path | None = None,
) -> tuple[CheckOutcome, Inputs, Network]:
    """Validated inputs and their network; ValidationError when the input has errors."""
    report = check(path, tables=tables, overrides=overrides, mapping=mapping)
    if report.inputs is None:
        raise ValidationError(report.issues)
    return report, report.inputs, build_network(report.inputs)


def problem(
    path: Path,
    output: Path,
    *,
    tables: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    overwrite: bool = False,
    mapping: Path | None = None,
) -> Problem:
    """Validate an input, build its network and write the optimiser's problem as JSON.

    Raises
    ------
    ValidationError
        When the input has errors (nothing is written).
    """
    _, inputs, network = _network(path, tables, overrides, mapping)
    built = network_problem(inputs, network, name=path.stem)
    write_problem(built, output, overwrite=overwrite)
    return built


@dataclass(frozen=True, slots=True)
class SolveOutcome:
    """A solved problem and where the solution went."""

    output: Path
    problem: Problem
    solution: Solution

    @property
    def exit_code(self) -> ExitCode:
        """The command's exit code: 0 with a design, 4 proven infeasible, else 5."""
        return outcome_code(self.solution.state, has_design=self.solution.design is not None)

    def summary(self) -> dict[str, str]:
        """Headline figures for the command's closing lines."""
        s = self.solution
        facts = {"state": s.state, "pipe model": s.pipe_model}
        if s.design is not None:
            b = s.design.buildings
            facts["objective"] = f"{s.objective:,.2f}"
            facts["network npv"] = f"{s.network_npv:,.2f}"
            facts["buildings"] = f"{int(b['in_network'].sum())} of {len(b)} connected"
            facts["mip gap"] = "-" if s.mip_gap is None else f"{s.mip_gap:.4%}"
        return _closing(facts, s, f"{s.runtime_s:.1f} s, {s.iterations} MIP(s)", self.output)


def _why_empty(problem: Problem) -> str:
    """Why the best design connects nobody, in the words a user acts on."""
    b = problem.buildings
    if b.empty:
        return "no building can be reached from a path (see unreachable_reason)"
    if problem.supplies.empty:
        return "no supply can be reached from a path"
    if not (b["pv_tariffs"].to_numpy(float) > 0).any():
        return "no building earns a tariff (no tariff_id, or tariffs of 0)"
    return "no building pays for its connection, pipes and heat at these prices"


def _closing(
    facts: dict[str, str], solution: Solution, runtime: str, output: Path
) -> dict[str, str]:
    """The closing lines every solving command shares: reasons, runtime, output."""
    for kind, message in solution.reasons:
        facts[f"reason ({kind})"] = message
    facts["runtime"] = runtime
    facts["output"] = str(output)
    return facts


def solve(
    path: Path,
    output: Path,
    *,
    overrides: Mapping[str, str] | None = None,
    overwrite: bool = False,
    options: SolverOptions | None = None,
) -> SolveOutcome:
    """Solve a problem saved as JSON and write the solution as JSON.

    Only parameters read when solving can be overridden: a key marked ``x-baked`` in the
    parameters schema (discounting, temperatures, topology) is refused, because the problem
    holds numbers already computed from it; rebuild the problem with
    :func:`problem` and the override instead.

    Raises
    ------
    InputError
        When the problem file or an override is unusable (nothing is written).
    """
    given = read_problem(path)
    if overrides:
        params, issues = override_parameters(given.parameters, overrides, load_schemas())
        if any(i.is_error for i in issues):
            raise ValidationError(issues)
        given = replace(given, parameters=params)
    solution = optimise(given, options)
    write_solution(solution, given, output, overwrite=overwrite)
    return SolveOutcome(output, given, solution)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A whole run: what was solved, what was found and what was written."""

    output: Path
    problem: Problem
    solution: Solution
    summary: dict[str, Any]
    warnings: tuple[Issue, ...]
    building_count: int
    dispatched: Dispatched | None = None

    @property
    def exit_code(self) -> ExitCode:
        """The command's exit code: 0 with a design written, 4 proven infeasible, else 5."""
        return outcome_code(self.solution.state, has_design=self.solution.design is not None)

    def headline(self) -> dict[str, str]:
        """The closing lines: state, money, what got connected, how big, how sure, where."""
        s, sol = self.summary, self.solution
        facts = {"state": f"{s['state']} ({sol.pipe_model} pipes)"}
        if sol.design is not None:
            total = self.building_count  # forbidden and unreachable ones too
            facts["network npv"] = f"{s['network_npv']:,.0f}"
            facts["objective"] = f"{s['objective']:,.2f}"
            facts["buildings"] = (
                f"{s['network_building_count']} of {total} connected "
                f"({s['network_connection_count']} connections)"
            )
            facts["network"] = f"{s['network_length'] / 1000:,.2f} km"
            kwh, losses = s["network_kwh"], s["network_losses_kwh"]
            share = losses / (kwh + losses) if kwh + losses > 0 else 0.0
            facts["heat"] = (
                f"{kwh / 1000:,.0f} MWh/yr delivered, {losses / 1000:,.0f} MWh/yr lost ({share:.1%})"
            )
            gap = s["mip_gap"]
            shown = "-" if gap != gap else "> 1000%" if gap > 10 else f"{gap:.2%}"
            bound = s["upper_bound"]
            facts["gap"] = (
                "unknown (no proven bound)"
                if bound != bound
                else f"{shown} (proven bound {bound:,.0f})"
            )
        if sol.design is not None and s["network_building_count"] == 0:
            facts["why nothing"] = _why_empty(self.problem)
        if self.dispatched is not None:
            facts["dispatch"] = self.dispatched.headline()
        if sol.interrupted:
            facts["interrupted"] = "the search was stopped: the best design found so far"
        runtime = f"{s['runtime']:.1f} s optimising, {s['iterations']} MIP(s)"
        return _closing(facts, sol, runtime, self.output)


def run(
    path: Path,
    output: Path,
    *,
    tables: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    overwrite: bool = False,
    run_name: str | None = None,
    options: SolverOptions | None = None,
    progress: Progress | None = None,
    mapping: Path | None = None,
) -> RunOutcome:
    """Validate, build the network, optimise and write the output GeoPackage.

    Parameters
    ----------
    path
        The input GeoPackage (never modified).
    output
        The output GeoPackage: written to a temporary file and renamed into place.
    tables
        Optional GeoPackage or CSV folder with the non-spatial tables.
    overrides
        ``--set KEY=VALUE`` parameter overrides.
    overwrite
        Replace an existing output.
    run_name
        The ``run`` in ``solution_summary`` (default: the input's file name stem).
    options
        Solver threads, seed and log.
    progress
        Told of each stage and of the solver's progress.
    mapping
        A mapping file (``--map``): where each layer and table is, how its columns are named.

    Returns
    -------
    RunOutcome
        The solution and the summary written.

    Raises
    ------
    ValidationError
        When the input has errors (nothing is written).
    OutputExistsError
        When the output exists and ``overwrite`` is false (checked before any work).
    """
    progress = progress or Progress()
    protect = _inputs_of(path, tables, mapping)
    check_output(output, overwrite=overwrite, protect=protect, suffixes=(".gpkg",))
    info = RunInfo.now(run_name or path.stem)
    progress.stage("validate")
    report = check(path, tables=tables, overrides=overrides, mapping=mapping)
    if report.inputs is None:
        raise ValidationError(report.issues)
    inputs = report.inputs
    progress.stage("topology")
    network = build_network(inputs)
    built = network_problem(inputs, network, name=info.run)
    progress.stage("optimise")
    progress.time_limit(built.parameters.runtime_limit_h * 3600.0)
    solution = optimise(built, options, progress=progress)
    dispatched: Dispatched | None = None
    if has_plants(inputs) and solution.design is not None:
        progress.stage("dispatch")
        dispatched = dispatch_loop(inputs, network, built, solution, options, progress)
        inputs, built, solution = dispatched.inputs, dispatched.problem, dispatched.solution
    progress.stage("write")
    warnings = tuple(i for i in report.issues + network.issues if not i.is_error)
    warnings += solution_issues(solution)
    if dispatched is not None:
        warnings += dispatched.issues
    written = results(
        inputs, network=network, problem=built, solution=solution, info=info, warnings=warnings
    )
    layers = written.layers
    if dispatched is not None and dispatched.dispatch is not None:
        layers = with_dispatch(layers, dispatched.dispatch)
    write_layers(output, layers, overwrite=overwrite, protect=protect, styles=True)
    return RunOutcome(
        output, built, solution, written.summary, warnings, len(inputs.buildings), dispatched
    )
