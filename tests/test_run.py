"""``heatnet run`` end to end: the GeoPackage it writes is the contract, read back from disk.

1. Money reconciles: NPV recomputed from ``cashflow`` is ``network_npv``; ``objective`` is the
   PV of the classes the ``objective/use-*`` switches leave on; every ``*_pv`` column is the PV
   of its element's own cashflow rows; one case is priced on paper.
2. Every column of the format is there with its schema type (pyogrio and geopandas), every input
   column is kept, the file is GeoPackage 1.2 in the input CRS.
3. Ids map back to the input; forbidden and unreachable elements stay, out of the network.
4. The summary agrees with the layers, pipes carry their loads, the network hangs together.
5. The command line: exit codes 0, 3, 4 and 5, the overwrite guard, -q, --log, --run-name,
   --tables; the input is never modified.
6. Ctrl-C and SIGTERM: exit 130, nothing written, no temporary file left behind.
7. Golden figures of the district sample.

The district sample is optimised once per module (``district_run``, about 12 s); every test
that uses it is marked slow, as are the runs on the bench's looped grids of 1,000 and 2,000
buildings. Helpers and input builders live in ``tests/runs.py``.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from heatnet.pipeline import run
from tests.conftest import CRS, ROOT, SAMPLE, TINY, base_frames, sha256, write_gpkg
from tests.runs import (
    HEATNET,
    KEY,
    LAYERS,
    LIFETIME_OF,
    ONE_SECOND_H,
    OUTPUT_SCHEMA,
    REL,
    SCHEMAS,
    SWITCHED,
    TABLES,
    Written,
    annuity,
    check_column,
    cost_class,
    default_civil_cost_id,
    discounted,
    hand_frames,
    headline,
    heatnet,
    looped_input,
    pump_lines,
    pv_per,
    read_output,
    rich_frames,
    run_library,
    same_values,
    user_column_input,
)

# ---------------------------------------------------------------------------------------------
# Runs shared by the tests (each once per module)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_library(TINY, tmp_path_factory.mktemp("tiny") / "tiny-out.gpkg")


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Written:
    folder = tmp_path_factory.mktemp("rich")
    source = write_gpkg(folder / "rich.gpkg", rich_frames())
    return run_library(source, folder / "rich-out.gpkg")


SWITCHED_OFF = {"objective/use-supply-opex": "false", "objective/use-connection-repex": "false"}


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """tiny at 5 % with heat, supply opex and connection repex left out of the objective."""
    out = tmp_path_factory.mktemp("switched") / "switched.gpkg"
    return run_library(TINY, out, overrides={"finance/npv-rate": "0.05", **SWITCHED_OFF})


def run_hand(tmp_path_factory: pytest.TempPathFactory, rate: float) -> Written:
    folder = tmp_path_factory.mktemp("hand")
    source = write_gpkg(folder / "hand.gpkg", hand_frames(rate))
    return run_library(source, folder / "hand-out.gpkg")


@pytest.fixture(scope="module")
def hand_rate0(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_hand(tmp_path_factory, 0.0)


@pytest.fixture(scope="module")
def hand_rate10(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_hand(tmp_path_factory, 0.1)


@dataclass(frozen=True)
class CliRun:
    result: subprocess.CompletedProcess[str]
    written: Written | None
    input_hash_before: str
    log: Path | None = None


DISTRICT_LIMIT_S = 60.0


@pytest.fixture(scope="module")
def district_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """``heatnet run`` on the district sample, once, with a 60 s limit (the sample's is 180 s).

    The sample asks for a 1 % gap, which heatnet cannot prove on it: the loop's design comes in
    about 15 s, then the proving MIP runs to the limit.
    """
    out = tmp_path_factory.mktemp("district") / "district-out.gpkg"
    before = sha256(SAMPLE)
    limit = f"optimiser/runtime-limit={DISTRICT_LIMIT_S / 3600}"
    result = heatnet("run", SAMPLE, "-o", out, "--set", limit, timeout=400)
    return CliRun(result, read_output(SAMPLE, out) if out.exists() else None, before)


@pytest.fixture(scope="module")
def district(district_run: CliRun) -> Written:
    assert district_run.result.returncode == 0, district_run.result.stderr
    assert district_run.written is not None
    return district_run.written


@pytest.fixture(scope="module")
def infeasible_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    out = tmp_path_factory.mktemp("infeasible") / "infeasible.gpkg"
    before = sha256(TINY)
    result = heatnet("run", TINY, "-o", out, "--set", "constraint/min-buildings=99")
    return CliRun(result, read_output(TINY, out) if out.exists() else None, before)


@pytest.fixture(scope="module")
def infeasible(infeasible_run: CliRun) -> Written:
    assert infeasible_run.written is not None, infeasible_run.result.stderr
    return infeasible_run.written


DESIGNS = [
    "tiny",
    "rich",
    "switched",
    "hand_rate10",
    pytest.param("district", marks=pytest.mark.slow),
]


@pytest.fixture(params=DESIGNS)
def written(request: pytest.FixtureRequest) -> Written:
    """Every output that holds a design."""
    return request.getfixturevalue(request.param)


@pytest.fixture(params=[*DESIGNS, "infeasible"])
def any_output(request: pytest.FixtureRequest) -> Written:
    """Every output, a design or not."""
    return request.getfixturevalue(request.param)


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
# 2. Columns, types, GeoPackage version, CRS


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
# 3. Ids map back to the input


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


# ---------------------------------------------------------------------------------------------
# 4. The summary agrees with the layers; pipes carry their loads; the network hangs together


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
# 5. The command line


@pytest.fixture(scope="module")
def cli_tiny(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    folder = tmp_path_factory.mktemp("cli")
    before = sha256(TINY)
    out = folder / "out" / "tiny.gpkg"
    log = folder / "logs" / "run.log"  # --log makes its folder; -o needs --mkdir
    result = heatnet("run", TINY, "-o", out, "--mkdir", "--run-name", "street test", "--log", log)
    return CliRun(result, read_output(TINY, out) if out.exists() else None, before, log)


def test_run_exits_0_with_the_headline_on_stdout(cli_tiny):
    result, written = cli_tiny.result, cli_tiny.written
    assert result.returncode == 0, result.stderr
    assert written is not None
    lines = headline(result.stdout)
    summary = written.summary
    assert lines["state"] == "optimal (linear pipes)"
    assert lines["network npv"] == f"{summary['network_npv']:,.0f}"
    assert lines["buildings"] == "2 of 3 connected (2 connections)"
    assert lines["output"] == str(written.path)
    stages = re.findall(r"INFO stage (\w+)", result.stderr)  # plain lines: stderr is not a TTY
    assert stages == ["validate", "topology", "optimise", "write"]
    assert "Traceback" not in result.stderr


def test_run_leaves_the_input_untouched(cli_tiny):
    assert sha256(TINY) == cli_tiny.input_hash_before


def test_output_opens_with_pyogrio_and_geopandas(cli_tiny):
    path = cli_tiny.written.path
    names = [name for name, _ in pyogrio.list_layers(path)]
    assert names[: len(LAYERS + TABLES)] == list(LAYERS + TABLES)
    for name in LAYERS:
        frame = gpd.read_file(path, layer=name)
        assert frame.crs == CRS
        assert len(frame) == len(cli_tiny.written[name])


def test_run_name_and_metadata_land_in_the_summary(cli_tiny):
    summary = cli_tiny.written.summary
    assert summary["run"] == "street test"
    assert summary["git_rev"].startswith("heatnet ")
    assert summary["user"].strip()
    started = datetime.fromisoformat(summary["start_date"])
    assert started.tzinfo is not None
    assert datetime.now(UTC) - timedelta(hours=1) < started <= datetime.now(UTC)


def test_run_name_defaults_to_the_input_stem(tiny):
    assert tiny.summary["run"] == "tiny"


def test_log_file_gets_everything(cli_tiny):
    lines = cli_tiny.log.read_text().splitlines()
    assert any("INFO heatnet.run: stage optimise" in line for line in lines)
    assert any(" DEBUG heatnet." in line for line in lines)
    assert "DEBUG" not in cli_tiny.result.stderr  # the console stays at INFO


def test_quiet_prints_no_progress(tmp_path, tiny):
    out = tmp_path / "out.gpkg"
    result = heatnet("run", TINY, "-o", out, "-q", "--threads", "2", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = headline(result.stdout)
    assert lines["state"] == "optimal (linear pipes)"
    # other solver threads and seed, the same (unique) optimum of the tiny sample
    assert lines["network npv"] == f"{tiny.summary['network_npv']:,.0f}"


def test_quiet_still_logs_progress_to_the_log_file(tmp_path):
    log = tmp_path / "run.log"
    result = heatnet("run", TINY, "-o", tmp_path / "out.gpkg", "-q", "--log", log)
    assert result.returncode == 0, result.stderr
    assert "stage optimise" in log.read_text()


def test_each_new_incumbent_is_logged_once(cli_tiny):
    found = re.findall(
        r"MIP (\d+): incumbent ([-\d,]+) .*\(new incumbent\)", cli_tiny.result.stderr
    )
    assert found
    for (a, x), (b, y) in itertools.pairwise(found):
        assert (a, x) != (b, y), f"MIP {a}: incumbent {x} reported twice"


def test_tables_option_replaces_the_inputs_tables(tmp_path):
    tariffs = pyogrio.read_dataframe(TINY, layer="tariffs").assign(annual_charge_per_kwh=0.2)
    tables = write_gpkg(tmp_path / "tables.gpkg", {"tariffs": tariffs})
    before = sha256(tables)
    out = tmp_path / "out.gpkg"
    result = heatnet("run", TINY, "-o", out, "--tables", tables)
    assert result.returncode == 0, result.stderr
    b = read_output(TINY, out)["buildings"].set_index("building_id")
    # 500 + 10 × (100 + 0.2 × kWh + 20 × kW): B1 100,000 kWh 40 kW, B2 80,000 kWh 35 kW
    assert b.loc[["B1", "B2"], "tariff_pv"].tolist() == pytest.approx([209_500, 168_500])
    assert sha256(tables) == before


def test_set_overrides_are_recorded_in_the_parameters_table(switched):
    table = switched["parameters"].set_index("parameter")
    for key, value in {"finance/npv-rate": "0.05", **SWITCHED_OFF}.items():
        assert table.loc[key, "source"] == "--set", key
        assert table.loc[key, "value"] == value, key
    assert table.loc["finance/npv-term", ["value", "source"]].tolist() == ["11", "table"]


@pytest.fixture(scope="module")
def broken_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    folder = tmp_path_factory.mktemp("broken")
    frames = base_frames()
    frames["buildings"] = frames["buildings"].assign(
        annual_demand_kwh=[20_000.0, -5.0], tariff_id=[7, 1]
    )
    source = write_gpkg(folder / "broken.gpkg", frames)
    return heatnet("run", source, "-o", folder / "out.gpkg"), folder


def test_invalid_input_exits_3_and_writes_nothing(broken_run):
    result, folder = broken_run
    assert result.returncode == 3, result.stdout + result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["broken.gpkg"]
    text = result.stderr
    assert "buildings: 2 errors" in text
    # every issue names the table, the row (fid and id), the column and a stable code
    assert re.search(r"fid 1 \(B1\)\s+unknown_tariff_id: \[tariff_id\]", text)
    assert re.search(r"fid 2 \(B2\)\s+negative_value: \[annual_demand_kwh\]", text)
    assert result.stdout == ""
    assert "Traceback" not in text


def test_invalid_input_message_shows_plain_values(broken_run):
    result, _ = broken_run
    assert "np.float64" not in result.stderr
    assert "np.int64" not in result.stderr
    assert "value -5.0 must be at least 0" in result.stderr


def test_existing_output_is_kept_without_overwrite(tmp_path):
    out = tmp_path / "out.gpkg"
    out.write_text("keep me")
    refused = heatnet("run", TINY, "-o", out)
    assert refused.returncode == 2  # a usage error
    assert "--overwrite" in refused.stderr
    assert out.read_text() == "keep me"
    replaced = heatnet("run", TINY, "-o", out, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert read_output(TINY, out).summary["state"] == "optimal"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gpkg"]


def test_input_is_never_the_output(tmp_path):
    source = tmp_path / "tiny.gpkg"
    shutil.copyfile(TINY, source)
    before = sha256(source)
    result = heatnet("run", source, "-o", source, "--overwrite")
    assert result.returncode == 2  # a usage error
    assert "refusing to write over the input" in result.stderr
    assert sha256(source) == before


def test_infeasible_exits_4_with_reasons_and_nothing_built(infeasible_run, infeasible):
    result = infeasible_run.result
    assert result.returncode == 4, result.stderr
    assert headline(result.stdout)["state"] == "infeasible (linear pipes)"
    summary = infeasible.summary
    assert summary["state"] == "infeasible"
    reasons = infeasible["infeasible_reasons"]
    assert reasons["reason_type"].tolist() == ["min_buildings"]
    assert "constraint/min-buildings" in reasons["message"].iloc[0]
    for name in LAYERS:
        assert not infeasible[name]["in_network"].any(), name
    assert infeasible["cashflow"].empty
    for key in ("objective", "network_npv", "lower_bound", "mip_gap", "network_linear_density"):
        assert pd.isna(summary[key]), key
    assert summary["network_building_count"] == 0
    assert summary["network_length"] == 0
    assert sha256(TINY) == infeasible_run.input_hash_before


def test_required_building_900_m_from_every_path_exits_4_naming_it(tmp_path):
    # tiny's street runs along y = 300000 from x = 400000 to 400200; B3 goes 900 m north of its
    # end, beyond the default heatnet/max-connector-length of 500 m, and becomes required
    source, out = tmp_path / "far.gpkg", tmp_path / "far-out.gpkg"
    shutil.copyfile(TINY, source)
    buildings = pyogrio.read_dataframe(source, layer="buildings")
    far = buildings["building_id"] == "B3"
    buildings.loc[far, "constraint"] = "required"
    buildings.loc[far, "geometry"] = shapely.Point(400180, 300900)
    pyogrio.write_dataframe(buildings, source, layer="buildings", driver="GPKG")
    result = heatnet("run", source, "-o", out)
    assert result.returncode == 4, result.stderr
    reasons = read_output(source, out)["infeasible_reasons"]
    unreachable = reasons[reasons["reason_type"] == "unreachable_required_building"]
    assert unreachable["message"].tolist() == [
        "required building B3 is unreachable: no path within heatnet/max-connector-length (500 m)"
    ]


def test_no_design_means_no_bounds(infeasible):
    summary = infeasible.summary
    assert pd.isna(summary["upper_bound"])


@pytest.mark.slow
def test_no_design_in_the_time_limit_exits_5(tmp_path):
    # 1,988 buildings, of which at least 1,900 must connect: the heuristic seed (the buildings
    # whose branches pay for themselves: ~1,520) does not satisfy that, and HiGHS has not even
    # finished the root LP after 1 s. (With min-buildings 1,500 the seed is a design at once.)
    source = looped_input(tmp_path, 2_000)
    out = tmp_path / "out.gpkg"
    result = heatnet(
        "run", source, "-o", out,
        "--set", f"optimiser/runtime-limit={ONE_SECOND_H}",
        "--set", "constraint/min-buildings=1900",
    )  # fmt: skip
    assert result.returncode == 5, result.stdout + result.stderr
    assert headline(result.stdout)["state"] == "no-solution (linear pipes)"
    written = read_output(source, out)
    summary = written.summary
    assert summary["state"] == "no-solution"
    for key in ("objective", "network_npv", "lower_bound", "mip_gap"):
        assert pd.isna(summary[key]), key
    for name in LAYERS:
        assert not written[name]["in_network"].any(), name
    assert written["cashflow"].empty
    assert written["infeasible_reasons"].empty


@pytest.mark.slow
def test_time_limit_keeps_the_best_design_found(tmp_path):
    # docs/decisions.md §4.3: 992 buildings in 1 s cannot be solved to the 5 % gap, but the
    # seed design HiGHS starts from is a design: it is written, exit 0, state feasible, with
    # its gap
    source = looped_input(tmp_path, 1_000)
    out = tmp_path / "out.gpkg"
    result = heatnet("run", source, "-o", out, "--set", f"optimiser/runtime-limit={ONE_SECOND_H}")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = read_output(source, out).summary
    assert summary["state"] == "feasible"
    assert summary["network_building_count"] > 0
    # a bound is proven (the relaxation's, or at worst every building's value summed) and far
    assert summary["mip_gap"] > 0.05
    assert summary["upper_bound"] > summary["objective"]
    # nothing is required, so the empty network (NPV 0) is a design: a run cut short must write
    # one at least as good (the old shortest-path seed wrote -1.4 M here)
    assert summary["network_npv"] >= 0
    assert summary["objective"] >= 0


# ---------------------------------------------------------------------------------------------
# 6. Interrupts


def interrupt_run(tmp_path, signums, after):
    """Run the district, send ``signums`` once a stderr line contains ``after``; (code, log)."""
    out = tmp_path / "district.gpkg"
    command = [*HEATNET, "run", str(SAMPLE), "-o", str(out)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    ) as process:
        lines, seen = pump_lines(process.stderr)
        try:
            deadline = time.monotonic() + 120
            optimising = False
            while True:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, "heatnet ended before the signal:\n" + "".join(seen)
                optimising = optimising or "stage optimise" in line
                if optimising and after in line:
                    break
            for signum in signums:  # back to back: a second one is not a late first one
                process.send_signal(signum)
            code = process.wait(timeout=90)
            while lines.get(timeout=10) is not None:
                pass
        finally:
            if process.poll() is None:
                process.kill()
    return out, code, "".join(seen)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_first_interrupt_writes_the_best_design_found(signum, tmp_path):
    # once a design is priced, an interrupt stops the search and writes that design: exit 0,
    # state feasible or optimal with its proven gap, and the warning says it was interrupted
    out, code, log = interrupt_run(tmp_path, [signum], "design priced at")
    assert code == 0, log
    assert "interrupted: stopping the search" in log
    assert "stage write" in log
    written = read_output(SAMPLE, out)
    assert written.summary["network_building_count"] > 0
    assert written.summary["state"] in ("optimal", "feasible")
    assert "run_interrupted" in set(written["warnings"]["code"])
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_interrupt_before_any_design_writes_nothing(tmp_path, monkeypatch):
    # SIGTERM lands while the model is built, before any design exists (the constructive
    # designs come right after): the search stops at once, nothing is priced or written, 130
    from click.testing import CliRunner

    import heatnet.optimise.loop
    from heatnet.cli.commands import cli

    real_build = heatnet.optimise.loop.build_model

    def build_then_interrupt(*args, **kwargs):
        model = real_build(*args, **kwargs)
        signal.raise_signal(signal.SIGTERM)  # the search's handler: a stop request
        return model

    monkeypatch.setattr(heatnet.optimise.loop, "build_model", build_then_interrupt)
    out = tmp_path / "district.gpkg"
    result = CliRunner().invoke(cli, ["run", str(TINY), "-o", str(out)])
    assert result.exit_code == 130, result.output
    assert f"interrupted; {out} not written" in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary left behind


# ---------------------------------------------------------------------------------------------
# 7. Golden figures of the district sample

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
