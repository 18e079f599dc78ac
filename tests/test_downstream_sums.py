"""Downstream figures of a design's pipes (heatnet/optimise/evaluate.py, ``_downstream``).

Every pipe's diversity needs the connections and the largest given peak downstream of it. Where
heat meets from two sides the buildings below are a union (``_union_sums``); on a forest, as
every search's design is, a sum over the children gives the same (``_forest_sums``).
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.optimise.evaluate import _forest_sums, _union_sums


@st.composite
def forests(draw):
    """A random forest over vertices 0..n-1 (each one's parent is earlier) with buildings."""
    n = draw(st.integers(min_value=1, max_value=40))
    parents = [draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None for i in range(n)]
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for child, parent in enumerate(parents):
        if parent is not None:
            out[f"v{parent}"].append((f"a{child}", f"v{child}"))
    here: dict[str, set[str]] = defaultdict(set)
    n_of: dict[str, float] = {}
    peak: dict[str, float] = {}
    for b in range(draw(st.integers(min_value=0, max_value=60))):
        host = draw(st.integers(0, n - 1))
        here[f"v{host}"].add(f"b{b}")
        n_of[f"b{b}"] = float(draw(st.integers(1, 12)))
        peak[f"b{b}"] = draw(st.floats(min_value=0.0, max_value=5_000.0, allow_nan=False))
    order = [f"v{i}" for i in range(n)]  # parents first, as _downstream's topological order
    return order, here, out, n_of, peak


@settings(max_examples=80, deadline=None)
@given(forests())
def test_on_a_forest_sums_over_children_equal_the_unions_below(forest):
    order, here, out, n_of, peak = forest
    total, top = _forest_sums(order, here, out, n_of, peak)
    union_total, union_top = _union_sums(order, here, out, n_of, peak)
    assert total == union_total
    assert top == union_top


def test_a_hand_counted_chain():
    # v0 → v1 → v2, and v0 → v3: b0 (2 connections, 10 kW) at v1, b1 (3, 40 kW) at v2, b2 (1,
    # 25 kW) at v3. Below v1: b0 and b1, 5 connections, largest 40 kW; below v0 all, 6, 40 kW.
    order = ["v0", "v1", "v2", "v3"]
    out = {"v0": [("a1", "v1"), ("a3", "v3")], "v1": [("a2", "v2")], "v2": [], "v3": []}
    here = defaultdict(set, {"v1": {"b0"}, "v2": {"b1"}, "v3": {"b2"}})
    n_of = {"b0": 2.0, "b1": 3.0, "b2": 1.0}
    peak = {"b0": 10.0, "b1": 40.0, "b2": 25.0}
    total, top = _forest_sums(order, here, defaultdict(list, out), n_of, peak)
    assert total == {"v0": 6.0, "v1": 5.0, "v2": 3.0, "v3": 1.0}
    assert top == {"v0": 40.0, "v1": 40.0, "v2": 40.0, "v3": 25.0}
