"""Benchmark ``heatnet batch``: scenarios on a 2-worker Dask cluster against ``heatnet run`` calls.

Part of ``make bench`` (``bench/run.py``, the "batch" section), or on its own::

    python bench/measure_batch.py [--quick | --full] [--quiet-cores C] [--quiet-wait S]

The scenarios are N rows of the sample district ``sample_data/district.gpkg`` with the file's own
parameters (``linear`` pipes, npv-rate 3 %, 1 % gap; written to ``build/bench/batch-N.csv``),
each under its own name. Their work is identical (one solver thread, seed 0: the same MIPs and
the same design every time), so the comparison measures the batch machinery and the two cores,
not how unequal scenarios happen to share out between the workers: a sweep of
``finance/npv-rate`` would not do, one district run takes from 16 s (0.04) to 3 s (0.06).
``--full``: 16 scenarios, the issue's benchmark (about 6 minutes); ``--quick`` (the default): 4
(about 1.5 minutes). Both sides run the same scenarios:

(a) sequential: N ``heatnet run DISTRICT -o ... --threads 1`` subprocesses, one after another;
(b) batch: one ``heatnet batch SCENARIOS.csv -o ... --workers 2`` subprocess (a ``LocalCluster``
    of 2 worker processes, one solver thread each).

Figures (printed against the targets, never asserted):

* the wall times of (a) and (b) and the speed-up (a)/(b); target ≥ 1.7x with 16 scenarios;
* the per-scenario overhead of the batch machinery, in worker-seconds::

      overhead = (2 x wall(b) - sum of scenario_runtime_s) / N = 2 x wall(b) / N - mean runtime

  where ``scenario_runtime_s`` (``summary.csv``) is one scenario's ``run_scenario`` call in its
  worker, the pipeline and nothing else. Why worker-seconds: the 2 workers are the capacity the
  batch has, and every second a worker does not spend running a scenario (cluster start and
  close, the workers' imports, task dispatch, results coming back, manifest and summary writes,
  a worker idle at the end) is capacity the machinery costs. The figure does not depend on the
  number of workers and is the stricter one: the wall-clock time the machinery adds per
  scenario, ``(wall(b) - sum / 2) / N``, is half of it with 2 workers (also printed). Target ≤ 1 s
  with 16 scenarios (the start-up is shared by 16; with 4 it weighs four times as much);
* where that overhead went, from each scenario's interval: it ends at the later of the last
  writes to its output GeoPackage (renamed into place at the very end of
  ``heatnet.pipeline.run``) and to its log, and starts ``scenario_runtime_s`` before; each worker's idle time splits into start-up (launch to
  its first scenario), between scenarios, and end (its last scenario to the batch's exit);
* cluster start-up, measured on its own in a child (``--child-cluster``) with
  ``heatnet.batch.cluster.Cluster`` as ``heatnet batch`` uses it: ``LocalCluster`` + ``Client``, the
  workers' import of ``heatnet.batch.worker`` (what the first task costs them), and the close;
* contention: the optimiser's own ``runtime`` (``solution_summary``) alone in (a) and two at a
  time in (b). Two solvers on two cores can slow each other down (shared caches, memory
  bandwidth, the host: two plain ``heatnet run`` processes side by side do too), which caps the speed-up below 2 whatever the machinery does; the speed-up the
  batch would reach with no machinery at all, (a) / (sum / 2), is printed beside the measured one;
* load: ``os.getloadavg()`` before each phase, and the CPU every other process used during each
  phase, in cores (``/proc/stat`` busy time minus this process's and its children's CPU time).
  The 1-minute load average lags and counts the benchmark's own earlier runs, so the section
  waits for a quiet machine on the second figure: before measuring it samples 5 s, and while
  other processes use more than ``--quiet-cores`` (0.5) it polls every 30 s for up to
  ``--quiet-wait`` seconds (default 600 with ``--full``, 0 with ``--quick``). Other processes
  using more than that during a phase is reported as a warning: its figures are then disturbed.

The outputs stay under ``build/bench/batch-sequential-N/`` and ``build/bench/batch-out-N/`` (the
batch's own stdout and stderr in ``build/bench/batch-N.log``). This module is imported by
``bench/run.py``, which must stay small (see its docstring): only the ``--child-cluster`` child
imports heatnet and Dask; the parent reads the outputs with ``sqlite3``, ``csv`` and ``json``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optimise

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
DISTRICT = ROOT / "sample_data" / "district.gpkg"

WORKERS = 2
SPEEDUP_TARGET = 1.7
OVERHEAD_TARGET_S = 1.0
#: The scenario count the targets are set for.
TARGET_SCENARIOS = 16
QUICK_SCENARIOS = 4
QUIET_CORES = 0.5
QUIET_SAMPLE_S = 5.0
QUIET_POLL_S = 30.0
FULL_QUIET_WAIT_S = 600.0


def heatnet_command() -> str:
    """The ``heatnet`` script beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("heatnet")
    if beside.is_file():
        return str(beside)
    found = shutil.which("heatnet")
    if found is None:
        raise RuntimeError("no heatnet command beside the interpreter or on PATH")
    return found


def scenario_names(n: int) -> list[str]:
    return [f"district-{i:02d}" for i in range(1, n + 1)]


def write_scenarios(n: int) -> Path:
    """The scenarios file: N rows of the district, its own parameters (no parameter columns)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"batch-{n}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scenario", "input"])
        writer.writerows([name, str(DISTRICT)] for name in scenario_names(n))
    return path


# --- how busy the rest of the machine is ------------------------------------------------------


def _busy_s() -> float | None:
    """CPU seconds all processes have used since boot (``/proc/stat``); None off Linux."""
    try:
        fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _ours_s() -> float:
    """CPU seconds of this process and its finished (waited-for) children and their children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


@dataclass(frozen=True)
class CpuWatch:
    """The CPU other processes use from now on, in cores (see the module docstring)."""

    began: float
    busy: float | None
    ours: float

    @classmethod
    def start(cls) -> CpuWatch:
        return cls(time.perf_counter(), _busy_s(), _ours_s())

    def other_cores(self) -> float | None:
        busy = _busy_s()
        if busy is None or self.busy is None:
            return None
        wall = time.perf_counter() - self.began
        return max(0.0, (busy - self.busy) - (_ours_s() - self.ours)) / wall


def _loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} cores"


def wait_for_quiet(max_cores: float, wait_s: float) -> tuple[str, float | None]:
    """Sample what other processes use; poll until it is below ``max_cores`` or time runs out.

    Returns the load average and that figure when measuring starts (None off Linux).
    """
    began = time.perf_counter()
    while True:
        watch = CpuWatch.start()
        time.sleep(QUIET_SAMPLE_S)
        other = watch.other_cores()
        waited = time.perf_counter() - began
        if other is None or other <= max_cores:
            return _loadavg(), other
        if waited + QUIET_POLL_S > wait_s:
            print(
                f"  WARNING: other processes use {other:.2f} cores (load average {_loadavg()}); "
                f"measuring anyway after {waited:.0f} s (--quiet-wait {wait_s:g} s)",
                file=sys.stderr,
            )
            return _loadavg(), other
        print(
            f"  waiting for a quiet machine: other processes use {other:.2f} cores, load "
            f"average {_loadavg()} ({waited:.0f} s so far)",
            file=sys.stderr,
        )
        time.sleep(QUIET_POLL_S - QUIET_SAMPLE_S)


# --- the two sides ----------------------------------------------------------------------------


def _solution_summary(path: Path) -> dict[str, Any]:
    """The first ``solution_summary`` row of an output GeoPackage ({} without one)."""
    if not path.is_file():
        return {}
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = connection.execute("SELECT * FROM solution_summary LIMIT 1")
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
    except sqlite3.Error:
        return {}
    finally:
        connection.close()
    return {} if row is None else dict(zip(names, row, strict=True))


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def run_sequential(names: Sequence[str]) -> dict[str, Any]:
    """(a): one ``heatnet run`` subprocess per scenario, one after another."""
    folder = _fresh(OUT / f"batch-sequential-{len(names)}")
    heatnet = heatnet_command()
    load, watch = _loadavg(), CpuWatch.start()
    began = time.perf_counter()
    runs = []
    for name in names:
        output = folder / f"{name}.gpkg"
        command = [heatnet, "run", str(DISTRICT), "-o", str(output), "--threads", "1"]
        command += ["--run-name", name, "--overwrite", "-q"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        wall = time.perf_counter() - start
        summary = _solution_summary(output)
        runs.append(
            {
                "name": name,
                "exit_code": done.returncode,
                "wall_s": wall,
                "optimiser_s": summary.get("runtime"),
                "objective": summary.get("objective"),
                "stderr": done.stderr.strip()[-300:],
            }
        )
    return {
        "wall_s": time.perf_counter() - began,
        "runs": runs,
        "load": load,
        "other_cores": watch.other_cores(),
    }


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime if path.is_file() else None


def run_batch(csv_path: Path, names: Sequence[str]) -> dict[str, Any]:
    """(b): one ``heatnet batch --workers 2`` subprocess; each scenario's interval from its files."""
    folder = OUT / f"batch-out-{len(names)}"
    if folder.exists():
        shutil.rmtree(folder)
    command = [heatnet_command(), "batch", str(csv_path), "-o", str(folder)]
    command += ["--workers", str(WORKERS)]
    load, watch = _loadavg(), CpuWatch.start()
    launched = time.time()
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - began
    other = watch.other_cores()
    log = OUT / f"batch-{len(names)}.log"
    log.write_text(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}", encoding="utf-8")
    summary_csv = folder / "summary.csv"
    if not summary_csv.is_file():
        raise RuntimeError(f"{' '.join(command)} wrote no summary ({done.returncode}); see {log}")
    with summary_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    scenarios = []
    for row in rows:
        name = row["scenario"]
        runtime = float(row["scenario_runtime_s"])
        written = [_mtime(folder / f"{name}.gpkg"), _mtime(folder / "logs" / f"{name}.log")]
        end = max((t for t in written if t is not None), default=launched + wall)
        scenarios.append(
            {
                "name": name,
                "exit_code": int(row["exit_code"]),
                "runtime_s": runtime,
                "optimiser_s": float(row["runtime"]) if row.get("runtime") else None,
                "objective": float(row["objective"]) if row.get("objective") else None,
                "worker": manifest["scenarios"][name]["result"]["worker"],
                "start": end - runtime - launched,
                "end": end - launched,
            }
        )
    reported = re.search(r"^runtime\s+([0-9.]+) s$", done.stdout, re.MULTILINE)
    return {
        "exit_code": done.returncode,
        "wall_s": wall,
        "reported_s": float(reported.group(1)) if reported else None,
        "scenarios": scenarios,
        "load": load,
        "other_cores": other,
        "log": str(log),
    }


def timeline(result: dict[str, Any]) -> dict[str, float]:
    """Worker idle time (s, summed over the workers), split by when it happened.

    ``startup + between + end`` equals ``2 x wall - sum of runtimes`` (up to file-time
    granularity): each worker is idle from launch to its first scenario, between its scenarios,
    and from its last one to the batch's exit (a worker that ran nothing: the whole wall).
    """
    wall = result["wall_s"]
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for scenario in result["scenarios"]:
        by_worker.setdefault(scenario["worker"], []).append(scenario)
    startup = between = end = 0.0
    handovers = 0
    for runs in by_worker.values():
        runs.sort(key=lambda s: s["start"])
        startup += runs[0]["start"]
        between += sum(b["start"] - a["end"] for a, b in itertools.pairwise(runs))
        handovers += len(runs) - 1
        end += wall - runs[-1]["end"]
    end += max(0, WORKERS - len(by_worker)) * wall
    first = min(s["start"] for s in result["scenarios"])
    last = max(s["end"] for s in result["scenarios"])
    return {
        "startup": startup,
        "between": between,
        "end": end,
        "handovers": handovers,
        "first_start": first,
        "after_last": wall - last,
        "workers_used": len(by_worker),
    }


# --- cluster start-up, in a child -------------------------------------------------------------


def _import_batch() -> float:
    """Runs on each worker: what deserialising the first task's function costs it."""
    began = time.perf_counter()
    import heatnet.batch.worker  # noqa: F401

    return time.perf_counter() - began


def cluster_child() -> dict[str, Any]:
    """``heatnet.batch.cluster.Cluster`` as ``heatnet batch`` starts it, timed step by step."""
    began = time.perf_counter()
    from heatnet.batch.cluster import Cluster as _Cluster

    imported = time.perf_counter()
    cluster = _Cluster(None, WORKERS)
    with cluster as (client, _):
        started = time.perf_counter()
        worker_imports = client.run(_import_batch)
        warmed = time.perf_counter()
    closed = time.perf_counter()
    return {
        "import_s": imported - began,
        "start_s": started - imported,
        "warm_s": warmed - started,
        "worker_import_s": sorted(worker_imports.values()),
        "close_s": closed - warmed,
    }


def measure_cluster() -> dict[str, Any]:
    return optimise.run_child([sys.executable, str(Path(__file__)), "--child-cluster"])


# --- reporting --------------------------------------------------------------------------------


_verdict = optimise._verdict


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _target(n: int, text: str, ok: bool) -> str:
    if n != TARGET_SCENARIOS:
        return f"({text} is for {TARGET_SCENARIOS} scenarios)"
    return f"{text}   {_verdict(ok)}"


def report(
    n: int,
    quiet: tuple[str, float | None],
    sequential: dict[str, Any],
    batch: dict[str, Any],
    cluster: dict[str, Any],
) -> list[str]:
    """Print the figures; return problems (a scenario without a design, designs that differ)."""
    runs, scenarios = sequential["runs"], batch["scenarios"]
    seq_wall, batch_wall = sequential["wall_s"], batch["wall_s"]
    seq_each = _mean([r["wall_s"] for r in runs])
    seq_opt = _mean([r["optimiser_s"] for r in runs if r["optimiser_s"] is not None])
    total = sum(s["runtime_s"] for s in scenarios)
    batch_each = _mean([s["runtime_s"] for s in scenarios])
    batch_opt = _mean([s["optimiser_s"] for s in scenarios if s["optimiser_s"] is not None])
    speedup = seq_wall / batch_wall
    ideal = seq_wall / (total / WORKERS) if total > 0 else float("nan")
    overhead = (WORKERS * batch_wall - total) / n
    t = timeline(batch)
    print(f"  before        load average {quiet[0]}; other processes {_cores(quiet[1])} over 5 s")
    print(
        f"  sequential    {n} x heatnet run --threads 1: {seq_wall:.1f} s ({seq_each:.2f} s per "
        f"scenario = optimiser {seq_opt:.2f} s + {seq_each - seq_opt:.2f} s interpreter, "
        f"imports, validate, topology, write)"
    )
    print(
        f"                load average at start {sequential['load']}; other processes "
        f"{_cores(sequential['other_cores'])} meanwhile"
    )
    print(
        f"  batch         heatnet batch --workers {WORKERS}: {batch_wall:.1f} s (scenario_runtime_s "
        f"{batch_each:.2f} s mean, {total:.1f} s in all; optimiser {batch_opt:.2f} s mean; "
        f"exit {batch['exit_code']})"
    )
    print(
        f"                load average at start {batch['load']}, raised by the sequential "
        f"runs; other processes {_cores(batch['other_cores'])} meanwhile"
    )
    print(
        f"  speed-up      {speedup:.2f}x = {seq_wall:.1f} s / {batch_wall:.1f} s   "
        f"{_target(n, f'target ≥ {SPEEDUP_TARGET:g}x', speedup >= SPEEDUP_TARGET)}   (with no "
        f"machinery at all, sequential / (sum of runtimes / {WORKERS}): {ideal:.2f}x)"
    )
    print(
        f"  overhead      {overhead:.2f} s per scenario in worker-seconds = ({WORKERS} x "
        f"{batch_wall:.1f} s - {total:.1f} s) / {n}   "
        f"{_target(n, f'target ≤ {OVERHEAD_TARGET_S:g} s', overhead <= OVERHEAD_TARGET_S)}"
    )
    print(
        f"                = worker time not spent in scenarios: start-up {t['startup']:.2f} s "
        f"(first scenario {t['first_start']:.2f} s after launch), between scenarios "
        f"{t['between']:.2f} s ({t['handovers']} hand-overs), end {t['end']:.2f} s (exit "
        f"{t['after_last']:.2f} s after the last scenario); wall-clock per scenario "
        f"{overhead / WORKERS:.2f} s"
    )
    if batch["reported_s"] is not None:
        print(
            f"                heatnet batch's own runtime (run_batch) {batch['reported_s']:.1f} s: "
            f"{batch_wall - batch['reported_s']:.1f} s of the wall is the interpreter, the CLI "
            f"imports and reading the scenarios before it, and the exit after it"
        )
    imports = ", ".join(f"{s:.2f}" for s in cluster["worker_import_s"])
    print(
        f"  cluster       LocalCluster + Client {cluster['start_s']:.2f} s, then the workers "
        f"import heatnet.batch.worker {cluster['warm_s']:.2f} s ({imports} s each), close "
        f"{cluster['close_s']:.2f} s (heatnet.batch.runner import in the client {cluster['import_s']:.2f}"
        f" s; measured alone, one child)"
    )
    slower = batch_opt / seq_opt - 1.0 if seq_opt > 0 else float("nan")
    print(
        f"  contention    optimiser {seq_opt:.2f} s alone, {batch_opt:.2f} s two at a time "
        f"({100 * slower:+.1f} %); scenario outside the optimiser {seq_each - seq_opt:.2f} s as "
        f"a heatnet run process, {batch_each - batch_opt:.2f} s in a worker"
    )
    objectives = _objectives(runs, scenarios)
    if len(objectives) == 1:
        print(f"  designs       all {len(runs) + len(scenarios)} objectives {objectives[0]:,.2f}")
    print(
        f"  files         {Path(batch['log']).relative_to(ROOT)} (the batch's output), outputs "
        f"in build/bench/batch-out-{n}/ and build/bench/batch-sequential-{n}/"
    )
    return _problems(sequential, batch, n)


def _objectives(runs: list[dict[str, Any]], scenarios: list[dict[str, Any]]) -> list[float]:
    """The distinct objectives (to the cent) of every design, both sides."""
    return sorted({round(x["objective"], 2) for x in [*runs, *scenarios] if x["objective"]})


def _problems(sequential: dict[str, Any], batch: dict[str, Any], n: int) -> list[str]:
    runs, scenarios = sequential["runs"], batch["scenarios"]
    problems = [
        f"sequential {r['name']}: exit {r['exit_code']} {r['stderr']}"
        for r in runs
        if r["exit_code"] != 0
    ]
    problems += [
        f"batch {s['name']}: exit {s['exit_code']}" for s in scenarios if s["exit_code"] != 0
    ]
    if len(scenarios) != n:
        problems.append(f"batch: {len(scenarios)} scenarios in summary.csv, expected {n}")
    objectives = _objectives(runs, scenarios)
    if len(objectives) > 1:
        problems.append(f"the designs differ (objectives {objectives}): unequal work")
    for side, watched in (("sequential", sequential), ("batch", batch)):
        other = watched["other_cores"]
        if other is not None and other > QUIET_CORES:
            problems.append(
                f"other processes used {other:.2f} cores during the {side} runs: its figures "
                "are slowed by them, not by heatnet alone"
            )
    if batch["exit_code"] != 0:
        problems.append(f"heatnet batch exited {batch['exit_code']} (see {batch['log']})")
    return problems


def run_section(
    *, full: bool, quiet_cores: float = QUIET_CORES, quiet_wait_s: float | None = None
) -> list[str]:
    """Run and print the section; returns problems (failed scenarios, designs that differ)."""
    n = TARGET_SCENARIOS if full else QUICK_SCENARIOS
    names = scenario_names(n)
    csv_path = write_scenarios(n)
    print(
        f"batch: {n} scenarios of {DISTRICT.relative_to(ROOT)} (its own parameters, identical "
        f"work), heatnet batch --workers {WORKERS} against {n} sequential heatnet run calls "
        f"(heatnet at {optimise._revision()})"
    )
    wait = (FULL_QUIET_WAIT_S if full else 0.0) if quiet_wait_s is None else quiet_wait_s
    quiet = wait_for_quiet(quiet_cores, wait)
    cluster = measure_cluster()
    sequential = run_sequential(names)
    batch = run_batch(csv_path, names)
    return report(n, quiet, sequential, batch, cluster)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--quick", action="store_true", help="4 scenarios (the default)")
    scope.add_argument("--full", action="store_true", help="16 scenarios (the targets')")
    parser.add_argument(
        "--quiet-cores",
        type=float,
        default=QUIET_CORES,
        help=f"wait while other processes use more cores than this (default {QUIET_CORES:g})",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help=f"longest wait for that, s (default {FULL_QUIET_WAIT_S:g} --full, 0 --quick)",
    )
    parser.add_argument("--child-cluster", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_cluster:
        print(json.dumps(cluster_child()))
        return 0
    problems = run_section(
        full=args.full, quiet_cores=args.quiet_cores, quiet_wait_s=args.quiet_wait
    )
    for problem in problems:
        print(f"WARNING: batch, {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
