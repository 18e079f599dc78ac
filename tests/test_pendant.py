"""Pendant-tree cuts (heatnet.optimise.pendant) and the edge-total loss rows: valid and tight.

The hand case (docs in each test) is priced on paper with tests/problems.py's CIVIL pipes
(100, 200, 400, 800 ¤/m; they carry about 24, 261, 1486 and 8224 kW): no losses, no
diversity, PV = −length·cost_m. The property test prices every subset of buildings of a random
tree by hand (its own walk of the tree, not heatnet's) and checks that no cut is below it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import heatnet.pipeline
from heatnet.optimise import build_pipes
from heatnet.optimise.build import build_model
from heatnet.optimise.highs import Solver, SolverOptions
from heatnet.optimise.indices import Indices
from heatnet.optimise.pendant import PendantCut, heat_price, pendant_cuts
from heatnet.optimise.prepare import prepare
from heatnet.optimise.steiner import constructions
from heatnet.problem.from_network import network_problem
from heatnet.topology import build_network
from tests.problems import CIVIL, make_problem

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


def _lines(cut: PendantCut) -> list[tuple[float, float]]:
    return [(round(i, 6), round(s, 6)) for i, s in zip(cut.intercept, cut.slope, strict=True)]


def test_a_path_of_two_buildings_gets_the_hand_derived_lines() -> None:
    # S:1 —E1 100 m— J:1 —E2 50 m— J:2; A (10 kW, tariff 50,000) hangs off J:1 and B (100 kW,
    # tariff 80,000) off J:2, each by a folded 10 m connector: A's worth 50,000 − 10·100 =
    # 49,000 (20 mm), B's 80,000 − 10·200 = 78,000 (50 mm).
    # Into J:2 (E2, 50 mm for 100 kW: −10,000): nothing, or B at 100 kW worth 68,000: the
    # lines 680·P and 68,000.
    # Into J:1 (E1): A alone at 10 kW, 49,000 − 100·100 = 39,000; B alone at 100 kW,
    # 68,000 − 100·200 = 48,000; both at 110 kW, 117,000 − 20,000 = 97,000. The concave
    # majorant of (0, 0), (10, 39,000), (100, 48,000), (110, 97,000) runs through (10, 39,000)
    # and (110, 97,000): 3,900·P, 33,200 + 580·P, 97,000.
    problem = make_problem(
        [{"id": "A", "peak": 10, "value": 50_000}, {"id": "B", "peak": 100, "value": 80_000}],
        [("S:1", "J:1", 100), ("J:1", "J:2", 50), ("J:1", "B:A", 10), ("J:2", "B:B", 10)],
        [{"id": "1"}],
    )
    data = prepare(problem)
    cuts = {c.arc: c for c in pendant_cuts(data, Indices.of(data), cells=11)}  # 10 kW cells
    assert set(cuts) == {"E1+", "E2+"}
    assert _lines(cuts["E2+"]) == [(0.0, 680.0), (68_000.0, 0.0)]
    assert cuts["E2+"].edges == ("E2",)
    assert cuts["E2+"].buildings == ("B:B",)
    assert _lines(cuts["E1+"]) == [(0.0, 3_900.0), (33_200.0, 580.0), (97_000.0, 0.0)]
    assert set(cuts["E1+"].edges) == {"E1", "E2"}
    assert set(cuts["E1+"].buildings) == {"B:A", "B:B"}


def _cost_m(kw: float, capacity: np.ndarray) -> float | None:
    """CIVIL's price per metre of the smallest pipe that carries ``kw`` (None: none does)."""
    fits = np.flatnonzero(capacity >= kw - 1e-9)
    return None if not len(fits) else float(CIVIL["cost_m"].iloc[int(fits[0])])


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[int], list[float], list[dict], list[int]]:
    """A tree of junctions under supply S:1 (parent index, -1 = the supply) and its buildings."""
    n = draw(st.integers(1, 5))
    parents = [draw(st.integers(-1, j - 1)) for j in range(n)]
    lengths = [draw(st.floats(1, 200)) for _ in range(n)]
    k = draw(st.integers(1, 6))
    hosts = [draw(st.integers(0, n - 1)) for _ in range(k)]
    buildings = [
        {
            "id": str(b),
            "peak": draw(st.floats(0.5, 400)),
            "value": draw(st.floats(0, 200_000)),
            "cost": draw(st.floats(0, 20_000)),
        }
        for b in range(k)
    ]
    return parents, lengths, buildings, hosts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees(), cells=st.sampled_from([3, 40, 4000]))
def test_no_design_is_worth_more_than_its_cut_says(tree, cells) -> None:
    parents, lengths, buildings, hosts = tree
    name = ["S:1" if p < 0 else f"J:{p}" for p in parents]
    edges = [
        {"id": f"T{j}", "u": name[j], "v": f"J:{j}", "length": lengths[j]}
        for j in range(len(parents))
    ]
    edges += [
        {"id": f"C{b['id']}", "u": f"J:{hosts[i]}", "v": f"B:{b['id']}", "length": 10.0}
        for i, b in enumerate(buildings)
    ]
    problem = make_problem(buildings, edges, [{"id": "1"}])
    data = prepare(problem)
    capacity = np.asarray(problem.catalogue.capacity_kw, dtype=float)
    below: dict[int, set[int]] = {j: {j} for j in range(len(parents))}  # junctions under j
    for j in reversed(range(len(parents))):
        if parents[j] >= 0:
            below[parents[j]] |= below[j]
    for cut in pendant_cuts(data, Indices.of(data), cells=cells):
        top = int(cut.arc.removeprefix("T").rstrip("+-"))
        inside = [i for i, h in enumerate(hosts) if h in below[top]]
        for size in range(len(inside) + 1):
            for chosen in itertools.combinations(inside, size):
                worth, feasible = 0.0, True
                for i in chosen:  # tariff, connection cost and the connector by hand
                    per_m = _cost_m(buildings[i]["peak"], capacity)
                    feasible &= per_m is not None
                    worth += buildings[i]["value"] - buildings[i]["cost"] - 10.0 * (per_m or 0)
                for j in below[top]:  # a junction pipe carries the chosen buildings beyond it
                    load = sum(buildings[i]["peak"] for i in chosen if hosts[i] in below[j])
                    if load > 0:
                        per_m = _cost_m(load, capacity)
                        feasible &= per_m is not None
                        worth -= lengths[j] * (per_m or 0)
                if not feasible:
                    continue
                peak = sum(buildings[i]["peak"] for i in chosen)
                allowed = min(i + s * peak for i, s in zip(cut.intercept, cut.slope, strict=True))
                assert worth <= allowed + 1e-6 * max(1.0, abs(worth)), (cut.arc, chosen)


def _lp(data, *, off: tuple[str, ...]) -> float:
    model = build_model(data, discrete=False)
    for name in off:
        getattr(model, name).deactivate()
    result = Solver(model, SolverOptions()).solve(time_limit_s=600, mip_gap=0, relax=True)
    assert result.bound is not None
    return float(result.bound)


@pytest.mark.timeout(600)
def test_the_new_rows_tighten_the_district_lp_and_keep_every_design_below_it() -> None:
    report = heatnet.pipeline.check(SAMPLES / "district.gpkg")
    assert report.inputs is not None
    problem = network_problem(report.inputs, build_network(report.inputs))
    data = prepare(problem)
    assert heat_price(data) > 0  # the district's losses cost: the cuts count them
    plain = _lp(data, off=("pendant_worth", "edge_lost_by_size"))
    losses = _lp(data, off=("pendant_worth",))
    both = _lp(data, off=())
    # each family cuts off part of the LP optimum (measured: 1,833,206 → 1,775,656 →
    # 1,739,874, docs/bounds.md), by more than a solver's tolerance
    assert losses < plain * (1 - 1e-3)
    assert both < losses * (1 - 1e-3)
    # and the bound stays above every design the constructions find, priced exactly
    best = max(built.objective for built in constructions(data) if built.valid)
    assert both >= best


@pytest.mark.parametrize("discrete", [False, True])
def test_a_model_above_the_size_line_has_no_edge_total_loss_rows(discrete, monkeypatch) -> None:
    # the path of test_a_path_of_two_buildings_gets_the_hand_derived_lines has 2 model edges:
    # with the line at 2 they get the rows (one per edge and loss line), at 1 they do not (the 10,000-building grid's LP
    # took 517 s with them against 421 s, for 0.16 %: build_pipes.EDGE_TOTAL_LOSS_UP_TO)
    problem = make_problem(
        [{"id": "A", "peak": 10, "value": 50_000}, {"id": "B", "peak": 100, "value": 80_000}],
        [("S:1", "J:1", 100), ("J:1", "J:2", 50), ("J:1", "B:A", 10), ("J:2", "B:B", 10)],
        [{"id": "1"}],
        params={
            "heatnet/pipe-model": "discrete" if discrete else "linear",
            "optimiser/ground-temperature": "10",  # pipes lose heat
        },
    )
    data = prepare(problem)
    name = "edge_lost_by_diameter" if discrete else "edge_lost_by_size"
    counts = []
    for line in (2, 1):
        monkeypatch.setattr(build_pipes, "EDGE_TOTAL_LOSS_UP_TO", line)
        counts.append(len(getattr(build_model(data, discrete=discrete), name)))
    assert counts[0] >= 2
    assert counts[1] == 0


def test_only_the_tree_hanging_off_a_loop_gets_cuts() -> None:
    # a loop S:1 – J:1 – J:2 – S:1 carries heat either way round, so none of its edges is a
    # pendant tree; J:3 (building C) hangs off J:2 by E4 alone, and a second street E5 between
    # J:1 and J:2 makes a parallel pair that must not be peeled either
    problem = make_problem(
        [{"id": x, "peak": 20, "value": 90_000} for x in ("A", "B", "C")],
        [
            {"id": "E1", "u": "S:1", "v": "J:1", "length": 50},
            {"id": "E2", "u": "J:1", "v": "J:2", "length": 50},
            {"id": "E3", "u": "J:2", "v": "S:1", "length": 50},
            {"id": "E4", "u": "J:2", "v": "J:3", "length": 40},
            {"id": "E5", "u": "J:1", "v": "J:2", "length": 70},
            {"id": "E6", "u": "J:1", "v": "B:A", "length": 10},
            {"id": "E7", "u": "J:2", "v": "B:B", "length": 10},
            {"id": "E8", "u": "J:3", "v": "B:C", "length": 10},
        ],
        [{"id": "1"}],
    )
    data = prepare(problem)
    cuts = pendant_cuts(data, Indices.of(data))
    assert [c.arc for c in cuts] == ["E4+"]
    assert cuts[0].buildings == ("B:C",)
    # C alone: 90,000 − 10 m·100 (its connector) − 40 m·100 (E4, 20 mm carries 20 kW)
    assert max(cuts[0].intercept) == pytest.approx(85_000)
