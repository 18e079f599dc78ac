"""The ``heatnet`` command line: a thin shell over :mod:`heatnet.pipeline`.

Commands parse flags, call the library, print a short report and pick an exit code from
:class:`heatnet.core.exits.ExitCode`: 0 success, 1 internal error (a bug), 2 usage error,
3 invalid input, 4 infeasible, 5 solver failure, 130 interrupted. A traceback is shown only
with ``--debug``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from heatnet import __version__
from heatnet.cli.batch import batch_command
from heatnet.cli.common import (
    check_output_folder,
    gpkg_output_option,
    handle_errors,
    map_option,
    mkdir_option,
    needs_extra,
    output_option,
    overwrite_option,
    set_option,
    tables_option,
    time_limit_option,
    verbosity,
    verbosity_options,
    with_time_limit,
)
from heatnet.cli.dispatch import dispatch_solve_command
from heatnet.cli.run import run_command
from heatnet.core.errors import InputError, ValidationError
from heatnet.core.exits import ExitCode

# The library is imported by the command that needs it (pandas, GDAL, Pyomo and Dask take about
# a second to import), so `heatnet --help` and `--version` stay quick: tests/test_cli.py checks
# that importing this module loads none of them. Commands: this module (input, problem, solve,
# report), heatnet/cli/run.py, batch.py and dispatch.py; what they share: common.py.

log = logging.getLogger("heatnet")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="heatnet")
@verbosity_options
def cli() -> None:
    """Design district-heating networks from GIS data (GeoPackage in, GeoPackage out).

    -v, -q, --debug and --log are accepted before or after the command's name.
    """


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@tables_option
@map_option
@set_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@handle_errors
def validate(
    input_path: Path,
    tables: Path | None,
    mapping: Path | None,
    overrides: dict[str, str],
    fmt: str,
) -> None:
    """Check INPUT against the schemas and report every problem at once (exit 0 or 3)."""
    from heatnet.inputs.findings import render_json, render_text
    from heatnet.pipeline import check

    try:
        outcome = check(input_path, tables=tables, overrides=overrides, mapping=mapping)
        issues = outcome.issues
        summary = outcome.facts() if fmt == "json" else outcome.summary()
    except ValidationError as exc:  # the file could not be read at all
        issues, summary = exc.issues, {}
    render = render_json if fmt == "json" else render_text
    click.echo(render(str(input_path), issues, summary), nl=False)
    sys.exit(ExitCode.INVALID if any(i.is_error for i in issues) else ExitCode.OK)


@cli.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.option(
    "--crs",
    required=True,
    help="CRS of the spatial layers: a code (EPSG:25832), or a file readable by GDAL (a "
    "GeoPackage, shapefile, ...) whose CRS to take, as the layers it will receive.",
)
@mkdir_option
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
    from heatnet.inputs.template import crs_of, write_template

    check_output_folder(output, name="output")
    try:
        crs = crs_of(crs)
    except InputError as exc:
        raise click.BadParameter(str(exc).removeprefix("--crs: "), param_hint="--crs") from exc
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
@map_option
@set_option
@overwrite_option
@handle_errors
def topology_command(
    input_path: Path,
    output: Path,
    tables: Path | None,
    mapping: Path | None,
    overrides: dict[str, str],
    overwrite: bool,
) -> None:
    """Node the paths, connect buildings and supplies, and write the network to inspect in QGIS."""
    from heatnet.pipeline import topology

    outcome = topology(
        input_path, output, tables=tables, overrides=overrides, overwrite=overwrite,
        mapping=mapping,
    )  # fmt: skip
    for issue in outcome.warnings:
        log.warning("%s %s: %s", issue.table, issue.where, issue.message)
    for key, value in outcome.summary().items():
        click.echo(f"{key:<14} {value}")


@cli.command("problem")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@output_option("Output JSON file.")
@tables_option
@map_option
@set_option
@overwrite_option
@handle_errors
def problem_command(
    input_path: Path,
    output: Path,
    tables: Path | None,
    mapping: Path | None,
    overrides: dict[str, str],
    overwrite: bool,
) -> None:
    """Write the optimiser's problem for INPUT as JSON (no geometry), to solve or share alone."""
    from heatnet.pipeline import problem

    built = problem(
        input_path, output, tables=tables, overrides=overrides, overwrite=overwrite,
        mapping=mapping,
    )  # fmt: skip
    click.echo(
        f"wrote {output}: {len(built.buildings)} buildings, {len(built.supplies)} supplies, "
        f"{len(built.edges)} edges"
    )


@cli.command("solve")
@click.argument("problem_path", metavar="PROBLEM", type=click.Path(path_type=Path))
@output_option("Solution JSON file.")
@set_option
@time_limit_option("optimiser/runtime-limit")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed.")
@overwrite_option
@handle_errors
def solve_command(
    problem_path: Path,
    output: Path,
    overrides: dict[str, str],
    time_limit_s: float | None,
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

    debug = verbosity().debug
    outcome = solve(
        problem_path,
        output,
        overrides=with_time_limit(overrides, time_limit_s),
        overwrite=overwrite,
        options=SolverOptions(threads=threads, seed=seed, log_solver=debug),
    )
    for key, value in outcome.summary().items():
        click.echo(f"{key:<14} {value}")
    sys.exit(outcome.exit_code)


@cli.command("report")
@click.argument("result", metavar="OUTPUT_GPKG", type=click.Path(path_type=Path))
@output_option(
    "design.png (map, figures and cashflow chart) or design.html (the same, self-contained)."
)
@click.option(
    "--tiles",
    default=None,
    metavar="URL",
    help="HTML only: a background map for the interactive map, an XYZ tile URL such as "
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png (the page then loads tiles from that "
    "server; without it the page needs nothing outside itself).",
)
@click.option(
    "--attribution",
    default="",
    metavar="TEXT",
    help="The credit the tile provider asks for, shown on the map (with --tiles).",
)
@overwrite_option
@handle_errors
def report_command(
    result: Path, output: Path, tiles: str | None, attribution: str, overwrite: bool
) -> None:
    """Draw the design in OUTPUT_GPKG (written by 'heatnet run'): a map, headline figures and the cashflow."""
    with needs_extra("report", "report"):
        from heatnet.picture import render_report  # matplotlib loads only when drawing

    if tiles is not None:
        if output.suffix.lower() != ".html":
            raise click.BadParameter(
                "a background map is for the .html report", param_hint="--tiles"
            )
        if not all(part in tiles for part in ("{z}", "{x}", "{y}")):
            raise click.BadParameter(
                "an XYZ tile URL has {z}, {x} and {y} in it", param_hint="--tiles"
            )
    render_report(result, output, overwrite=overwrite, tiles=tiles, attribution=attribution)
    click.echo(f"wrote {output}")


@cli.command("sample")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@mkdir_option
@overwrite_option
@handle_errors
def sample_command(folder: Path, overwrite: bool) -> None:
    """Write the bundled sample inputs into FOLDER, to try heatnet on (district, tiny, ...).

    Then: heatnet run FOLDER/district.gpkg -o design.gpkg
    """
    from heatnet.samples import write_samples

    check_output_folder(folder / "district.gpkg", name="folder")
    for path in write_samples(folder, overwrite=overwrite):
        click.echo(f"wrote {path}")


cli.add_command(run_command)
cli.add_command(batch_command)
cli.add_command(dispatch_solve_command)


def main() -> None:
    """Console-script entry point."""
    cli()
