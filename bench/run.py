"""Benchmark what ``heatnet validate``, ``heatnet topology`` and the optimiser do on large inputs.

``make bench`` runs this. It builds (or reuses) deterministic synthetic GeoPackages under
``build/bench/`` and measures, in a fresh interpreter per repetition:

* load+validate: ``heatnet.pipeline.check`` on pre-split street grids (``bench/measure.py``,
  inputs from ``bench/synthetic.py``);
* topology: ``heatnet.topology.build_network`` alone, after load+validate, on the real sample
  ``sample_data/district.gpkg`` and on looped street grids of long crossing streets
  (``bench/measure_topology.py``, inputs from ``bench/looped.py``);
* economics: building money coefficients for 100,000 buildings and linear pipe-model
  coefficients for 200,000 edges (``bench/economics.py``);
* optimise: ``heatnet.optimise.loop.optimise`` on the sample district (time to a proven optimum,
  ``discrete`` and ``linear`` pipes) and on looped street grids with 2 supplies (gap reached
  within a runtime limit, model build time, Pyomo share, peak memory) (``bench/optimise.py``,
  one child per case: ``bench/measure_optimise.py``). ``--quick`` (the default): the district and
  2,000 buildings at 120 s; ``--full``: 2,000 and 10,000 buildings at 120 s and 600 s (over 30
  minutes); ``--optimise-sizes`` / ``--optimise-limits`` choose the grids;
* run: ``heatnet run`` (``heatnet.pipeline.run``) on the sample district end to end (seconds per
  stage, output size, cashflow rows, peak memory) and its write stage (``results()`` +
  ``write_layers``) on looped grids of 2,000 buildings (``--quick``) and also 10,000
  (``--full``), each with the design the optimiser finds within a short runtime limit and with
  every building connected (``bench/measure_run.py``; about 30 s quick, 1.5 minutes full);
* batch: ``heatnet batch --workers 2`` (a Dask ``LocalCluster``) against the same scenarios run as
  sequential ``heatnet run`` calls, scenarios of identical work on the sample district: wall
  times, the speed-up, the per-scenario overhead of the batch machinery in worker-seconds,
  cluster start-up, solver contention and the CPU other processes used meanwhile
  (``bench/measure_batch.py``; 4 scenarios ``--quick``, about 1.5 minutes; 16 ``--full``, the
  targets' count, about 6 minutes, first waiting up to 10 minutes for a quiet machine);
* dispatch: ``heatnet dispatch-solve`` on a deterministic plant of 4 sites, 6 units (4 with
  on/off status), 2 stores, links and gas bought at 2 sites: a year as 12 × 2 typical days,
  one problem per day, to a 1 % gap (target ≤ 15 s for the 24 solves), and the same year hour
  by hour (8,760 steps) in week windows (total time, time per window; no target), and
  ``heatnet run`` on the sample district with plant units and dispatch feedback beside a plain
  run, each design MIP limited to 30 s (the extra time; no target) (``bench/dispatch.py``;
  about 8 minutes, most of it the summer weeks of the hourly year).

It prints the figures against the targets. Over target is reported, not failed: the exit status
is 0 unless the benchmark itself is broken (a child crashed, or the synthetic input did not
validate, which would make the figures meaningless).

This process stays small on purpose (no numpy/geopandas; the inputs are generated in a child as
well): on Linux ``ru_maxrss`` survives ``execve``, and a ``vfork``-ed child starts from the
parent's high-water mark, so a big parent would inflate every child's peak memory figure.

    python bench/run.py [--repeat N] [--profile] [--skip-check] [--skip-topology] [--skip-economics]
        [--skip-optimise] [--skip-run] [--skip-batch] [--skip-dispatch] [--quick | --full]
        [--optimise-sizes 2000,10000] [--optimise-limits 120,600] [--district-limit S]
        [--skip-district]
"""

from __future__ import annotations

import argparse
import json
import pstats
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dispatch
import measure_batch
import measure_run
import optimise

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = ROOT / "build" / "bench"
MEASURE = BENCH / "measure.py"
MEASURE_TOPOLOGY = BENCH / "measure_topology.py"
GENERATE = BENCH / "synthetic.py"
GENERATE_LOOPED = BENCH / "looped.py"

TARGET_S = 10.0
TARGET_MB = 2048.0
#: A child's ru_maxrss before its imports above this means it inherited the parent's peak.
INHERITED_MB = 50.0


@dataclass(frozen=True)
class Case:
    label: str
    n_buildings: int
    n_paths: int

    @property
    def path(self) -> Path:
        return OUT / f"synthetic-{self.label}.gpkg"

    @property
    def title(self) -> str:
        return f"{self.n_buildings:,} buildings / {self.n_paths:,} paths"


MAIN = Case("100k", 100_000, 50_000)
SCALING = Case("10k", 10_000, 5_000)


def _child(path: Path, profile: Path | None = None, script: Path = MEASURE) -> dict[str, Any]:
    command = [sys.executable, str(script), str(path)]
    if profile is not None:
        command += ["--profile", str(profile)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _generate(case: Case) -> None:
    """Build (or reuse) the input in a child too, keeping this process small (see module doc)."""
    output = case.path.relative_to(ROOT)
    command = [sys.executable, str(GENERATE), str(output), str(case.n_buildings)]
    done = subprocess.run(
        [*command, str(case.n_paths)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"generating {case.path} failed ({done.returncode}):\n{done.stderr}")
    print(done.stdout.strip(), file=sys.stderr)


def _runs(case: Case, repeat: int) -> list[dict[str, Any]]:
    return [_child(case.path) for _ in range(repeat)]


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _min(runs: list[dict[str, Any]], key: str) -> float:
    return min(run[key] for run in runs)


def _verdict(ok: bool) -> str:
    return "OK" if ok else "OVER"


def _issues(runs: list[dict[str, Any]]) -> str:
    found = runs[0]["issues"]
    if not found:
        return "none"
    return ", ".join(f"{code} x{count}" for code, count in found.items())


def _report_main(case: Case, runs: list[dict[str, Any]]) -> None:
    n = len(runs)
    total, peak = _median(runs, "total_s"), max(run["peak_mb"] for run in runs)
    print(f"load+validate, {case.title} (synthetic, {runs[0]['crs']})")
    print(f"  import        {_median(runs, 'import_s'):5.2f} s (median of {n})")
    for name in ("load", "validate"):
        key = f"{name}_s"
        print(
            f"  {name:<13}{_median(runs, key):5.2f} s (median of {n}; min {_min(runs, key):.2f} s)"
        )
    print(
        f"  total        {total:5.2f} s (median of {n}; min {_min(runs, 'total_s'):.2f} s)"
        f"   target ≤ {TARGET_S:g} s   {_verdict(total <= TARGET_S)}"
    )
    print(
        f"  peak memory  {peak:5.0f} MB (max of {n}; imports alone "
        f"{_median(runs, 'baseline_mb'):.0f} MB)   target ≤ {TARGET_MB / 1024:g} GB"
        f"   {_verdict(peak <= TARGET_MB)}"
    )
    print(f"  issues       {_issues(runs)}")


def _report_scaling(case: Case, runs: list[dict[str, Any]], main: list[dict[str, Any]]) -> None:
    total, peak = _median(runs, "total_s"), max(run["peak_mb"] for run in runs)
    ratio = _median(main, "total_s") / total if total > 0 else float("nan")
    print(
        f"scaling, {case.title}: load {_median(runs, 'load_s'):.2f} s + validate "
        f"{_median(runs, 'validate_s'):.2f} s = {total:.2f} s (median of {len(runs)}; min "
        f"{_min(runs, 'total_s'):.2f} s), peak {peak:.0f} MB, issues {_issues(runs)}; "
        f"10x the rows takes {ratio:.1f}x the time"
    )


def _print_profile(stats_path: Path, limit: int = 15) -> None:
    stats = pstats.Stats(str(stats_path))
    rows = []
    for (filename, line, func), (_, calls, tottime, cumtime, _) in stats.stats.items():
        rows.append((cumtime, tottime, calls, f"{Path(filename).name}:{line}({func})", filename))
    heatnet_rows = [r for r in rows if "/heatnet/" in r[4]]
    print(f"\nprofile ({stats_path.relative_to(ROOT)}), heatnet functions by cumulative time:")
    print(f"  {'cum s':>7} {'own s':>7} {'calls':>8}  function")
    for cum, own, calls, name, _ in sorted(heatnet_rows, reverse=True)[:limit]:
        print(f"  {cum:7.3f} {own:7.3f} {calls:8d}  {name}")
    print("all functions by own time:")
    for cum, own, calls, name, _ in sorted(rows, key=lambda r: r[1], reverse=True)[:limit]:
        print(f"  {cum:7.3f} {own:7.3f} {calls:8d}  {name}")


# --- topology -------------------------------------------------------------------------------

TOPOLOGY_TARGET_MB = 4096.0
#: Stage functions ``build_network`` calls from ``_classify`` (shown inside it).
INSIDE_CLASSIFY = ("build_graph", "reachable_vertices", "peripheral_edges", "model_graph")


@dataclass(frozen=True)
class TopologyCase:
    label: str
    path: Path
    #: Buildings of a generated looped grid; None for a real file used as it is.
    n_buildings: int | None = None
    target_s: float | None = None
    target_mb: float | None = None

    @property
    def title(self) -> str:
        if self.n_buildings is None:
            return str(self.path.relative_to(ROOT))
        return f"looped grid, {self.n_buildings:,} buildings"


SAMPLE = TopologyCase("sample", ROOT / "sample_data" / "district.gpkg")
LOOPED_10K = TopologyCase("looped-10k", OUT / "looped-10k.gpkg", 10_000, target_s=5.0)
LOOPED_100K = TopologyCase(
    "looped-100k", OUT / "looped-100k.gpkg", 100_000, target_s=60.0, target_mb=TOPOLOGY_TARGET_MB
)
TOPOLOGY = (SAMPLE, LOOPED_10K, LOOPED_100K)


def _generate_looped(case: TopologyCase) -> None:
    output = case.path.relative_to(ROOT)
    command = [sys.executable, str(GENERATE_LOOPED), str(output), str(case.n_buildings)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"generating {case.path} failed ({done.returncode}):\n{done.stderr}")
    print(done.stdout.strip(), file=sys.stderr)


def _target(value: float, target: float | None, unit: str) -> str:
    if target is None:
        return "no target"
    shown = f"{target / 1024:g} GB" if unit == "MB" else f"{target:g} {unit}"
    return f"target ≤ {shown}   {_verdict(value <= target)}"


def _stages(runs: list[dict[str, Any]]) -> tuple[str, str]:
    """Median seconds per stage of build_network, in call order: the stages before
    ``_classify``, then ``_classify`` split into its graph stages (``other``: the remainders).
    """
    names = list(runs[0]["stages"])
    median = {name: statistics.median(run["stages"][name][0] for run in runs) for name in names}
    calls = runs[0]["stages"]

    def shown(name: str) -> str:
        times = f" x{calls[name][1]}" if calls[name][1] > 1 else ""
        return f"{name} {median[name]:.2f}{times}"

    top = [name for name in names if name not in INSIDE_CLASSIFY]
    other = _median(runs, "build_s") - sum(median[name] for name in top)
    before = ", ".join([shown(name) for name in top if name != "_classify"])
    if "_classify" not in median:
        return f"{before}, other {other:.2f}", ""
    inner = [name for name in names if name in INSIDE_CLASSIFY]
    rest = median["_classify"] - sum(median[name] for name in inner)
    graph = ", ".join([*map(shown, inner), f"rest {rest:.2f}"])
    return before, f"{shown('_classify')} = {graph}; build_network other {other:.2f}"


def _sanity(case: TopologyCase, run: dict[str, Any]) -> list[str]:
    """What a looped grid must give (every building off-street, one connected grid)."""
    if case.n_buildings is None:
        return []
    counts, inputs = run["counts"], run["inputs"]
    expected = inputs["active_buildings"] + inputs["supplies"]
    problems = []
    if counts["connectors"] != expected:
        problems.append(f"{counts['connectors']} connectors, expected {expected}")
    if counts["unreachable_buildings"] or counts["unreachable_supplies"]:
        problems.append("unreachable elements on a connected grid")
    return problems


def _report_topology(case: TopologyCase, runs: list[dict[str, Any]]) -> list[str]:
    n, first = len(runs), runs[0]
    build, peak = _median(runs, "build_s"), max(run["peak_mb"] for run in runs)
    inputs, counts = first["inputs"], first["counts"]
    supplies = f"{inputs['supplies']:,} suppl{'y' if inputs['supplies'] == 1 else 'ies'}"
    print(
        f"  {case.title}: {inputs['buildings']:,} buildings, {inputs['paths']:,} paths, "
        f"{supplies}, {first['crs']}"
    )
    print(
        f"    build_network {build:6.2f} s (median of {n}; min {_min(runs, 'build_s'):.2f} s)"
        f"   {_target(build, case.target_s, 's')}"
    )
    print(
        f"    peak memory   {peak:6.0f} MB (max of {n}; after load+validate "
        f"{max(run['peak_before_build_mb'] for run in runs):.0f} MB, imports alone "
        f"{_median(runs, 'baseline_mb'):.0f} MB)   {_target(peak, case.target_mb, 'MB')}"
    )
    print(f"    load+validate {_median(runs, 'load_validate_s'):6.2f} s (not in the target)")
    before, classify = _stages(runs)
    print(f"    stages (s)    {before}")
    if classify:
        print(f"                  {classify}")
    print(
        f"    network       {counts['path_rows']:,} path rows ({counts['connectors']:,} "
        f"connectors, {counts['peripheral']:,} peripheral, {counts['unreachable_paths']:,} "
        f"unreachable), {counts['junctions']:,} junctions, {counts['model_edges']:,} model "
        f"edges, {counts['unreachable_buildings']:,} unreachable buildings"
    )
    print(f"    issues        {_issues(runs)}")
    if any(run["counts"] != counts for run in runs):
        print("    WARNING: the counts differ between repetitions", file=sys.stderr)
    return [f"{case.title}: {problem}" for problem in _sanity(case, first)]


def _topology(repeat: int, profile: bool) -> list[str]:
    for case in TOPOLOGY:
        if case.n_buildings is not None:
            _generate_looped(case)
    results = {
        case: [_child(case.path, script=MEASURE_TOPOLOGY) for _ in range(repeat)]
        for case in TOPOLOGY
    }
    print("topology: heatnet.topology.build_network alone, after load+validate")
    problems = []
    for case, runs in results.items():
        problems += _report_topology(case, runs)
    small, big = _median(results[LOOPED_10K], "build_s"), _median(results[LOOPED_100K], "build_s")
    print(f"  scaling: 10x the buildings takes {big / small:.1f}x the build_network time")
    _warn_inherited(results.values())
    if profile:
        stats_path = OUT / f"profile-topology-{LOOPED_100K.label}.prof"
        _child(LOOPED_100K.path, stats_path, script=MEASURE_TOPOLOGY)
        _print_profile(stats_path)
    return problems


def _warn_inherited(results: Any) -> None:
    inherited = max(run["start_mb"] for runs in results for run in runs)
    if inherited > INHERITED_MB:
        print(
            f"WARNING: a child started with ru_maxrss {inherited:.0f} MB (inherited from this "
            "process): the peak memory figures overstate the check's own",
            file=sys.stderr,
        )


def _check(repeat: int, profile: bool) -> list[Case]:
    for case in (MAIN, SCALING):
        _generate(case)
    results = {case: _runs(case, repeat) for case in (MAIN, SCALING)}
    broken = [case for case, runs in results.items() if not all(run["ok"] for run in runs)]
    _report_main(MAIN, results[MAIN])
    _report_scaling(SCALING, results[SCALING], results[MAIN])
    _warn_inherited(results.values())
    if profile:
        stats_path = OUT / f"profile-{MAIN.label}.prof"
        _child(MAIN.path, stats_path)
        _print_profile(stats_path)
    return broken


def _economics(repeat: int) -> None:
    """Money coefficients: 100,000 buildings + 200,000 edges, target ≤ 2 s."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, str(BENCH / "economics.py"), "100000", "200000"],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    total = statistics.median(r["total_s"] for r in runs)
    buildings = statistics.median(r["buildings_s"] for r in runs)
    edges = statistics.median(r["edges_s"] for r in runs)
    verdict = "OK" if total <= 2.0 else "OVER"
    print("economics: coefficients for 100,000 buildings and 200,000 edges")
    print(f"  buildings     {buildings:5.2f} s ({runs[0]['items']:,} line items, PV by class)")
    print(f"  edges         {edges:5.2f} s (catalogue + least-squares fits over 2 dig types)")
    print(
        f"  total         {total:5.2f} s (median of {repeat}; min {min(r['total_s'] for r in runs):.2f} s)   target ≤ 2 s   {verdict}"
    )
    print(f"  peak memory   {max(r['peak_mb'] for r in runs):5.0f} MB")


def _end_to_end(args: argparse.Namespace) -> None:
    """The sections that run a solver: optimise, run, batch and dispatch."""
    if not args.skip_optimise:
        print()
        chosen = optimise.options(args, prefix="optimise-")
        for problem in optimise.run_section(**chosen, profile=args.profile):
            print(f"WARNING: optimise, {problem}", file=sys.stderr)
    if not args.skip_run:
        print()
        for problem in measure_run.run_section(full=args.full, profile=args.profile):
            print(f"WARNING: run, {problem}", file=sys.stderr)
    if not args.skip_batch:
        print()
        for problem in measure_batch.run_section(full=args.full):
            print(f"WARNING: batch, {problem}", file=sys.stderr)
    if not args.skip_dispatch:
        print()
        for problem in dispatch.run_section():
            print(f"WARNING: dispatch, {problem}", file=sys.stderr)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per input (default 3)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one 100k check, one 100k build_network, the optimiser's model "
        "build (prepare + build_model + HiGHS load) on the largest looped grid and the run "
        "section's write stage on its largest grid with cProfile",
    )
    parser.add_argument("--skip-check", action="store_true", help="no load+validate section")
    parser.add_argument("--skip-topology", action="store_true", help="no topology section")
    parser.add_argument("--skip-economics", action="store_true", help="no economics section")
    parser.add_argument("--skip-optimise", action="store_true", help="no optimise section")
    parser.add_argument("--skip-run", action="store_true", help="no run (heatnet run) section")
    parser.add_argument(
        "--skip-batch", action="store_true", help="no batch (heatnet batch) section"
    )
    parser.add_argument(
        "--skip-dispatch", action="store_true", help="no dispatch (heatnet dispatch-solve) section"
    )
    optimise.add_arguments(parser, prefix="optimise-")
    args = parser.parse_args(argv)
    broken: list[Case] = []
    if not args.skip_check:
        broken = _check(args.repeat, args.profile)
    if not args.skip_topology:
        if not args.skip_check:
            print()
        for problem in _topology(args.repeat, args.profile):
            print(f"WARNING: unexpected network, {problem}", file=sys.stderr)
    if not args.skip_economics:
        print()
        _economics(args.repeat)
    _end_to_end(args)
    if broken:
        names = ", ".join(str(case.path.relative_to(ROOT)) for case in broken)
        print(f"BROKEN: {names} did not validate (report.ok is False)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
