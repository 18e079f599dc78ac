"""One measured ``heatnet.topology.build_network`` run; prints its figures as one JSON line.

Run by ``bench/run.py`` in a fresh interpreter per repetition (see ``bench/measure.py`` for why)::

    python bench/measure_topology.py INPUT.gpkg [--profile OUT.prof]

The input is read and validated first (``read_inputs`` + ``validate_inputs``, timed on their
own); then ``build_network`` alone is timed, and profiled when asked. The figures include a
split of ``build_network`` by the stage functions it calls: timing wrappers are put around the
names ``heatnet.topology.build`` looks up (nothing in heatnet is changed), so a call of one from
within another is counted in both, and ``other`` is the rest of ``build_network``.
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
START_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import geopandas  # noqa: E402, F401  (dependencies are imported before the clock starts)
import networkx  # noqa: E402, F401
import pandas  # noqa: E402, F401
import pyarrow  # noqa: E402, F401
import pyogrio  # noqa: E402, F401
import shapely  # noqa: E402, F401

import heatnet.inputs.load  # noqa: E402
import heatnet.inputs.validate  # noqa: E402
import heatnet.topology  # noqa: E402
import heatnet.topology.build  # noqa: E402

T_IMPORTED = time.perf_counter()

#: Functions ``heatnet.topology.build`` calls, in pipeline order; the graph ones run inside
#: ``_classify``, which is timed as a whole too.
STAGES = (
    "explode",
    "snap_requests",
    "crossing_requests",
    "split",
    "connect",
    "node_ids",
    "_piece_rows",
    "_elements",
    "_classify",
    "build_graph",
    "reachable_vertices",
    "peripheral_edges",
    "model_graph",
)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _wrap_stages(times: dict[str, float], calls: Counter[str]) -> None:
    module = heatnet.topology.build
    for name in STAGES:
        func = getattr(module, name, None)
        if func is None:  # renamed in heatnet: report the stages that are still there
            continue

        def wrapper(*args: Any, _func: Any = func, _name: str = name, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _func(*args, **kwargs)
            finally:
                times[_name] = times.get(_name, 0.0) + time.perf_counter() - start
                calls[_name] += 1

        setattr(module, name, wrapper)


def measure(path: Path, profile: Path | None) -> dict[str, Any]:
    baseline_mb = _peak_rss_mb()
    start = time.perf_counter()
    inputs = heatnet.inputs.validate.validate_inputs(heatnet.inputs.load.read_inputs(path))
    load_validate = time.perf_counter() - start
    before_peak_mb = _peak_rss_mb()
    times: dict[str, float] = {}
    calls: Counter[str] = Counter()
    _wrap_stages(times, calls)
    profiler = None
    if profile is not None:
        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    network = heatnet.topology.build_network(inputs)
    build = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    paths = network.paths
    active = inputs.buildings["constraint"] != "forbidden"
    codes = Counter(f"{issue.severity}:{issue.code}" for issue in network.issues)
    return {
        "start_mb": START_MB,
        "crs": inputs.input_crs.to_string(),
        "inputs": {
            "buildings": len(inputs.buildings),
            "active_buildings": int(active.sum()),
            "paths": len(inputs.paths),
            "supplies": len(inputs.supplies),
        },
        "import_s": T_IMPORTED - T_START,
        "load_validate_s": load_validate,
        "build_s": build,
        "stages": {name: [times[name], calls[name]] for name in STAGES if name in times},
        "baseline_mb": baseline_mb,
        "peak_before_build_mb": before_peak_mb,
        "peak_mb": _peak_rss_mb(),
        "counts": {
            "path_rows": len(paths),
            "connectors": int(paths["connector"].sum()),
            "peripheral": int(paths["peripheral"].sum()),
            "unreachable_paths": int(paths["unreachable"].sum()),
            "junctions": len(network.junctions),
            "model_edges": len(network.model.edges),
            "unreachable_buildings": int(network.buildings["unreachable"].sum()),
            "unreachable_supplies": int(network.supplies["unreachable"].sum()),
        },
        "issues": dict(sorted(codes.items())),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("--profile", type=Path, help="also write cProfile stats of build_network")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.input, args.profile)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
