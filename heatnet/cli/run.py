"""``heatnet run``: validate, build the network, optimise and write, with progress on the console."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from heatnet.cli.common import (
    Verbosity,
    close_log_files,
    file_handler,
    gpkg_output_option,
    handle_errors,
    map_option,
    overwrite_option,
    set_option,
    tables_option,
    time_limit_option,
    verbosity,
    with_time_limit,
)
from heatnet.cli.console import ConsoleHandler, ConsoleProgress, console_stream
from heatnet.core.errors import HeatnetError, ValidationError
from heatnet.core.exits import ExitCode
from heatnet.core.issues import Issue
from heatnet.core.signals import sigterm_interrupts

log = logging.getLogger("heatnet")


def _run_logging(seen: Verbosity) -> ConsoleHandler:
    """Logging for a run, returning the console handler.

    The console is a duplicate of stderr (see :mod:`heatnet.cli.console`), with progress lines at
    INFO unless quiet; ``--log`` gets everything at DEBUG.
    """
    package = logging.getLogger("heatnet")
    handler = ConsoleHandler(console_stream())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    )
    # console: errors only when quiet; else progress (heatnet.run) at INFO and the rest at
    # WARNING, or INFO with -v, DEBUG with --debug
    quiet = seen.quiet
    floor = logging.ERROR if quiet else seen.level
    handler.addFilter(
        lambda record: (
            record.levelno >= floor
            or (not quiet and record.name == "heatnet.run" and record.levelno >= logging.INFO)
        )
    )
    package.handlers[:] = [handler]
    package.setLevel(logging.DEBUG if seen.debug or seen.log_file else floor)
    logging.getLogger("heatnet.run").setLevel(logging.INFO)
    # heatnet maps every solver status itself (an interrupted solve included)
    logging.getLogger("pyomo.contrib.solver").setLevel(logging.ERROR)
    if seen.log_file is not None:
        package.addHandler(file_handler(seen.log_file))
    return handler


class _RunCommand(click.Command):
    """``run`` that also prints its JSON object for a command-line usage error.

    With ``--json``, a usage error found while the command line is read (an output folder that
    does not exist, an unknown option) is printed as the JSON object too, then reported as usual.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        wants_json = "--json" in args
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            if wants_json:
                _echo_failure(ExitCode.USAGE, exc.format_message(), ())
            raise


@click.command("run", cls=_RunCommand)
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@gpkg_output_option
@tables_option
@map_option
@set_option
@time_limit_option("the search's optimiser/runtime-limit")
@overwrite_option
@click.option(
    "--run-name", default=None, help="Name of the run in solution_summary [INPUT's stem]."
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Solver random seed.")
@click.option(
    "--json", "as_json", is_flag=True,
    help="Print the outcome as one JSON object on stdout (state, exit code, output, every "
    "solution_summary column, the dispatch, warnings) in place of the closing lines; also "
    "when it ends without one (state, exit code, error, the input's issues).",
)  # fmt: skip
@handle_errors
def run_command(
    *,
    input_path: Path,
    output: Path,
    tables: Path | None,
    mapping: Path | None,
    overrides: dict[str, str],
    time_limit_s: float | None,
    overwrite: bool,
    run_name: str | None,
    threads: int,
    seed: int,
    as_json: bool,
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

    overrides = with_time_limit(overrides, time_limit_s)
    seen = verbosity()
    log_file = seen.log_file
    with _failures_as_json(as_json):
        if log_file is not None and any(
            log_file.resolve() == p.resolve()
            for p in (input_path, output, tables, mapping)
            if p is not None
        ):
            close_log_files()  # attached by the command's frame: never opened, now gone
            raise click.BadParameter(
                "the log must not be the input, --tables or the output", param_hint="--log"
            )
    handler = _run_logging(seen)
    stream = handler.stream
    interactive = not seen.quiet and stream.isatty()
    # quiet: progress still goes to the log (--log), as log lines the console handler drops
    progress = ConsoleProgress(stream, interactive=interactive)
    handler.progress = progress
    before = output.stat().st_mtime_ns if output.is_file() else None
    try:
        with sigterm_interrupts(), _failures_as_json(as_json):
            outcome = run(
                input_path,
                output,
                tables=tables,
                overrides=overrides,
                overwrite=overwrite,
                run_name=run_name,
                options=SolverOptions(
                    threads=threads, seed=seed, log_solver=seen.debug or log_file is not None
                ),
                progress=progress,
                mapping=mapping,
            )
            progress.finish()
            for issue in outcome.warnings:
                log.warning("%s %s: %s", issue.table, issue.where, issue.message)
            if as_json:
                click.echo(json.dumps(outcome_json(outcome), indent=2, ensure_ascii=False))
            else:
                for key, value in outcome.headline().items():
                    click.echo(f"{key:<18} {value}")
    except KeyboardInterrupt:
        progress.finish()
        after = output.stat().st_mtime_ns if output.is_file() else None
        done = "written and complete" if after != before else "not written"
        click.secho(f"heatnet: interrupted; {output} {done}", fg="red", err=True)
        if as_json:
            written = output if after != before else None
            _echo_failure(ExitCode.INTERRUPTED, f"interrupted; {output} {done}", (), written)
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(outcome.exit_code)


@contextlib.contextmanager
def _failures_as_json(as_json: bool) -> Iterator[None]:
    """With ``--json``, a run that ends without an outcome still prints one JSON object.

    Invalid input (3), a usage error found while running (2), another heatnet error or a bug (1):
    ``state`` is the exit code's status word, ``output`` null, ``error`` the message and
    ``issues`` the input's issues (as ``validate --format json`` gives them); the error then
    goes on as without ``--json`` (its message on stderr, its exit code). An interrupt before
    any design (130) prints the same from the caller, which knows whether the output was written.
    """
    if not as_json:
        yield
        return
    try:
        yield
    except ValidationError as exc:
        _echo_failure(ExitCode(exc.exit_code), str(exc), exc.issues)
        raise
    except HeatnetError as exc:
        _echo_failure(ExitCode(exc.exit_code), str(exc), ())
        raise
    except click.ClickException as exc:  # a usage error found by the command itself
        _echo_failure(ExitCode.USAGE, exc.format_message(), ())
        raise
    except Exception as exc:  # a bug: exit 1 follows (handle_errors)
        _echo_failure(ExitCode.BUG, f"internal error (a bug): {exc!r}", ())
        raise


def _echo_failure(
    code: ExitCode, message: str, issues: Sequence[Issue], output: Path | None = None
) -> None:
    payload = {
        "state": code.status,
        "exit_code": int(code),
        "output": None if output is None else str(output),
        "summary": None,
        "dispatch": None,
        "warnings": [],
        "error": message,
        "issues": [{**asdict(i), "severity": str(i.severity)} for i in issues],
    }
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def outcome_json(outcome: Any) -> dict[str, Any]:
    """``run --json``: the outcome as plain JSON values (NaN and infinities as null)."""
    summary = {str(k): plain(v) for k, v in outcome.summary.items()}
    dispatched = outcome.dispatched
    dispatch = None
    if dispatched is not None and dispatched.dispatch is not None:
        d = dispatched.dispatch
        dispatch = {
            "state": d.state,
            "objective": plain(d.objective),
            "bound": plain(d.bound),
            "gap": plain(d.gap),
            "heat_price": {k: plain(v) for k, v in d.prices.items()},
            "designs": dispatched.designs,
            "written_design": dispatched.rounds,
        }
    return {
        "state": summary.get("state"),
        "exit_code": int(outcome.exit_code),
        "output": str(outcome.output),
        "summary": summary,
        "dispatch": dispatch,
        "warnings": [
            {"code": i.code, "table": i.table, "where": i.where, "message": i.message}
            for i in outcome.warnings
        ],
    }


def plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python ones, NaN and infinities as None."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
