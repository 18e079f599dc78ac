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
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio

from heatnet import __version__
from heatnet.atomic import atomic_output
from heatnet.errors import HeatnetError, InputError, ValidationError
from heatnet.pipeline import run
from heatnet.scenarios import Scenario
from heatnet.solve import SolverOptions

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SUMMARY = "summary"
EXIT_OK, EXIT_BUG, EXIT_INVALID, EXIT_INFEASIBLE, EXIT_FAILED = 0, 1, 3, 4, 5
SEVERITY = (EXIT_OK, EXIT_INFEASIBLE, EXIT_FAILED, EXIT_INVALID, EXIT_BUG)
"""Scenario exit codes from best to worst: the batch exits with the worst one."""
STATUS = {
    EXIT_OK: "design",
    EXIT_INVALID: "invalid-input",
    EXIT_INFEASIBLE: "infeasible",
    EXIT_FAILED: "no-design",
    EXIT_BUG: "error",
}


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
        return STATUS.get(self.exit_code, "error")


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
    code, message, summary, written = EXIT_BUG, "", {}, None
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
        state = report.exit_state
        code = (
            EXIT_OK
            if state == "design"
            else EXIT_INFEASIBLE
            if state == "infeasible"
            else EXIT_FAILED
        )
        message = "; ".join(f"{kind}: {text}" for kind, text in report.solution.reasons)
    except ValidationError as exc:
        errors = [i for i in exc.issues if i.is_error]
        code = EXIT_INVALID
        message = "; ".join(
            f"{i.table}{'' if i.row is None else f' row {i.row}'}"
            f"{'' if i.column is None else f' {i.column}'}: {i.message}"
            for i in errors[:5]
        ) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
    except HeatnetError as exc:
        code, message = exc.exit_code, str(exc)
    except Exception as exc:  # a bug in heatnet: recorded, the batch goes on
        log.exception("scenario %s failed", scenario.name)
        code, message = EXIT_BUG, f"internal error: {exc!r}"
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
        codes = [r.exit_code for r in self.results] or [EXIT_OK]
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
        When the folder holds an earlier batch and neither ``resume`` nor ``overwrite`` is set.
    """
    from distributed import as_completed  # Dask loads only for a batch

    began = time.perf_counter()
    folder = folder.resolve()  # workers may run elsewhere (another working folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / MANIFEST
    manifest = _read_manifest(manifest_path)
    if manifest and not (resume or overwrite):
        raise InputError(
            f"{folder} holds an earlier batch ({MANIFEST}); use --resume to continue it or "
            "--overwrite to run everything again"
        )
    digests = _digests(scenarios)
    entries = {s.name: manifest_entry(s, digests) for s in scenarios}
    previous = manifest.get("scenarios", {}) if resume else {}
    skipped = [
        s.name
        for s in scenarios
        if s.name in previous
        and previous[s.name].get("output") == s.output_name
        and (folder / s.output_name).is_file()
        and entries[s.name]["input_sha256"] is not None
        and {k: previous[s.name].get(k) for k in entries[s.name]} == entries[s.name]
    ]
    todo = [s for s in scenarios if s.name not in skipped]
    kept = {name: previous[name] for name in skipped}
    state: dict[str, Any] = {"heatnet_version": __version__, "scenarios": dict(kept)}
    _write_manifest(manifest_path, state)
    results: dict[str, ScenarioResult] = {
        name: ScenarioResult(**previous[name]["result"]) for name in skipped
    }
    with _Cluster(scheduler, workers) as (client, dashboard):
        failed = 0
        report = _progress_reporter(on_progress, len(scenarios), len(skipped), dashboard)
        report(done=0, running=0, failed=0, last=None)
        futures = {
            client.submit(runner, s, str(folder), key=f"heatnet-{s.name}-{id(s)}", pure=False): s
            for s in todo
        }
        for done, future in enumerate(as_completed(futures), start=1):
            scenario = futures.pop(future)
            result = _outcome(future, scenario)
            future.release()  # a finished result must not be recomputed if its worker dies
            results[scenario.name] = result
            failed += result.exit_code not in (EXIT_OK, EXIT_INFEASIBLE)
            state["scenarios"][scenario.name] = {
                **entries[scenario.name],
                "output": scenario.output_name if result.output else None,
                "exit_code": result.exit_code,
                "result": asdict(result),
            }
            _write_manifest(manifest_path, state)
            report(done=done, running=_running(client), failed=failed, last=result)
    ordered = tuple(results[s.name] for s in scenarios if s.name in results)
    _write_summary(folder, scenarios, ordered)
    return BatchReport(folder, ordered, tuple(skipped), time.perf_counter() - began, dashboard)


def _running(client: Any) -> int:
    """Tasks the workers are processing now (not those waiting for a worker)."""
    try:
        return sum(len(keys) for keys in client.processing().values())
    except Exception:  # only a progress figure: a scheduler hiccup is not fatal
        return 0


def _outcome(future: Any, scenario: Scenario) -> ScenarioResult:
    """The scenario's result, or a crash record when its task failed (e.g. killed workers)."""
    try:
        result = future.result()
    except Exception as exc:  # KilledWorker, a worker lost for good, a pickling failure, ...
        name = type(exc).__name__
        text = (
            "the scenario killed its worker too many times (a crash, or out of memory)"
            if name == "KilledWorker"
            else str(exc)
        )
        log.error("scenario %s: %s: %s", scenario.name, name, text)
        return ScenarioResult(scenario.name, EXIT_BUG, f"{name}: {text}", 0.0, {}, None, "")
    return result  # type: ignore[no-any-return]


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
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler:
            self.client = Client(self.scheduler, timeout="30s")
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
                )
            self.client = Client(self.cluster)
        link = self.client.dashboard_link if _has_dashboard() else None
        return self.client, link

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


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


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a heatnet batch manifest: {exc}") from exc
    return data if isinstance(data, dict) else {}


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
