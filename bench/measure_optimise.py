"""One measured ``heatnet.optimise.loop.optimise`` run; prints its figures as one JSON line on stdout.

Run by ``bench/optimise.py`` in a fresh interpreter per case (see ``bench/measure.py`` for why)::

    python bench/measure_optimise.py INPUT.gpkg [--set KEY=VALUE ...] [--log FILE]
        [--profile OUT.prof] [--build-only] [--no-baseline]

The input goes through ``heatnet.pipeline.check`` (with the ``--set`` overrides), then
``build_network`` and ``network_problem`` (each timed), then ``optimise`` (timed as a whole).
Inside ``optimise`` timing wrappers are put around the names ``heatnet.optimise.loop`` looks up
(``prepare``, ``build_model``, ``constructions``, ``polish``, ``evaluate``, ``_settle``), around
``heatnet.optimise.local.improve`` (local search) and around the steps of the HiGHS
adapter (``Solver._load``: the model read and handed to HiGHS; ``_sync``: the changes sent
before a re-solve; ``_run``: HiGHS' run), ``Solver.fix`` / ``unfix`` (decisions fixed for
settling) and ``Solver._result`` (reading every variable back into pandas). Nothing in heatnet is changed.

``--profile`` writes cProfile stats of ``prepare`` + ``build_model`` + the first HiGHS load
only; ``--build-only`` stops there (no solve), for profiling a big case quickly. ``--log``
writes the run's INFO log (the optimiser logs the model size and build time, every solve and
every iteration) to a file.

After ``optimise`` (and after its figures, peak memory included, are taken) the prize-collecting
Steiner baselines of ``bench/baseline.py`` are computed on the same problem and priced exactly,
under ``"baseline"`` (``--no-baseline`` skips them; ``--build-only`` never runs them).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()
START_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import geopandas  # noqa: E402, F401  (dependencies are imported before the clock starts)
import networkx  # noqa: E402, F401
import pandas  # noqa: E402, F401
import pyarrow  # noqa: E402, F401
import pyogrio  # noqa: E402, F401
import pyomo.environ  # noqa: E402, F401
import shapely  # noqa: E402, F401
from baseline import baseline_figures  # noqa: E402  (bench/baseline.py, beside this script)

import heatnet.optimise.highs  # noqa: E402
import heatnet.optimise.local  # noqa: E402
import heatnet.optimise.loop  # noqa: E402
import heatnet.pipeline  # noqa: E402
from heatnet.problem.from_network import network_problem  # noqa: E402
from heatnet.topology import build_network  # noqa: E402

T_IMPORTED = time.perf_counter()

#: Names ``heatnet.optimise.loop`` looks up, timed (seconds summed over calls, and call counts).
WRAPPED = (
    "prepare", "build_model", "seed_design", "constructions", "polish", "evaluate",
    "_settle",
)  # fmt: skip
#: Steps of the HiGHS adapter a ``Solver`` runs (``_sync`` calls ``_load`` the first time).
PERSISTENT = ("_load", "_sync", "_run")
#: ``Solver`` methods that change the loaded model between solves (where they exist).
SOLVER_METHODS = ("fix", "unfix")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    try:
        statm = Path("/proc/self/statm").read_text(encoding="ascii")
        return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


class Clock:
    """Seconds and calls per name; solves are split into free MIPs and settling re-solves.

    ``times`` are inclusive; ``own`` leaves out the timed calls made inside (``fix`` sends
    parameter updates, ``_solve`` calls ``_postsolve``, ``_settle`` solves), so the ``own``
    seconds of all names add up to at most the wall time of ``optimise``.
    """

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.own: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.solves: list[dict[str, Any]] = []
        self.settling = False
        self.profiler: cProfile.Profile | None = None
        self._inner: list[float] = []  # seconds of timed calls inside each open timed call

    def wrap(self, func: Any, name: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            self._inner.append(0.0)
            try:
                return func(*args, **kwargs)
            finally:
                took = time.perf_counter() - start
                inner = self._inner.pop()
                if self._inner:
                    self._inner[-1] += took
                self.times[name] = self.times.get(name, 0.0) + took
                self.own[name] = self.own.get(name, 0.0) + took - inner
                self.calls[name] = self.calls.get(name, 0) + 1

        return wrapper


def _instrument(clock: Clock, profile: Path | None) -> None:
    module = heatnet.optimise.loop
    for name in WRAPPED:
        func = getattr(module, name, None)
        if func is None:  # renamed in heatnet: time what is still there
            continue
        wrapped = clock.wrap(func, name)
        if name == "_settle":
            inner = wrapped

            def settle(*args: Any, _inner: Any = inner, **kwargs: Any) -> Any:
                clock.settling = True
                try:
                    return _inner(*args, **kwargs)
                finally:
                    clock.settling = False

            wrapped = settle
        if name == "prepare" and profile is not None:
            wrapped = _profiled_prepare(clock, wrapped)
        setattr(module, name, wrapped)

    local = heatnet.optimise.local  # local.search is a generator: time each improve it runs
    local.improve = clock.wrap(local.improve, "improve")  # type: ignore[assignment]
    module.Solver = _timed_solver(clock, module.Solver, profile)


def _wrap_methods(clock: Clock, obj: Any, names: tuple[str, ...], prefix: str) -> None:
    for method in names:
        func = getattr(obj, method, None)
        if func is not None:  # (absent in this heatnet / Pyomo version: nothing to time)
            setattr(obj, method, clock.wrap(func, f"{prefix}.{method}"))


def _timed_solver(clock: Clock, base: Any, profile: Path | None) -> Any:
    """``heatnet.optimise.highs.Solver`` with every solve recorded and its HiGHS interface timed."""

    class TimedSolver(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _wrap_methods(clock, self, PERSISTENT, "highs")
            _wrap_methods(clock, self, SOLVER_METHODS, "solver")
            if profile is not None and clock.profiler is not None:
                self._load = _stop_profile_after(clock, self._load, profile)

        def solve(self, **kwargs: Any) -> Any:
            result = super().solve(**kwargs)
            clock.solves.append(
                {
                    "kind": "settle" if clock.settling else "lp" if kwargs.get("relax") else "mip",
                    "status": str(result.status),
                    "termination": result.termination,
                    "objective": result.objective,
                    "bound": result.bound,
                    "runtime_s": result.runtime_s,
                    "time_limit_s": kwargs.get("time_limit_s"),
                }
            )
            return result

        _result = clock.wrap(base._result, "read_values")

    return TimedSolver


def _profiled_prepare(clock: Clock, func: Any) -> Any:
    """Start the profiler when ``prepare`` starts (stopped after the first HiGHS load)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if clock.profiler is None:
            clock.profiler = cProfile.Profile()
            clock.profiler.enable()
        return func(*args, **kwargs)

    return wrapper


def _stop_profile_after(clock: Clock, func: Any, path: Path) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            if clock.profiler is not None:
                clock.profiler.disable()
                clock.profiler.dump_stats(path)

    return wrapper


class BuildOnly(Exception):
    """Raised after the first HiGHS load when only the build is measured."""


def _build_only(clock: Clock) -> None:
    """Make the first solve stop right after the model is handed to HiGHS."""
    solver_class = heatnet.optimise.loop.Solver

    class Stop(solver_class):  # type: ignore[misc, valid-type]
        def solve(self, **kwargs: Any) -> Any:
            self._load()
            raise BuildOnly

    heatnet.optimise.loop.Solver = Stop


def _setup_log(path: Path | None) -> None:
    if path is None:
        return
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(relativeCreated)9.0f ms %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def measure(
    path: Path,
    overrides: dict[str, str],
    profile: Path | None,
    build_only: bool,
    baseline: bool = True,
    *,
    threads: int = 1,
) -> dict[str, Any]:
    baseline_mb = _peak_rss_mb()
    clock = Clock()
    start = time.perf_counter()
    report = heatnet.pipeline.check(path, overrides=overrides)
    if report.inputs is None:
        raise SystemExit(f"{path} did not validate: {[i.code for i in report.issues]}")
    inputs = report.inputs
    check_s = time.perf_counter() - start
    start = time.perf_counter()
    network = build_network(inputs)
    network_s = time.perf_counter() - start
    start = time.perf_counter()
    problem = network_problem(inputs, network)
    problem_s = time.perf_counter() - start
    before_mb, rss_before_mb = _peak_rss_mb(), _current_rss_mb()
    _instrument(clock, profile)
    if build_only:
        _build_only(clock)
    start = time.perf_counter()
    solution = None
    with contextlib.suppress(BuildOnly):
        solution = heatnet.optimise.loop.optimise(
            problem, heatnet.optimise.highs.SolverOptions(threads=threads)
        )
    optimise_s = time.perf_counter() - start
    params = problem.parameters
    out: dict[str, Any] = {
        "start_mb": START_MB,
        "pid": os.getpid(),
        "input": {
            "buildings": len(inputs.buildings),
            "supplies": len(inputs.supplies),
            "problem_buildings": len(problem.buildings),
            "problem_edges": len(problem.edges),
            "problem_supplies": len(problem.supplies),
        },
        "parameters": {
            "pipe_model": params.pipe_model,
            "mip_gap": params.mip_gap,
            "param_gap": params.param_gap,
            "runtime_limit_s": params.runtime_limit_h * 3600.0,
            "iteration_limit": params.iteration_limit,
        },
        "threads": threads,
        "import_s": T_IMPORTED - T_START,
        "check_s": check_s,
        "network_s": network_s,
        "problem_s": problem_s,
        "optimise_s": optimise_s,
        "times": clock.times,
        "own": clock.own,
        "calls": clock.calls,
        "solves": clock.solves,
        "baseline_mb": baseline_mb,
        "peak_before_optimise_mb": before_mb,
        "rss_before_optimise_mb": rss_before_mb,
        "peak_mb": _peak_rss_mb(),
        # the largest child's (the LP bound's own process with 2+ threads): it runs beside
        # this one, so the two peaks together bound what the run holds at once
        "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "loadavg_end": list(os.getloadavg()),
    }
    if solution is not None:
        design = solution.design
        out["solution"] = {
            "state": solution.state,
            "objective": solution.objective,
            "network_npv": solution.network_npv,
            "mip_gap": solution.mip_gap,
            "lower_bound": solution.lower_bound,
            "upper_bound": solution.upper_bound,
            "runtime_s": solution.runtime_s,
            "iterations": solution.iterations,
            "connected": None if design is None else int(design.buildings["in_network"].sum()),
            "supplies_built": None if design is None else int(design.supplies["in_network"].sum()),
            "history": [
                {
                    "number": it.number,
                    "status": str(it.status),
                    "mip_objective": it.mip_objective,
                    "mip_bound": it.mip_bound,
                    "settled_objective": it.settled_objective,
                    "objective": it.objective,
                    "runtime_s": it.runtime_s,
                }
                for it in solution.history
            ],
        }
    if baseline and not build_only:
        out["baseline"] = baseline_figures(problem)
    return out


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--log", type=Path, help="write the INFO log here")
    parser.add_argument("--profile", type=Path, help="cProfile prepare + build_model + load")
    parser.add_argument("--build-only", action="store_true", help="stop before the first solve")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the PCST baselines after optimise"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="solver threads (2+: local search beside the LP)"
    )
    args = parser.parse_args(argv)
    _setup_log(args.log)
    figures = measure(
        args.input, _overrides(args.set), args.profile, args.build_only, not args.no_baseline,
        threads=args.threads,
    )  # fmt: skip
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
