"""One measured ``heatnet.pipeline.check`` run; prints its figures as one JSON line on stdout.

Run by ``bench/run.py`` in a fresh interpreter per repetition, so ``ru_maxrss`` (the process's
peak resident set) is that of the imports plus this one check and nothing else::

    python bench/measure.py INPUT.gpkg [--profile OUT.prof]

The stage split comes from timing wrappers around the two functions ``check`` chains
(``read_inputs`` then ``check_inputs``), so the stages and the total come from one call.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

T_START = time.perf_counter()
#: Peak RSS before any import: should be the bare interpreter's (~10 MB); if it is large, the
#: parent's high-water mark leaked in through execve and peak_mb is not this run's own.
START_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import geopandas  # noqa: E402, F401  (dependencies are imported before the clock starts)
import pandas  # noqa: E402, F401
import pyarrow  # noqa: E402, F401  (pyogrio imports it lazily on the first Arrow read)
import pyogrio  # noqa: E402, F401
import shapely  # noqa: E402, F401

import heatnet.pipeline  # noqa: E402

T_IMPORTED = time.perf_counter()


def _peak_rss_mb() -> float:
    """Peak resident set of this process so far, in MB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(func: Any, name: str, times: dict[str, float]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            times[name] = time.perf_counter() - start

    return wrapper


def measure(path: Path, profile: Path | None) -> dict[str, Any]:
    baseline_mb = _peak_rss_mb()
    times: dict[str, float] = {}
    heatnet.pipeline.read_inputs = _timed(heatnet.pipeline.read_inputs, "load", times)
    heatnet.pipeline.check_inputs = _timed(heatnet.pipeline.check_inputs, "validate", times)
    profiler = None
    if profile is not None:
        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    report = heatnet.pipeline.check(path)
    total = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    if set(times) != {"load", "validate"}:
        raise RuntimeError(f"heatnet.pipeline.check no longer calls both stages: {times}")
    codes = Counter(f"{issue.severity}:{issue.code}" for issue in report.issues)
    inputs = report.inputs
    return {
        "ok": report.ok,
        "crs": inputs.input_crs.to_string() if inputs is not None else None,
        "start_mb": START_MB,
        "rows": {name: len(getattr(inputs, name)) for name in ("buildings", "paths", "supplies")}
        if inputs is not None
        else {},
        "import_s": T_IMPORTED - T_START,
        "load_s": times["load"],
        "validate_s": times["validate"],
        "total_s": total,
        "baseline_mb": baseline_mb,
        "peak_mb": _peak_rss_mb(),
        "issues": dict(sorted(codes.items())),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("--profile", type=Path, help="also write cProfile stats here")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.input, args.profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
