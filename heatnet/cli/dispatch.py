"""``heatnet dispatch-solve``: plants hour by hour for a geometry-free dispatch problem."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from heatnet.cli.common import (
    handle_errors,
    output_option,
    overwrite_option,
    parse_sets,
    time_limit_option,
    verbosity,
)
from heatnet.core.exits import ExitCode
from heatnet.core.signals import sigterm_interrupts


@click.command("dispatch-solve")
@click.argument("problem_path", metavar="PROBLEM", type=click.Path(path_type=Path))
@output_option("Result JSON file.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    callback=parse_sets,
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
@time_limit_option("options/time_limit_s, for the whole horizon")
@overwrite_option
@handle_errors
def dispatch_solve_command(
    problem_path: Path,
    output: Path,
    overrides: dict[str, str],
    window_steps: int,
    time_limit_s: float | None,
    overwrite: bool,
) -> None:
    """Dispatch plants hour by hour for a PROBLEM (JSON) and write the result as JSON.

    The layout is 'schemas/dispatch.schema.json': steps, nodes with demand, fuels, units
    (on/off status, minimum load, up and down times, start-up cost), storages, links between
    nodes and fuel distribution. Exit 0 with a dispatch, 3 for an invalid problem (every
    error listed), 4 when proven infeasible, 5 when none was found in time; an interrupt
    writes nothing (130).
    """
    from heatnet.dispatch import dispatch_solve

    debug = verbosity().debug
    if time_limit_s is not None:
        if any(k.strip().lower() in ("options/time_limit_s", "time_limit_s") for k in overrides):
            raise click.BadParameter(
                "give the limit once: --time-limit or --set options/time_limit_s, not both",
                param_hint="--time-limit",
            )
        overrides = {**overrides, "options/time_limit_s": repr(time_limit_s)}
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
