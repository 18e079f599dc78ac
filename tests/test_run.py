"""``heatnet run`` end to end: the money and the design in the GeoPackage it writes, read back.

1. Money reconciles: NPV recomputed from ``cashflow`` is ``network_npv``; ``objective`` is the
   PV of the classes the ``objective/use-*`` switches leave on; every ``*_pv`` column is the PV
   of its element's own cashflow rows; one case is priced on paper.
2. The summary agrees with the layers, pipes carry their loads, the network hangs together.
3. Golden figures of the district sample.
4. Every column of the format is there with its schema type (pyogrio and geopandas), every input
   column is kept, the file is GeoPackage 1.2 in the input CRS.
5. Ids map back to the input; forbidden and unreachable elements stay, out of the network.

The command line and interrupts: ``tests/test_run_cli.py``. The runs these tests read are
module fixtures in ``tests/run_designs.py``; every test that reads the district sample's run
(its 60 s limit) is here, so the suite (one file per worker) optimises it once, and each such
test is marked slow. Helpers and input builders live in ``tests/runs.py``.
"""

from __future__ import annotations

import json
import re
import sqlite3

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from heatnet.pipeline import run
from tests.conftest import SAMPLE, TINY, sha256, write_gpkg
from tests.run_designs import DISTRICT_LIMIT_S

# the runs these tests read: fixtures of tests/run_designs.py, imported under their own names
# so that pytest finds them in this module (each runs once per module, the district's once)
from tests.run_designs import any_output as any_output
from tests.run_designs import district as district
from tests.run_designs import district_run as district_run
from tests.run_designs import hand_rate0 as hand_rate0
from tests.run_designs import hand_rate10 as hand_rate10
from tests.run_designs import infeasible as infeasible
from tests.run_designs import infeasible_run as infeasible_run
from tests.run_designs import rich as rich
from tests.run_designs import switched as switched
from tests.run_designs import tiny as tiny
from tests.run_designs import written as written
from tests.runs import (
    KEY,
    LAYERS,
    LIFETIME_OF,
    OUTPUT_SCHEMA,
    REL,
    SCHEMAS,
    SWITCHED,
    Written,
    annuity,
    check_column,
    cost_class,
    default_civil_cost_id,
    discounted,
    hand_frames,
    headline,
    pv_per,
    read_output,
    run_library,
    same_values,
    user_column_input,
)

# ---------------------------------------------------------------------------------------------
# 1. Money reconciles


def test_npv_from_the_cashflow_table_is_network_npv(written):
    npv = discounted(written["cashflow"], written.rate).sum()
    assert written.summary["network_npv"] == pytest.approx(npv, rel=REL)


def test_objective_is_the_pv_of_the_switched_on_classes(written):
    cash, summary = written["cashflow"], written.summary
    on = cost_class(cash).map(written.switched_on).astype(bool)
    assert summary["objective"] == pytest.approx(discounted(cash, written.rate)[on].sum(), rel=REL)
    if all(written.switched_on(c) for c in SWITCHED):
        assert summary["objective"] == pytest.approx(summary["network_npv"], rel=REL)


def test_switches_change_the_objective_and_nothing_else(switched, tmp_path):
    # docs/decisions.md §2: every PV column, the cashflow and network_npv are computed in full
    everything = run_library(TINY, tmp_path / "all-on.gpkg", overrides={"finance/npv-rate": "0.05"})
    for name in ("buildings", "paths", "supplies"):
        assert same_values(switched[name]["in_network"], everything[name]["in_network"]) == []
    on, off = everything.summary, switched.summary
    assert off["network_npv"] == pytest.approx(on["network_npv"], rel=REL)
    pd.testing.assert_frame_equal(switched["cashflow"], everything["cashflow"])
    for name, column in (("buildings", "connection_cost_pv"), ("supplies", "plant_pv")):
        np.testing.assert_allclose(switched[name][column], everything[name][column], rtol=REL)
    cash = switched["cashflow"]
    left_out = cost_class(cash).isin(["supply-opex", "connection-repex"])
    ignored = discounted(cash, switched.rate)[left_out].sum()
    assert ignored < -10_000  # heat for 180 MWh/yr and two substations' repex: real money
    assert off["objective"] == pytest.approx(off["network_npv"] - ignored, rel=REL)


def test_building_pvs_are_their_discounted_cashflow_rows(written):
    cash, rate = written["cashflow"], written.rate
    buildings = written["buildings"].set_index("building_id")
    for column, rows in (
        ("connection_cost_pv", cash["type"] == "connection"),
        ("tariff_pv", (cash["type"] == "building") & (cash["cost"] == "revenue")),
    ):
        expected = pv_per(cash, rate, rows, "building_id").reindex(buildings.index, fill_value=0.0)
        np.testing.assert_allclose(buildings[column], expected, rtol=REL, atol=1e-6, err_msg=column)


def test_supply_and_pipe_pvs_are_their_discounted_cashflow_rows(written):
    cash, rate = written["cashflow"], written.rate
    for name, kind, column in (("supplies", "supply", "plant_pv"), ("paths", "pipe", "cost_pv")):
        frame = written[name].set_index(KEY[name])
        sums = pv_per(cash, rate, cash["type"] == kind, KEY[name])
        used = frame.index[frame["in_network"]]
        assert set(sums.index) <= set(used), f"{name}: cashflow rows of elements not built"
        np.testing.assert_allclose(
            frame.loc[used, column], sums.reindex(used, fill_value=0.0), rtol=REL, atol=1e-6
        )
        assert frame.loc[~frame["in_network"], column].isna().all()


def test_pv_columns_and_building_extras_add_up_to_network_npv(written):
    b = written["buildings"]
    parts = (
        b["connection_cost_pv"].sum()
        + b["tariff_pv"].sum()
        + pd.to_numeric(b.loc[b["in_network"], "extra_pv"]).fillna(0.0).sum()
        + written["supplies"]["plant_pv"].sum()
        + written["paths"]["cost_pv"].sum()
    )
    assert parts == pytest.approx(written.summary["network_npv"], rel=REL)


def test_cashflow_rows_follow_the_npv_convention(written):
    # docs/decisions.md §2: year 0 = capex and connection charges; opex, heat and tariffs in
    # 1 … T-1; repex in 0 < y < T with y mod lifetime = 0
    cash, params = written["cashflow"], written.params
    term = int(params["finance/npv-term"])
    assert cash["year"].between(0, term - 1).all()
    assert (cash["value"] != 0).all()
    assert set(cash["cost"]) <= {"capex", "opex", "repex", "heat", "revenue", "extra"}
    assert (cash.loc[cash["cost"].isin(["capex", "opex", "repex", "heat"]), "value"] < 0).all()
    assert (cash.loc[cash["cost"] == "revenue", "value"] > 0).all()
    assert cash.loc[cash["cost"].isin(["capex", "extra"]), "year"].eq(0).all()
    assert cash.loc[cash["cost"].isin(["opex", "heat"]), "year"].ge(1).all()
    for kind, key in LIFETIME_OF.items():
        years = cash.loc[(cash["cost"] == "repex") & (cash["type"] == kind), "year"]
        assert (years > 0).all(), kind
        assert (years % int(params[key]) == 0).all(), kind


def test_cashflow_rows_name_one_built_element_each(written):
    cash = written["cashflow"]
    refs = cash[["building_id", "supply_id", "path_id"]].notna()
    assert (refs.sum(axis=1) == 1).all()
    for key, name in (
        ("building_id", "buildings"),
        ("supply_id", "supplies"),
        ("path_id", "paths"),
    ):
        frame = written[name]
        built = set(frame.loc[frame["in_network"], key])
        assert set(cash[key].dropna()) <= built, name
    assert cash.loc[cash["type"] == "pipe", "civil_cost_id"].notna().all()
    assert cash.loc[cash["cost"] == "revenue", "tariff_id"].notna().all()
    assert cash.loc[cash["type"] == "connection", "connection_cost_id"].notna().all()


@pytest.mark.parametrize("name", ["hand_rate0", "hand_rate10"])
def test_hand_priced_network(name, request):
    hand = request.getfixturevalue(name)
    rate = hand.rate
    years = annuity(rate, range(1, 5))
    # year 0: connection charges 2 × 500, substations −2 × 1,000, plant −2,000,
    # 110 m of pipe at 100 ¤/m −11,000, B2's extra_pv +100 = −13,900;
    # years 1 … 4: tariffs 1,000 + 0.1 × 20,000 = 3,000 and 1,000 + 0.1 × 40,000 = 5,000,
    # substation opex −2 × 100, plant opex −200 = +7,600
    expected = -13_900 + 7_600 * years
    if rate == 0:
        assert expected == 16_500
    summary = hand.summary
    assert summary["network_npv"] == pytest.approx(expected, rel=1e-9)
    assert summary["objective"] == pytest.approx(expected, rel=1e-9)
    assert summary["network_length"] == pytest.approx(110.0, rel=1e-9)
    assert summary["network_kwh"] == 60_000.0
    assert summary["network_building_count"] == 2
    b = hand["buildings"].set_index("building_id")
    assert b["in_network"].all()
    assert b.loc["B1", "tariff_pv"] == pytest.approx(500 + 3_000 * years)
    assert b.loc["B2", "tariff_pv"] == pytest.approx(500 + 5_000 * years)
    assert b["connection_cost_pv"].tolist() == pytest.approx([-(1_000 + 100 * years)] * 2)
    assert hand["supplies"]["plant_pv"].tolist() == pytest.approx([-(2_000 + 200 * years)])
    cost = hand["paths"].set_index("path_id")["cost_pv"]
    assert cost.dropna().to_dict() == pytest.approx(
        {"P1-1": -3_000.0, "P1-2": -5_000.0, "C-1": -1_000.0, "C-2": -1_000.0, "C-3": -1_000.0}
    )
    assert pd.isna(cost["P1-3"])


def test_existing_pipe_pays_no_capex(tmp_path):
    # the hand case with a DN100 pipe already in P1: its 80 m used cost nothing within 5 years
    # (repex only, every 50 years), so the NPV gains the 8,000 ¤ of new street pipe
    frames = hand_frames(0.0)
    frames["paths"] = frames["paths"].assign(existing_diameter=[100.0])
    source = write_gpkg(tmp_path / "existing.gpkg", frames)
    written = run_library(source, tmp_path / "out.gpkg")
    assert written.summary["network_npv"] == pytest.approx(16_500 + 8_000, rel=1e-9)
    street = written["paths"].set_index("path_id").loc[["P1-1", "P1-2"]]
    # the existing size is kept (docs/decisions.md §2)
    assert street["diameter_mm"].tolist() == [100.0, 100.0]
    assert street["cost_pv"].tolist() == [0.0, 0.0]
    assert (street["capacity_kw"] >= street["load_kw"]).all()


def test_path_extra_pv_counts_once_however_the_path_is_cut(tmp_path):
    frames = hand_frames(0.0)
    frames["paths"] = frames["paths"].assign(extra_pv=[-1_000.0])
    source = write_gpkg(tmp_path / "extra.gpkg", frames)
    written = run_library(source, tmp_path / "out.gpkg")
    cash = written["cashflow"]
    extra = cash.loc[(cash["cost"] == "extra") & (cash["type"] == "pipe"), "value"].sum()
    assert extra >= -1_000  # once (or the share of the path used), never more
    assert written.summary["network_npv"] >= 16_500 - 1_000


def test_tiny_sample_matches_its_hand_computed_pvs(tiny):
    # sample_data/README.md: B1 and B2 connected, B3 not; the PVs of its table
    b = tiny["buildings"].set_index("building_id")
    assert b["in_network"].to_dict() == {"B1": True, "B2": True, "B3": False}
    assert b["tariff_pv"].to_dict() == pytest.approx({"B1": 109_500, "B2": 88_500, "B3": 0})
    assert b["connection_cost_pv"].to_dict() == pytest.approx({"B1": -2_300, "B2": -2_250, "B3": 0})
    # proven: the discrete relaxation (exact diameters and their losses) closes the gap
    s = tiny.summary
    assert s["upper_bound"] == pytest.approx(s["objective"], rel=1e-4)
    assert s["mip_gap"] <= 1e-4
    assert s["state"] == "optimal"


def test_library_report_is_what_was_written(tmp_path):
    out = tmp_path / "tiny.gpkg"
    report = run(TINY, out)
    assert report.output == out
    assert report.exit_code == 0
    written = read_output(TINY, out).summary
    for key, value in report.summary.items():
        assert written[key] == (
            pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
        )
    assert report.solution.network_npv == pytest.approx(written["network_npv"], rel=1e-3)


# ---------------------------------------------------------------------------------------------
# 2. The summary agrees with the layers; pipes carry their loads; the network hangs together


def test_summary_counts_equal_the_layers(written):
    s, b, p = written.summary, written["buildings"], written["paths"]
    on = b["in_network"]
    assert s["network_building_count"] == on.sum()
    assert s["network_connection_count"] == b.loc[on, "connections"].sum()
    assert s["network_kwh"] == pytest.approx(b.loc[on, "annual_demand_kwh"].sum(), rel=REL)
    length = p.loc[p["in_network"]].geometry.length.sum()
    assert s["network_length"] == pytest.approx(length, rel=REL)
    assert s["network_losses_kwh"] == pytest.approx(p["losses_kwh"].sum(), rel=REL)
    assert s["network_linear_density"] == pytest.approx(
        s["network_kwh"] / s["network_length"], rel=REL
    )
    supplied = written["supplies"].loc[written["supplies"]["in_network"], "load_kwh"].sum()
    assert supplied == pytest.approx(s["network_kwh"] + s["network_losses_kwh"], rel=REL)
    assert s["lower_bound"] == pytest.approx(s["objective"], rel=REL)
    assert s["iterations"] >= 1
    assert s["state"] in ("optimal", "feasible")


def test_pipes_in_the_network_are_sized_and_the_rest_are_blank(written):
    p = written["paths"]
    used, unused = p[p["in_network"]], p[~p["in_network"]]
    assert not used.empty
    for column in ("diameter_mm", "diversity", "load_kw", "capacity_kw", "losses_kwh", "cost_pv"):
        assert used[column].notna().all(), column
        assert unused[column].isna().all(), column
    assert (used["capacity_kw"] >= used["load_kw"] * (1 - REL)).all()
    assert (used["load_kw"] > 0).all()
    assert (used["losses_kwh"] > 0).all()
    limit = float(written.params["network/diversity-limit"])
    assert used["diversity"].between(limit - REL, 1 + REL).all()
    catalogue = set(pyogrio.read_dataframe(written.input, layer="civil_costs")["diameter_mm"])
    existing = set(used["existing_diameter"].dropna())
    # only discrete catalogue (or existing) sizes are written (docs/decisions.md §4.1)
    assert set(used["diameter_mm"]) <= catalogue | existing
    assert not (
        used["unreachable"] | used["peripheral"] | (used["constraint"] == "forbidden")
    ).any()


def test_buildings_and_supplies_in_the_network_are_allowed_there(written):
    b, s = written["buildings"], written["supplies"]
    on = b["in_network"]
    assert not (b.loc[on, "unreachable"] | (b.loc[on, "constraint"] == "forbidden")).any()
    assert b.loc[b["constraint"] == "required", "in_network"].all()
    assert (b.loc[~on, ["connection_cost_pv", "tariff_pv"]] == 0).all().all()
    used = s[s["in_network"]]
    assert not used.empty
    assert not (used["unreachable"] | (used["constraint"] == "forbidden")).any()
    for column in ("diversity", "load_kw", "load_kwh", "plant_pv"):
        assert used[column].notna().all()
        assert s.loc[~s["in_network"], column].isna().all()
    assert (used["load_kw"] <= used["peak_capacity_kw"] * (1 + REL)).all()
    capped = used["annual_capacity_kwh"].notna()
    assert (used.loc[capped, "load_kwh"] <= used.loc[capped, "annual_capacity_kwh"]).all()


def test_network_hangs_together(written):
    """Every pipe laid, every building connected, joins a supply in use through pipes laid."""
    p, b, s = written["paths"], written["buildings"], written["supplies"]
    pipes = p[p["in_network"]].reset_index(drop=True)
    tree = shapely.STRtree(pipes.geometry.to_numpy())
    left, right = tree.query(pipes.geometry.to_numpy(), predicate="dwithin", distance=1e-6)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(pipes)))
    graph.add_edges_from(zip(left.tolist(), right.tolist(), strict=True))

    def touching(geometry: shapely.Geometry) -> set[int]:
        return set(tree.query(geometry, predicate="dwithin", distance=1e-6).tolist())

    supplied: set[int] = set()
    for geometry in s.loc[s["in_network"]].geometry:
        near = touching(geometry)
        assert near, "a supply in use touches no pipe laid"
        supplied |= set().union(*(nx.node_connected_component(graph, n) for n in near))
    assert supplied == set(range(len(pipes))), "pipes laid that no supply feeds"
    for building_id, geometry in b.loc[b["in_network"], ["building_id", "geometry"]].itertuples(
        index=False
    ):
        assert touching(geometry), f"{building_id} is in the network but touches no pipe laid"
    ends = pd.concat([b.loc[b["in_network"]].geometry, s.loc[s["in_network"]].geometry])
    for row in pipes[pipes["connector"]].itertuples():
        assert ends.distance(row.geometry).min() < 1e-6, f"{row.path_id} serves nothing built"


# ---------------------------------------------------------------------------------------------
# 3. Golden figures of the district sample

# Measured 2026-11-24 with heatnet 0.1.0 at c21a24c: `heatnet run sample_data/district.gpkg`
# (linear pipes, --threads 1 --seed 0, the sample's mip-gap 0.01 and runtime-limit 0.05 h)
# after 2 MIPs in ~10 s. Regression figures, not an optimum: the proven gap on this sample is
# 15-35 % (docs/bounds.md), so they only catch gross changes.
DISTRICT = {
    "network_building_count": 176,
    "network_length": 7_049.67,
    "network_npv": 1_194_855.04,
    "network_kwh": 5_832_356.3,
}
# Tolerances: the reported gap is the MIP's, under its assumed diversity and losses (and fitted
# pipe costs), so designs the solver calls optimal differ more once priced exactly. Seeds 1-3
# gave two designs: the one above and 186 buildings, 7,421 m, NPV 1,135,487 (-5.0 %),
# 6,020,513 kWh (+3.2 %); the discrete pipe model at its 180 s limit gave 176 buildings,
# 7,387 m, NPV 1,125,044 (-5.8 %). Twice those spreads still catches gross regressions.
DISTRICT_REL = {
    "network_building_count": 0.10,
    "network_length": 0.15,
    "network_npv": 0.10,
    "network_kwh": 0.10,
}


@pytest.mark.slow
@pytest.mark.parametrize("key", list(DISTRICT))
def test_district_golden_figures(district, key):
    # the sample asks for 1 %, which is not proven in 60 s: "feasible", with the true gap
    s = district.summary
    assert s["state"] == "feasible"
    assert s["upper_bound"] > s["objective"] * (1 + 0.01)
    assert s["mip_gap"] == pytest.approx((s["upper_bound"] - s["objective"]) / s["objective"])
    assert district.summary[key] == pytest.approx(DISTRICT[key], rel=DISTRICT_REL[key])


@pytest.mark.slow
def test_district_run_from_the_command_line(district_run, district):
    result = district_run.result
    assert sha256(SAMPLE) == district_run.input_hash_before
    lines = headline(result.stdout)
    assert lines["network npv"] == f"{district.summary['network_npv']:,.0f}"
    assert lines["buildings"].startswith(f"{district.summary['network_building_count']} of 200")
    assert re.findall(r"INFO stage (\w+)", result.stderr) == [
        "validate", "topology", "optimise", "write",
    ]  # fmt: skip
    assert district.summary["runtime"] <= DISTRICT_LIMIT_S  # the limit holds


# ---------------------------------------------------------------------------------------------
# 4. Columns, types, GeoPackage version, CRS


DISPATCH_ONLY = {"dispatch_cost", "dispatch_heat_price"}


@pytest.mark.parametrize("reader", ["pyogrio", "geopandas"])
@pytest.mark.parametrize("name", list(OUTPUT_SCHEMA))
def test_every_output_column_has_its_schema_type(any_output, name, reader):
    schema = json.loads((SCHEMAS / f"{OUTPUT_SCHEMA[name]}.schema.json").read_text())
    read = pyogrio.read_dataframe if reader == "pyogrio" else gpd.read_file
    frame = read(any_output.path, layer=name)
    info = pyogrio.read_info(any_output.path, layer=name)
    stored = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert set(schema["required"]) - {"geometry"} <= set(frame.columns)
    for column, spec in schema["properties"].items():
        if column in DISPATCH_ONLY and column not in frame.columns:
            continue  # written only with plant units (tests/test_dispatch_run.py)
        if column == "geometry":
            allowed = set(spec["x-geometry"])
            assert set(frame.geom_type.dropna()) <= allowed
            assert frame.geometry.notna().all()
            continue
        check_column(frame, column, spec, stored[column])
    if name in LAYERS:
        assert isinstance(frame, gpd.GeoDataFrame)
    if name == "solution_summary":
        assert len(frame) == 1


@pytest.mark.parametrize("name", LAYERS)
def test_every_input_column_is_kept(any_output, name):
    given = pyogrio.read_info(any_output.input, layer=name)["fields"]
    kept = pyogrio.read_info(any_output.path, layer=name)["fields"]
    assert set(given) <= set(kept)


@pytest.mark.slow
def test_district_survey_columns_are_kept(district):
    assert {"ts_0", "flh_0"} <= set(district["buildings"].columns)
    survey = ["land", "modellart", "objart", "wdm_txt", "objid", "nam", "id_ta"]
    assert set(survey) <= set(district["paths"].columns)


@pytest.fixture(scope="module")
def user_columns(tmp_path_factory: pytest.TempPathFactory) -> Written:
    folder = tmp_path_factory.mktemp("user-columns")
    return run_library(user_column_input(folder), folder / "out.gpkg")


@pytest.mark.parametrize(
    "name",
    [
        "buildings",
        "paths",
        "supplies",
    ],
)
def test_user_columns_keep_their_storage_type_and_values(user_columns, name):
    given_info = pyogrio.read_info(user_columns.input, layer=name)
    kept_info = pyogrio.read_info(user_columns.path, layer=name)
    given = dict(zip(given_info["fields"], given_info["ogr_types"], strict=True))
    kept = dict(zip(kept_info["fields"], kept_info["ogr_types"], strict=True))
    own = set(json.loads((SCHEMAS / f"{name}.schema.json").read_text())["properties"])
    for column in set(given) - own:
        assert kept[column] == given[column], column
    rows = user_columns[name]
    if name == "paths":
        rows = rows[~rows["connector"]]
    origin = rows[KEY[name]].str.replace(r"-\d+$", "", regex=True)  # P1-2 is a piece of P1
    source = pyogrio.read_dataframe(user_columns.input, layer=name).set_index(KEY[name])
    for column in set(given) - own:
        assert same_values(rows[column], source[column].reindex(origin)) == [], column


def test_output_is_geopackage_1_2(any_output):
    with sqlite3.connect(any_output.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"


@pytest.mark.parametrize("name", LAYERS)
def test_layers_are_in_the_input_crs(any_output, name):
    given = pyogrio.read_info(any_output.input, layer="buildings")["crs"]
    assert pyogrio.read_info(any_output.path, layer=name)["crs"] == given


def test_geographic_input_comes_back_in_its_own_crs(tmp_path):
    # docs/decisions.md §1: work in the local UTM zone, write back in the input CRS
    frames = {
        name: frame.to_crs("EPSG:4326") if isinstance(frame, gpd.GeoDataFrame) else frame
        for name, frame in hand_frames(0.0).items()
    }
    source = write_gpkg(tmp_path / "lonlat.gpkg", frames)
    written = run_library(source, tmp_path / "out.gpkg")
    for name in LAYERS:
        assert pyogrio.read_info(written.path, layer=name)["crs"] == "EPSG:4326"
    given = pyogrio.read_dataframe(source, layer="buildings")
    assert written["buildings"].geometry.geom_equals_exact(given.geometry, tolerance=1e-9).all()
    # lengths are metres on the ground: 110 m within UTM vs British grid scale (< 0.2 %)
    assert written.summary["network_length"] == pytest.approx(110.0, rel=2e-3)
    assert written.summary["network_building_count"] == 2


# ---------------------------------------------------------------------------------------------
# 5. Ids map back to the input


@pytest.mark.parametrize("name", ["buildings", "supplies"])
def test_buildings_and_supplies_come_back_row_for_row(any_output, name):
    given = pyogrio.read_dataframe(any_output.input, layer=name)
    out = any_output[name]
    assert out[KEY[name]].tolist() == given[KEY[name]].tolist()
    for column in given.columns.drop("geometry"):
        a, b = given[column], out[column]
        if column == "constraint":  # keywords are written without the optional colon
            a = a.str.removeprefix(":")
        assert same_values(a, b) == [], column
    assert out.geometry.geom_equals_exact(given.geometry, tolerance=1e-6).all()


def test_path_rows_map_back_to_input_paths(any_output):
    given = pyogrio.read_dataframe(any_output.input, layer="paths").set_index("path_id")
    out = any_output["paths"]
    default = default_civil_cost_id(any_output.input)
    pieces: dict[str, list[int]] = {}
    whole: list[str] = []
    connectors: list[int] = []
    for row in out.itertuples():
        if row.connector:
            match = re.fullmatch(r"C-(\d+)", row.path_id)
            assert match, row.path_id
            connectors.append(int(match[1]))
            assert row.civil_cost_id == default
            continue
        if row.path_id in given.index:
            whole.append(row.path_id)
            continue
        match = re.fullmatch(r"(.+)-(\d+)", row.path_id)
        assert match, row.path_id
        assert match[1] in given.index, row.path_id
        pieces.setdefault(match[1], []).append(int(match[2]))
    assert sorted(connectors) == list(range(1, len(connectors) + 1))
    assert len(whole) == len(set(whole))
    assert not set(whole) & set(pieces)
    assert set(whole) | set(pieces) == set(given.index)
    for source, numbers in pieces.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), source
        assert len(numbers) >= 2, source
    # the rows of one input path cover it exactly and carry its attributes
    rows = out[~out["connector"]]
    ids = rows["path_id"]
    origin = ids.where(ids.isin(given.index), ids.str.replace(r"-\d+$", "", regex=True))
    lengths = rows.geometry.length.groupby(origin.to_numpy()).sum()
    np.testing.assert_allclose(lengths[given.index], given.geometry.length, rtol=1e-9)
    source = given.loc[origin.to_numpy()]
    for column in given.columns.drop("geometry"):
        a = source[column]
        if column == "constraint":
            a = a.str.removeprefix(":")
        if column == "civil_cost_id":  # a blank civil cost is the default one (format rule)
            a = a.fillna(default)
        assert same_values(a.reset_index(drop=True), rows[column].reset_index(drop=True)) == []


def test_blank_ids_are_generated_and_used_throughout(tmp_path):
    frames = hand_frames(0.0)
    frames["buildings"] = frames["buildings"].assign(building_id=[None, "B2"])
    frames["supplies"] = frames["supplies"].assign(supply_id=[None])
    frames["paths"] = frames["paths"].assign(path_id=[None])
    source = write_gpkg(tmp_path / "blank-ids.gpkg", frames)
    written = run_library(source, tmp_path / "out.gpkg")
    cash = written["cashflow"]
    for name in LAYERS:
        ids = written[name][KEY[name]]
        assert ids.notna().all(), name
        assert ids.is_unique, name
        assert set(cash[KEY[name]].dropna()) <= set(ids), name
    b = written["buildings"]
    assert b["building_id"].iloc[1] == "B2"
    assert b["in_network"].all()
    assert written.summary["network_npv"] == pytest.approx(16_500, rel=1e-9)


def test_validation_warnings_are_recorded_in_the_output(tmp_path):
    frames = hand_frames(0.0)
    frames["buildings"] = frames["buildings"].assign(peak_demand_kw=[1.0, 20.0])  # < kWh/8760
    source = write_gpkg(tmp_path / "low-peak.gpkg", frames)
    written = run_library(source, tmp_path / "out.gpkg")
    assert written["buildings"]["peak_demand_kw"].iloc[0] == pytest.approx(20_000 / 8_760)
    text = [
        value
        for frame in written.layers.values()
        for column in frame.columns.drop("geometry", errors="ignore")
        for value in frame[column].tolist()
        if isinstance(value, str)
    ]
    assert any("peak_raised" in value or "raised" in value for value in text)


def test_forbidden_and_unreachable_elements_stay_out_of_the_network(rich):
    b = rich["buildings"].set_index("building_id")
    assert b.loc["B2", "in_network"]  # required
    assert b.loc["B3", ["constraint", "in_network", "unreachable"]].tolist() == [
        "forbidden", False, False,
    ]  # fmt: skip
    for building in ("B4", "B5"):  # beyond every connector / by a street no supply reaches
        assert b.loc[building, ["in_network", "unreachable"]].tolist() == [False, True]
        assert b.loc[building, "unreachable_reason"]
    p = rich["paths"].set_index("path_id")
    assert p.loc["P3", ["constraint", "in_network"]].tolist() == ["forbidden", False]
    p4 = p[p.index.str.startswith("P4-")]
    assert len(p4) == 2
    assert p4["unreachable"].all()
    assert not p4["in_network"].any()
    s = rich["supplies"].set_index("supply_id")
    assert s.loc["S2", ["constraint", "in_network"]].tolist() == ["forbidden", False]
    assert s.loc["S3", ["in_network", "unreachable"]].tolist() == [False, True]
    assert s.loc["S1", "in_network"]
