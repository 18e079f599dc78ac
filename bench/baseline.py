"""Prize-collecting Steiner baselines for heatnet, priced exactly by heatnet's own pricer.

The yardstick of the town-scale issue: the written NPV should be at least that of a simple
prize-collecting Steiner design. The constructions (``steiner``, ``greedy``), their pruning and
their exact pricing are heatnet's own (:mod:`heatnet.optimise.steiner`, which the search also
runs before any MIP); this module times each one and reports its figures beside heatnet's.

Run on a problem file::

    python bench/baseline.py PROBLEM.json [PROBLEM.json ...]

``bench/measure_optimise.py`` calls :func:`baseline_figures` on the problem it built.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heatnet.optimise.prepare import ModelData, prepare
from heatnet.optimise.steiner import Priced, Pricer, Tree, greedy, prune, steiner
from heatnet.problem.definition import Problem


@dataclass(frozen=True)
class Baseline:
    """One baseline's figures."""

    method: str
    objective: float | None
    npv: float | None
    valid: bool
    problems: tuple[str, ...]
    buildings: int
    supplies: int
    seconds: float
    pricings: int
    before_prune: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "objective": self.objective,
            "npv": self.npv,
            "valid": self.valid,
            "problems": list(self.problems),
            "buildings": self.buildings,
            "supplies": self.supplies,
            "seconds": self.seconds,
            "pricings": self.pricings,
            "before_prune": self.before_prune,
        }


# --- running ----------------------------------------------------------------------------------


def _figures(method: str, pricer: Pricer, result: Priced, began: float, before: float) -> Baseline:
    d = result.design
    return Baseline(
        method,
        float(d.objective),
        float(d.npv),
        result.valid,
        result.problems,
        len(result.connected),
        len(result.tree.roots),
        time.perf_counter() - began,
        pricer.calls,
        before,
    )


def run_baselines(problem: Problem, data: ModelData | None = None) -> list[Baseline]:
    """Both baselines of a problem, priced exactly, plus the empty design for reference."""
    data = prepare(problem) if data is None else data
    out = []
    for method, build in (("steiner", steiner), ("greedy", greedy)):
        began = time.perf_counter()
        pricer = Pricer(data)
        tree = build(pricer)
        first = pricer.price(tree)
        best = prune(pricer, first)
        out.append(_figures(method, pricer, best, began, first.objective))
    began = time.perf_counter()
    pricer = Pricer(data)
    out.append(_figures("empty", pricer, pricer.price(Tree(set())), began, 0.0))
    return out


def best_baseline(results: list[Baseline]) -> Baseline | None:
    """The best valid baseline (the empty design included), or None."""
    valid = [r for r in results if r.valid and r.objective is not None]
    return max(valid, key=lambda r: r.objective or 0.0, default=None)


def baseline_figures(problem: Problem, data: ModelData | None = None) -> dict[str, Any]:
    """JSON-able figures for the bench: every baseline and the best valid one."""
    began = time.perf_counter()
    try:
        results = run_baselines(problem, data)
    except Exception as exc:  # the bench reports it beside heatnet's figures
        return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - began}
    best = best_baseline(results)
    return {
        "methods": [r.as_dict() for r in results],
        "best": None if best is None else best.as_dict(),
        "seconds": time.perf_counter() - began,
    }


def describe(result: Baseline) -> str:
    state = "valid" if result.valid else "INVALID: " + "; ".join(result.problems)[:300]
    before = "" if result.before_prune is None else f" (before pruning {result.before_prune:,.0f})"
    return (
        f"{result.method:<8} NPV {result.objective:,.0f}{before}, {state}, "
        f"{result.buildings:,} buildings, {result.supplies} supplies, "
        f"{result.seconds:.2f} s, {result.pricings} exact pricings"
    )


def main(argv: list[str]) -> int:
    from heatnet.problem.json_form import read_problem

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problems", type=Path, nargs="+", help="problem JSON files")
    args = parser.parse_args(argv)
    for path in args.problems:
        began = time.perf_counter()
        problem = read_problem(path)
        read_s = time.perf_counter() - began
        began = time.perf_counter()
        data = prepare(problem)
        prepare_s = time.perf_counter() - began
        print(
            f"{path}: {len(data.buildings):,} buildings, {len(data.edges):,} edges, "
            f"{len(data.supplies)} supplies (read {read_s:.2f} s, prepare {prepare_s:.2f} s)"
        )
        results = run_baselines(problem, data)
        for r in results:
            print(f"  {describe(r)}")
        best = best_baseline(results)
        shown = "none valid" if best is None else f"{best.method}, NPV {best.objective:,.0f}"
        print(f"  baseline: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
