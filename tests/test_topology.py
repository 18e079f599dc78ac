"""Hand-made topology cases whose answer can be drawn on paper, and the real district."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely

from heatnet.inputs.load import read_inputs
from heatnet.problem.from_network import network_problem
from heatnet.topology import build_network
from tests.conftest import SAMPLE, base_frames, layer, valid_inputs, write_gpkg

ROOT = Path(__file__).resolve().parent.parent


def network(tmp_path, paths, buildings=(), supplies=("POINT (0 -10)",), **params):
    frames = base_frames()
    frames["paths"] = layer([{"path_id": pid, "geometry": wkt} for pid, wkt in paths])
    frames["buildings"] = layer(
        [
            {
                "building_id": f"B{i + 1}",
                "annual_demand_kwh": 1000.0,
                "peak_demand_kw": 5.0,
                "geometry": w,
            }
            for i, w in enumerate(buildings)
        ]
        or [
            {
                "building_id": "B1",
                "annual_demand_kwh": 1000.0,
                "peak_demand_kw": 5.0,
                "geometry": "POINT (5000 5000)",
            }
        ]
    )
    frames["supplies"] = layer(
        [{"supply_id": f"S{i + 1}", "geometry": w} for i, w in enumerate(supplies)]
    )
    frames["supply_costs"] = None
    rows = [
        {"parameter": f"heatnet/{k.replace('_', '-')}", "value": str(v)} for k, v in params.items()
    ]
    frames["parameters"] = pd.DataFrame(
        rows or [{"parameter": "finance/npv-rate", "value": "0.03"}]
    )
    path = write_gpkg(tmp_path / f"t{len(list(tmp_path.iterdir()))}.gpkg", frames)
    return build_network(valid_inputs(read_inputs(path)))


def pieces(net):
    return net.paths[~net.paths["connector"]]


def ends(frame):
    pts = set()
    for geom in frame.geometry:
        for i in (0, -1):
            pts.add(
                tuple(round(c, 6) for c in shapely.get_coordinates(shapely.get_point(geom, i))[0])
            )
    return pts


def test_two_crossing_lines_make_four_pieces_and_five_end_points(tmp_path):
    lines = [("A", "LINESTRING (-50 0, 50 0)"), ("B", "LINESTRING (0 -50, 0 50)")]
    net = network(tmp_path, lines, supplies=["POINT (-60 0)"])
    got = pieces(net)
    assert sorted(got.index) == ["A-1", "A-2", "B-1", "B-2"]
    assert len(ends(got)) == 5
    assert got.loc["A-1"].geometry.coords[-1] == (0.0, 0.0)
    assert got["length_m"].tolist() == pytest.approx([50.0] * 4)


def test_t_junction_splits_only_the_through_line(tmp_path):
    lines = [("A", "LINESTRING (0 0, 100 0)"), ("B", "LINESTRING (40 0, 40 60)")]
    net = network(tmp_path, lines, supplies=["POINT (-10 0)"])
    got = pieces(net)
    assert sorted(got.index) == ["A-1", "A-2", "B"]
    assert got.loc["A-1", "length_m"] == pytest.approx(40.0)
    assert len(ends(got)) == 4
    assert got.loc["B", "u"] in (got.loc["A-1", "v"], got.loc["A-1", "u"])


@pytest.mark.parametrize(("tolerance", "joined"), [(5.0, True), (0.0, False)])
def test_line_ending_3m_short_is_joined_only_within_the_snap_tolerance(tmp_path, tolerance, joined):
    net = network(
        tmp_path,
        [("A", "LINESTRING (0 0, 100 0)"), ("B", "LINESTRING (50 3, 50 60)")],
        buildings=["POINT (60 60)"],
        supplies=["POINT (0 -5)"],
        snap_tolerance=tolerance,
    )
    got = pieces(net)
    if joined:
        assert sorted(got.index) == ["A-1", "A-2", "B"]
        assert got.loc["B", "length_m"] == pytest.approx(60.0)  # extended by 3 m to meet A
        assert not net.buildings["unreachable"].any()
    else:
        assert sorted(got.index) == ["A", "B"]
        assert got.loc["B", "unreachable"]
        assert net.buildings["unreachable"].all()
        assert net.buildings["reason"].iloc[0] == "no supply can reach it"


def test_two_parallel_paths_between_the_same_junctions_both_survive(tmp_path):
    net = network(
        tmp_path,
        [("TRUNK", "LINESTRING (-50 0, 0 0)"), ("N", "LINESTRING (0 0, 50 20, 100 0)"), ("S", "LINESTRING (0 0, 50 -20, 100 0)"),
         ("END", "LINESTRING (100 0, 150 0)")],
        buildings=["POINT (150 10)"],
        supplies=["POINT (-50 -10)"],
    )  # fmt: skip
    got = pieces(net)
    assert {"N", "S"} <= set(got.index)
    assert {got.loc["N", "u"], got.loc["N", "v"]} == {got.loc["S", "u"], got.loc["S", "v"]}
    assert net.graph.number_of_edges(got.loc["N", "u"], got.loc["N", "v"]) == 2
    members = [m for ms in net.model.edges["members"] for m in ms]
    assert "N" in members
    assert "S" in members
    assert not got.loc[["N", "S"], "peripheral"].any()


def test_building_touching_a_path_end_joins_directly(tmp_path):
    net = network(
        tmp_path,
        [("A", "LINESTRING (0 0, 100 0)")],
        buildings=["POLYGON ((95 -5, 110 -5, 110 5, 95 5, 95 -5))"],
        supplies=["POINT (-10 0)"],
    )
    b = net.buildings.iloc[0]
    assert b["connection"] == "direct"
    assert b["connection_m"] == 0
    assert not net.paths["connector"].iloc[:-1].any()
    assert net.graph.degree("B:B1") == 1
    assert not b["unreachable"]


def test_building_crossing_a_path_joins_inside_it_and_splits_the_path(tmp_path):
    outline = "POLYGON ((40 -5, 60 -5, 60 5, 40 5, 40 -5))"
    net = network(
        tmp_path,
        [("A", "LINESTRING (0 0, 100 0)")],
        buildings=[outline],
        supplies=["POINT (-10 0)"],
    )
    got = pieces(net)
    assert sorted(got.index) == ["A-1", "A-2"]
    split_at = shapely.Point(got.loc["A-1"].geometry.coords[-1])
    assert shapely.from_wkt(outline).covers(split_at)
    assert net.buildings.iloc[0]["connection"] == "direct"
    assert not net.paths["connector"].loc[got.index].any()


def test_building_600m_away_is_unreachable_with_the_default_limit(tmp_path):
    net = network(
        tmp_path, [("A", "LINESTRING (0 0, 100 0)")], buildings=["POINT (50 20)", "POINT (50 620)"]
    )
    b = net.buildings.set_index("building_id")
    assert not b.loc["B1", "unreachable"]
    assert b.loc["B2", "unreachable"]
    assert "max-connector-length" in b.loc["B2", "reason"]
    assert any(i.code == "unreachable" and i.feature_id == "B2" for i in net.issues)


def test_point_building_and_supply_get_connectors_and_ids_in_order(tmp_path):
    net = network(
        tmp_path,
        [("A", "LINESTRING (0 0, 100 0)")],
        buildings=["POINT (70 20)", "POINT (30 10)"],
        supplies=["POINT (0 -10)"],
    )
    connectors = net.paths[net.paths["connector"]]
    assert list(connectors.index) == [
        "C-1",
        "C-2",
        "C-3",
    ]  # buildings in input order, then supplies
    assert list(connectors["building_id"][:2]) == ["B1", "B2"]
    assert connectors.loc["C-3", "supply_id"] == "S1"
    assert connectors["length_m"].tolist() == pytest.approx([20.0, 10.0, 10.0])
    # A is split at 0 (the supply's foot, its end), 30 and 70 m, in order along the line
    assert list(pieces(net).index) == ["A-1", "A-2", "A-3"]
    assert pieces(net)["length_m"].tolist() == pytest.approx([30.0, 40.0, 30.0])
    assert net.supplies.iloc[0]["connection"] == "connector"


def test_untouched_path_keeps_its_id_and_dead_ends_are_peripheral(tmp_path):
    net = network(
        tmp_path,
        [("MAIN", "LINESTRING (0 0, 100 0)"), ("SPUR", "LINESTRING (100 0, 100 80)"), ("FAR", "LINESTRING (500 0, 600 0)")],
        buildings=["POINT (50 10)"],
        supplies=["POINT (0 -10)"],
    )  # fmt: skip
    got = pieces(net)
    assert "SPUR" in got.index
    assert got.loc["SPUR", "peripheral"]
    assert got.loc["FAR", "unreachable"]
    assert not got.loc["MAIN-1", "peripheral"]
    kept = net.paths[~net.paths["unreachable"] & ~net.paths["peripheral"]]
    assert net.model.edges["length_m"].sum() == pytest.approx(kept["length_m"].sum())


def test_degree_two_chains_merge_into_one_model_edge(tmp_path):
    net = network(
        tmp_path,
        [("A", "LINESTRING (0 0, 50 0)"), ("B", "LINESTRING (50 0, 100 0)"), ("C", "LINESTRING (100 0, 150 0)")],
        buildings=["POINT (150 10)"],
        supplies=["POINT (0 -10)"],
    )  # fmt: skip
    paths_edges = net.model.edges[net.model.edges["kind"] == "path"]
    assert len(paths_edges) == 1
    assert set(paths_edges["members"].iloc[0]) == {"A", "B", "C"}
    assert paths_edges["length_m"].iloc[0] == pytest.approx(150.0)


def test_forbidden_paths_are_kept_but_not_used(tmp_path):
    frames = base_frames()
    frames["paths"] = frames["paths"].assign(constraint=["optional", "forbidden"])
    path = write_gpkg(tmp_path / "f.gpkg", frames)
    net = build_network(valid_inputs(read_inputs(path)))
    assert net.paths.loc["P2", "kind"] == "forbidden"
    assert "P2" not in {k for _, _, k in net.graph.edges(keys=True)}


def test_real_district_regression():
    net = build_network(valid_inputs(read_inputs(SAMPLE)))
    p = net.paths
    counts = {
        "pieces": int((~p["connector"]).sum()),
        "connectors": int(p["connector"].sum()),
        "junctions": len(net.junctions),
        "unreachable_buildings": int(net.buildings["unreachable"].sum()),
        "unreachable_rows": int(p["unreachable"].sum()),
        "peripheral_rows": int(p["peripheral"].sum()),
        "model_edges": len(net.model.edges),
    }
    # checked by eye on the picture this test writes (build/test-artifacts/district-topology.png)
    _picture(net)
    assert counts == {
        "pieces": 287,
        "connectors": 201,
        "junctions": 280,
        "unreachable_buildings": 0,
        "unreachable_rows": 0,
        "peripheral_rows": 32,
        "model_edges": 427,  # 428 before chains were walked from their ends (one was cut in two)
    }
    assert p.index.is_unique
    assert set(net.buildings["connection"]) == {"connector"}


def _picture(net):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = ROOT / "build" / "test-artifacts"
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(10, 10))
    p = net.paths
    p[~p["connector"] & ~p["peripheral"]].plot(ax=ax, color="black", linewidth=1)
    p[p["peripheral"]].plot(ax=ax, color="orange", linewidth=1)
    p[p["connector"]].plot(ax=ax, color="tab:blue", linewidth=0.6, linestyle="--")
    net.junctions.plot(ax=ax, color="grey", markersize=3)
    ax.set_title("district topology: used paths black, peripheral orange, connectors dashed")
    fig.savefig(out / "district-topology.png", dpi=80)
    plt.close(fig)


def test_duplicate_and_overlapping_paths_do_not_crash(tmp_path):
    net = network(
        tmp_path,
        [("A", "LINESTRING (0 0, 100 0)"), ("DUP", "LINESTRING (0 0, 100 0)"), ("OVER", "LINESTRING (50 0, 150 0)")],
        buildings=["POINT (140 10)"],
        supplies=["POINT (0 -10)"],
    )  # fmt: skip
    got = pieces(net)
    assert got["length_m"].min() > 0
    # the overlap 50..100 is split at its ends on all three lines
    assert {"A-1", "A-2", "DUP-1", "DUP-2", "OVER-1", "OVER-2"} <= set(got.index)
    assert got.groupby("source_fid")["length_m"].sum().tolist() == pytest.approx(
        [100.0, 100.0, 100.0]
    )
    assert not net.buildings["unreachable"].any()


def test_multipolygon_building_and_required_unreachable_building(tmp_path):
    frames = base_frames()
    frames["buildings"] = layer(
        [
            {"building_id": "M", "annual_demand_kwh": 1e4, "peak_demand_kw": 5.0, "constraint": "optional",
             "geometry": "MULTIPOLYGON (((30 20, 40 20, 40 30, 30 30, 30 20)), ((60 40, 70 40, 70 50, 60 50, 60 40)))"},
            {"building_id": "FAR", "annual_demand_kwh": 1e4, "peak_demand_kw": 5.0, "constraint": "required",
             "geometry": "POINT (50 900)"},
        ]
    )  # fmt: skip
    path = write_gpkg(tmp_path / "m.gpkg", frames)
    net = build_network(valid_inputs(read_inputs(path)))
    b = net.buildings.set_index("building_id")
    assert b.loc["M", "connection"] == "connector"
    assert b.loc["M", "connection_m"] == pytest.approx(20.0)  # from the nearer part's corner
    codes = {(i.code, i.feature_id) for i in net.issues}
    assert ("unreachable_required_building", "FAR") in codes
    assert all(i.is_error for i in net.issues if i.code == "unreachable_required_building")


def structural_errors_input(tmp_path):
    """Base input plus required elements that cannot be used: two buildings and a supply beyond
    heatnet/max-connector-length (500 m), a building on a street 2 km away that no supply
    reaches, and required streets that lead nowhere (P1's end piece, P2) or are cut off (P4)."""
    frames = base_frames()
    b = frames["buildings"]
    extra = b.iloc[[1, 1, 1]].assign(building_id=["FAR1", "FAR2", "ISLAND"])
    extra["geometry"] = [shapely.Point(50, 900), shapely.Point(1000, 0), shapely.Point(50, 2005)]
    frames["buildings"] = pd.concat([b, extra], ignore_index=True)  # B2 is required: all are
    s = frames["supplies"]
    far = s.iloc[[0]].assign(supply_id="SFAR", constraint="required")
    far["geometry"] = [shapely.Point(50, -900)]
    frames["supplies"] = pd.concat([s, far], ignore_index=True)
    p = frames["paths"]
    island = p.iloc[[0]].assign(path_id="P4")
    island["geometry"] = [shapely.from_wkt("LINESTRING (0 2000, 100 2000)")]
    frames["paths"] = pd.concat([p, island], ignore_index=True).assign(constraint="required")
    inputs = valid_inputs(read_inputs(write_gpkg(tmp_path / "structural.gpkg", frames)))
    return inputs, build_network(inputs)


BEYOND = "no path within heatnet/max-connector-length (500 m)"
STRUCTURAL_ERRORS = [  # one per element, each naming it
    ("required_path_unusable", "required path P1 (piece P1-3) is peripheral (leads to no demand)"),
    ("required_path_unusable", "required path P2 is peripheral (leads to no demand)"),
    ("required_path_unusable", "required path P4 (piece P4-1) is unreachable"),  # ISLAND's
    ("required_path_unusable", "required path P4 (piece P4-2) is unreachable"),  # connector cuts it
    ("unreachable_required_building", f"required building FAR1 is unreachable: {BEYOND}"),
    ("unreachable_required_building", f"required building FAR2 is unreachable: {BEYOND}"),
    (
        "unreachable_required_building",
        "required building ISLAND is unreachable: no supply can reach it",
    ),
    ("unreachable_required_supply", f"required supply SFAR is unreachable: {BEYOND}"),
]


def test_every_structural_error_names_its_element(tmp_path):
    _, net = structural_errors_input(tmp_path)
    assert sorted((i.code, i.message) for i in net.issues if i.is_error) == STRUCTURAL_ERRORS
    b = net.buildings.set_index("building_id")
    assert b.loc["FAR1", "reason"] == BEYOND  # the output's unreachable_reason


def test_problem_reasons_name_every_unusable_required_element(tmp_path):
    inputs, net = structural_errors_input(tmp_path)
    problem = network_problem(inputs, net)
    assert sorted(problem.reasons) == STRUCTURAL_ERRORS
    assert len(set(problem.reasons)) == len(problem.reasons)  # none collapses into another


def test_null_path_ids_are_generated_and_pieces_numbered_from_them(tmp_path):
    frames = base_frames()
    frames["paths"] = layer(
        [
            {"path_id": None, "geometry": "LINESTRING (0 0, 100 0)"},
            {"path_id": "X", "geometry": "LINESTRING (50 0, 50 50)"},
        ]
    )
    path = write_gpkg(tmp_path / "n.gpkg", frames)
    net = build_network(valid_inputs(read_inputs(path)))
    assert {"P-1-1", "P-1-2", "X"} <= set(pieces(net).index)


def test_ends_a_millimetre_apart_leave_no_zero_length_sliver(tmp_path):
    # found by hypothesis: P6 starts 1 mm from P2's start, which chains two junction clusters
    net = network(
        tmp_path,
        [("P1", "LINESTRING (1 30, 30 30)"), ("P2", "LINESTRING (0 0, 1 30, 0 60)"),
         ("P3", "LINESTRING (30 0, 30 30)"), ("P6", "LINESTRING (0 0.001, 0 6)")],
        buildings=["POINT (0 0)"],
        supplies=["POINT (0 0)"],
        snap_tolerance=0.1,
        max_connector_length=25,
    )  # fmt: skip
    got = pieces(net)
    assert (got["length_m"] > 0).all()
    xy = {j: g.coords[0] for j, g in zip(net.junctions.index, net.junctions.geometry, strict=True)}
    for row in got.itertuples():
        assert row.geometry.coords[0] == xy[row.u]
        assert row.geometry.coords[-1] == xy[row.v]
