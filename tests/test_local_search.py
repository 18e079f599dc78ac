"""Key-path exchange on exact prices (heatnet/optimise/local.py), on cases solved by hand.

Pipes are DN20 at 100 ¤/m (every load here fits one: peaks of 5 kW, DN20 carries ~24 kW), no
losses, no diversity, heat free (tests/problems.py), so a tree's objective is the buildings'
worth less 100 ¤ per metre of pipe, connectors included.
"""

from __future__ import annotations

import math
import time

import pytest

import heatnet.optimise.local
from heatnet.optimise.local import exchanges, improve
from heatnet.optimise.loop import optimise
from heatnet.optimise.prepare import prepare
from heatnet.optimise.steiner import Pricer, Tree, constructions, prune
from tests.bruteforce import CASES, enumerate_designs
from tests.bruteforce import price as hand_price
from tests.conftest import SAMPLE
from tests.problems import make_problem
from tests.test_baseline import two_buildings


def _problem(buildings, edges):
    records = [{"id": b, "kwh": 10_000, "peak": 5, "value": 10_000} for b in buildings]
    return make_problem(records, edges, [{"id": "S"}])


def detour():
    """A at J, B at L. S–J 10 m, J–K 50 m, K–L 50 m, and S–L 20 m straight.

    Feeding B through J and K costs 100 m of street pipe; straight from S, 20 m. Optimum:
    S→J and S→L, 20,000 − (10 + 20 + 2 × 10) × 100 = 15,000; the detour tree is worth
    20,000 − (10 + 50 + 50 + 2 × 10) × 100 = 7,000.
    """
    return _problem(
        ["A", "B"],
        [("S:S", "J", 10), ("J", "K", 50), ("K", "L", 50), ("S:S", "L", 20),
         ("J", "B:A", 10), ("L", "B:B", 10)],
    )  # fmt: skip


def reroot():
    """A at J, B at K, C at L. S–J 10 m, J–K 100 m, K–L 10 m, S–L 10 m.

    The chain S→J→K→L pays 120 m of street pipe: 30,000 − (120 + 30) × 100 = 15,000. The
    subtree {K, L} is better entered at L, straight from S, with K–L reversed: S→J, S→L→K,
    30 m of street pipe, 30,000 − (30 + 30) × 100 = 24,000 (a minimum spanning tree: optimal).
    """
    return _problem(
        ["A", "B", "C"],
        [("S:S", "J", 10), ("J", "K", 100), ("K", "L", 10), ("S:S", "L", 10),
         ("J", "B:A", 10), ("K", "B:B", 10), ("L", "B:C", 10)],
    )  # fmt: skip


def _tree(data, parent):
    arcs = data.arcs
    arc = {
        (str(t), str(h)): str(a)
        for a, t, h in zip(arcs.index, arcs["tail"], arcs["head"], strict=True)
    }
    return Tree({"S:S"}, dict(parent), {v: arc[p, v] for v, p in parent.items()})


def _street(priced):
    """The street edges a design lays, as (tail, head)."""
    e = priced.design.edges
    on = e[e["in_network"].astype(bool)]
    return {(t, h) for t, h in zip(on["tail"], on["head"], strict=True) if not h.startswith("B:")}


def _later(seconds=60.0):
    return time.perf_counter() + seconds


def test_a_branch_fed_the_long_way_round_is_joined_straight():
    data = prepare(detour())
    pricer = Pricer(data)
    start = pricer.price(_tree(data, {"J": "S:S", "K": "J", "L": "K"}))
    assert start.valid
    assert start.objective == pytest.approx(7_000.0)
    (move,) = exchanges(pricer, start, _later())  # the key path J→K→L is the one that pays
    assert (move.bottom, move.freed, move.start, move.entry) == ("L", ("K",), "S:S", "L")
    assert move.gain == pytest.approx(8_000.0)  # 100 m out, 20 m in (estimate = exact here)
    best = improve(pricer, start, _later())
    assert best.valid
    assert best.objective == pytest.approx(15_000.0)
    assert _street(best) == {("S:S", "J"), ("S:S", "L")}
    assert best.connected == frozenset({"B:A", "B:B"})


def test_a_subtree_is_entered_where_it_is_cheapest_and_its_pipes_reverse():
    data = prepare(reroot())
    pricer = Pricer(data)
    start = pricer.price(_tree(data, {"J": "S:S", "K": "J", "L": "K"}))
    assert start.objective == pytest.approx(15_000.0)
    best = improve(pricer, start, _later())
    assert best.valid
    assert best.objective == pytest.approx(24_000.0)
    assert _street(best) == {("S:S", "J"), ("S:S", "L"), ("L", "K")}
    assert best.connected == frozenset({"B:A", "B:B", "B:C"})


def test_a_subtree_is_entered_only_at_its_nearest_vertices(monkeypatch):
    # reroot(): the subtree {K, L} pays to be entered at L, one vertex below its top K. With
    # REROOT_MOST = 1 only K itself may be entered, and no move pays (L straight from S costs
    # what K–L does: 10 m either way), so the chain stays at 15,000; with 2, L is in reach and
    # the search ends at the optimum, 24,000 (hand-derived in reroot()).
    data = prepare(reroot())
    pricer = Pricer(data)
    start = pricer.price(_tree(data, {"J": "S:S", "K": "J", "L": "K"}))
    monkeypatch.setattr(heatnet.optimise.local, "REROOT_MOST", 1)
    assert improve(pricer, start, _later()).objective == pytest.approx(15_000.0)
    monkeypatch.setattr(heatnet.optimise.local, "REROOT_MOST", 2)
    assert improve(pricer, start, _later()).objective == pytest.approx(24_000.0)


@pytest.mark.parametrize("case", [detour, reroot, two_buildings])
def test_an_optimal_tree_is_left_as_it_is(case):
    data = prepare(case())
    pricer = Pricer(data)
    optimum = {
        detour: {"J": "S:S", "L": "S:S"},
        reroot: {"J": "S:S", "L": "S:S", "K": "L"},
        two_buildings: {"J": "S:S"},
    }[case]
    start = pricer.price(_tree(data, optimum))
    assert exchanges(pricer, start, _later()) == []
    assert improve(pricer, start, _later()).objective == pytest.approx(start.objective)


def test_the_search_stops_at_its_deadline_and_on_a_stop_request():
    data = prepare(detour())
    pricer = Pricer(data)
    start = pricer.price(_tree(data, {"J": "S:S", "K": "J", "L": "K"}))
    assert improve(pricer, start, time.perf_counter() - 1.0) is start  # past its deadline
    assert improve(pricer, start, _later(), stopped=lambda: True) is start


def test_a_vertex_left_out_whose_buildings_pay_for_their_way_is_inserted():
    # A at J (S–J 10 m), B at K (J–K 20 m), each with a 10 m connector; B worth 5,000: its
    # connector and J–K cost 3,000. Without B: 10,000 − 2,000 = 8,000; with: 10,000.
    problem = make_problem(
        [{"id": "A", "kwh": 10_000, "peak": 5, "value": 10_000},
         {"id": "B", "kwh": 10_000, "peak": 5, "value": 5_000}],
        [("S:S", "J", 10), ("J", "K", 20), ("J", "B:A", 10), ("K", "B:B", 10)],
        [{"id": "S"}],
    )  # fmt: skip
    data = prepare(problem)
    pricer = Pricer(data)
    start = pricer.price(_tree(data, {"J": "S:S"}))
    assert start.objective == pytest.approx(8_000.0)
    (move,) = exchanges(pricer, start, _later())
    assert (move.bottom, move.start, move.entry, move.freed) == ("K", "J", "K", ())
    assert move.gain == pytest.approx(2_000.0)
    best = improve(pricer, start, _later())
    assert best.objective == pytest.approx(10_000.0)
    assert best.connected == frozenset({"B:A", "B:B"})


def test_a_branch_is_dropped_when_the_bigger_trunk_it_needs_does_not_pay():
    # A (20 kW, worth 50,000) at J, 100 m from S; B (10 kW, worth 3,500) at K, 10 m beyond J.
    # Both need DN50 on S–J (30 kW > DN20's ~24 kW): 200 ¤/m instead of 100. B's own branch
    # pays for itself (3,500 > 1,000 + its 1,000 connector), so prune keeps it, but the trunk
    # costs 10,000 more with it. With B: 53,500 − 20,000 − 3 × 1,000 = 30,500; without: 39,000.
    problem = make_problem(
        [{"id": "A", "kwh": 10_000, "peak": 20, "value": 50_000},
         {"id": "B", "kwh": 10_000, "peak": 10, "value": 3_500}],
        [("S:S", "J", 100), ("J", "K", 10), ("J", "B:A", 10), ("K", "B:B", 10)],
        [{"id": "S"}],
    )  # fmt: skip
    data = prepare(problem)
    pricer = Pricer(data)
    start = pricer.price(_tree(data, {"J": "S:S", "K": "J"}))
    assert start.objective == pytest.approx(30_500.0)
    assert prune(pricer, start, estimated_first=False).objective == pytest.approx(30_500.0)
    (move,) = exchanges(pricer, start, _later())
    assert (move.bottom, move.path) == ("K", ())
    assert move.gain == pytest.approx(8_500.0)
    best = improve(pricer, start, _later())
    assert best.objective == pytest.approx(39_000.0)
    assert best.connected == frozenset({"B:A"})


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c.seed}" for c in CASES])
def test_on_random_networks_the_search_keeps_its_word_and_never_beats_brute_force(case):
    # the independent hand pricer of tests/bruteforce.py prices what local search
    # returns: the same NPV, never above the best of every enumerated design, never below the
    # construction it started from
    data = prepare(case.problem("linear"))
    best = max(enumerate_designs(case).values())
    for start in constructions(data):
        if not start.valid:
            continue
        found = improve(Pricer(data), start, _later())
        assert found.valid
        assert found.objective >= start.objective - 1e-9
        edges = found.design.edges
        index = {f"E{n}": n - 1 for n in range(1, len(case.edges) + 1)}
        chosen = frozenset(index[e] for e in edges.index[edges["in_network"].to_numpy(bool)])
        priced = hand_price(case, chosen)
        assert priced is not None, case.repro()
        assert found.objective == pytest.approx(priced[0], rel=1e-6, abs=1e-6), case.repro()
        assert found.objective <= best + 1e-6 * max(1.0, abs(best)), case.repro()


def test_the_fast_estimates_equal_the_plain_ones_on_the_district():
    # The search's hot loops price edges by row (Loads.by_row), every edge at one load by its
    # column (Loads.column), and climb to the supply through _Upstream (remembered climbs); all
    # must give exactly what the plain lookup (Loads.at) and a plain climb (written out below)
    # give, on a real catalogue with several diameters and losses; the district has no existing
    # pipe, so every third edge is given one of 333.3 kW (kept at a cost of its own).
    from heatnet.optimise.local import _Exchanges, _Upstream
    from tests.test_problem_json import sample_problem

    data = prepare(sample_problem(SAMPLE))
    pricer = Pricer(data)
    start = next(b for b in constructions(data) if b.valid)
    search = _Exchanges(pricer, start)
    loads, tree = search.loads, start.tree
    arcs = list(pricer.arc_edge)
    assert all(x == -math.inf for x in loads.existing_kw)
    for i in range(0, len(loads.existing_kw), 3):
        loads.existing_kw[i], loads.keep[i] = 333.3, 1_000.0 + i
    by_row = loads.by_row()
    for kw in (-1.0, 0.0, 0.5, 7.0, 50.0, 333.3, 2_000.0, 1e6):
        column, least = loads.column(kw)
        plain_costs = [loads.at(pricer.arc_edge[a], kw) for a in arcs]
        rows = [loads.arc_row[a] for a in arcs]
        assert [loads.keep[i] if loads.existing_kw[i] >= least else column[i] for i in rows] == (
            plain_costs
        )
        assert [by_row(i, kw) for i in rows] == plain_costs

    def plain(r, peak, relief):
        added, x = 0.0, r
        while x not in relief and x in tree.parent:
            e = pricer.arc_edge[tree.arc[x]]
            added += loads.at(e, loads.load(e, peak)) - loads.now[tree.arc[x]]
            x = tree.parent[x]
        if x not in relief:
            return added - next(reversed(relief.values()), 0.0)
        below = 0.0
        for v, total in relief.items():
            if v == x:
                break
            below = total
        return added - below

    tops = [v for v in sorted(search.key) if v in tree.parent][:25]
    vertices = sorted(search.in_tree)
    assert len(tops) == 25
    for top in tops:
        peak = loads.flow_row[loads.row[pricer.arc_edge[tree.arc[top]]]]
        relief = search._relief(tree.parent[top], peak)
        upstream = _Upstream(search, peak, relief)
        for v in vertices:  # in any order: the remembered climbs must not leak between them
            assert upstream.cost_above(v) == pytest.approx(plain(v, peak, relief), abs=1e-6)


@pytest.mark.timeout(120)
def test_a_required_ring_that_carries_nothing_is_left_alone():
    # S feeds J over 100 m; A (50 kW, worth 50,000) hangs on J by 5 m. A ring K1–K2–K3 of
    # required paths (3 × 10 m) is joined to J by 5 m, B (worth nothing) hangs on K2, and a
    # supply T on K3 would cost 1,000,000. The best design lays the ring as it must, fed by
    # nobody: a circulation of pipes outside the forest, and an arc K1→J lets the search reach
    # it. Local search climbed that circle for ever. Priced on paper: 50,000 − 105 m of 50 mm
    # (200 ¤/m) − 30 m of 20 mm (100 ¤/m) = 26,000.
    problem = make_problem(
        [
            {"id": "A", "kwh": 100_000, "peak": 50, "value": 50_000},
            {"id": "B", "kwh": 1_000, "peak": 5, "value": 0},
        ],
        [
            ("S:S", "J", 100),
            ("J", "B:A", 5),
            ("J", "K1", 5),
            ("K2", "B:B", 5),
            ("S:T", "K3", 5),
            {"u": "K1", "v": "K2", "length": 10, "required": True},
            {"u": "K2", "v": "K3", "length": 10, "required": True},
            {"u": "K3", "v": "K1", "length": 10, "required": True},
        ],
        [{"id": "S"}, {"id": "T", "fixed": 1_000_000}],
    )
    solution = optimise(problem)
    assert solution.state == "optimal"
    assert solution.objective == pytest.approx(26_000.0)
    edges = solution.design.edges
    assert set(edges.index[edges["in_network"].astype(bool)]) == {"E1", "E2", "E6", "E7", "E8"}
