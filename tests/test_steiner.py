"""Steiner constructions and polishing inside the search (heatnet/optimise/steiner.py).

The case of tests/test_baseline.py: supply S feeds junction J over 10 m; building A (worth
10,000) hangs on J by a 10 m connector; building B (worth 1,500) hangs on K by a 10 m
connector, K on J by 20 m. Pipes 100 ¤/m, no losses, no diversity, heat free. B pays for its
own connector (+500) but not for J–K (−2,000): the optimum is A alone, 8,000; with B, 6,500.
"""

from __future__ import annotations

import pytest

from heatnet.optimise.loop import optimise
from heatnet.optimise.prepare import prepare
from heatnet.optimise.steiner import Pricer, Tree, constructions, polish, steiner
from tests.problems import make_problem
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


def _cut_off_ring():
    """S feeds J (10 m); A (50 kW, worth 20,000) hangs on J by 5 m; J–K1 (10 m) leads to a ring
    K1–K2–K3 (3 × 10 m) whose paths are required, with no building on it.

    J–K1 serves nobody, so the problem drops it, and the required ring is cut off from every
    supply. A's 50 kW needs the 50 mm pipe (200 ¤/m) on S–J and its connector: 15 × 200 =
    3,000; the ring is laid (required) at the smallest, 30 × 100 = 3,000: 20,000 − 6,000 =
    14,000.
    """
    return make_problem(
        [{"id": "A", "kwh": 100_000, "peak": 50, "value": 20_000}],
        [
            ("S:S", "J", 10),
            ("J", "B:A", 5),
            ("J", "K1", 10),
            {"u": "K1", "v": "K2", "length": 10, "required": True},
            {"u": "K2", "v": "K3", "length": 10, "required": True},
            {"u": "K3", "v": "K1", "length": 10, "required": True},
        ],
        [{"id": "S"}],
    )


def test_a_required_path_cut_off_from_every_supply_leaves_the_steiner_tree_to_the_rest():
    # networkx's Mehlhorn Steiner tree raised KeyError on a vertex no terminal reaches (the
    # ring), which ended the whole run with a traceback
    data = prepare(_cut_off_ring())
    tree = steiner(Pricer(data))
    assert tree.roots == {"S:S"}
    assert set(tree.parent) == {"J"}  # A is folded onto J; the ring is out of reach
    solution = optimise(_cut_off_ring())
    assert solution.state == "optimal"
    assert solution.objective == pytest.approx(14_000.0)
    used = solution.design.edges["in_network"].astype(bool)
    assert {"E4", "E5", "E6"} <= set(used[used].index)
