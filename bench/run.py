"""Benchmark what ``heatnet validate`` does: read and validate a large synthetic input.

``make bench`` runs this. It builds (or reuses) deterministic synthetic GeoPackages under
``build/bench/``, times ``heatnet.pipeline.check`` in a fresh interpreter per repetition
(``bench/measure.py``) and prints the figures against the targets. Over target is reported, not
failed: the exit status is 0 unless the benchmark itself is broken (a child crashed, or the
synthetic input did not validate, which would make the figures meaningless).

This process stays small on purpose (no numpy/geopandas; the inputs are generated in a child as
well): on Linux ``ru_maxrss`` survives ``execve``, and a ``vfork``-ed child starts from the
parent's high-water mark, so a big parent would inflate every child's peak memory figure.

    python bench/run.py [--repeat N] [--profile]
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

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = ROOT / "build" / "bench"
MEASURE = BENCH / "measure.py"
GENERATE = BENCH / "synthetic.py"

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


def _child(path: Path, profile: Path | None = None) -> dict[str, Any]:
    command = [sys.executable, str(MEASURE), str(path)]
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument(
        "--profile", action="store_true", help="also profile one 100k run with cProfile"
    )
    args = parser.parse_args(argv)
    for case in (MAIN, SCALING):
        _generate(case)
    results = {case: _runs(case, args.repeat) for case in (MAIN, SCALING)}
    broken = [case for case, runs in results.items() if not all(run["ok"] for run in runs)]
    _report_main(MAIN, results[MAIN])
    _report_scaling(SCALING, results[SCALING], results[MAIN])
    inherited = max(run["start_mb"] for runs in results.values() for run in runs)
    if inherited > INHERITED_MB:
        print(
            f"WARNING: a child started with ru_maxrss {inherited:.0f} MB (inherited from this "
            "process): the peak memory figures overstate the check's own",
            file=sys.stderr,
        )
    if args.profile:
        stats_path = OUT / f"profile-{MAIN.label}.prof"
        _child(MAIN.path, stats_path)
        _print_profile(stats_path)
    if broken:
        names = ", ".join(str(case.path.relative_to(ROOT)) for case in broken)
        print(f"BROKEN: {names} did not validate (report.ok is False)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
