"""What every ``heatnet`` command shares: error handling, logging, common options.

Kept light: no library import here (``heatnet --help`` must stay quick, tests/test_cli.py).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from heatnet.core.errors import HeatnetError, MissingExtraError, ValidationError
from heatnet.core.exits import ExitCode

log = logging.getLogger("heatnet")
F = TypeVar("F", bound=Callable[..., Any])


VERBOSITY = "heatnet.verbosity"
"""Key of the merged -v/-q/--debug/--log values in the click context's shared ``meta``."""


@dataclass(frozen=True, slots=True)
class Verbosity:
    """What the user asked to see: -v (count), -q, --debug and --log, wherever given."""

    verbose: int = 0
    quiet: bool = False
    debug: bool = False
    log_file: Path | None = None

    @property
    def level(self) -> int:
        """The console's level: DEBUG with --debug, INFO with -v, ERROR with -q, else WARNING."""
        if self.debug:
            return logging.DEBUG
        if self.verbose:
            return logging.INFO
        return logging.ERROR if self.quiet else logging.WARNING


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Merge a verbosity option into the context's shared meta (group and command alike)."""
    given = ctx.meta.setdefault(VERBOSITY, {})
    name = param.name
    if name == "verbose":
        given[name] = given.get(name, 0) + (value or 0)
    elif name == "log_file":
        if value is not None:
            if given.get(name) not in (None, value):
                raise click.BadParameter("given twice, with two files", param_hint="--log")
            given[name] = value
    else:
        given[name] = bool(given.get(name)) or bool(value)
    return value


def verbosity_options(command: F) -> F:
    """-v/-q/--debug/--log on a command: accepted before or after the command's name."""
    options = (
        click.option("-v", "--verbose", count=True, expose_value=False, callback=_remember,
                     help="More log output (repeatable)."),
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_remember,
                     help="Only errors (and the command's own result)."),
        click.option("--debug", is_flag=True, expose_value=False, callback=_remember,
                     help="Debug logging, and tracebacks on errors."),
        click.option("--log", "log_file", type=click.Path(path_type=Path, dir_okay=False),
                     default=None, expose_value=False, callback=_remember,
                     help="Also log everything (DEBUG) to this file."),
    )  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def verbosity() -> Verbosity:
    """The merged verbosity of the current command (group options included)."""
    given = click.get_current_context().meta.get(VERBOSITY, {})
    return Verbosity(
        verbose=int(given.get("verbose", 0)),
        quiet=bool(given.get("quiet", False)),
        debug=bool(given.get("debug", False)),
        log_file=given.get("log_file"),
    )


def configure_logging(seen: Verbosity) -> None:
    """Log to stderr at the asked level, and everything to ``--log``'s file when given."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(seen.level)
    package = logging.getLogger("heatnet")
    package.handlers[:] = [handler]
    if seen.log_file is not None:
        package.addHandler(file_handler(seen.log_file))
    # never the root logger: Pyomo gets very slow at DEBUG
    package.setLevel(logging.DEBUG if seen.log_file is not None else seen.level)
    package.propagate = False


def file_handler(path: Path) -> logging.Handler:
    """Everything (DEBUG) to ``path``, its folder made if missing; opened on the first line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8", delay=True)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    to_file.setLevel(logging.DEBUG)
    return to_file


def close_log_files() -> None:
    """Close and detach the package's handlers other than the console's (the ``--log`` file).

    Detached, not only closed: a closed ``FileHandler`` opens its file again at the next record,
    so a command run in-process (a test, a notebook) would leave later log lines of the same
    process appending to that file — one a refused ``--log`` named, the input included.
    """
    package = logging.getLogger("heatnet")
    for used in list(package.handlers):
        if isinstance(used, logging.FileHandler):
            used.close()
            package.removeHandler(used)


EXTRAS = {"report": ("matplotlib", "PIL", "contourpy", "bokeh"), "batch": ("dask", "distributed")}
"""Each optional extra of heatnet and the top-level modules it brings."""


@contextlib.contextmanager
def needs_extra(extra: str, command: str) -> Iterator[None]:
    """Turn a missing optional dependency of ``command`` into a clear error (exit 2).

    Raises
    ------
    MissingExtraError
        When a module of ``extra`` (:data:`EXTRAS`) cannot be imported in the block.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        root = (exc.name or "").partition(".")[0]
        if root not in EXTRAS[extra]:
            raise
        raise MissingExtraError(
            f"heatnet {command} needs {root}, which is not installed: "
            f"pip install 'heatnet[{extra}]'"
        ) from exc


def parse_sets(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """``--set KEY=VALUE`` options as a dict (a later KEY wins)."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        pairs[key.strip()] = value
    return pairs


def handle_errors(command: F) -> F:
    """A command's frame: its -v/-q/--debug/--log options and logging, and its exit codes.

    heatnet errors become their exit codes and anything else exit 1 (a bug); a traceback only
    with --debug.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seen = verbosity()
        debug = seen.debug
        configure_logging(seen)
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
        finally:
            close_log_files()

    return verbosity_options(wrapper)  # type: ignore[return-value]


tables_option = click.option(
    "--tables",
    type=click.Path(path_type=Path),
    default=None,
    help="GeoPackage or folder of <table>.csv files with the non-spatial tables; a table found there replaces the input's own.",
)
map_option = click.option(
    "--map",
    "mapping",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="MAPPING.toml",
    help="Read your own layers as they are: which file and layer each heatnet layer or table "
    "is, its column names, constant columns and unit factors (README: 'Bring your own layers').",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
MKDIR = "heatnet.mkdir"


def _remember_mkdir(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[MKDIR] = value
    return value


def _output_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """An output's folder must exist, unless --mkdir (read first: it is eager) says make it."""
    if value is None:
        return value
    folder = value.parent
    if not folder.exists():
        if not ctx.meta.get(MKDIR):
            raise click.BadParameter(
                f"folder {folder} does not exist (--mkdir creates it)", ctx=ctx, param=param
            )
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise click.BadParameter(f"{folder} is not a folder", ctx=ctx, param=param)
    return value


def check_output_folder(path: Path, *, name: str) -> None:
    """An output argument's folder must exist, unless --mkdir (see :func:`output_option`).

    ``name`` is the argument's, for the message.
    """
    ctx = click.get_current_context()
    _output_folder(ctx, next(p for p in ctx.command.params if p.name == name), path)


def output_option(help_text: str, *, dest: str = "output") -> Callable[[F], F]:
    """``-o/--output PATH`` whose folder must exist, and ``--mkdir`` to make it."""

    def decorate(command: F) -> F:
        command = click.option(
            "-o", "--output", dest, type=click.Path(path_type=Path), required=True,
            callback=_output_folder, help=help_text,
        )(command)  # fmt: skip
        return mkdir_option(command)

    return decorate


mkdir_option = click.option(
    "--mkdir",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_remember_mkdir,
    help="Create the output's folder if it does not exist (else a missing folder is an error).",
)
gpkg_output_option = output_option("Output GeoPackage.")

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(h|m|s)?", re.IGNORECASE)
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration: ``90s``, ``10m``, ``1h``, ``1h30m``, ``1.5h``; a bare number is seconds.

    Raises
    ------
    ValueError
        If the text is not such a duration, or is not more than zero.
    """
    compact = text.strip()
    parts = list(_DURATION.finditer(compact))
    if not compact or "".join(m.group(0) for m in parts).replace(" ", "") != compact.replace(
        " ", ""
    ):
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 10m, 1h, 1h30m)")
    total = sum(float(m.group(1)) * _SECONDS[(m.group(2) or "").lower() or None] for m in parts)
    if not total > 0:
        raise ValueError(f"{text!r}: a time limit must be more than zero")
    return total


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def time_limit_option(target: str) -> Callable[[F], F]:
    """``--time-limit DURATION`` (90s, 10m, 1h; a bare number is seconds) for ``target``."""
    return click.option(
        "--time-limit",
        "time_limit_s",
        default=None,
        metavar="DURATION",
        callback=_duration,
        help=f"Time limit, e.g. 90s, 10m, 1h or 1h30m (a bare number: seconds): {target}.",
    )


RUNTIME_LIMIT = "optimiser/runtime-limit"


def with_time_limit(overrides: dict[str, str], seconds: float | None) -> dict[str, str]:
    """``overrides`` with ``optimiser/runtime-limit`` (hours) from ``--time-limit``.

    Raises
    ------
    click.BadParameter
        When ``--set`` also gives the runtime limit (say it once).
    """
    if seconds is None:
        return overrides
    if any(key.strip().lstrip(":").lower() == RUNTIME_LIMIT for key in overrides):
        raise click.BadParameter(
            f"give the limit once: --time-limit or --set {RUNTIME_LIMIT}=HOURS, not both",
            param_hint="--time-limit",
        )
    return {**overrides, RUNTIME_LIMIT: repr(seconds / 3600.0)}


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    callback=parse_sets,
    metavar="KEY=VALUE",
    help="Override a parameter (repeatable), e.g. --set finance/npv-rate=0.05.",
)
