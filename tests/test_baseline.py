"""The prize-collecting Steiner baseline of the bench (bench/baseline.py) on a hand-made case.

Supply S feeds junction J over 10 m; building A (worth 10,000) hangs on J by a 10 m connector;
building B (worth 1,500) hangs on K by a 10 m connector, K on J by 20 m. Pipes are DN20 at
100 ¤/m (both peaks together fit one), no losses, no diversity, heat free. B pays for its own
connector (+500) but not for J–K (−2,000): the optimum is A alone, 10,000 − 1,000 − 1,000 =
8,000; the tree with B too is worth 6,500.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from heatnet.optimise.loop import optimise
from heatnet.optimise.prepare import prepare
from tests.problems import make_problem

BENCH = Path(__file__).resolve().parent.parent / "bench" / "baseline.py"


@pytest.fixture(scope="module")
def baseline():
    spec = importlib.util.spec_from_file_location("bench_baseline", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def two_buildings():
    return make_problem(
        [
            {"id": "A", "kwh": 20_000, "peak": 10, "value": 10_000},
            {"id": "B", "kwh": 20_000, "peak": 10, "value": 1_500},
        ],
        [("S:S", "J", 10), ("J", "B:A", 10), ("J", "K", 20), ("K", "B:B", 10)],
        [{"id": "S"}],
    )


def test_baselines_prune_to_the_hand_derived_optimum(baseline):
    results = {r.method: r for r in baseline.run_baselines(two_buildings())}
    for method in ("steiner", "greedy"):
        r = results[method]
        assert r.valid, r.problems
        assert r.objective == pytest.approx(8_000.0)
        assert r.before_prune == pytest.approx(6_500.0)  # B joined first, then pruned
        assert (r.buildings, r.supplies) == (1, 1)
    best = baseline.best_baseline(list(results.values()))
    assert best is not None
    assert best.objective == pytest.approx(8_000.0)
    solution = optimise(two_buildings())  # heatnet proves the same optimum
    assert solution.state == "optimal"
    assert solution.objective == pytest.approx(best.objective)


def test_exact_price_agrees_with_the_optimiser(baseline):
    """The baseline's pricing of a tree is heatnet's: the same design priced by evaluate."""
    data = prepare(two_buildings())
    pricer = baseline.Pricer(data)
    priced = pricer.price(baseline.steiner(pricer))
    assert priced.valid
    assert priced.objective == pytest.approx(6_500.0)
    assert priced.connected == frozenset({"B:A", "B:B"})
    edges = priced.design.edges
    assert edges.loc["E1", "flow_kw"] == pytest.approx(20.0)  # the trunk carries both
    assert edges.loc["E3", "flow_kw"] == pytest.approx(10.0)
