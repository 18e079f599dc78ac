"""Steiner constructions and polishing inside the search (heatnet/optimise/steiner.py).

The case of tests/test_baseline.py: supply S feeds junction J over 10 m; building A (worth
10,000) hangs on J by a 10 m connector; building B (worth 1,500) hangs on K by a 10 m
connector, K on J by 20 m. Pipes 100 ¤/m, no losses, no diversity, heat free. B pays for its
own connector (+500) but not for J–K (−2,000): the optimum is A alone, 8,000; with B, 6,500.
"""

from __future__ import annotations

import pytest

from heatnet.optimise.prepare import prepare
from heatnet.optimise.steiner import Pricer, Tree, constructions, polish
from tests.test_baseline import two_buildings


def test_polish_drops_the_branch_that_does_not_pay():
    data = prepare(two_buildings())
    pricer = Pricer(data)
    arcs = data.arcs
    arc = {
        (str(t), str(h)): str(a)
        for a, t, h in zip(arcs.index, arcs["tail"], arcs["head"], strict=True)
    }
    parent = {"J": "S:S", "K": "J"}  # A and B are drawn at J and K (their connectors folded)
    both = Tree({"S:S"}, parent, {v: arc[p, v] for v, p in parent.items()})
    with_b = pricer.price(both)
    assert with_b.valid
    assert with_b.objective == pytest.approx(6_500.0)
    polished = polish(data, with_b.design)
    assert polished is not None
    assert polished.valid
    assert polished.objective == pytest.approx(8_000.0)
    assert polished.connected == frozenset({"B:A"})
    used = polished.design.edges["in_network"].astype(bool)
    assert set(used[used].index) == {"E1", "E2"}  # S–J and A's connector: J–K and B's gone


def test_polish_leaves_an_optimal_design_as_it_is():
    data = prepare(two_buildings())
    best = constructions(data)[0]
    assert best.objective == pytest.approx(8_000.0)
    polished = polish(data, best.design)
    assert polished is not None
    assert polished.objective == pytest.approx(8_000.0)
