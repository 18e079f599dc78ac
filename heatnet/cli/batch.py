"""``heatnet batch``: many scenarios on Dask."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from heatnet.cli.common import (
    handle_errors,
    needs_extra,
    output_option,
    set_option,
    time_limit_option,
    with_time_limit,
)
from heatnet.core.exits import ExitCode

if TYPE_CHECKING:
    from heatnet.batch.runner import BatchProgress
    from heatnet.batch.scenarios import Scenario


@click.command("batch")
@click.argument("scenarios_path", metavar="SCENARIOS.csv", type=click.Path(path_type=Path))
@output_option(
    "Output folder: <scenario>.gpkg, summary.csv, summary.gpkg, manifest.json, logs/ (made if "
    "missing; the folder it is in must exist, unless --mkdir).",
    dest="folder",
)
@set_option
@time_limit_option("every scenario's optimiser/runtime-limit")
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
    overrides: dict[str, str],
    time_limit_s: float | None,
) -> None:
    """Run many scenarios (rows of SCENARIOS.csv, times the sweeps) on Dask.

    Columns: scenario (name), input (GeoPackage, relative to the file), optional tables, and
    parameter keys (finance/npv-rate, constraint/max-buildings, ...) overriding the input's
    parameters. --set and --time-limit apply to every scenario, over its columns (as --set
    beats an input's parameters table); a key both swept and set is an error. Exit: the worst scenario's code (0 all designs, 4 some infeasible, 5 some
    without a design, 3 some invalid input, 1 some crashed), 3 for a bad scenarios file.
    """
    with needs_extra("batch", "batch"):  # Dask loads only for a batch (the cluster uses it)
        import distributed  # noqa: F401

        from heatnet.batch.runner import run_batch
    from heatnet.batch.scenarios import read_scenarios
    from heatnet.inputs.params import normalise_key

    overrides = with_time_limit(overrides, time_limit_s)
    swept = {normalise_key(s.partition("=")[0]) for s in sweeps}
    both = sorted(swept & {normalise_key(k) for k in overrides})
    if both:
        raise click.BadParameter(
            f"{', '.join(both)} is both swept and set: give one", param_hint="--set"
        )
    scenarios = read_scenarios(scenarios_path, sweeps)
    if overrides:
        scenarios = [with_overrides(s, overrides) for s in scenarios]
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


def with_overrides(scenario: Scenario, overrides: dict[str, str]) -> Scenario:
    """The scenario with ``overrides`` over its own parameter columns (same key: --set wins)."""
    from dataclasses import replace

    from heatnet.inputs.params import normalise_key

    given = {normalise_key(k): k for k in overrides}
    own = {k: v for k, v in scenario.overrides.items() if normalise_key(k) not in given}
    return replace(scenario, overrides={**own, **overrides})
