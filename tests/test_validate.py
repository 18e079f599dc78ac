"""One case per validator code, plus the rules around them (forbidden rows, ids, defaults)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from heatnet.core.errors import ValidationError
from heatnet.inputs.load import read_inputs
from heatnet.inputs.validate import check_inputs
from tests.conftest import base_frames, layer, write_gpkg

HEATNET = Path(__file__).resolve().parent.parent / "heatnet"


def run(path, **kwargs):
    inputs, issues = check_inputs(read_inputs(path, **{k: v for k, v in kwargs.items() if k == "tables"}),
                                  overrides=kwargs.get("overrides"))  # fmt: skip
    return inputs, issues


def valid(raw, **kwargs):
    """The inputs of ``raw``, which must have no error (the test fails showing them)."""
    inputs, issues = check_inputs(raw, **kwargs)
    assert inputs is not None, [i.message for i in issues if i.is_error]
    return inputs


def edit(name, column, row, value):
    """base_frames()[name] with one cell changed (row is a 0-based position)."""
    frame = base_frames()[name].copy()
    if column not in frame.columns:
        frame[column] = None
    frame[column] = frame[column].astype(object)
    frame.iloc[row, frame.columns.get_loc(column)] = value
    return {name: frame}


def only(issues, code):
    found = [i for i in issues if i.code == code]
    assert found, f"no {code} in {[i.code for i in issues]}"
    return found


def geometry(name, row, wkt):
    frame = base_frames()[name].copy()
    geoms = list(frame.geometry)
    geoms[row] = None if wkt is None else shapely.from_wkt(wkt)
    return {name: frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs))}


# code -> (changes to base_frames, expected table, column, fid or None, is_error)
CASES = {
    "missing_layer": ({"paths": None}, "paths", None, None, True),
    "empty_layer": ({"supplies": base_frames()["supplies"].iloc[0:0]}, "supplies", None, None, True),
    "missing_column": (
        {"buildings": base_frames()["buildings"].drop(columns="annual_demand_kwh")},
        "buildings", "annual_demand_kwh", None, True,
    ),
    "bad_type": (edit("buildings", "peak_demand_kw", 1, "lots"), "buildings", "peak_demand_kw", 2, True),
    "null_value": (edit("buildings", "annual_demand_kwh", 0, None), "buildings", "annual_demand_kwh", 1, True),
    "negative_value": (edit("tariffs", "annual_charge_per_kwh", 0, -0.1), "tariffs", "annual_charge_per_kwh", 1, True),
    "below_minimum": (edit("buildings", "connections", 1, 0), "buildings", "connections", 2, True),
    "above_maximum": (edit("civil_costs", "diameter_mm", 0, 1e8), "civil_costs", "diameter_mm", 1, True),
    "bad_enum": (edit("paths", "constraint", 1, "mandatory"), "paths", "constraint", 2, True),
    "duplicate_id": (edit("buildings", "building_id", 1, "B1"), "buildings", "building_id", 1, True),
    "unknown_tariff_id": (edit("buildings", "tariff_id", 0, 9), "buildings", "tariff_id", 1, True),
    "unknown_connection_cost_id": (edit("buildings", "connection_cost_id", 1, 7), "buildings", "connection_cost_id", 2, True),
    "unknown_civil_cost_id": (edit("paths", "civil_cost_id", 0, 5), "paths", "civil_cost_id", 1, True),
    "unknown_supply_cost_type": (edit("supplies", "supply_cost_type", 0, "chp"), "supplies", "supply_cost_type", 1, True),
    "no_default_civil_cost": (edit("civil_cost_names", "is_default", 0, False), "civil_cost_names", "is_default", None, True),
    "multiple_default_civil_costs": (edit("civil_cost_names", "is_default", 1, True), "civil_cost_names", "is_default", None, True),
    "no_civil_cost_diameters": (
        {"civil_costs": base_frames()["civil_costs"].query("civil_cost_id == 1")},
        "paths", "civil_cost_id", 2, True,
    ),
    "missing_table": ({"civil_costs": None}, "civil_costs", None, None, True),
    "bad_cost_value": (edit("supply_costs", "value", 0, "[[100, 900], [50"), "supply_costs", "value", 1, True),
    "missing_geometry": (geometry("buildings", 0, None), "buildings", "geometry", 1, True),
    "empty_geometry": (geometry("paths", 0, "LINESTRING EMPTY"), "paths", "geometry", 1, True),
    "bad_geometry_type": (geometry("paths", 1, "POINT (3 3)"), "paths", "geometry", 2, True),
    "invalid_geometry": (geometry("paths", 0, "LINESTRING (0 0, 0 0)"), "paths", "geometry", 1, True),
    "repaired_geometry": (
        geometry("buildings", 0, "POLYGON ((10 5, 20 15, 20 5, 10 15, 10 5))"),
        "buildings", "geometry", 1, False,
    ),
    "dropped_z": (geometry("supplies", 0, "POINT Z (0 -10 5)"), "supplies", "geometry", None, False),
    "missing_crs": (
        {"supplies": base_frames()["supplies"].set_crs(None, allow_override=True)},
        "supplies", None, None, True,
    ),
    "reprojected_layer": ({"supplies": base_frames()["supplies"].to_crs(3857)}, "supplies", None, None, False),
    "projected_to_utm": (
        {name: base_frames()[name].set_crs(None, allow_override=True).set_crs(4326) for name in ("buildings", "paths", "supplies")}
        | {
            "buildings": layer([{**base_frames()["buildings"].drop(columns="geometry").iloc[0].to_dict(), "geometry": "POINT (-1.5 52.5)"}], crs="EPSG:4326"),
            "paths": layer([{"path_id": "P1", "geometry": "LINESTRING (-1.5 52.4999, -1.499 52.4999)"}], crs="EPSG:4326"),
            "supplies": layer([{"supply_id": "S1", "geometry": "POINT (-1.5 52.4998)"}], crs="EPSG:4326"),
        },
        "buildings", None, None, False,
    ),
    "peak_raised": (edit("buildings", "peak_demand_kw", 0, 1.0), "buildings", "peak_demand_kw", 1, False),
    "required_forbidden": (
        {"buildings": base_frames()["buildings"].assign(demand_group="g1", constraint=["forbidden", "required"])},
        "buildings", "constraint", 2, True,
    ),
    "unknown_parameter": (
        {"parameters": pd.DataFrame({"parameter": ["finance/npv-rat"], "value": ["0.1"]})},
        "parameters", "parameter", 1, True,
    ),
    "duplicate_parameter": (
        {"parameters": pd.DataFrame({"parameter": ["finance/npv-rate", ":finance/npv-rate"], "value": ["0.1", "0.2"]})},
        "parameters", "parameter", 2, True,
    ),
    "bad_parameter_value": (
        {"parameters": pd.DataFrame({"parameter": ["optimiser/mip-gap"], "value": ["five percent"]})},
        "parameters", "value", 1, True,
    ),
    "conflicting_parameters": (
        {"parameters": pd.DataFrame({"parameter": ["constraint/min-kwh", "constraint/max-kwh"], "value": ["10", "5"]})},
        "parameters", None, None, True,
    ),
    "no_tariffs": ({"tariffs": None}, "tariffs", None, None, False),
    # the schema: a null tariff_id means no tariff revenue, with a warning
    "no_tariff_id": ({"buildings": base_frames()["buildings"].assign(tariff_id=None)}, "buildings", "tariff_id", None, False),
    # GeoPackage column names ignore case: Tariff_PV could not sit beside the output's tariff_pv
    "output_column_clash": (
        {"buildings": base_frames()["buildings"].assign(Tariff_PV=1.0)}, "buildings", "Tariff_PV", None, True,
    ),
}  # fmt: skip


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_code(code, make_input):
    changes, table, column, row, is_error = CASES[code]
    inputs, issues = run(make_input(**changes))
    found = only(issues, code)
    assert any(i.table == table and i.column == column and i.row == row for i in found), found
    assert all(i.is_error == is_error for i in found)
    assert (inputs is None) == any(i.is_error for i in issues)
    for issue in found:
        if issue.row is not None and table != "parameters":
            assert issue.feature_id is not None  # every row issue names the feature


def test_unreadable_input(tmp_path):
    text = tmp_path / "not.gpkg"
    text.write_text("building_id,geometry\n")
    with pytest.raises(ValidationError) as caught:
        read_inputs(text)
    assert [i.code for i in caught.value.issues] == ["unreadable_input"]
    with pytest.raises(ValidationError):
        read_inputs(tmp_path / "missing.gpkg")


def test_every_code_in_the_code_base_has_a_case():
    # the scenarios file's codes (scenarios.py, batch.py) are tested in test_batch_scenarios.py
    source = "\n".join(
        p.read_text() for p in HEATNET.glob("*.py") if p.name not in ("batch.py", "scenarios.py")
    )
    literal = set(re.findall(r'(?:error|warning|issue)\(\s*"([a-z_]+)"', source))
    literal |= set(re.findall(r'\(\s*"([a-z_]+)",\s*row', source))
    referenced = {
        f"unknown_{c}"
        for c in ("tariff_id", "connection_cost_id", "civil_cost_id", "supply_cost_type")
    }
    codes = (
        literal
        | referenced
        | {"negative_value", "below_minimum", "above_maximum", "bad_type", "null_value", "bad_enum"}
    )
    codes.discard("code")
    # baked_parameter comes from `heatnet solve --set` (tests/test_solve_cli.py); bad_csv needs
    # a CSV folder and dropped_m an M geometry, which GeoDataFrames cannot be written with: both
    # are in the corpus of tests/test_bad_input.py
    untestable_here = {"unreadable_input", "baked_parameter", "bad_csv", "dropped_m"}
    assert codes - set(CASES) - untestable_here == set()


def test_parameter_above_its_maximum(make_input):
    params = pd.DataFrame({"parameter": ["network/diversity-limit"], "value": ["1.5"]})
    _, issues = run(make_input(parameters=params))
    bad = only(issues, "bad_parameter_value")[0]
    assert bad.feature_id == "network/diversity-limit"
    assert "at most 1" in bad.message


# (table, column, 0-based row, value, the limit as the message gives it)
BEYOND_LIMITS = [
    ("civil_costs", "diameter_mm", 0, 1e8, "must be at most 3000 mm"),
    ("supplies", "peak_capacity_kw", 0, 1e15, "must be at most 1e+07 kW"),
    ("buildings", "annual_demand_kwh", 1, 1e20, "must be at most 8.76e+09 kWh/yr"),
    ("paths", "existing_diameter", 0, 5000.0, "must be at most 3000 mm"),
    ("buildings", "extra_pv", 0, -1e13, "must be at least -1e+12 ¤"),
]


@pytest.mark.parametrize(("table", "column", "row", "value", "limit"), BEYOND_LIMITS)
def test_values_beyond_their_physical_limit_are_errors_naming_it(
    make_input, table, column, row, value, limit
):
    inputs, issues = run(make_input(**edit(table, column, row, value)))
    assert inputs is None
    errors = [i for i in issues if i.is_error]
    assert [(i.table, i.row, i.column) for i in errors] == [(table, row + 1, column)]
    assert errors[0].feature_id is not None
    assert errors[0].message.endswith(limit)


def test_values_at_their_limit_are_accepted(make_input):
    buildings = base_frames()["buildings"].assign(annual_demand_kwh=8.76e9, peak_demand_kw=1e6)
    supplies = base_frames()["supplies"].assign(peak_capacity_kw=1e7, annual_capacity_kwh=1e11)
    inputs, issues = run(make_input(buildings=buildings, supplies=supplies))
    assert inputs is not None, [i.message for i in issues if i.is_error]
    assert "peak_raised" not in {i.code for i in issues}  # 8.76e9 kWh/yr is 1 GW all year


@pytest.mark.parametrize(
    ("cost", "value", "limit"),
    [
        ("capex_per_kw", "[[100, 900], [2e7, 700]]", "point 2 kW: 2e+07 must be at most 1e+07 kW"),
        ("capex_per_kw", "[[100, 2e9]]", "point 1 rate: 2e+09 must be at most 1e+09 ¤/kW"),
        ("capex_per_kw", "5e9", "5e+09 must be at most 1e+09 ¤/kW"),
        ("heat_per_kwh", "[0.04, 0.05, 1e6]", "year 2: 1e+06 must be at most 100000 ¤/kWh"),
        ("capex_fixed", "1e15", "1e+15 must be at most 1e+14 ¤"),
    ],
)
def test_supply_cost_values_beyond_their_limit_name_it(make_input, cost, value, limit):
    frame = base_frames()["supply_costs"].iloc[[0]].assign(cost=cost, value=value)
    inputs, issues = run(make_input(supply_costs=frame))
    assert inputs is None
    found = only(issues, "above_maximum")
    assert [(i.table, i.row, i.column) for i in found] == [("supply_costs", 1, "value")]
    assert found[0].message == f"value {value!r} for cost {cost}: {limit}"


def test_supply_cost_values_must_be_finite(make_input):
    frame = base_frames()["supply_costs"].iloc[[1]].assign(value="[0.04, NaN]")
    _, issues = run(make_input(supply_costs=frame))
    assert "not finite" in only(issues, "bad_cost_value")[0].message


def test_all_problems_reported_at_once(make_input):
    changes = {
        **edit("buildings", "peak_demand_kw", 0, -1.0),
        **edit("tariffs", "annual_charge_fixed", 0, "x"),
        "parameters": pd.DataFrame({"parameter": ["bogus"], "value": ["1"]}),
    }
    inputs, issues = check_inputs(read_inputs(make_input(**changes)))
    assert inputs is None
    codes = {i.code for i in issues}
    assert {"negative_value", "bad_type", "unknown_parameter"} <= codes


def test_forbidden_rows_are_not_validated_but_kept(make_input):
    buildings = base_frames()["buildings"].assign(constraint=["forbidden", "optional"])
    buildings["peak_demand_kw"] = buildings["peak_demand_kw"].astype(object)
    buildings.loc[0, "peak_demand_kw"] = "garbage"
    buildings.loc[0, "tariff_id"] = 99
    inputs = valid(read_inputs(make_input(buildings=buildings)))
    assert list(inputs.buildings["building_id"]) == ["B1", "B2"]
    assert list(inputs.buildings["constraint"]) == ["forbidden", "optional"]


def test_types_defaults_and_normalisation(make_input):
    buildings = base_frames()["buildings"].drop(columns=["connections", "tariff_id"])
    buildings["building_id"] = [None, "B-1"]  # the generated id for fid 1 must not clash
    inputs = valid(read_inputs(make_input(buildings=buildings, parameters=None)))
    b = inputs.buildings
    assert list(b["building_id"]) == ["B-1-2", "B-1"]
    assert list(b["connections"]) == [1, 1]
    assert b["tariff_id"].isna().all()
    assert list(b["constraint"]) == ["optional", "required"]  # ':required' accepted
    assert inputs.parameters.npv_rate == 0.03  # all defaults without a parameters table
    assert inputs.default_civil_cost_id == 1
    assert inputs.supply_costs["value"].iloc[0] == ((100.0, 900.0), (1000.0, 700.0))
    assert inputs.supply_costs["value"].iloc[1] == 0.04


def test_parameters_from_table_and_set(make_input):
    path = make_input()
    inputs = valid(
        read_inputs(path),
        overrides={"optimiser/objective": ":max-kwh", "heatnet/pipe-model": "discrete"},
    )
    p = inputs.parameters
    assert p.npv_rate == 0.035  # ':finance/npv-rate' in the table
    assert p.mip_gap == 0.05  # blank = default
    assert p.objective == "kwh"  # alias
    assert p.pipe_model == "discrete"
    assert inputs.parameter_values.source["heatnet/pipe-model"] == "--set"


def test_unknown_parameter_suggests_closest(make_input):
    _, issues = run(make_input(), overrides={"npv-rate": "0.1"})
    assert "finance/npv-rate" in only(issues, "unknown_parameter")[0].message


def test_missing_civil_tables_use_reference_pipe_table(make_input):
    paths = base_frames()["paths"].assign(civil_cost_id=[None, 2])
    inputs = valid(read_inputs(make_input(paths=paths, civil_costs=None, civil_cost_names=None)))
    costs = inputs.civil_costs.set_index(["civil_cost_id", "diameter_mm"])["cost_m"]
    assert costs[(1, 20.0)] == 81 + 206
    assert costs[(2, 1000.0)] == 5046 + 5965
    assert inputs.default_civil_cost_id == 2  # hard dig, as the reference


def test_names_derived_when_only_civil_costs_given(make_input):
    costs = base_frames()["civil_costs"].query("civil_cost_id == 1")
    paths = base_frames()["paths"].assign(civil_cost_id=None)
    inputs = valid(read_inputs(make_input(civil_costs=costs, civil_cost_names=None, paths=paths)))
    assert inputs.default_civil_cost_id == 1


def test_tables_from_csv_folder(make_input, tmp_path):
    folder = tmp_path / "costs"
    folder.mkdir()
    tariffs = base_frames()["tariffs"].assign(annual_charge_fixed=["", "-5"][:1])
    tariffs.to_csv(folder / "tariffs.csv", index=False)
    pd.DataFrame({"parameter": ["finance/npv-term"], "value": ["30"]}).to_csv(
        folder / "parameters.csv", index=False
    )
    inputs, issues = run(make_input(), tables=folder)
    assert inputs is not None
    assert inputs.parameters.npv_term_years == 30
    assert inputs.tariffs["annual_charge_fixed"].iloc[0] == 0.0  # blank CSV cell = default
    pd.DataFrame({"parameter": ["finance/npv-term"], "value": ["thirty"]}).to_csv(
        folder / "parameters.csv", index=False
    )
    _, issues = run(make_input(), tables=folder)
    bad = only(issues, "bad_parameter_value")[0]
    assert (bad.row_kind, bad.row) == ("line", 2)


def test_tables_from_other_geopackage(make_input, tmp_path):
    other = write_gpkg(
        tmp_path / "costs.gpkg",
        {"tariffs": base_frames()["tariffs"].assign(annual_charge_fixed=7.0)},
    )
    inputs, _ = run(make_input(), tables=other)
    assert inputs.tariffs["annual_charge_fixed"].iloc[0] == 7.0
    assert inputs.connection_costs["capex_fixed"].iloc[0] == 3000.0  # still from the input


def test_geographic_input_works_in_utm(make_input):
    changes = CASES["projected_to_utm"][0]
    inputs, _ = run(make_input(**changes))
    assert inputs.work_crs.to_epsg() == 32630
    assert inputs.input_crs.to_epsg() == 4326
    assert 60 < inputs.paths.length.iloc[0] < 75  # 0.001 degree of longitude at 52.5 N is ~68 m


def test_input_frames_are_not_mutated(make_input):
    raw = read_inputs(make_input())
    before = raw.layers["buildings"].copy()
    check_inputs(raw)
    pd.testing.assert_frame_equal(raw.layers["buildings"], before)


def test_parameters_table_round_trips(make_input):
    from heatnet.inputs.params import parameters_table, parse_parameters
    from heatnet.inputs.schema import load_schemas

    inputs = valid(read_inputs(make_input()), overrides={"constraint/max-buildings": "3"})
    table = parameters_table(inputs.parameter_values)
    assert len(table) == len(load_schemas().parameters)
    again, issues = parse_parameters(table, {}, load_schemas())
    assert issues == []
    assert again.parameters == inputs.parameters
    assert table.set_index("parameter").loc["constraint/max-buildings", "source"] == "--set"


def test_buildings_without_a_group_are_not_one_group(make_input):
    # no demand_group column at all: a required and a forbidden building do not conflict
    buildings = base_frames()["buildings"].assign(constraint=["forbidden", "required"])
    _, issues = run(make_input(buildings=buildings.drop(columns="demand_group")))
    assert not [i for i in issues if i.code == "required_forbidden"]


def test_a_missing_crs_is_reported_with_every_other_error(make_input):
    supplies = base_frames()["supplies"].set_crs(None, allow_override=True)
    _, issues = run(make_input(supplies=supplies, **edit("buildings", "peak_demand_kw", 0, "x")))
    assert {(i.code, i.table) for i in issues if i.is_error} == {
        ("missing_crs", "supplies"),
        ("bad_type", "buildings"),
    }


def test_a_parameters_table_without_a_value_column_is_refused(make_input):
    params = pd.DataFrame({"parameter": ["finance/npv-rate", "constraint/max-buildings"]})
    inputs, issues = run(make_input(parameters=params))
    assert inputs is None
    found = only(issues, "missing_column")
    assert [(i.table, i.column) for i in found] == [("parameters", "value")]


def test_max_connector_length_must_be_more_than_zero(make_input):
    params = pd.DataFrame({"parameter": ["heatnet/max-connector-length"], "value": ["0"]})
    inputs, issues = run(make_input(parameters=params))
    assert inputs is None
    bad = only(issues, "bad_parameter_value")[0]
    assert (bad.row, bad.column, bad.feature_id) == (1, "value", "heatnet/max-connector-length")
    assert "more than 0" in bad.message
    params["value"] = ["0.001"]  # the smallest sensible value is fine
    assert run(make_input(parameters=params))[0] is not None


def test_no_tariff_id_warning_says_how_many_buildings(make_input):
    _, issues = run(make_input(buildings=base_frames()["buildings"].assign(tariff_id=[None, 1])))
    assert only(issues, "no_tariff_id")[0].message.startswith("1 of 2 buildings have no tariff_id")
    forbidden = base_frames()["buildings"].assign(tariff_id=[None, 1], constraint="forbidden")
    forbidden.loc[1, "constraint"] = "optional"
    _, issues = run(make_input(buildings=forbidden))  # a forbidden building needs no tariff
    assert not [i for i in issues if i.code == "no_tariff_id"]
    _, issues = run(make_input(buildings=base_frames()["buildings"].assign(tariff_id=None)))
    assert "none of the 2 buildings has a tariff_id" in only(issues, "no_tariff_id")[0].message


def test_csv_rows_are_numbered_by_the_line_they_start_on(make_input, tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    header = ",".join(base_frames()["tariffs"].columns)
    (folder / "tariffs.csv").write_text(
        f'\ufeff{header}\r\n\r\n1,"two\r\nlines",1,0.1,0,0,0\r\n,,,,,,\n\n2,x,-1,0.1,0,0,0\n'
    )
    raw = read_inputs(make_input(), tables=folder)
    tariffs = raw.tables["tariffs"]
    assert list(tariffs.index) == [3, 7]  # blank lines, a line break in a field, a row of commas
    assert tariffs.loc[3, "name"] == "two\r\nlines"
    bad = only(check_inputs(raw)[1], "negative_value")[0]
    assert (bad.table, bad.row_kind, bad.row, bad.column) == (
        "tariffs",
        "line",
        7,
        "annual_charge_fixed",
    )


def test_references_into_a_partly_read_csv_table_are_not_checked(make_input, tmp_path):
    # the row naming tariff 1 cannot be read: "tariff_id 1 is not in tariffs" would be wrong
    folder = tmp_path / "tables"
    folder.mkdir()
    header = ",".join(base_frames()["tariffs"].columns)
    (folder / "tariffs.csv").write_text(f"{header}\n1,standard,100,0.1,0,0,0,surplus\n")
    _, issues = run(make_input(), tables=folder)
    assert [(i.code, i.table, i.row) for i in issues if i.is_error] == [("bad_csv", "tariffs", 2)]
