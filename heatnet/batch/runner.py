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
forever: the batch wakes every :data:`dask_side.POLL_S` seconds to check that the scheduler answers and has
workers, and gives up (:class:`ClusterLost`) when it lost the scheduler, the scheduler has not
answered for :data:`SILENT_S` seconds, or had no worker for :data:`NO_WORKERS_S` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from heatnet import __version__
from heatnet.batch import cluster as dask_side
from heatnet.batch.cluster import Cluster, ClusterLost, Watch, outcome
from heatnet.batch.files import (
    MANIFEST,
    check_names,
    check_targets,
    files_written,
    input_digests,
    manifest_entry,
    output_folder,
    read_manifest,
    stored_result,
    write_manifest,
    write_summary,
)
from heatnet.batch.scenarios import Scenario
from heatnet.batch.worker import ScenarioResult, run_scenario
from heatnet.core.errors import InputError
from heatnet.core.exits import SEVERITY, ExitCode
from heatnet.core.signals import sigterm_interrupts

log = logging.getLogger(__name__)


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
class BatchOutcome:
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
) -> BatchOutcome:
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
    BatchOutcome
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
    with sigterm_interrupts():
        began = time.perf_counter()
        plan = _plan(scenarios, Path(folder), resume=resume, overwrite=overwrite)
        dashboard = None
        try:
            with Cluster(scheduler, workers) as (client, dashboard):
                report = _progress_reporter(
                    on_progress, len(scenarios), len(plan.skipped), dashboard
                )
                write_manifest(plan.manifest, plan.state)  # its files: before any is written
                _collect(plan, client, runner, report, scheduler or "the local cluster")
        except BaseException:
            with contextlib.suppress(Exception):  # the interruption or loss is what to report
                if plan.results:
                    write_summary(plan.folder, scenarios, plan.ordered(scenarios))
            raise
        ordered = plan.ordered(scenarios)
        write_summary(plan.folder, scenarios, ordered)
        return BatchOutcome(
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
        write_manifest(self.manifest, self.state)


def _plan(scenarios: Sequence[Scenario], folder: Path, *, resume: bool, overwrite: bool) -> _Plan:
    """Check everything that can be checked before the cluster starts (see :func:`run_batch`)."""
    folder = output_folder(folder)
    manifest = read_manifest(folder, overwrite=overwrite)
    if manifest is not None and not (resume or overwrite):
        raise InputError(
            f"{folder} holds an earlier batch ({MANIFEST}); use --resume to continue it or "
            "--overwrite to run everything again"
        )
    check_names(scenarios, folder)
    digests = input_digests(scenarios)
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
    written = files_written(todo)
    recorded = manifest.files if manifest is not None else frozenset()
    check_targets(folder, scenarios, written, recorded)
    files = {f for f in recorded if os.path.lexists(folder / f)} | set(written)
    state: dict[str, Any] = {
        "heatnet_version": __version__,
        "scenarios": {name: previous[name] for name in skipped},
        "files": sorted(files),
    }
    results = {name: stored_result(previous[name]["result"]) for name in skipped}
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
    watch = Watch(client, where)
    done = failed = 0
    try:
        while futures:
            try:
                future = ready.get(timeout=dask_side.POLL_S)
            except queue.Empty:
                watch.check()
                continue
            scenario = futures.pop(future)
            result = outcome(future, scenario, watch)
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
