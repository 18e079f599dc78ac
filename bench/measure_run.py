"""Benchmark ``heatnet run`` (``heatnet.pipeline.run``): every stage, and the write stage at scale.

Part of ``make bench`` (``bench/run.py``, the "run" section), or on its own::

    python bench/measure_run.py [--quick | --full] [--profile]

Every case runs in a fresh interpreter (this file with ``--child``, one JSON line back) so its
peak RSS is its own; its INFO log is kept under ``build/bench/run-*.log`` and its output under
``build/bench/run-*.gpkg``. Cases:

* the sample district ``sample_data/district.gpkg`` end to end, as ``heatnet run`` does it and
  with the file's own parameters (``linear`` pipes, 1 % gap, 0.05 h limit): seconds per stage
  (validate, topology, optimise, write; from a ``heatnet.core.progress.Progress`` subclass noting
  ``perf_counter`` at each ``stage`` call), the output file's size, its ``cashflow`` rows, peak
  RSS (quick and full);
* the write stage at scale, on the optimiser benchmark's looped grids (``bench/looped.py
  --optimise``) of 2,000 buildings (quick and full) and 10,000 (full), through
  ``heatnet.pipeline.run`` with a short optimiser runtime limit (``GRID_LIMITS_S``, just large
  enough for a design): ``results()`` and ``write_layers`` timed on their own (wrappers around
  the names ``heatnet.pipeline`` looks up; ``write_layers`` split by layer and QGIS styles),
  size, ``cashflow`` rows, peak RSS, and the write stage's own peak RSS (Linux: the high-water
  mark is reset through ``/proc/self/clear_refs`` when the stage starts);
* the same grids with every building connected (the largest output they give; the designs
  found within those limits connect about a fifth of the buildings): the optimiser is skipped
  and ``heatnet.pipeline.run`` writes a design built by hand (below).

A design built by hand (also used, and said so in the output, should the optimiser find none
within its limit on a loaded machine): ``heatnet.optimise.heuristic.seed_design`` connects
buildings along shortest-path trees from the supplies (``all``: with every building worth more
than any path, so every reachable one joins), flows are summed along those trees and
``heatnet.optimise.evaluate.evaluate`` prices the design; ``heatnet.pipeline.run``'s ``optimise``
is replaced by that construction, every other stage is the real one.

Targets (printed, never asserted): write stage (``results()`` + ``write_layers``) ≤ 10 s at
10,000 buildings; peak RSS ≤ 2 GB. Quick mode takes under a minute, full mode about two.

This module is imported by ``bench/run.py``, which must stay small (see its docstring): only the
child (``--child``) imports heatnet, numpy and pandas.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optimise

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
DISTRICT = ROOT / "sample_data" / "district.gpkg"

WRITE_TARGET_S = 10.0
WRITE_TARGET_BUILDINGS = 10_000
TARGET_MB = 2048.0
#: Optimiser runtime limit per looped grid, s: just large enough for a design. HiGHS completes
#: the constructive start into a first incumbent about 2 s (2,000 buildings) and 10-15 s
#: (10,000) into ``optimise``; its next one came after 77 s (2,000) or not within 120 s (10,000).
GRID_LIMITS_S = {2_000: 10.0, 10_000: 30.0}


@dataclass(frozen=True)
class Case:
    """One measured ``heatnet run``: an input, where its design comes from, its limit."""

    label: str
    path: Path
    n_buildings: int | None = None
    #: ``optimiser`` (``heatnet.optimise.loop.optimise``; the seed design if it finds none),
    #: ``seed`` (the seed design straight away) or ``all`` (every building connected).
    design: str = "optimiser"
    limit_s: float | None = None

    @property
    def output(self) -> Path:
        return OUT / f"run-{self.label}.gpkg"

    @property
    def log(self) -> Path:
        return OUT / f"run-{self.label}.log"


DISTRICT_CASE = Case("district", DISTRICT)


def grid_cases(n_buildings: int) -> tuple[Case, Case]:
    """The optimiser's design within a short limit, and every building connected."""
    label, path = f"looped-{n_buildings // 1000}k", optimise.grid_path(n_buildings)
    return (
        Case(label, path, n_buildings, "optimiser", GRID_LIMITS_S[n_buildings]),
        Case(f"{label}-all", path, n_buildings, "all"),
    )


QUICK = (DISTRICT_CASE, *grid_cases(2_000))
FULL = (*QUICK, *grid_cases(10_000))


def measure(case: Case, *extra: str) -> dict[str, Any]:
    OUT.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(Path(__file__)), "--child", str(case.path), str(case.output)]
    command += ["--design", case.design, "--log", str(case.log), *extra]
    if case.limit_s is not None:
        command += ["--limit", repr(case.limit_s)]
    return optimise.run_child(command)


# --- reporting --------------------------------------------------------------------------------


_verdict = optimise._verdict


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MB"


def _design_line(result: dict[str, Any]) -> str:
    d = result["design"]
    n = result["input"]["problem_buildings"]
    what = f"{d['connected']:,} of {n:,} buildings connected, network NPV {d['network_npv']:,.0f}"
    limit = d["runtime_limit_s"]
    if d["source"] == "optimiser":
        first = d["first_incumbent_s"]
        seen = "-" if first is None else f"{first:.1f} s"
        return (
            f"the optimiser's, runtime limit {limit:g} s: {d['state']}, {what}; first incumbent "
            f"{seen} into optimise"
        )
    how = f"seed_design + flows along its trees + evaluate, built in {d['seed_s']:.2f} s"
    if d["source"] == "seed-fallback":
        return (
            f"NOT the optimiser's (it found none within {limit:g} s: {d['state']}): {how}; {what}"
        )
    if d["source"] == "all":
        return f"by hand, every reachable building connected (no optimiser): {how}; {what}"
    return f"by hand, the seed design (no optimiser): {how}; {what}"


def _output_lines(case: Case, result: dict[str, Any]) -> list[str]:
    rows = result["rows"]
    layers = ", ".join(f"{name} {rows[name]:,}" for name in ("buildings", "paths", "supplies"))
    writes = result["write_layers_by"]
    split = ", ".join(f"{name} {seconds:.2f}" for name, seconds in writes.items())
    return [
        f"output        {_mb(result['output_bytes'])} ({case.output.relative_to(ROOT)}): {layers}"
        f"; cashflow {rows['cashflow']:,} rows",
        f"write_layers  {split} (s)",
    ]


def _memory_line(result: dict[str, Any]) -> str:
    peak = result["peak_mb"]
    write = result["write_peak_mb"]
    write_shown = "-" if write is None else f"{write:.0f} MB"
    return (
        f"peak memory   {peak:.0f} MB (write stage {write_shown} from {result['rss_before_write_mb']:.0f}"
        f" MB at its start; imports alone {result['baseline_mb']:.0f} MB)   target ≤ "
        f"{TARGET_MB / 1024:g} GB   {_verdict(peak <= TARGET_MB)}"
    )


def _load(result: dict[str, Any]) -> str:
    start, end = result["loadavg_start"], result["loadavg_end"]
    return f"load average {start[0]:.2f} at start, {end[0]:.2f} at end ({os.cpu_count()} cores)"


def _write_target(case: Case, write_s: float) -> str:
    if case.n_buildings != WRITE_TARGET_BUILDINGS:
        return f"(target ≤ {WRITE_TARGET_S:g} s is at {WRITE_TARGET_BUILDINGS:,} buildings)"
    return f"target ≤ {WRITE_TARGET_S:g} s   {_verdict(write_s <= WRITE_TARGET_S)}"


def report(case: Case, result: dict[str, Any]) -> None:
    s = result["stages"]
    write_s = s["write"]
    if case.n_buildings is None:
        print(f"  {case.path.relative_to(ROOT)}, end to end with the file's own parameters")
    else:
        kind = "every building connected" if case.design == "all" else "the optimiser's design"
        print(f"  looped grid, {case.n_buildings:,} buildings, write stage, {kind}")
    print(
        f"    stages (s)    validate {s['validate']:.2f}, topology {s['topology']:.2f}, optimise "
        f"{s['optimise']:.2f}, write {write_s:.2f}; before validate {s['before']:.2f}; run() "
        f"{result['run_s']:.2f} s (+ imports {result['import_s']:.2f} s)"
    )
    print(
        f"    write stage   {write_s:.2f} s = results() {result['results_s']:.2f} s + "
        f"write_layers {result['write_layers_s']:.2f} s   {_write_target(case, write_s)}"
    )
    print(f"    design        {_design_line(result)}")
    for line in _output_lines(case, result):
        print(f"    {line}")
    print(f"    {_memory_line(result)}")
    print(f"    {_load(result)}; log {case.log.relative_to(ROOT)}")


def print_profile(path: Path, limit: int = 15) -> None:
    optimise.print_profile(path, limit, what="results() + write_layers")


def run_section(*, full: bool, profile: bool = False) -> list[str]:
    """Run and print every case; returns problems (the optimiser found no design)."""
    cases = FULL if full else QUICK
    for n in dict.fromkeys(case.n_buildings for case in cases if case.n_buildings is not None):
        optimise.generate(n)
    print(
        "run: heatnet.pipeline.run (heatnet run) end to end, and its write stage (results() + "
        f"write_layers with QGIS styles) at scale (one fresh process per case; heatnet at "
        f"{optimise._revision()})"
    )
    problems = []
    for case in cases:
        result = measure(case)
        report(case, result)
        if result["design"]["source"] == "seed-fallback":
            problems.append(f"{case.label}: no design from the optimiser, the seed design written")
    if profile:
        big = cases[-1]
        again = Case(f"{big.label}-profile", big.path, big.n_buildings, big.design, big.limit_s)
        stats_path = OUT / f"profile-run-write-{big.label}.prof"
        result = measure(again, "--profile-to", str(stats_path))
        print(
            f"  write stage under cProfile, {big.label}: results() {result['results_s']:.2f} s + "
            f"write_layers {result['write_layers_s']:.2f} s (slower than unprofiled)"
        )
        print_profile(stats_path)
    return problems


# --- the child: one measured run --------------------------------------------------------------


def _rss_mb(field: str) -> float | None:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process, MB (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux ≥ 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _tree_flows(data: Any, seed: dict[str, dict[Any, float]]) -> dict[str, Any]:
    """Solver-like values for a seed design: its binaries plus flows summed along its trees.

    The seed's laid arcs are shortest-path trees from the supplies. As in the model's balance,
    the peak flow into a vertex is the undiversified peak of the connected buildings below it,
    and the mean flow is their mean demand plus the losses of the arcs below it and of the arc
    itself; a supply's output is what leaves it (plus its own buildings).
    """
    import pandas as pd

    values = {name: pd.Series(seed[name], dtype=float) for name in ("dvin", "svin", "ain")}
    connected = data.buildings[values["dvin"].reindex(data.buildings.index) > 0.5]
    peak = connected.groupby("host")["peak_kw"].sum().to_dict()
    mean = connected.groupby("host")["mean_kw"].sum().to_dict()
    laid = data.arcs.loc[values["ain"].index[values["ain"] > 0.5]]
    loss = {
        a: float(data.loss_kw.get(e, 0.0)) for a, e in zip(laid.index, laid["edge"], strict=True)
    }
    below: dict[str, list[tuple[str, str]]] = {}
    into: dict[str, str] = {}
    for arc, tail, head in zip(laid.index, laid["tail"], laid["head"], strict=True):
        if head in into:
            raise RuntimeError(f"the seed design is not a forest: two arcs into {head}")
        into[head] = arc
        below.setdefault(tail, []).append((arc, head))
    order = list(data.supplies.index)
    for vertex in order:  # breadth first from the supplies; grows while iterated
        order += [head for _, head in below.get(vertex, [])]
    sub_peak: dict[str, float] = {}
    sub_mean: dict[str, float] = {}
    for vertex in reversed(order):
        children = below.get(vertex, [])
        sub_peak[vertex] = peak.get(vertex, 0.0) + sum(sub_peak[h] for _, h in children)
        sub_mean[vertex] = mean.get(vertex, 0.0) + sum(loss[a] + sub_mean[h] for a, h in children)
    heads = laid["head"].to_numpy()
    values["fp"] = pd.Series([sub_peak[h] for h in heads], index=laid.index, dtype=float)
    values["fm"] = pd.Series(
        [loss[a] + sub_mean[h] for a, h in zip(laid.index, heads, strict=True)],
        index=laid.index,
        dtype=float,
    )
    supplies = data.supplies.index
    values["supp"] = pd.Series([sub_peak[s] for s in supplies], index=supplies, dtype=float)
    values["supm"] = pd.Series([sub_mean[s] for s in supplies], index=supplies, dtype=float)
    return values


def _seed_solution(problem: Any, *, everyone: bool = False) -> Any:
    """A priced design without the optimiser (see the module docstring).

    ``everyone``: every building the supplies reach joins along its shortest path (the seed
    heuristic with every building worth more than any path), the largest output a grid gives.
    """
    import dataclasses

    import numpy as np

    from heatnet.optimise.evaluate import evaluate
    from heatnet.optimise.heuristic import seed_design
    from heatnet.optimise.prepare import prepare
    from heatnet.optimise.solution import Solution

    began = time.perf_counter()
    data = prepare(problem)
    chosen = data
    if everyone:
        chosen = dataclasses.replace(data, buildings=data.buildings.assign(value=np.inf))
    seed = seed_design(chosen)
    if seed is None:
        raise SystemExit("seed_design found no design")
    design = evaluate(data, _tree_flows(data, seed))
    took = time.perf_counter() - began
    return Solution(
        "feasible", design, design.objective, design.network_npv, None, design.objective, None,
        took, 0, problem.parameters.pipe_model, problem.reasons, (),
    )  # fmt: skip


class _Child:
    """Clocks and wrappers for one ``heatnet.pipeline.run`` (see the module docstring)."""

    def __init__(self, design: str, profile: Path | None) -> None:
        self.design = design
        self.profile = profile
        self.stage_at: dict[str, float] = {}
        self.first_incumbent: float | None = None
        self.times: dict[str, float] = {}
        self.writes: dict[str, float] = {}
        self.facts: dict[str, Any] = {"source": design, "seed_s": None}
        self.rss_before_write: float | None = None
        self.write_peak: float | None = None
        self.profiler: Any = None

    def progress(self) -> Any:
        from heatnet.core.progress import Progress

        child = self

        class StageClock(Progress):
            def stage(self, name: str) -> None:
                child.stage_at[name] = time.perf_counter()

            def solver(self, update: Any) -> None:
                if child.first_incumbent is None and update.incumbent is not None:
                    child.first_incumbent = time.perf_counter() - child.stage_at["optimise"]

        return StageClock()

    def instrument(self) -> None:
        import pyogrio

        import heatnet.outputs.gpkg
        import heatnet.pipeline

        pipeline = heatnet.pipeline
        pipeline.optimise = self._optimise(pipeline.optimise)
        pipeline.results = self._results(pipeline.results)
        pipeline.write_layers = self._write_layers(pipeline.write_layers)
        pyogrio.write_dataframe = self._timed(pyogrio.write_dataframe, "layer")
        heatnet.outputs.gpkg.write_styles = self._timed(heatnet.outputs.gpkg.write_styles, "styles")

    def _optimise(self, real: Any) -> Any:
        def optimise_or_seed(problem: Any, options: Any = None, *, progress: Any = None) -> Any:
            self.facts["problem_buildings"] = len(problem.buildings)
            if self.design != "optimiser":
                solution = _seed_solution(problem, everyone=self.design == "all")
            else:
                solution = real(problem, options, progress=progress)
                self.facts["state"] = solution.state
                if solution.design is None:
                    self.facts["source"] = "seed-fallback"
                    solution = _seed_solution(problem)
            if self.facts["source"] != "optimiser":
                self.facts["seed_s"] = solution.runtime_s
            self.facts.setdefault("state", solution.state)
            design = solution.design
            self.facts["connected"] = int(design.buildings["in_network"].sum())
            self.facts["network_npv"] = design.network_npv
            return solution

        return optimise_or_seed

    def _results(self, real: Any) -> Any:
        def results(*args: Any, **kwargs: Any) -> Any:
            self.rss_before_write = _rss_mb("VmRSS")
            if not _reset_peak():
                self.rss_before_write = None
            if self.profile is not None:
                import cProfile

                self.profiler = cProfile.Profile()
                self.profiler.enable()
            start = time.perf_counter()
            out = real(*args, **kwargs)
            self.times["results"] = time.perf_counter() - start
            return out

        return results

    def _write_layers(self, real: Any) -> Any:
        def write_layers(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.times["write_layers"] = time.perf_counter() - start
                if self.rss_before_write is not None:
                    self.write_peak = _rss_mb("VmHWM")
                if self.profiler is not None:
                    self.profiler.disable()
                    self.profiler.dump_stats(self.profile)

        return write_layers

    def _timed(self, func: Any, kind: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            name = kwargs.get("layer", "?") if kind == "layer" else kind
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.writes[name] = self.writes.get(name, 0.0) + time.perf_counter() - start

        return wrapper


def _setup_log(path: Path) -> None:
    import logging

    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(relativeCreated)9.0f ms %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One ``heatnet.pipeline.run``, instrumented; its figures as a dict."""
    import resource

    def peak_rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    start_mb = peak_rss_mb()
    t_start = time.perf_counter()
    import geopandas  # noqa: F401  (dependencies are imported before the clock starts)
    import networkx  # noqa: F401
    import pyarrow  # noqa: F401
    import pyogrio
    import pyomo.environ  # noqa: F401
    import shapely  # noqa: F401

    import heatnet.pipeline

    import_s = time.perf_counter() - t_start
    baseline_mb = peak_rss_mb()
    _setup_log(args.log)
    clock = _Child(args.design, args.profile)
    clock.instrument()
    overrides = {}
    if args.limit is not None:
        overrides["optimiser/runtime-limit"] = repr(args.limit / 3600.0)
    began = time.perf_counter()
    report = heatnet.pipeline.run(
        args.input, args.output, overrides=overrides, overwrite=True, progress=clock.progress()
    )
    ended = time.perf_counter()
    at = clock.stage_at
    missed = {"validate", "topology", "optimise", "write"} - set(at)
    missed |= {"results", "write_layers"} - set(clock.times)
    if missed:  # heatnet.pipeline.run changed: the figures would be wrong, not just missing
        raise RuntimeError(f"heatnet.pipeline.run no longer reports or calls {sorted(missed)}")
    stages = {
        "before": at["validate"] - began,
        "validate": at["topology"] - at["validate"],
        "topology": at["optimise"] - at["topology"],
        "optimise": at["write"] - at["optimise"],
        "write": ended - at["write"],
    }
    rows = {
        name: int(pyogrio.read_info(args.output, layer=name)["features"])
        for name in ("buildings", "paths", "supplies", "cashflow")
    }
    params = report.problem.parameters
    design = clock.facts | {
        "first_incumbent_s": clock.first_incumbent,
        "runtime_limit_s": params.runtime_limit_h * 3600.0,
        "pipe_model": params.pipe_model,
    }
    return {
        "start_mb": start_mb,
        "import_s": import_s,
        "run_s": ended - began,
        "stages": stages,
        "results_s": clock.times["results"],
        "write_layers_s": clock.times["write_layers"],
        "write_layers_by": clock.writes,
        "design": design,
        "input": {"problem_buildings": clock.facts["problem_buildings"]},
        "rows": rows,
        "output_bytes": args.output.stat().st_size,
        "baseline_mb": baseline_mb,
        "rss_before_write_mb": clock.rss_before_write,
        "write_peak_mb": clock.write_peak,
        "peak_mb": peak_rss_mb(),
        "loadavg_end": list(os.getloadavg()),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--quick", action="store_true", help="the district and 2,000 buildings")
    scope.add_argument("--full", action="store_true", help="also 10,000 buildings")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile the largest grid's write stage"
    )
    parser.add_argument("--child", nargs=2, type=Path, metavar=("INPUT", "OUTPUT"))
    parser.add_argument("--design", choices=("optimiser", "seed", "all"), default="optimiser")
    parser.add_argument("--limit", type=float, help="optimiser runtime limit, s")
    parser.add_argument("--log", type=Path, default=OUT / "run.log")
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        args.input, args.output = args.child
        args.profile = args.profile_to
        print(json.dumps(child(args)))
        return 0
    for problem in run_section(full=args.full, profile=args.profile):
        print(f"WARNING: run, {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
