"""The ``heatnet`` command line: a thin shell over :mod:`heatnet.pipeline`.

Commands parse flags, call the library, print a short report and pick an exit code from
:class:`heatnet.core.exits.ExitCode`: 0 success, 1 internal error (a bug), 2 usage error,
3 invalid input, 4 infeasible, 5 solver failure, 130 interrupted. A traceback is shown only
with ``--debug``.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from heatnet import __version__
from heatnet.cli.console import ConsoleHandler, ConsoleProgress, console_stream
from heatnet.core.errors import HeatnetError, ValidationError
from heatnet.core.exits import ExitCode
from heatnet.core.signals import sigterm_interrupts

# The library is imported by the command that needs it (pandas, GDAL, Pyomo and Dask take about
# a second to import), so `heatnet --help` and `--version` stay quick: tests/test_cli.py checks
# that importing this module loads none of them.

if TYPE_CHECKING:
    from heatnet.batch.runner import BatchProgress

log = logging.getLogger("heatnet")
F = TypeVar("F", bound=Callable[..., Any])


def _configure_logging(verbose: int, quiet: bool, debug: bool) -> None:
    level = (
        logging.DEBUG
        if debug
        else logging.INFO
        if verbose
        else logging.ERROR
        if quiet
        else logging.WARNING
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("heatnet")
    package.handlers[:] = [handler]
    package.setLevel(level)  # never the root logger: Pyomo gets very slow at DEBUG
    package.propagate = False


def _parse_sets(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


def handle_errors(command: F) -> F:
    """Turn heatnet errors into their exit codes, and anything else into exit 1 (a bug)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            from heatnet.inputs.findings import render_text

            click.echo(render_text("input", exc.issues, {}), err=True, nl=False)
            sys.exit(exc.exit_code)
        except HeatnetError as exc:
            if debug:
                raise
            click.secho(f"heatnet: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # `heatnet ... | head`: the reader left; not a bug
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(ExitCode.BUG)
        except Exception as exc:
            if debug:
                raise
            click.secho(
                f"heatnet: internal error (a bug; rerun with --debug for details): {exc!r}",
                fg="red",
                err=True,
            )
            sys.exit(ExitCode.BUG)

    return wrapper  # type: ignore[return-value]


tables_option = click.option(
    "--tables",
    type=click.Path(path_type=Path),
    default=None,
    help="GeoPackage or folder of <table>.csv files with the non-spatial tables; a table found there replaces the input's own.",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
gpkg_output_option = click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Output GeoPackage."
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    callback=_parse_sets,
    metavar="KEY=VALUE",
    help="Override a parameter (repeatable), e.g. --set finance/npv-rate=0.05.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="heatnet")
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--debug", is_flag=True, help="Debug logging, and tracebacks on errors.")
def cli(verbose: int, quiet: bool, debug: bool) -> None:
    """Design district-heating networks from GIS data (GeoPackage in, GeoPackage out)."""
    _configure_logging(verbose, quiet, debug)


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@tables_option
@set_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@handle_errors
def validate(input_path: Path, tables: Path | None, overrides: dict[str, str], fmt: str) -> None:
    """Check INPUT against the schemas and report every problem at once (exit 0 or 3)."""
    from heatnet.inputs.findings import render_json, render_text
    from heatnet.pipeline import check

    try:
        outcome = check(input_path, tables=tables, overrides=overrides)
        issues, summary = outcome.issues, outcome.summary()
    except ValidationError as exc:  # the file could not be read at all
        issues, summary = exc.issues, {}
    render = render_json if fmt == "json" else render_text
    click.echo(render(str(input_path), issues, summary), nl=False)
    sys.exit(ExitCode.INVALID if any(i.is_error for i in issues) else ExitCode.OK)


@cli.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--crs", default="EPSG:27700", show_default=True, help="CRS of the spatial layers.")
@click.option(
    "--buildings",
    "building_geometry",
    type=click.Choice(["polygon", "point"]),
    default="polygon",
    show_default=True,
)
@overwrite_option
@handle_errors
def init(output: Path, crs: str, building_geometry: str, overwrite: bool) -> None:
    """Write an empty input GeoPackage with every layer, table and column, ready to fill in QGIS."""
    from heatnet.inputs.template import write_template

    write_template(
        output,
        crs=crs,
        overwrite=overwrite,
        buildings="point" if building_geometry == "point" else "polygon",
    )
    click.echo(f"wrote {output}")


@cli.command()
@click.argument("table", required=False)
@click.option(
    "--output", "output_schema", is_flag=True, help="Describe the output table of that name."
)
@handle_errors
def schema(table: str | None, output_schema: bool) -> None:
    """Describe the input format: every table, or one TABLE's columns (and parameters)."""
    from heatnet.inputs.helptext import describe_schema, list_schemas

    if table is None:
        click.echo(list_schemas())
        return
    text = describe_schema(table, output=output_schema)
    if text is None:
        raise click.BadParameter(
            f"no {'output' if output_schema else 'input'} table {table!r}; run 'heatnet schema' for the list",
            param_hint="TABLE",
        )
    click.echo(text)


@cli.command("topology")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@gpkg_output_option
@tables_option
@set_option
@overwrite_option
@handle_errors
def topology_command(
    input_path: Path, output: Path, tables: Path | None, overrides: dict[str, str], overwrite: bool
) -> None:
    """Node the paths, connect buildings and supplies, and write the network to inspect in QGIS."""
    from heatnet.pipeline import topology

    outcome = topology(input_path, output, tables=tables, overrides=overrides, overwrite=overwrite)
    for issue in outcome.warnings:
        log.warning("%s %s: %s", issue.table, issue.where, issue.message)
    for key, value in outcome.summary().items():
        click.echo(f"{key:<14} {value}")


@cli.command("problem")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Output JSON file."
)
@tables_option
@set_option
@overwrite_option
@handle_errors
def problem_command(
    input_path: Path, output: Path, tables: Path | None, overrides: dict[str, str], overwrite: bool
) -> None:
    """Write the optimiser's problem for INPUT as JSON (no geometry), to solve or share alone."""
    from heatnet.pipeline import problem

    built = problem(input_path, output, tables=tables, overrides=overrides, overwrite=overwrite)
    click.echo(
        f"wrote {output}: {len(built.buildings)} buildings, {len(built.supplies)} supplies, "
        f"{len(built.edges)} edges"
    )


@cli.command("solve")
@click.argument("problem_path", metavar="PROBLEM", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Solution JSON file."
)
@set_option
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed.")
@overwrite_option
@handle_errors
def solve_command(
    problem_path: Path,
    output: Path,
    overrides: dict[str, str],
    threads: int,
    seed: int,
    overwrite: bool,
) -> None:
    """Solve a PROBLEM written by 'heatnet problem' and write the solution as JSON.

    --set takes the keys read when solving; a key baked into the problem (discounting,
    temperatures, topology: 'heatnet schema parameters' marks them) is refused with exit 3:
    rebuild the problem with 'heatnet problem INPUT --set KEY=VALUE -o P.json'. Exit 0 with a
    design, 4 when proven infeasible (reasons in the output), 5 when the solver failed or found
    no design in time.
    """
    from heatnet.optimise.highs import SolverOptions
    from heatnet.pipeline import solve

    debug = click.get_current_context().find_root().params.get("debug", False)
    outcome = solve(
        problem_path,
        output,
        overrides=overrides,
        overwrite=overwrite,
        options=SolverOptions(threads=threads, seed=seed, log_solver=debug),
    )
    for key, value in outcome.summary().items():
        click.echo(f"{key:<14} {value}")
    sys.exit(outcome.exit_code)


@cli.command("dispatch-solve")
@click.argument("problem_path", metavar="PROBLEM", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Result JSON file."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    callback=_parse_sets,
    metavar="options/KEY=VALUE",
    help="Override a solve option (repeatable), e.g. --set options/mip_gap=0.01.",
)
@click.option(
    "--window-steps",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Solve in consecutive windows of this many steps (168: a week of hours), each from "
    "the state the one before ended in: a heuristic, without a bound. 0: one window.",
)
@overwrite_option
@handle_errors
def dispatch_solve_command(
    problem_path: Path, output: Path, overrides: dict[str, str], window_steps: int, overwrite: bool
) -> None:
    """Dispatch plants hour by hour for a PROBLEM (JSON) and write the result as JSON.

    The layout is 'schemas/dispatch.schema.json': steps, nodes with demand, fuels, units
    (on/off status, minimum load, up and down times, start-up cost), storages, links between
    nodes and fuel distribution. Exit 0 with a dispatch, 3 for an invalid problem (every
    error listed), 4 when proven infeasible, 5 when none was found in time; an interrupt
    writes nothing (130).
    """
    from heatnet.dispatch import dispatch_solve

    debug = click.get_current_context().find_root().params.get("debug", False)
    try:
        with sigterm_interrupts():
            problem, solution = dispatch_solve(
                problem_path,
                output,
                overrides=overrides,
                overwrite=overwrite,
                log_solver=debug,
                window_steps=window_steps,
            )
    except KeyboardInterrupt:
        click.secho(f"heatnet: interrupted; {output} not written", fg="red", err=True)
        sys.exit(ExitCode.INTERRUPTED)

    def show(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    click.echo(f"{'state':<14} {solution.state}")
    click.echo(f"{'objective':<14} {show(solution.objective, ',.4f')}")
    click.echo(f"{'bound':<14} {show(solution.bound, ',.4f')}")
    click.echo(f"{'gap':<14} {show(solution.gap, '.3%')}")
    click.echo(f"{'steps':<14} {problem.steps}")
    if solution.windows:
        gaps = [w.gap for w in solution.windows]
        worst = "-" if None in gaps else format(max(g for g in gaps if g is not None), ".3%")
        click.echo(
            f"{'windows':<14} {len(solution.windows)} of {window_steps} steps (bound and gap: "
            f"per window only; largest window gap {worst})"
        )
    for reason in solution.reasons[:10]:
        click.echo(f"{'reason':<14} {reason}")
    click.echo(f"{'runtime':<14} {solution.runtime_s:.2f} s")
    click.echo(f"{'output':<14} {output}")
    sys.exit(solution.exit_code)


def _run_logging(verbose: int, quiet: bool, log_file: Path | None) -> ConsoleHandler:
    """Logging for a run, returning the console handler.

    The console is a duplicate of stderr (see :mod:`heatnet.cli.console`), with progress lines at
    INFO unless quiet; ``--log`` gets everything at DEBUG.
    """
    package = logging.getLogger("heatnet")
    root_params = click.get_current_context().find_root().params
    verbose += root_params.get("verbose", 0)
    quiet = quiet or root_params.get("quiet", False)
    debug = root_params.get("debug", False)
    handler = ConsoleHandler(console_stream())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    )
    # console: errors only when quiet; else progress (heatnet.run) at INFO and the rest at
    # WARNING, or INFO with -v, DEBUG with --debug
    floor = (
        logging.ERROR
        if quiet
        else logging.DEBUG
        if debug
        else logging.INFO
        if verbose
        else logging.WARNING
    )
    handler.addFilter(
        lambda record: (
            record.levelno >= floor
            or (not quiet and record.name == "heatnet.run" and record.levelno >= logging.INFO)
        )
    )
    package.handlers[:] = [handler]
    package.setLevel(logging.DEBUG if debug or log_file else floor)
    logging.getLogger("heatnet.run").setLevel(logging.INFO)
    # heatnet maps every solver status itself (an interrupted solve included)
    logging.getLogger("pyomo.contrib.solver").setLevel(logging.ERROR)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8", delay=True)
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        to_file.setLevel(logging.DEBUG)
        package.addHandler(to_file)
    return handler


@cli.command("run")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@gpkg_output_option
@tables_option
@set_option
@overwrite_option
@click.option(
    "--run-name", default=None, help="Name of the run in solution_summary [INPUT's stem]."
)
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress, only errors and the summary.")
@click.option(
    "--log",
    "log_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Also log everything (DEBUG) to this file.",
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed.")
@handle_errors
def run_command(
    *,
    input_path: Path,
    output: Path,
    tables: Path | None,
    overrides: dict[str, str],
    overwrite: bool,
    run_name: str | None,
    verbose: int,
    quiet: bool,
    log_file: Path | None,
    threads: int,
    seed: int,
) -> None:
    """Validate INPUT, build its network, optimise it and write the design to OUTPUT.

    Exit 0 with a design written, 3 for invalid input (nothing written), 4 when proven
    infeasible (outputs with infeasible_reasons written), 5 when the solver failed or found no
    design in time (outputs written, nothing in the network), 130 when interrupted before any
    design or twice (nothing written). A first Ctrl-C / SIGTERM once a design exists stops the
    search and writes that design (exit 0, flagged as interrupted).
    """
    from heatnet.optimise.highs import SolverOptions
    from heatnet.pipeline import run

    if log_file is not None and any(
        log_file.resolve() == p.resolve() for p in (input_path, output, tables) if p is not None
    ):
        raise click.BadParameter(
            "the log must not be the input, --tables or the output", param_hint="--log"
        )
    handler = _run_logging(verbose, quiet, log_file)
    stream = handler.stream
    interactive = not quiet and stream.isatty()
    # quiet: progress still goes to the log (--log), as log lines the console handler drops
    progress = ConsoleProgress(stream, interactive=interactive)
    handler.progress = progress
    debug = click.get_current_context().find_root().params.get("debug", False)
    before = output.stat().st_mtime_ns if output.is_file() else None
    try:
        with sigterm_interrupts():
            outcome = run(
                input_path,
                output,
                tables=tables,
                overrides=overrides,
                overwrite=overwrite,
                run_name=run_name,
                options=SolverOptions(
                    threads=threads, seed=seed, log_solver=debug or log_file is not None
                ),
                progress=progress,
            )
            progress.finish()
            for issue in outcome.warnings:
                log.warning("%s %s: %s", issue.table, issue.where, issue.message)
            for key, value in outcome.headline().items():
                click.echo(f"{key:<18} {value}")
    except KeyboardInterrupt:
        progress.finish()
        after = output.stat().st_mtime_ns if output.is_file() else None
        done = "written and complete" if after != before else "not written"
        click.secho(f"heatnet: interrupted; {output} {done}", fg="red", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    finally:
        for used in logging.getLogger("heatnet").handlers:
            if used is not handler:
                used.close()
    sys.exit(outcome.exit_code)


@cli.command("report")
@click.argument("result", metavar="OUTPUT_GPKG", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="design.png (map, figures and cashflow chart) or design.html (the same, self-contained).",
)
@overwrite_option
@handle_errors
def report_command(result: Path, output: Path, overwrite: bool) -> None:
    """Draw the design in OUTPUT_GPKG (written by 'heatnet run'): a map, headline figures and the cashflow."""
    from heatnet.picture import render_report  # matplotlib loads only when drawing

    render_report(result, output, overwrite=overwrite)
    click.echo(f"wrote {output}")


@cli.command("batch")
@click.argument("scenarios_path", metavar="SCENARIOS.csv", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "folder", type=click.Path(path_type=Path), required=True,
    help="Output folder: <scenario>.gpkg, summary.csv, summary.gpkg, manifest.json, logs/.",
)  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Worker processes of the local Dask cluster [the machine's cores].",
)  # fmt: skip
@click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Use a running Dask scheduler (tcp://host:8786) instead of a local cluster.",
)  # fmt: skip
@click.option("--resume", is_flag=True, help="Skip scenarios already done with the same inputs.")
@click.option("--overwrite", is_flag=True, help="Run every scenario again into a used folder.")
@click.option(
    "--sweep", "sweeps", multiple=True, metavar="KEY=START:STOP:STEP",
    help="Run every scenario for each value of a parameter, STOP included (repeatable: product).",
)  # fmt: skip
@handle_errors
def batch_command(
    *,
    scenarios_path: Path,
    folder: Path,
    workers: int | None,
    scheduler: str | None,
    resume: bool,
    overwrite: bool,
    sweeps: tuple[str, ...],
) -> None:
    """Run many scenarios (rows of SCENARIOS.csv, times the sweeps) on Dask.

    Columns: scenario (name), input (GeoPackage, relative to the file), optional tables, and
    parameter keys (finance/npv-rate, constraint/max-buildings, ...) overriding the input's
    parameters. Exit: the worst scenario's code (0 all designs, 4 some infeasible, 5 some
    without a design, 3 some invalid input, 1 some crashed), 3 for a bad scenarios file.
    """
    from heatnet.batch.runner import run_batch  # Dask loads only for a batch
    from heatnet.batch.scenarios import read_scenarios

    scenarios = read_scenarios(scenarios_path, sweeps)
    interactive = sys.stderr.isatty()

    def show(progress: BatchProgress) -> None:
        last = progress.last
        if last is not None:
            line = f"{last.name}: {last.status} ({last.runtime_s:.1f} s)"
            if last.message and last.exit_code:
                line += f" {last.message[:200]}"
            click.echo(("\r\x1b[K" if interactive else "") + line, err=True)
        counts = (
            f"[{progress.done}/{progress.total}] done, {progress.running} running, "
            f"{progress.failed} failed"
            + (f", {progress.skipped} skipped" if progress.skipped else "")
        )
        if progress.dashboard and last is None:
            click.echo(f"dashboard: {progress.dashboard}", err=True)
        click.echo(("\r\x1b[K" + counts) if interactive else counts, err=True, nl=not interactive)

    try:
        outcome = run_batch(
            scenarios, folder, workers=workers, scheduler=scheduler, resume=resume,
            overwrite=overwrite, on_progress=show,
        )  # fmt: skip
    except KeyboardInterrupt:
        click.secho(
            f"\nheatnet: batch interrupted; finished scenarios are in {folder} (--resume)",
            fg="red", err=True,
        )  # fmt: skip
        sys.exit(ExitCode.INTERRUPTED)
    if interactive:
        click.echo("", err=True)
    counts: dict[str, int] = {}
    for result in outcome.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    click.echo(
        f"{'scenarios':<12} {len(outcome.results)} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
    )
    if outcome.skipped:
        click.echo(f"{'skipped':<12} {len(outcome.skipped)} (already done: --resume)")
    click.echo(f"{'runtime':<12} {outcome.runtime_s:.1f} s")
    click.echo(f"{'summary':<12} {folder / 'summary.csv'}")
    sys.exit(outcome.exit_code)


def main() -> None:
    """Console-script entry point."""
    cli()
