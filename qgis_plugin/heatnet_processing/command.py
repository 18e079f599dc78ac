"""Everything the plugin does that needs no QGIS: parameter specs, argv, progress, the runner.

The Processing algorithms (``algorithms.py``) are a thin QGIS shell over this module, so the
logic is tested by the project's ordinary test suite without QGIS
(``tests/test_qgis_plugin_command.py``). Nothing here imports ``qgis``.

heatnet itself runs in a subprocess, from whatever Python environment the user installed it in:
QGIS's own Python need not have heatnet's dependencies (pandas, Pyomo, HiGHS, ...).
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

SCHEMA_NAME = "parameters.schema.json"
UNSET = "(input's value)"
"""The first option of every enum parameter: pass nothing, keep the input's own value."""

BOOLEAN_OPTIONS = (UNSET, "true", "false")

# Where each stage starts, in percent of the whole run; the optimiser fills the gap to "write"
# by elapsed time over its time limit (when the limit is known).
STAGE_PERCENT = {
    "validate": 0.0,
    "topology": 5.0,
    "optimise": 10.0,
    "dispatch": 85.0,
    "write": 92.0,
    "report": 96.0,
}
OPTIMISE_END = 85.0

# Environment variables of the QGIS process that would break another Python environment: QGIS
# (on Windows above all) points these at its own Python, GDAL and PROJ.
FOREIGN_ENVIRONMENT = (
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "GDAL_DATA",
    "PROJ_LIB",
    "PROJ_DATA",
)

EXIT_MEANING = {
    0: "design written",
    1: "heatnet failed unexpectedly (a bug; run it with --debug for the traceback)",
    2: "usage error (nothing written)",
    3: "invalid input (nothing written)",
    4: "proven infeasible (outputs with infeasible_reasons written)",
    5: "solver failure or no design within the time limit",
    130: "interrupted before any design (nothing written)",
}


# --- the parameters schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterSpec:
    """One heatnet parameter (a key of the parameters table) as a Processing parameter needs it.

    ``kind`` is ``number``, ``integer``, ``boolean``, ``enum`` or ``string``; ``options`` are an
    enum's values (``UNSET`` not included).
    """

    key: str
    kind: str
    description: str
    default: Any = None
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[str, ...] = ()
    nullable: bool = False
    baked: str | None = None

    @property
    def name(self) -> str:
        """The Processing parameter name: ``finance/npv-rate`` → ``FINANCE_NPV_RATE``."""
        return re.sub(r"[^A-Za-z0-9]+", "_", self.key).strip("_").upper()

    @property
    def choices(self) -> tuple[str, ...]:
        """The options of the Processing enum: "(input's value)" first (booleans and enums)."""
        if self.kind == "boolean":
            return BOOLEAN_OPTIONS
        if self.kind == "enum":
            return (UNSET, *self.options)
        return ()

    def default_text(self) -> str:
        """The schema default as heatnet writes it (``null`` for no limit)."""
        if self.default is None:
            return "null (no limit)" if self.nullable else "none"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)

    def help(self) -> str:
        """The help a user sees for this parameter: description, default, unit, range."""
        parts = [self.description, f"Default: {self.default_text()}"]
        if self.unit:
            parts[-1] += f" {self.unit}"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"min {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"max {self.maximum:g}")
        if bounds:
            parts.append("Range: " + ", ".join(bounds))
        parts.append("Left unset, the input's parameters table (or this default) applies.")
        return " ".join(part if part.endswith(".") else part + "." for part in parts)


def schema_path(here: Path | None = None) -> Path:
    """The parameters schema: next to this module (the built plugin), else the repository's."""
    here = here or Path(__file__).resolve().parent
    for candidate in (here / SCHEMA_NAME, here.parents[1] / "schemas" / SCHEMA_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{SCHEMA_NAME} is neither next to {here} nor in the repository")


def _kind(prop: Mapping[str, Any]) -> tuple[str, bool]:
    """The spec kind and whether null is allowed, from a JSON-schema ``type`` and ``enum``."""
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    nullable = "null" in types
    base = next((t for t in types if t != "null"), "string")
    if base == "string" and prop.get("enum"):
        return "enum", nullable
    if base not in ("number", "integer", "boolean", "string"):
        return "string", nullable
    return base, nullable


def _lower_bound(prop: Mapping[str, Any]) -> float | None:
    value = prop.get("minimum", prop.get("exclusiveMinimum"))
    return None if value is None else float(value)


def _upper_bound(prop: Mapping[str, Any]) -> float | None:
    value = prop.get("maximum", prop.get("exclusiveMaximum"))
    return None if value is None else float(value)


def spec_from_schema(key: str, prop: Mapping[str, Any]) -> ParameterSpec:
    """One parameter's spec from its ``x-parameters`` entry.

    An exclusive bound becomes an inclusive one (Processing has no exclusive bounds); heatnet
    itself refuses the bound value with a clear message.
    """
    kind, nullable = _kind(prop)
    numeric = kind in ("number", "integer")
    return ParameterSpec(
        key=key,
        kind=kind,
        description=str(prop.get("description", "")).strip(),
        default=prop.get("default"),
        unit=prop.get("x-unit"),
        minimum=_lower_bound(prop) if numeric else None,
        maximum=_upper_bound(prop) if numeric else None,
        options=tuple(str(v) for v in prop.get("enum", ())) if kind == "enum" else (),
        nullable=nullable,
        baked=prop.get("x-baked"),
    )


def load_specs(path: Path | None = None) -> list[ParameterSpec]:
    """Every parameter of the schema, in the schema's order."""
    with (path or schema_path()).open(encoding="utf-8") as handle:
        schema = json.load(handle)
    properties = schema["x-parameters"]["properties"]
    return [spec_from_schema(key, prop) for key, prop in properties.items()]


# --- argv --------------------------------------------------------------------------------------


def format_value(spec: ParameterSpec, value: Any) -> str | None:
    """The ``--set`` text of a value the user gave, or ``None`` when it is unset.

    Booleans and enums arrive as the chosen option's index into ``spec.choices`` (or as the
    option's text); index 0 is "(input's value)". Numbers come as float: an integer parameter
    is written without ``.0``, a float with ``repr`` precision.
    """
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if spec.kind in ("boolean", "enum"):
        return _choice_text(spec, value)
    if spec.kind in ("number", "integer"):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value).strip()


def _choice_text(spec: ParameterSpec, value: Any) -> str | None:
    """A boolean's or enum's text: from an option index, a bool or the option's text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    choice = spec.choices[int(value)] if isinstance(value, int | float) else str(value)
    return None if choice == UNSET else choice


def set_arguments(specs: Iterable[ParameterSpec], values: Mapping[str, Any]) -> list[str]:
    """``--set key=value`` for every parameter the user set (by spec name); unset ones not at all."""
    argv: list[str] = []
    for spec in specs:
        text = format_value(spec, values.get(spec.name))
        if text is not None:
            argv += ["--set", f"{spec.key}={text}"]
    return argv


def time_limit_text(value: Any) -> str | None:
    """``--time-limit``'s text: a number is seconds, text (``90s``, ``10m``, ``1h30m``) as given."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return None if value <= 0 else f"{value:g}s"
    text = str(value).strip()
    return text or None


def time_limit_seconds(text: str | None) -> float | None:
    """Seconds of a ``--time-limit`` text, for the progress bar only (``None`` if unparsable)."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    match = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*", text
    )
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _optional(flag: str, value: Any) -> list[str]:
    return [] if value in (None, "") else [flag, str(value)]


def run_argv(
    executable: str,
    source: str,
    output: str,
    *,
    mapping: str | None = None,
    tables: str | None = None,
    time_limit: str | None = None,
    threads: int | None = None,
    settings: Sequence[str] = (),
) -> list[str]:
    """``heatnet run``, always with ``--overwrite --mkdir --json``.

    Processing may already have created the output file, or not its folder; the outcome is read
    from the JSON on stdout.
    """
    return [
        executable,
        "run",
        source,
        "-o",
        output,
        *_optional("--map", mapping),
        *_optional("--tables", tables),
        *_optional("--time-limit", time_limit),
        *_optional("--threads", threads),
        *settings,
        "--overwrite",
        "--mkdir",
        "--json",
    ]


def validate_argv(
    executable: str,
    source: str,
    *,
    mapping: str | None = None,
    tables: str | None = None,
    settings: Sequence[str] = (),
) -> list[str]:
    """``heatnet validate --format json``."""
    return [
        executable,
        "validate",
        source,
        *_optional("--map", mapping),
        *_optional("--tables", tables),
        *settings,
        "--format",
        "json",
    ]


def report_argv(executable: str, design: str, output: str) -> list[str]:
    """``heatnet report`` into a .png or .html (the extension picks the kind)."""
    return [executable, "report", design, "-o", output, "--overwrite", "--mkdir"]


def init_argv(executable: str, output: str, crs: str, buildings: str = "polygon") -> list[str]:
    """``heatnet init``: an empty input in this CRS."""
    return [
        executable,
        "init",
        output,
        "--crs",
        crs,
        "--buildings",
        buildings,
        "--overwrite",
        "--mkdir",
    ]


def default_executable() -> str:
    """``heatnet`` on PATH, else the bare name (the setting then says what to fill in)."""
    return shutil.which("heatnet") or "heatnet"


# --- progress ----------------------------------------------------------------------------------

LOG_LINE = re.compile(r"^(?:\d\d:\d\d:\d\d\s+)?(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+(.*)$")
STAGE = re.compile(r"^stage (\w+)")
INCUMBENT = re.compile(r"^MIP (\d+): incumbent (\S+)\s+bound (\S+)\s+gap (\S+)")
PRICED = re.compile(r"^(.+?): design priced at (\S+) \(best (\S+)\)")
LIMIT = re.compile(r"^search: runtime limit ([0-9.eE+]+) s$")


@dataclass(frozen=True)
class LineInfo:
    """What one stderr line of heatnet says.

    ``kind`` is ``stage``, ``incumbent``, ``priced``, ``error``, ``warning`` or ``other``; the
    level is the log level (``None`` for a line that is not a log line, e.g. validate's report).
    """

    kind: str
    level: str | None
    message: str
    stage: str | None = None
    best: str | None = None


def classify_line(line: str) -> LineInfo:
    """Classify one stderr line of heatnet (plain log lines: stderr is a pipe)."""
    text = line.rstrip("\r\n")
    match = LOG_LINE.match(text.strip())
    if not match:
        error = text.strip().startswith(("heatnet: ", "Error:"))
        return LineInfo("error" if error else "other", None, text.strip() if error else text)
    level, message = match.groups()
    stage = STAGE.match(message)
    priced = PRICED.match(message)
    if level in ("ERROR", "CRITICAL"):
        kind = "error"
    elif stage:
        kind = "stage"
    elif priced:
        kind = "priced"
    elif INCUMBENT.match(message):
        kind = "incumbent"
    else:
        kind = "warning" if level == "WARNING" else "other"
    return LineInfo(
        kind,
        level,
        message,
        stage=stage.group(1) if stage and kind == "stage" else None,
        best=priced.group(3) if priced and kind == "priced" else None,
    )


@dataclass
class ProgressTracker:
    """Turns heatnet's stderr lines into a percentage and a progress text.

    The optimiser's share grows with elapsed time over the time limit (when known); heatnet
    stops at the limit, so that is an honest estimate. Without a limit given, the one heatnet
    logs when its search starts (``search: runtime limit N s``) is used.
    """

    time_limit_s: float | None = None
    clock: Callable[[], float] = time.monotonic
    percent: float = 0.0
    stage: str | None = None
    text: str = "Starting heatnet"
    best: str | None = None
    priced_count: int = 0
    _optimise_start: float | None = field(default=None, repr=False)

    def feed(self, line: str) -> LineInfo:
        """Take one stderr line; update percent and text."""
        info = classify_line(line)
        limit = LIMIT.match(info.message) if info.level else None
        if limit and self.time_limit_s is None:  # heatnet's own (the input's parameter)
            self.time_limit_s = float(limit.group(1))
        if info.kind == "stage" and info.stage:
            self.stage = info.stage
            self.percent = max(self.percent, STAGE_PERCENT.get(info.stage, self.percent))
            self.text = f"heatnet: {info.stage}"
            if info.stage == "optimise":
                self._optimise_start = self.clock()
        elif info.kind == "priced":
            self.best = info.best
            self.priced_count += 1
            self.text = f"heatnet: optimise (best design NPV {info.best})"
        self.tick()
        return info

    def tick(self) -> float:
        """Advance the optimiser's share by the time spent; returns the percentage."""
        if self.stage == "optimise" and self._optimise_start is not None and self.time_limit_s:
            share = min(1.0, (self.clock() - self._optimise_start) / self.time_limit_s)
            start = STAGE_PERCENT["optimise"]
            self.percent = max(self.percent, start + share * (OPTIMISE_END - start))
        return self.percent


# --- the outcome -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """``heatnet run --json``'s object, the figures a Processing result shows picked out."""

    state: str | None
    exit_code: int | None
    output: str | None
    objective: float | None
    mip_gap: float | None
    upper_bound: float | None
    summary: Mapping[str, Any]
    dispatch: Any
    warnings: list[Any]
    interrupted: bool


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _warning_codes(warnings: Iterable[Any]) -> set[str]:
    codes: set[str] = set()
    for warning in warnings:
        if isinstance(warning, Mapping):
            codes.update(str(v) for k, v in warning.items() if k in ("code", "warning", "type"))
        else:
            codes.add(str(warning))
    return codes


def parse_run_json(stdout: str) -> RunOutcome:
    """Parse ``heatnet run --json``'s stdout (one JSON object, possibly after other text).

    Raises
    ------
    ValueError
        When stdout holds no JSON object.
    """
    data = json_object(stdout, "heatnet's JSON outcome")
    summary = data.get("summary") or {}
    warnings = list(data.get("warnings") or [])
    return RunOutcome(
        state=data.get("state") or summary.get("state"),
        exit_code=data.get("exit_code"),
        output=data.get("output"),
        objective=_number(summary.get("objective")),
        mip_gap=_number(summary.get("mip_gap")),
        upper_bound=_number(summary.get("upper_bound")),
        summary=summary,
        dispatch=data.get("dispatch"),
        warnings=warnings,
        interrupted="run_interrupted" in _warning_codes(warnings),
    )


# --- the runner --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """A finished heatnet process: exit code, stdout, every stderr line, whether we interrupted."""

    returncode: int
    stdout: str
    stderr_lines: list[str]
    canceled: bool
    killed: bool = False

    def stderr_tail(self, lines: int = 15) -> str:
        """The last stderr lines, for an error message."""
        return "\n".join(line.rstrip() for line in self.stderr_lines[-lines:])


class HeatnetNotFound(RuntimeError):
    """The configured heatnet executable cannot be started."""


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """QGIS's environment without the variables that would mislead another Python environment.

    UTF-8 and unbuffered output so lines stream as they are written.
    """
    env = {
        k: v
        for k, v in (base if base is not None else os.environ).items()
        if k not in FOREIGN_ENVIRONMENT
    }
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _pump(stream: Any, sink: queue.Queue[str | None]) -> None:
    """Copy a text stream's lines into a queue, then ``None`` at its end."""
    try:
        for line in stream:
            sink.put(line)
    finally:
        sink.put(None)


def _interrupt(process: subprocess.Popen[str]) -> None:
    """The one interrupt heatnet takes as "stop and keep the best design" (Ctrl-C).

    POSIX: SIGINT. Windows: CTRL_BREAK_EVENT to the process group started for it.
    """
    if sys.platform == "win32":
        process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
    else:
        os.kill(process.pid, signal.SIGINT)


def _start(argv: Sequence[str], env: Mapping[str, str] | None) -> subprocess.Popen[str]:
    kwargs: dict[str, Any] = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined,unused-ignore]
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=dict(env) if env is not None else child_environment(),
            **kwargs,
        )
    except OSError as error:
        raise HeatnetNotFound(
            f"cannot start heatnet as {argv[0]!r}: {error}. Set the heatnet executable in "
            "Processing > Options > Providers > heatnet (e.g. /path/to/venv/bin/heatnet)"
        ) from error


def _overdue(
    started: float,
    timeout_s: float | None,
    interrupted_at: float | None,
    kill_after_s: float | None,
) -> bool:
    """Whether the run has outlived its timeout, or its interrupt by ``kill_after_s``."""
    now = time.monotonic()
    if timeout_s is not None and now - started > timeout_s:
        return True
    return (
        interrupted_at is not None
        and kill_after_s is not None
        and now - interrupted_at > kill_after_s
    )


def run_heatnet(
    argv: Sequence[str],
    on_line: Callable[[str], None] = lambda _line: None,
    is_canceled: Callable[[], bool] = lambda: False,
    *,
    on_tick: Callable[[], None] = lambda: None,
    poll_s: float = 0.2,
    kill_after_s: float | None = None,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Run heatnet, handing each stderr line to ``on_line`` in the caller's thread.

    When ``is_canceled()`` turns true, heatnet is interrupted once (SIGINT: it stops the search
    and writes the best design found, exit 0) and then waited for; a second interrupt would make
    it abandon the design. ``kill_after_s`` after that interrupt it is killed (``None``: never).
    ``on_tick`` is called every ``poll_s`` (for a progress bar that moves with time).
    ``timeout_s`` after the start heatnet is killed whatever it is doing (``None``: never); a
    killed run has ``killed`` set.

    Raises
    ------
    HeatnetNotFound
        When the executable cannot be started.
    """
    LOG.debug("running %s", argv)
    process = _start(argv, env)
    started = time.monotonic()
    lines: queue.Queue[str | None] = queue.Queue()
    out_chunks: list[str] = []
    readers = [
        threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True),
        threading.Thread(target=lambda: out_chunks.append(process.stdout.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    stderr_lines: list[str] = []
    interrupted_at: float | None = None
    killed = False
    stderr_open = True
    while stderr_open or process.poll() is None:
        try:
            line = lines.get(timeout=poll_s)
        except queue.Empty:
            line = ""
        if line is None:
            stderr_open = False
        elif line:
            stderr_lines.append(line)
            on_line(line)
        on_tick()
        if interrupted_at is None and process.poll() is None and is_canceled():
            LOG.info("interrupting heatnet (pid %s) once: it keeps the best design", process.pid)
            _interrupt(process)
            interrupted_at = time.monotonic()
        if (
            not killed
            and process.poll() is None
            and _overdue(started, timeout_s, interrupted_at, kill_after_s)
        ):
            LOG.warning("killing heatnet (pid %s): it did not stop in time", process.pid)
            process.kill()
            killed = True
        if not stderr_open and process.poll() is None:
            time.sleep(poll_s)
    for reader in readers:
        reader.join(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return Completed(
        returncode=process.wait(),
        stdout="".join(out_chunks),
        stderr_lines=stderr_lines,
        canceled=interrupted_at is not None,
        killed=killed,
    )


def parse_validate_json(stdout: str) -> dict[str, Any]:
    """``heatnet validate --format json``'s object (valid, errors, warnings, summary, issues)."""
    return json_object(stdout, "heatnet validate's JSON")


def json_object(stdout: str, what: str) -> dict[str, Any]:
    """The JSON object heatnet printed on stdout (from its first brace).

    Raises
    ------
    ValueError
        When there is none, it is not JSON, or not an object (``what`` names it).
    """
    start = stdout.find("{")
    if start < 0:
        raise ValueError(f"{what}: heatnet printed no JSON")
    data = json.loads(stdout[start:])  # json.JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError(f"{what} is not an object")
    return data


def issue_text(issue: Mapping[str, Any]) -> str:
    """One validate issue as a line: table, row or id, column, code, message."""
    where = [str(issue.get("table") or "input")]
    if issue.get("feature_id") not in (None, ""):
        where.append(str(issue["feature_id"]))
    elif issue.get("row") is not None:
        where.append(f"row {issue['row']}")
    if issue.get("column"):
        where.append(f"[{issue['column']}]")
    return f"{' '.join(where)}: {issue.get('code', '?')}: {issue.get('message', '')}"


def failure_message(what: str, completed: Completed) -> str:
    """A failed run as one message: what failed, the exit code's meaning, heatnet's own words.

    ``run --json`` prints an object on failure too (``error`` and the input's ``issues``):
    its issues, one per line, when it has them; else the tail of heatnet's stderr.
    """
    meaning = EXIT_MEANING.get(completed.returncode, "unexpected exit")
    detail = "\n".join(issue_text(i) for i in _failure_issues(completed.stdout))
    detail = detail or completed.stderr_tail()
    return f"heatnet {what} failed (exit {completed.returncode}: {meaning})" + (
        f":\n{detail}" if detail else ""
    )


def _failure_issues(stdout: str) -> list[Mapping[str, Any]]:
    """The error issues of a ``run --json`` failure object (none when stdout holds none)."""
    try:
        issues = json_object(stdout, "run --json").get("issues")
    except ValueError:
        return []
    if not isinstance(issues, list):
        return []
    return [i for i in issues if isinstance(i, dict) and i.get("severity") == "error"]
