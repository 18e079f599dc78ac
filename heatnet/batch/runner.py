"""Many scenarios at once: ``heatnet run`` fanned out over Dask.

A scenarios file (CSV) has one row per scenario: ``scenario`` (its name), ``input`` (a
GeoPackage, relative to the file), optional ``tables``, and any number of parameter columns named
by parameter key, overriding the input's ``parameters`` table. ``--sweep KEY=START:STOP:STEP``
multiplies every row by a range of one parameter (several sweeps: their product).

Each scenario runs the whole pipeline (:func:`heatnet.pipeline.run`) as one Dask task in a worker
process with one solver thread and writes ``OUTDIR/<scenario>.gpkg``. The same code runs on a
``LocalCluster`` (``--workers`` processes) or on a running cluster (``--scheduler ADDRESS``,
started with Dask's own ``dask scheduler`` / ``dask worker``; workers must see the input paths).
Dask retries a task whose worker died on another worker; a scenario that kills workers
repeatedly (Dask's ``allowed-failures``) is recorded as crashed. One scenario's bad input,
infeasibility, solver failure or crash never stops the others.

``OUTDIR/manifest.json`` records, per finished scenario, its exit status, the SHA-256 of its
inputs, its parameters and the heatnet version; it is rewritten atomically after each scenario,
so an interrupted batch loses no finished result, and ``--resume`` skips the scenarios whose
output exists and whose entry still matches. ``OUTDIR/summary.csv`` and ``summary.gpkg`` hold
one row per scenario: its parameters, exit status and message, runtime and every
``solution_summary`` field.

Nothing of the user's is replaced: the manifest's ``files`` lists every file of the folder that
heatnet wrote (or is about to write: recorded before the scenarios start), and a batch that would
replace any other file (``<scenario>.gpkg``, ``logs/<scenario>.log``, ``summary.*``) refuses to
start, naming it, ``--overwrite`` or not. A manifest heatnet cannot read is refused, saying what
is wrong with it; ``--overwrite`` starts afresh (the files it names are still heatnet's).

SIGTERM stops a batch as Ctrl-C does (:class:`KeyboardInterrupt`): the cluster is closed, the
finished results, the manifest and a summary of them are kept. No wait on the cluster blocks
forever: the batch wakes every :data:`POLL_S` seconds to check that the scheduler answers and has
workers, and gives up (:class:`ClusterLost`) when it lost the scheduler, the scheduler has not
answered for :data:`SILENT_S` seconds, or had no worker for :data:`NO_WORKERS_S` seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio

from heatnet import __version__
from heatnet.batch.scenarios import Scenario
from heatnet.core.atomic import SQLITE_SIDE_FILES, atomic_output, name_max
from heatnet.core.errors import HeatnetError, InputError, ValidationError
from heatnet.core.exits import SEVERITY, ExitCode
from heatnet.optimise.highs import SolverOptions
from heatnet.pipeline import run

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SUMMARY = "summary"
SUMMARY_FILES = (f"{SUMMARY}.csv", f"{SUMMARY}.gpkg")
LOGS = "logs"
POLL_S = 2.0
"""How often a waiting batch checks on its cluster (and how long one result fetch may take)."""
ANSWER_S = 30.0
"""How long one question to the scheduler may take."""
SILENT_S = 120.0
"""A scheduler that has not answered for this long is lost."""
NO_WORKERS_S = 300.0
"""A cluster without a single worker for this long is lost (nothing would ever run)."""
CLOSE_S = 30.0
"""How long closing the client, and the local cluster, may take."""


class ClusterLost(HeatnetError):
    """The Dask cluster stopped answering, or has had no workers for too long (exit code 1)."""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """What one scenario did (sent back from the worker; plain data only)."""

    name: str
    exit_code: int
    message: str
    runtime_s: float
    summary: dict[str, Any]
    output: str | None
    worker: str = ""

    @property
    def status(self) -> str:
        """``design``, ``invalid-input``, ``infeasible``, ``no-design`` or ``error``."""
        known = self.exit_code in ExitCode.__members__.values()
        return ExitCode(self.exit_code).status if known else "error"


# --- one scenario, in a worker ------------------------------------------------------------------


def run_scenario(scenario: Scenario, folder: str) -> ScenarioResult:
    """Run one scenario into ``folder``; every outcome becomes an exit code, never an exception.

    Runs in a Dask worker (one solver thread). Its log goes to ``folder/logs/<name>.log``.
    """
    began = time.perf_counter()
    output = Path(folder) / scenario.output_name
    logs = Path(folder) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(logs / f"{scenario.name}.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("heatnet")
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    code, message, summary, written = ExitCode.BUG, "", {}, None
    try:
        report = run(
            scenario.input,
            output,
            tables=scenario.tables,
            overrides=dict(scenario.overrides),
            overwrite=True,
            run_name=scenario.name,
            options=SolverOptions(threads=1),
        )
        summary = {k: _plain(v) for k, v in report.summary.items()}
        written = str(output)
        code = report.exit_code
        message = "; ".join(f"{kind}: {text}" for kind, text in report.solution.reasons)
    except ValidationError as exc:
        errors = [i for i in exc.issues if i.is_error]
        code = ExitCode.INVALID
        message = "; ".join(
            f"{i.table}{'' if i.row is None else f' row {i.row}'}"
            f"{'' if i.column is None else f' {i.column}'}: {i.message}"
            for i in errors[:5]
        ) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
    except HeatnetError as exc:
        code, message = exc.exit_code, str(exc)
    except Exception as exc:  # a bug in heatnet: recorded, the batch goes on
        log.exception("scenario %s failed", scenario.name)
        code, message = ExitCode.BUG, f"internal error: {exc!r}"
    finally:
        package.removeHandler(handler)
        handler.close()
    return ScenarioResult(
        scenario.name, code, message, time.perf_counter() - began, summary, written, _worker()
    )


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (NaN → None, numpy → Python)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _worker() -> str:
    try:
        from distributed import get_worker  # only inside a Dask worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


# --- the batch ----------------------------------------------------------------------------------


def file_digest(path: Path | None) -> str | None:
    """SHA-256 of a file, or of every file below a folder (names and contents).

    None when there is no path, or the batch cannot see it (then ``--resume`` runs it again).
    """
    try:
        if path is None or not path.exists():
            return None
        digest = hashlib.sha256()
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for item in files:
            if path.is_dir():
                digest.update(str(item.relative_to(path)).encode())
            with item.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    except OSError:  # unreadable here: its scenario says why when it runs
        return None
    return digest.hexdigest()


def manifest_entry(scenario: Scenario, digests: Mapping[Path, str | None]) -> dict[str, Any]:
    """What a result depends on: input hashes, parameters, heatnet version."""
    return {
        "input": str(scenario.input),
        "input_sha256": digests[scenario.input],
        "tables": None if scenario.tables is None else str(scenario.tables),
        "tables_sha256": None if scenario.tables is None else digests[scenario.tables],
        "parameters": dict(sorted(scenario.overrides.items())),
        "heatnet_version": __version__,
    }


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """Counts for the progress display.

    ``done`` includes skipped scenarios; ``running`` is what the workers process now;
    ``failed`` counts invalid inputs, runs without a design and crashes (an infeasible scenario
    is done, not failed); ``last`` is the scenario that just finished.
    """

    total: int
    done: int
    running: int
    failed: int
    skipped: int
    dashboard: str | None
    last: ScenarioResult | None = None


@dataclass(frozen=True, slots=True)
class BatchReport:
    """A finished (or interrupted) batch."""

    folder: Path
    results: tuple[ScenarioResult, ...]
    skipped: tuple[str, ...]
    runtime_s: float
    dashboard: str | None

    @property
    def exit_code(self) -> int:
        """The worst scenario exit code (0 < 4 < 5 < 3 < 1)."""
        codes = [r.exit_code for r in self.results] or [ExitCode.OK]
        return max(codes, key=lambda c: SEVERITY.index(c) if c in SEVERITY else len(SEVERITY))


Runner = Callable[[Scenario, str], ScenarioResult]


def run_batch(
    scenarios: Sequence[Scenario],
    folder: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    on_progress: Callable[[BatchProgress], None] | None = None,
    runner: Runner = run_scenario,
) -> BatchReport:
    """Run scenarios on Dask and write their outputs, the manifest and the summary.

    Parameters
    ----------
    scenarios
        From :func:`read_scenarios`.
    folder
        The output folder (created).
    workers
        Processes of the local cluster (default: the machine's cores); ignored with
        ``scheduler``.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) instead of a local cluster.
    resume
        Skip scenarios whose output exists and whose manifest entry matches.
    overwrite
        Run into a folder that holds an earlier batch's manifest (without ``resume``).
    on_progress
        Told after each scenario finishes (and once at the start).
    runner
        What a worker runs per scenario (tests replace it).

    Returns
    -------
    BatchReport
        Every result (skipped ones from the manifest), in scenario order.

    Raises
    ------
    InputError
        Before anything runs: the folder is a file or cannot be written; it holds an earlier
        batch and neither ``resume`` nor ``overwrite`` is set; its manifest cannot be read
        (without ``overwrite``); a scenario name is too long for a file name; a scenario reads
        a file the batch would write; or the batch would replace a file heatnet did not write
        (with ``overwrite`` too). Also when ``scheduler`` cannot be reached.
    ClusterLost
        When the cluster is lost mid-batch (the finished results, manifest and summary kept).
    KeyboardInterrupt
        On Ctrl-C or SIGTERM (the finished results, manifest and summary kept).
    """
    with _sigterm_interrupts():
        began = time.perf_counter()
        plan = _plan(scenarios, Path(folder), resume=resume, overwrite=overwrite)
        dashboard = None
        try:
            with _Cluster(scheduler, workers) as (client, dashboard):
                report = _progress_reporter(
                    on_progress, len(scenarios), len(plan.skipped), dashboard
                )
                _write_manifest(plan.manifest, plan.state)  # its files: before any is written
                _collect(plan, client, runner, report, scheduler or "the local cluster")
        except BaseException:
            with contextlib.suppress(Exception):  # the interruption or loss is what to report
                if plan.results:
                    _write_summary(plan.folder, scenarios, plan.ordered(scenarios))
            raise
        ordered = plan.ordered(scenarios)
        _write_summary(plan.folder, scenarios, ordered)
        return BatchReport(
            plan.folder, ordered, tuple(plan.skipped), time.perf_counter() - began, dashboard
        )


@dataclass(slots=True)
class _Plan:
    """What a batch will do, checked before anything runs, and what it has done so far."""

    folder: Path
    manifest: Path
    todo: list[Scenario]
    skipped: list[str]
    entries: dict[str, dict[str, Any]]
    state: dict[str, Any]
    """The manifest: ``heatnet_version``, ``scenarios`` (finished) and ``files`` (heatnet's)."""
    results: dict[str, ScenarioResult]

    def ordered(self, scenarios: Sequence[Scenario]) -> tuple[ScenarioResult, ...]:
        return tuple(self.results[s.name] for s in scenarios if s.name in self.results)

    def record(self, scenario: Scenario, result: ScenarioResult) -> None:
        """Keep a finished scenario's result and rewrite the manifest."""
        self.results[scenario.name] = result
        self.state["scenarios"][scenario.name] = {
            **self.entries[scenario.name],
            "output": scenario.output_name if result.output else None,
            "exit_code": result.exit_code,
            "result": asdict(result),
        }
        _write_manifest(self.manifest, self.state)


def _plan(scenarios: Sequence[Scenario], folder: Path, *, resume: bool, overwrite: bool) -> _Plan:
    """Check everything that can be checked before the cluster starts (see :func:`run_batch`)."""
    folder = _output_folder(folder)
    manifest = _read_manifest(folder, overwrite=overwrite)
    if manifest is not None and not (resume or overwrite):
        raise InputError(
            f"{folder} holds an earlier batch ({MANIFEST}); use --resume to continue it or "
            "--overwrite to run everything again"
        )
    _check_names(scenarios, folder)
    digests = _digests(scenarios)
    entries = {s.name: manifest_entry(s, digests) for s in scenarios}
    previous = manifest.scenarios if manifest is not None and resume else {}
    skipped = [
        s.name
        for s in scenarios
        if s.name in previous
        and previous[s.name]["output"] == s.output_name
        and (folder / s.output_name).is_file()
        and entries[s.name]["input_sha256"] is not None
        and {k: previous[s.name].get(k) for k in entries[s.name]} == entries[s.name]
    ]
    todo = [s for s in scenarios if s.name not in skipped]
    written = _files_written(todo)
    recorded = manifest.files if manifest is not None else frozenset()
    _check_targets(folder, scenarios, written, recorded)
    files = {f for f in recorded if os.path.lexists(folder / f)} | set(written)
    state: dict[str, Any] = {
        "heatnet_version": __version__,
        "scenarios": {name: previous[name] for name in skipped},
        "files": sorted(files),
    }
    results = {name: _stored_result(previous[name]["result"]) for name in skipped}
    return _Plan(folder, folder / MANIFEST, todo, skipped, entries, state, results)


def _collect(
    plan: _Plan, client: Any, runner: Runner, report: Callable[..., None], where: str
) -> None:
    """Submit the scenarios to run and record each result as it comes; no wait is unbounded."""
    ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
    futures: dict[Any, Scenario] = {}
    for scenario in plan.todo:
        future = client.submit(
            runner, scenario, str(plan.folder), key=f"heatnet-{scenario.name}-{id(scenario)}",
            pure=False,
        )  # fmt: skip
        futures[future] = scenario
        future.add_done_callback(ready.put)  # called from Dask's callback thread
    report(done=0, running=0, failed=0, last=None)  # every scenario is with the scheduler
    watch = _Watch(client, where)
    done = failed = 0
    try:
        while futures:
            try:
                future = ready.get(timeout=POLL_S)
            except queue.Empty:
                watch.check()
                continue
            scenario = futures.pop(future)
            result = _outcome(future, scenario, watch)
            future.release()  # a finished result must not be recomputed if its worker dies
            done += 1
            failed += result.exit_code not in (ExitCode.OK, ExitCode.INFEASIBLE)
            plan.record(scenario, result)
            report(done=done, running=watch.running(), failed=failed, last=result)
    except ClusterLost as exc:
        raise ClusterLost(
            f"{exc}. {done} of {len(plan.todo)} scenario(s) had finished: their results are "
            f"kept in {plan.folder} ({MANIFEST}); --resume runs the rest"
        ) from None


class _Watch:
    """Checks that the cluster is still there while the batch waits for it."""

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where
        self.answered = self.had_workers = time.monotonic()

    def check(self) -> None:
        """Raise :class:`ClusterLost` when the scheduler is gone, silent or without workers."""
        if self.client.status in ("closing", "closed"):
            raise ClusterLost(f"lost the Dask scheduler ({self.where})")
        now = time.monotonic()
        try:
            workers = self.client.nthreads(callback_timeout=ANSWER_S)
        except Exception as exc:
            if now - self.answered > SILENT_S:
                raise ClusterLost(
                    f"the Dask scheduler ({self.where}) has not answered for {SILENT_S:.0f} s "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            return
        self.answered = now
        if workers:
            self.had_workers = now
        elif now - self.had_workers > NO_WORKERS_S:
            raise ClusterLost(
                f"the Dask cluster ({self.where}) has had no workers for {NO_WORKERS_S:.0f} s"
            )

    def running(self) -> int:
        """Tasks the workers are processing now (not those waiting for a worker)."""
        try:
            processing = self.client.sync(self.client.scheduler.processing, callback_timeout=POLL_S)
            return sum(len(keys) for keys in processing.values())
        except Exception:  # only a progress figure: a scheduler hiccup is not fatal
            return 0


def _outcome(future: Any, scenario: Scenario, watch: _Watch) -> ScenarioResult:
    """The scenario's result, or a crash record when its task failed (e.g. killed workers).

    Fetching a result may wait for a rerun (its worker died before handing it over): each wait
    is bounded, and the cluster is checked between them.
    """
    from concurrent.futures import CancelledError

    while True:
        try:
            result = future.result(timeout=POLL_S)
        except CancelledError:  # Dask cancels every future of a client that lost its scheduler
            raise ClusterLost(f"lost the Dask scheduler ({watch.where})") from None
        except TimeoutError as exc:
            if future.status == "error":  # the task's own TimeoutError
                return _crashed(scenario, exc)
            watch.check()
            continue
        except Exception as exc:  # KilledWorker, a worker lost for good, a pickling failure, ...
            return _crashed(scenario, exc)
        if not isinstance(result, ScenarioResult):
            return _crashed(scenario, TypeError(f"the runner returned {type(result).__name__}"))
        return result


def _crashed(scenario: Scenario, exc: BaseException) -> ScenarioResult:
    name = type(exc).__name__
    text = (
        "the scenario killed its worker too many times (a crash, or out of memory)"
        if name == "KilledWorker"
        else str(exc)
    )
    log.error("scenario %s: %s: %s", scenario.name, name, text)
    return ScenarioResult(scenario.name, ExitCode.BUG, f"{name}: {text}", 0.0, {}, None, "")


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises :class:`KeyboardInterrupt`, as Ctrl-C does; later ones while stopping are ignored.

    Only in the main thread, and not when SIGTERM is ignored (``nohup``-style launchers).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        yield
        return
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:  # already stopping (no logging here: a handler may interrupt logging)
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _progress_reporter(
    on_progress: Callable[[BatchProgress], None] | None,
    total: int,
    skipped: int,
    dashboard: str | None,
) -> Callable[..., None]:
    def report(*, done: int, running: int, failed: int, last: ScenarioResult | None) -> None:
        if on_progress is not None:
            on_progress(
                BatchProgress(total, done + skipped, running, failed, skipped, dashboard, last)
            )

    return report


class _Cluster:
    """A Dask client on the given scheduler, or on a new local cluster (closed on exit)."""

    def __init__(self, scheduler: str | None, workers: int | None) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> tuple[Any, str | None]:
        try:
            return self._start()
        except BaseException:  # Ctrl-C or SIGTERM while starting: stop what did start
            self.__exit__()
            raise

    def _start(self) -> tuple[Any, str | None]:
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=f"{ANSWER_S:.0f}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(
                    f"cannot reach the Dask scheduler at {self.scheduler}: {exc}"
                ) from exc
        else:
            # one task per worker at a time: Dask blames a dead worker on every task it holds,
            # so a crashing scenario must not share its worker with queued innocent ones
            with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
                self.cluster = LocalCluster(
                    n_workers=self.workers or _cores(),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # never a fixed port: two batches may run at once
                    silence_logs=logging.ERROR,
                    death_timeout=SILENT_S,  # a worker that cannot start (or reach us) gives up
                )
            self.client = Client(self.cluster, timeout=f"{ANSWER_S:.0f}s")
        # a scheduler that dies makes the client's background sender log a traceback before
        # heatnet notices; heatnet reports the lost cluster itself
        logging.getLogger("distributed.batched").setLevel(logging.CRITICAL)
        link = self.client.dashboard_link if _has_dashboard() else None
        return self.client, link

    def __exit__(self, kind: type[BaseException] | None = None, *_: object) -> None:
        """Close the client, then the local cluster (its workers), each within ``CLOSE_S``.

        After an interruption or a lost scheduler, Dask's own complaints about the connections
        it is told to drop (tracebacks of cancelled reconnections) are not shown: heatnet says
        what happened.
        """
        dask_logs = [
            logging.getLogger(name)
            for name in list(logging.root.manager.loggerDict)
            if name == "distributed" or name.startswith("distributed.")
        ]
        levels = [one.level for one in dask_logs]
        if kind is not None:
            for one in dask_logs:
                one.setLevel(logging.CRITICAL)
        try:
            for part in (self.client, self.cluster):
                if part is None:
                    continue
                try:
                    part.close(timeout=CLOSE_S)
                except Exception as error:  # a cluster already gone: nothing more to stop
                    log.warning(
                        "closing %s: %s: %s", type(part).__name__, type(error).__name__, error
                    )
        finally:
            if kind is None:  # after an error the process ends: late complaints stay hidden
                for one, level in zip(dask_logs, levels, strict=True):
                    one.setLevel(level)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _has_dashboard() -> bool:
    try:
        import bokeh  # noqa: F401 - Dask's dashboard needs it
    except ImportError:
        return False
    return True


def _digests(scenarios: Sequence[Scenario]) -> dict[Path, str | None]:
    paths = {s.input for s in scenarios} | {s.tables for s in scenarios if s.tables is not None}
    return {p: file_digest(p) for p in paths}


def _output_folder(folder: Path) -> Path:
    """The output folder, absolute (workers may run elsewhere) and created; InputError if not."""
    try:
        folder = folder.resolve()
        if folder.exists() and not folder.is_dir():
            raise InputError(
                f"{folder} is a file; the batch writes into a folder (<scenario>.gpkg, "
                f"{', '.join(SUMMARY_FILES)}, {MANIFEST}, {LOGS}/): give a folder's path"
            )
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write into the output folder {folder}")
    return folder


@dataclass(frozen=True, slots=True)
class _Manifest:
    """An earlier batch's manifest: its finished scenarios and the files heatnet wrote."""

    scenarios: dict[str, dict[str, Any]]
    files: frozenset[str]


_ENTRY_TYPES: dict[str, tuple[type | None, ...]] = {
    "input": (str,),
    "input_sha256": (str, None),
    "tables": (str, None),
    "tables_sha256": (str, None),
    "parameters": (dict,),
    "heatnet_version": (str,),
    "output": (str, None),
    "exit_code": (int,),
    "result": (dict,),
}
_RESULT_TYPES: dict[str, tuple[type | None, ...]] = {
    "name": (str,),
    "exit_code": (int,),
    "message": (str,),
    "runtime_s": (float,),
    "summary": (dict,),
    "output": (str, None),
    "worker": (str,),
}
_KINDS = {str: "a string", int: "an integer", float: "a number", dict: "an object", None: "null"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    for kind, text in _KINDS.items():
        if kind is not None and isinstance(value, kind):
            return text
    return "a list" if isinstance(value, list) else type(value).__name__


def _typed(value: Any, kinds: tuple[type | None, ...]) -> bool:
    if value is None or isinstance(value, bool):
        return value is None and None in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return any(kind is not None and isinstance(value, kind) for kind in kinds)


def _fields_problems(where: str, data: Mapping[str, Any], types: Mapping[str, Any]) -> list[str]:
    problems = []
    for key, kinds in types.items():
        if key not in data:
            problems.append(f"{where}'{key}' is missing")
        elif not _typed(data[key], kinds):
            wanted = " or ".join(_KINDS[k] for k in kinds)
            problems.append(f"{where}'{key}' is {_kind(data[key])}, not {wanted}")
    return problems


def _manifest_problems(data: Any) -> list[str]:
    """What makes ``data`` (parsed JSON) no manifest of heatnet's (nothing when it is one)."""
    if not isinstance(data, dict):
        return [f"it holds {_kind(data)}, not an object"]
    problems = _fields_problems("", data, {"heatnet_version": (str,), "scenarios": (dict,)})
    files = data.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        problems.append("'files' is not a list of file names")
    for name, entry in (data.get("scenarios") or {}).items() if not problems else ():
        where = f"scenarios → '{name}'"
        if not isinstance(entry, dict):
            problems.append(f"{where} is {_kind(entry)}, not an object")
            continue
        problems += _fields_problems(f"{where} → ", entry, _ENTRY_TYPES)
        if isinstance(entry.get("result"), dict):
            problems += _fields_problems(f"{where} → result → ", entry["result"], _RESULT_TYPES)
        parameters = entry.get("parameters")
        if isinstance(parameters, dict) and not all(
            isinstance(v, str) for v in parameters.values()
        ):
            problems.append(f"{where} → 'parameters' holds a value that is not text")
    return problems


def _recorded_files(data: Any, folder: Path) -> frozenset[str]:
    """The files of ``folder`` a manifest says heatnet wrote (read defensively: any JSON).

    A manifest written before ``files`` was kept (heatnet < 0.x) records them implicitly: its
    scenarios' outputs, the summary files and the logs folder.
    """
    if not isinstance(data, dict):
        return frozenset()
    listed = data.get("files")
    if isinstance(listed, list):
        return frozenset(f for f in listed if isinstance(f, str))
    entries = data.get("scenarios")
    outputs = {
        e["output"]
        for e in (entries.values() if isinstance(entries, dict) else ())
        if isinstance(e, dict) and isinstance(e.get("output"), str)
    }
    logs = folder / LOGS
    found = {f"{LOGS}/{p.name}" for p in logs.glob("*.log")} if logs.is_dir() else set()
    return frozenset(outputs | found | set(SUMMARY_FILES))


def _read_manifest(folder: Path, *, overwrite: bool) -> _Manifest | None:
    """The folder's manifest; None when there is none.

    One heatnet cannot read (not JSON, or not the structure heatnet writes: hand-edited) is
    refused, naming what is wrong, unless ``overwrite`` (start afresh: no scenario is kept,
    and the files it names as heatnet's still are).
    """
    path = folder / MANIFEST
    if not os.path.lexists(path):
        return None
    data: Any = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # a folder, unreadable, not UTF-8, not JSON
        problems = [f"not JSON ({exc})" if isinstance(exc, ValueError) else exc.strerror or ""]
    else:
        problems = _manifest_problems(data)
    if not problems:
        return _Manifest(dict(data["scenarios"]), _recorded_files(data, folder))
    what = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    if not overwrite:
        raise InputError(
            f"{path} is not a batch manifest heatnet can read: {what}. It records what an "
            "earlier batch did (was it edited by hand?); restore it, or use --overwrite to start "
            "afresh (every scenario runs again and the manifest is rewritten)"
        )
    if path.is_dir():
        raise InputError(f"{path} is a folder; the batch writes its manifest there")
    log.warning("%s cannot be read (%s): starting afresh (--overwrite)", path, what)
    return _Manifest({}, _recorded_files(data, folder))


def _stored_result(data: Mapping[str, Any]) -> ScenarioResult:
    """A finished scenario's result as the manifest keeps it (fields heatnet does not know: out)."""
    known = {f.name for f in fields(ScenarioResult)}
    return ScenarioResult(**{k: v for k, v in data.items() if k in known})


def _files_written(todo: Sequence[Scenario]) -> list[str]:
    """The files (relative to the folder) a batch running ``todo`` writes."""
    per_scenario = [(s.output_name, f"{LOGS}/{s.name}.log") for s in todo]
    return [name for pair in per_scenario for name in pair] + list(SUMMARY_FILES)


def _check_names(scenarios: Sequence[Scenario], folder: Path) -> None:
    """Every scenario's output (and the SQLite journal beside it) is a valid file name here."""
    limit = name_max(folder)
    longest = len(f".gpkg{SQLITE_SIDE_FILES[0]}")
    too_long = [s.name for s in scenarios if len(s.name.encode()) + longest > limit]
    if too_long:
        shown = ", ".join(f"'{n[:40]}...' ({len(n.encode())})" for n in too_long[:3])
        raise InputError(
            f"scenario name(s) too long for a file name in {folder} (at most {limit - longest} "
            f"characters there): {shown}"
            + (f" and {len(too_long) - 3} more" if len(too_long) > 3 else "")
        )


def _check_targets(
    folder: Path, scenarios: Sequence[Scenario], written: Sequence[str], recorded: frozenset[str]
) -> None:
    """Refuse a batch that would replace a file heatnet did not write, or a scenario's input."""
    logs = folder / LOGS
    if os.path.lexists(logs) and not logs.is_dir():
        raise InputError(f"{logs} is not a folder; the batch writes its scenarios' logs there")
    targets = {(folder / name): name for name in written}
    for scenario in scenarios:
        for source in (scenario.input, scenario.tables):
            if source is not None and source in targets:
                raise InputError(
                    f"scenario '{scenario.name}' reads {source}, which this batch would write "
                    f"({targets[source]}): move that input out of {folder}"
                )
    folders = [name for name in written if (folder / name).is_dir()]
    foreign = [name for name in written if os.path.lexists(folder / name) and name not in recorded]
    if folders:
        raise InputError(
            f"{folder} holds folders where the batch writes files: {', '.join(folders)}"
        )
    if foreign:
        raise InputError(
            f"{folder} holds {len(foreign)} file(s) this batch would replace that heatnet did "
            f"not write (no {MANIFEST} there records them): {', '.join(foreign)}. heatnet never "
            "replaces them, with --overwrite or not: move them away or choose another folder"
        )


def _write_manifest(path: Path, state: Mapping[str, Any]) -> None:
    """Rewrite the manifest atomically (a crash leaves the previous one whole)."""
    with atomic_output(path, overwrite=True) as temporary:
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")


def summary_table(scenarios: Sequence[Scenario], results: Sequence[ScenarioResult]) -> pd.DataFrame:
    """One row per scenario: name, input, parameters, status, message, runtime, summary."""
    by_name = {r.name: r for r in results}
    keys = sorted({k for s in scenarios for k in s.overrides})
    rows = []
    for scenario in scenarios:
        result = by_name.get(scenario.name)
        if result is None:
            continue
        row: dict[str, Any] = {
            "scenario": scenario.name,
            "input": str(scenario.input),
            "tables": None if scenario.tables is None else str(scenario.tables),
            **{key: scenario.overrides.get(key) for key in keys},
            "exit_code": result.exit_code,
            "status": result.status,
            "message": result.message,
            "scenario_runtime_s": result.runtime_s,
            "output": result.output,
        }
        row.update(result.summary)
        rows.append(row)
    return pd.DataFrame(rows)


def _write_summary(
    folder: Path, scenarios: Sequence[Scenario], results: Sequence[ScenarioResult]
) -> None:
    table = summary_table(scenarios, results)
    with atomic_output(folder / f"{SUMMARY}.csv", overwrite=True) as temporary:
        table.to_csv(temporary, index=False)
    with atomic_output(folder / f"{SUMMARY}.gpkg", overwrite=True) as temporary:
        pyogrio.write_dataframe(
            table, temporary, layer=SUMMARY, driver="GPKG", dataset_options={"VERSION": "1.2"}
        )
