"""Benchmark ``heatnet.optimise.loop.optimise``: time to a proven optimum and gap within a limit.

Part of ``make bench`` (``bench/run.py``), or on its own::

    python bench/optimise.py [--quick | --full] [--sizes 2000,10000] [--limits 120,600]
        [--district-limit S] [--skip-district] [--profile]

Every case runs in a fresh interpreter (``bench/measure_optimise.py``: validate →
``build_network`` → ``network_problem`` → ``optimise``, one JSON line back) so its peak RSS is
its own; its INFO log (the optimiser's model size, every solve, every iteration) is kept under
``build/bench/optimise-*.log``. Cases:

* the sample district ``sample_data/district.gpkg`` with ``heatnet/pipe-model`` ``discrete`` and
  ``linear``, both at ``optimiser/mip-gap`` 0: the time to a proven optimum (target ≤ 30 s);
  runtime limit ``--district-limit`` (default 180 s, the file's own ``optimiser/runtime-limit``
  of 0.05 h);
* looped street grids (``bench/looped.py --optimise``: 2 supplies, economics where some but not
  all buildings pay) of ``--sizes`` buildings, each at every ``--limits`` runtime limit with the
  default ``linear`` model and the default ``optimiser/mip-gap``: model build time
  (``prepare`` + ``build_model``), the Pyomo share of the run, the MIP gap reached, bounds,
  iterations, objective, buildings connected and peak memory. Targets: 2,000 buildings ≤ 1 %
  gap in 120 s, 10,000 buildings ≤ 3 % in 600 s, Pyomo build ≤ 10 % of the run, ≤ 4 GB.

``--quick`` (the default): the district and 2,000 buildings at 120 s. ``--full``: 2,000 and
10,000 buildings at 120 s and 600 s (over 30 minutes). Timings are printed against the targets,
never asserted. The machine's load average is printed with every case: the solver runs on one
thread, and other processes competing for the cores slow it down.

Beside every heatnet design the prize-collecting Steiner baseline (``bench/baseline.py``: a
Steiner tree and a greedy tree over the buildings that pay for themselves, pruned, priced exactly
by heatnet's own pricer, computed in the same child after ``optimise``) is printed with heatnet's
written objective minus the baseline's (the issue's target: never negative).

This module stays free of numpy/pandas (``bench/run.py`` imports it; see its docstring).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = ROOT / "build" / "bench"
MEASURE = BENCH / "measure_optimise.py"
GENERATE = BENCH / "looped.py"
DISTRICT = ROOT / "sample_data" / "district.gpkg"

DISTRICT_TARGET_S = 30.0
DISTRICT_LIMIT_S = 180.0
TARGET_MB = 4096.0
PYOMO_SHARE = 0.10
#: (buildings, runtime limit s) → target MIP gap.
GAP_TARGETS = {(2_000, 120.0): 0.01, (10_000, 600.0): 0.03}
QUICK = ((2_000,), (120.0,))
FULL = ((2_000, 10_000), (120.0, 600.0))


@dataclass(frozen=True)
class Run:
    """One measured case: an input, its parameter overrides, a label for the files."""

    label: str
    path: Path
    overrides: tuple[tuple[str, str], ...]
    n_buildings: int | None = None
    limit_s: float | None = None

    @property
    def log(self) -> Path:
        return OUT / f"optimise-{self.label}.log"


def _hours(seconds: float) -> str:
    return repr(seconds / 3600.0)


def district_runs(limit_s: float) -> list[Run]:
    return [
        Run(
            f"district-{model}",
            DISTRICT,
            (
                ("heatnet/pipe-model", model),
                ("optimiser/mip-gap", "0"),
                ("optimiser/runtime-limit", _hours(limit_s)),
            ),
            limit_s=limit_s,
        )
        for model in ("discrete", "linear")
    ]


def grid_path(n_buildings: int) -> Path:
    return OUT / f"looped-optimise-{n_buildings // 1000}k.gpkg"


def grid_runs(sizes: tuple[int, ...], limits: tuple[float, ...]) -> list[Run]:
    return [
        Run(
            f"looped-{n // 1000}k-{limit:g}s",
            grid_path(n),
            (("optimiser/runtime-limit", _hours(limit)),),
            n_buildings=n,
            limit_s=limit,
        )
        for n in sizes
        for limit in limits
    ]


def generate(n_buildings: int) -> None:
    """Build (or reuse) a looped grid in a child (keeps this process small)."""
    output = grid_path(n_buildings).relative_to(ROOT)
    command = [sys.executable, str(GENERATE), str(output), str(n_buildings), "--optimise"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"generating {output} failed ({done.returncode}):\n{done.stderr}")
    print(done.stdout.strip(), file=sys.stderr)


def measure(run: Run, *extra: str) -> dict[str, Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(MEASURE), str(run.path), "--log", str(run.log), *extra]
    for key, value in run.overrides:
        command += ["--set", f"{key}={value}"]
    return run_child(command)


def run_child(command: list[str]) -> dict[str, Any]:
    """Run a measuring child process; its last stdout line is its JSON figures."""
    load_before = os.getloadavg()
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    result = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    result["wall_s"] = time.perf_counter() - began
    result["loadavg_start"] = list(load_before)
    return result


# --- reporting --------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "OK" if ok else "OVER"


def _num(value: float | None, fmt: str = ".6g") -> str:
    return "-" if value is None else format(value, fmt)


def _count(n: int | None, one: str, many: str) -> str:
    return f"- {many}" if n is None else f"{n:,} {one if n == 1 else many}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.2f} %"


def _load(result: dict[str, Any]) -> str:
    start, end = result["loadavg_start"], result["loadavg_end"]
    return f"load average {start[0]:.2f} at start, {end[0]:.2f} at end ({os.cpu_count()} cores)"


def _times(result: dict[str, Any]) -> tuple[dict[str, float], dict[str, int]]:
    times, calls = result["times"], result["calls"]
    return {k: float(v) for k, v in times.items()}, {k: int(v) for k, v in calls.items()}


def _where(result: dict[str, Any]) -> list[str]:
    """Where the optimise() wall time went, in the order the loop spends it."""
    t, calls = _times(result)
    own = {k: float(v) for k, v in result.get("own", t).items()}
    total = result["optimise_s"]
    mips = [s for s in result["solves"] if s["kind"] == "mip"]
    settles = [s for s in result["solves"] if s["kind"] == "settle"]
    lps = [s for s in result["solves"] if s["kind"] == "lp"]

    def get(*names: str) -> float:
        return sum(own.get(name, 0.0) for name in names)

    parts = [
        ("prepare", get("prepare")),
        ("build_model", get("build_model")),
        ("seed_design", get("seed_design")),
        ("constructions", get("constructions")),
        ("local search", get("improve")),
        ("polish", get("polish")),
        ("HiGHS load", get("highs._load")),
        ("changes sent to HiGHS", get("highs._sync")),
        ("fix/unfix", get("solver.fix", "solver.unfix")),
        (f"HiGHS run ({calls.get('highs._run', 0)} solves)", get("highs._run")),
        ("read values", get("read_values")),
        (f"evaluate x{calls.get('evaluate', 0)}", get("evaluate")),
        ("settle other", get("_settle")),
    ]
    known = sum(v for _, v in parts)
    shown = ", ".join(f"{name} {value:.2f}" for name, value in parts)
    lines = [f"{shown}, rest {total - known:.2f} (s)"]
    mip_s = sum(s["runtime_s"] for s in mips)
    settle_s = sum(s["runtime_s"] for s in settles)
    lines.append(
        f"{len(lps)} LP bound(s) {sum(s['runtime_s'] for s in lps):.2f} s, "
        f"{len(mips)} MIP solve(s) {mip_s:.2f} s, {len(settles)} settling re-solve(s) "
        f"{settle_s:.2f} s (Solver.solve wall, update + HiGHS + results); "
        f"_settle {t.get('_settle', 0.0):.2f} s"
    )
    for s in result["solves"]:
        limit = s["time_limit_s"]
        lines.append(
            f"  {s['kind']:<6} {s['status']:<11} {s['termination']:<27} "
            f"obj {_num(s['objective'])} bound {_num(s['bound'])} in {s['runtime_s']:.2f} s"
            f" (limit {_num(limit, '.1f')} s)"
        )
    return lines


def _history(solution: dict[str, Any]) -> list[str]:
    return [
        f"  iteration {it['number']}: {it['status']}, MIP {_num(it['mip_objective'])} "
        f"(bound {_num(it['mip_bound'])}), settled {_num(it['settled_objective'])}, "
        f"priced {_num(it['objective'])}, at {it['runtime_s']:.2f} s"
        for it in solution["history"]
    ]


def _problem_line(result: dict[str, Any]) -> str:
    i = result["input"]
    p = result["parameters"]
    return (
        f"{i['problem_buildings']:,} buildings, {i['problem_edges']:,} edges, "
        f"{_count(i['problem_supplies'], 'supply', 'supplies')} in the problem; "
        f"{p['pipe_model']} pipes, mip-gap "
        f"{p['mip_gap']:g}, param-gap {p['param_gap']:g}, runtime limit "
        f"{p['runtime_limit_s']:.0f} s, {result['threads']} solver thread(s)"
    )


def _solution_lines(solution: dict[str, Any], result: dict[str, Any]) -> list[str]:
    n = result["input"]["problem_buildings"]
    connected = solution["connected"]
    share = "" if connected is None or n == 0 else f" ({100.0 * connected / n:.0f} %)"
    low, high = solution["lower_bound"], solution["upper_bound"]
    bounds_gap = None
    if low is not None and high is not None:
        bounds_gap = abs(high - low) / max(1.0, abs(low))
    return [
        f"state         {solution['state']}, {solution['iterations']} iteration(s), "
        f"runtime {solution['runtime_s']:.2f} s",
        f"objective     {_num(solution['objective'])} (network NPV "
        f"{_num(solution['network_npv'])}); connected {_num(connected, ',')} of {n:,} "
        f"buildings{share}, {_count(solution['supplies_built'], 'supply', 'supplies')} built",
        f"bounds        lower {_num(low)}, upper {_num(high)} (gap between them "
        f"{_pct(bounds_gap)})",
    ]


def _baseline_lines(result: dict[str, Any]) -> list[str]:
    """The PCST baseline beside heatnet's written design (``bench/baseline.py``)."""
    figures = result.get("baseline")
    if figures is None:
        return ["PCST baseline: not run"]
    if "error" in figures:
        return [f"PCST baseline: failed ({figures['error']})"]
    best = figures.get("best")
    written = (result.get("solution") or {}).get("objective")
    if best is None:
        head = "PCST baseline: no valid design"
    else:
        diff = None if written is None else written - best["objective"]
        below = diff is not None and diff < -1e-6 * max(1.0, abs(best["objective"]))
        verdict = "" if diff is None else ("   BELOW" if below else "   OK")
        head = (
            f"PCST baseline: NPV {best['objective']:,.0f} ({best['method']}), valid, "
            f"{best['buildings']:,} buildings, {best['seconds']:.2f} s; heatnet written NPV − "
            f"baseline = {_num(diff, ',.0f')}{verdict}"
        )
    methods = ", ".join(
        f"{m['method']} {_num(m['objective'], ',.0f')}"
        f"{'' if m['valid'] else ' (invalid)'} in {m['seconds']:.2f} s"
        for m in figures.get("methods", [])
    )
    return [head, f"  (each: {methods}; all {figures['seconds']:.2f} s)"]


def report_district(result: dict[str, Any]) -> None:
    p = result["parameters"]
    solution = result.get("solution") or {}
    print(f"  {DISTRICT.relative_to(ROOT)}, {p['pipe_model']} pipes")
    print(f"    problem       {_problem_line(result)}")
    for line in _solution_lines(solution, result):
        print(f"    {line}")
    print(f"    mip_gap       {_pct(solution['mip_gap'])}")
    for line in _baseline_lines(result):
        print(f"    {line}")
    proven = solution["state"] == "optimal" and solution["mip_gap"] is not None
    proven = proven and solution["mip_gap"] <= 1e-4  # "optimal": a proven gap of at most 1e-4
    runtime = solution["runtime_s"]
    if proven:
        shown = f"{runtime:.2f} s"
        verdict = _verdict(runtime <= DISTRICT_TARGET_S)
    else:
        shown = f"not proven within {p['runtime_limit_s']:.0f} s (stopped at {runtime:.2f} s)"
        verdict = "OVER"
    print(
        f"    to optimum    {shown}   target ≤ {DISTRICT_TARGET_S:g} s   {verdict}"
        f"   (+ validate/network/problem {_front(result):.2f} s)"
    )
    _common(result)


def _front(result: dict[str, Any]) -> float:
    return float(result["check_s"] + result["network_s"] + result["problem_s"])


def _common(result: dict[str, Any]) -> None:
    peak = result["peak_mb"]
    child = float(result.get("children_peak_mb", 0.0))
    both = f" + {child:.0f} MB in the LP's own process" if child >= 1.0 else ""
    print(
        f"    peak memory   {peak:.0f} MB{both} (before optimise "
        f"{result['peak_before_optimise_mb']:.0f} MB, imports alone {result['baseline_mb']:.0f} MB)"
        f"   target ≤ {TARGET_MB / 1024:g} GB   {_verdict(peak + child <= TARGET_MB)}"
    )
    where = _where(result)
    print(f"    where (s)     {where[0]}")
    for line in where[1:]:
        print(f"                  {line}")
    history = _history(result.get("solution") or {"history": []})
    for line in history:
        print(f"                {line}")
    print(f"    {_load(result)}; log {Path(result['log']).relative_to(ROOT)}")


def report_grid(run: Run, result: dict[str, Any]) -> None:
    t, _ = _times(result)
    solution = result.get("solution") or {}
    total = result["optimise_s"]
    p = result["parameters"]
    inputs = result["input"]
    print(
        f"  looped grid, {inputs['buildings']:,} buildings, {inputs['supplies']} supplies, "
        f"runtime limit {p['runtime_limit_s']:.0f} s"
    )
    print(f"    problem       {_problem_line(result)}")
    prepare, build = t.get("prepare", 0.0), t.get("build_model", 0.0)
    load = t.get("highs._load", 0.0)
    print(
        f"    model build   {prepare + build:.2f} s = prepare {prepare:.2f} s + build_model "
        f"{build:.2f} s (then HiGHS load {load:.2f} s); validate/network/problem before it "
        f"{_front(result):.2f} s"
    )
    share = build / total if total > 0 else float("nan")
    updates = t.get("highs._sync", 0.0)
    with_load = (build + load + updates) / total if total > 0 else float("nan")
    print(
        f"    Pyomo build   {100 * share:.1f} % of the {total:.2f} s optimise() run   "
        f"target ≤ {100 * PYOMO_SHARE:g} %   {_verdict(share <= PYOMO_SHARE)}   (with "
        f"prepare {100 * (build + prepare) / total:.1f} %; with HiGHS load and updates "
        f"{100 * with_load:.1f} %)"
    )
    gap = solution.get("mip_gap")
    target = GAP_TARGETS.get((run.n_buildings or 0, run.limit_s or 0.0))
    if target is None:
        shown = "no target"
    else:
        ok = gap is not None and gap <= target
        shown = f"target ≤ {100 * target:g} % in {run.limit_s:g} s   {_verdict(ok)}"
    print(f"    mip_gap       {_pct(gap)}   {shown}")
    for line in _solution_lines(solution, result):
        print(f"    {line}")
    for line in _baseline_lines(result):
        print(f"    {line}")
    over = solution["runtime_s"] - p["runtime_limit_s"]
    if over > 1.0:
        print(f"    NOTE: the run overran its runtime limit by {over:.2f} s")
    _common(result)


def print_profile(
    path: Path, limit: int = 20, what: str = "prepare + build_model + HiGHS load"
) -> None:
    stats = pstats.Stats(str(path))
    rows = []
    for (filename, line, func), (_, calls, tottime, cumtime, _) in stats.stats.items():
        rows.append((cumtime, tottime, calls, f"{Path(filename).name}:{line}({func})", filename))
    print(f"  profile ({path.relative_to(ROOT)}): {what}")
    print("  heatnet functions by cumulative time:")
    print(f"    {'cum s':>7} {'own s':>7} {'calls':>9}  function")
    own_code = [r for r in rows if "/heatnet/" in r[4]]
    for cum, own, calls, name, _ in sorted(own_code, reverse=True)[:limit]:
        print(f"    {cum:7.3f} {own:7.3f} {calls:9d}  {name}")
    print("  all functions by own time:")
    for cum, own, calls, name, _ in sorted(rows, key=lambda r: r[1], reverse=True)[:limit]:
        print(f"    {cum:7.3f} {own:7.3f} {calls:9d}  {name}")


# --- the section ------------------------------------------------------------------------------


def run_section(
    *,
    sizes: tuple[int, ...],
    limits: tuple[float, ...],
    district: bool = True,
    district_limit_s: float = DISTRICT_LIMIT_S,
    profile: bool = False,
    threads: int = 1,
) -> list[str]:
    """Run and print every case; returns problems (a case that produced no design)."""
    solver = ("--threads", str(threads))
    for n in sizes:
        generate(n)
    print(
        "optimise: heatnet.optimise.loop.optimise after validate → build_network → network_problem "
        f"(one fresh process per case; heatnet at {_revision()})"
    )
    problems = []
    if district:
        for run in district_runs(district_limit_s):
            result = measure(run, *solver) | {"log": str(run.log)}
            report_district(result)
            if (result.get("solution") or {}).get("objective") is None:
                problems.append(f"{run.label}: no design")
    for run in grid_runs(sizes, limits):
        result = measure(run, *solver) | {"log": str(run.log)}
        report_grid(run, result)
        if (result.get("solution") or {}).get("objective") is None:
            problems.append(f"{run.label}: no design")
    if profile and sizes:
        n = max(sizes)
        run = grid_runs((n,), (limits[0],))[0]
        stats_path = OUT / f"profile-optimise-build-{n // 1000}k.prof"
        result = measure(run, "--build-only", "--profile", str(stats_path))
        t, _ = _times(result)
        print(
            f"  build only, {n:,} buildings: prepare {t.get('prepare', 0.0):.2f} s, build_model "
            f"{t.get('build_model', 0.0):.2f} s, HiGHS load {t.get('highs._load', 0.0):.2f}"
            f" s, peak {result['peak_mb']:.0f} MB (under cProfile: slower than unprofiled)"
        )
        print_profile(stats_path)
    return problems


def _revision() -> str:
    """The commit the figures belong to, and whether heatnet/ differs from it."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "heatnet"], check=False)
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return head + (" + uncommitted changes" if dirty.returncode else "")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x.replace("_", "")) for x in text.split(",") if x)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x)


def add_arguments(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """The section's options (``bench/run.py`` adds them too)."""
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--quick",
        action="store_true",
        help="optimise: the district and 2,000 buildings at 120 s (the default)",
    )
    scope.add_argument(
        "--full",
        action="store_true",
        help="optimise: 2,000 and 10,000 buildings at 120 s and 600 s (over 30 minutes)",
    )
    parser.add_argument(
        f"--{prefix}sizes", type=_ints, help="optimise: looped-grid building counts, e.g. 2000"
    )
    parser.add_argument(
        f"--{prefix}limits", type=_floats, help="optimise: runtime limits in seconds, e.g. 120,600"
    )
    parser.add_argument(
        "--district-limit",
        type=float,
        default=DISTRICT_LIMIT_S,
        help=f"optimise: runtime limit of each district run, s (default {DISTRICT_LIMIT_S:g})",
    )
    parser.add_argument(
        "--skip-district", action="store_true", help="optimise: no sample-district runs"
    )
    parser.add_argument(
        f"--{prefix}threads",
        type=int,
        default=1,
        help="optimise: solver threads per case (2+: local search runs beside the LP bound)",
    )


def options(args: argparse.Namespace, *, prefix: str = "") -> dict[str, Any]:
    """``run_section`` keywords from parsed options (``prefix`` as given to add_arguments)."""
    sizes, limits = FULL if args.full else QUICK
    attr = prefix.replace("-", "_")
    chosen_sizes = getattr(args, f"{attr}sizes")
    chosen_limits = getattr(args, f"{attr}limits")
    return {
        "sizes": sizes if chosen_sizes is None else chosen_sizes,
        "limits": limits if chosen_limits is None else chosen_limits,
        "district": not args.skip_district,
        "district_limit_s": args.district_limit,
        "threads": getattr(args, f"{attr}threads"),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile prepare + build_model on the largest grid (no solve)",
    )
    args = parser.parse_args(argv)
    problems = run_section(**options(args), profile=args.profile)
    for problem in problems:
        print(f"WARNING: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
