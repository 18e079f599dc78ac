"""The dispatch input tables: typed into Inputs with their defaults, and every rule across them.

Inputs are tiny.gpkg's layers and tables plus a second supply and the dispatch tables, written
to a new GeoPackage in tmp_path (sample_data is never written).
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from heatnet.cli.commands import cli
from heatnet.inputs.dispatch_rules import DISPATCH_TABLES
from heatnet.inputs.load import TABLES, read_inputs
from heatnet.inputs.params import parameter_fields
from heatnet.inputs.schema import load_schemas
from heatnet.inputs.template import write_template
from heatnet.inputs.validate import check_inputs
from tests.conftest import TINY, write_gpkg

HOURLY = [0.12] * 6 + [0.19] * 4 + [0.15] * 7 + [0.21] * 4 + [0.14] * 3
SHAPE = [0.6] * 6 + [1.5] * 3 + [1.0] * 8 + [1.3] * 4 + [0.8] * 3


@cache
def _tiny() -> dict[str, pd.DataFrame]:
    return {str(n): pyogrio.read_dataframe(TINY, layer=n) for n, _ in pyogrio.list_layers(TINY)}


def _profiles(
    profile: str = "office", days: tuple[str, ...] = ("winter", "summer")
) -> pd.DataFrame:
    rows = [
        {"profile_id": profile, "day_type_id": day, "hour": hour, "value": value * (2 if day == "winter" else 1)}
        for day in days
        for hour, value in enumerate(SHAPE)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def dispatch_frames() -> dict[str, pd.DataFrame | None]:
    """tiny with a second supply S2, and a valid set of dispatch tables.

    S1 has a heat pump on electricity (sold everywhere, 24 hourly prices), a gas boiler (gas sold
    everywhere at one price) and a tank; S2 a biomass boiler, biomass being sold at S1 only (by
    day type) and carried to S2 by fuel distribution. B1 has its own profile.
    """
    frames: dict[str, pd.DataFrame | None] = {k: v.copy() for k, v in _tiny().items()}
    supplies = frames["supplies"]
    assert isinstance(supplies, gpd.GeoDataFrame)
    second = supplies.iloc[[0]].assign(supply_id="S2")
    second = second.set_geometry(gpd.GeoSeries([shapely.Point(400200, 299990)], crs=supplies.crs))
    frames["supplies"] = pd.concat([supplies, second], ignore_index=True)
    buildings = frames["buildings"]
    assert buildings is not None
    frames["buildings"] = buildings.assign(profile_id=["office", None, None])
    frames |= {
        "plant_units": pd.DataFrame(
            {
                "unit_id": ["heat-pump", "gas-boiler", "biomass-boiler"],
                "supply_id": ["S1", "S1", "S2"],
                "fuel_id": ["electricity", "gas", "biomass"],
                "efficiency": [3.2, None, 0.85],
                "heat_max_kw": [150.0, 250.0, 100.0],
                "fuel_max_kw": [None, 300.0, None],
                "min_load_fraction": [0.3, None, None],
                "min_up_h": [3.0, None, None],
                "startup_cost": [15.0, None, None],
            }
        ),
        "storages": pd.DataFrame(
            {
                "storage_id": ["tank"],
                "supply_id": ["S1"],
                "capacity_kwh": [600.0],
                "charge_max_kw": [100.0],
                "loss_per_h": [0.005],
            }
        ),
        "fuels": pd.DataFrame(
            {
                "fuel_id": ["electricity", "gas", "biomass"],
                "supply_id": [None, None, "S1"],
                "price_per_kwh": [
                    json.dumps(HOURLY),
                    "0.07",
                    json.dumps({"winter": [0.05] * 24, "summer": [0.04] * 24}),
                ],
                "import_max_kw": [None, 500.0, None],
                "emissions_kg_per_kwh": [0.3, 0.2, None],
            }
        ),
        "fuel_distribution": pd.DataFrame(
            {
                "fuel_id": ["biomass", "biomass"],
                "supply_id": ["S1", "S2"],
                "export_max_kw": [200.0, None],
                "import_max_kw": [None, 200.0],
            }
        ),
        "day_types": pd.DataFrame(
            {
                "day_type_id": ["winter", "summer"],
                "days_per_year": [182.5, 182.5],
                "outdoor_temperature_c": [2.0, None],
                "flow_temperature_c": [None, 70.0],
            }
        ),
        "demand_profiles": _profiles(),
    }
    return frames


Changes = dict[str, pd.DataFrame | None]


def edited(table: str, column: str, row: int, value: Any) -> Changes:
    """``table`` of dispatch_frames() with one cell changed (``row`` 0-based: fid row + 1)."""
    frame = dispatch_frames()[table]
    assert frame is not None
    frame = frame.copy()
    if column not in frame.columns:
        frame[column] = None
    frame[column] = frame[column].astype(object)
    frame.iloc[row, frame.columns.get_loc(column)] = value
    return {table: frame}


def changed(**tables: pd.DataFrame | None) -> Changes:
    return tables


def check(path: Path, **kwargs: Any) -> tuple[Any, tuple[Any, ...]]:
    return check_inputs(read_inputs(path, **kwargs))


@pytest.fixture
def make(tmp_path: Path) -> Callable[[Changes], Path]:
    """Write whole inputs (every layer and table) to new GeoPackages."""
    counter = iter(range(10_000))

    def write(frames: Changes) -> Path:
        return write_gpkg(tmp_path / f"input-{next(counter)}.gpkg", frames)

    return write


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dispatch_frames() as a GeoPackage, written once."""
    return write_gpkg(tmp_path_factory.mktemp("dispatch") / "base.gpkg", dispatch_frames())


@pytest.fixture
def make_changed(base: Path, tmp_path: Path) -> Callable[[Changes], Path]:
    """A copy of ``base`` with some tables replaced (``None``: without rows, which is absent)."""
    counter = iter(range(10_000))
    frames = dispatch_frames()

    def write(changes: Changes) -> Path:
        path = Path(shutil.copy(base, tmp_path / f"input-{next(counter)}.gpkg"))
        for name, frame in changes.items():
            if frame is None:
                whole = frames[name]
                assert whole is not None
                frame = whole.iloc[0:0]
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="'crs' was not provided")
                pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
        return path

    return write


# --- valid tables ---------------------------------------------------------------------------


def test_valid_tables_load_typed_with_their_defaults(make):
    inputs, issues = check(make(dispatch_frames()))
    assert inputs is not None, [i.message for i in issues if i.is_error]
    assert issues == ()
    units = inputs.plant_units
    assert list(units["unit_id"]) == ["heat-pump", "gas-boiler", "biomass-boiler"]
    assert list(units.index) == [1, 2, 3]  # GeoPackage fids
    assert str(units["unit_id"].dtype) == "string"
    assert list(units["efficiency"]) == [3.2, 1.0, 0.85]  # default 1.0 filled
    assert units["fuel_max_kw"].isna().tolist() == [True, False, True]  # nullable, default null
    for column, value in {"min_load_fraction": 0.3, "min_up_h": 3.0, "min_down_h": 0.0,
                          "startup_cost": 15.0, "cost_per_kwh": 0.0}.items():  # fmt: skip
        assert units[column].dtype == "float64", column
        assert units[column].iloc[0] == value, column
        assert units[column].iloc[1] == 0.0, column
    tank = inputs.storages.iloc[0]
    assert pd.isna(tank["discharge_max_kw"])  # null: charge_max_kw
    assert (tank["eta_charge"], tank["eta_discharge"], tank["loss_per_h"]) == (1.0, 1.0, 0.005)
    fuels = inputs.fuels
    assert fuels["price_per_kwh"].dtype == object
    electricity, gas, biomass = fuels["price_per_kwh"]
    assert electricity == HOURLY
    assert all(isinstance(v, float) for v in electricity)
    assert gas == 0.07
    assert isinstance(gas, float)
    assert biomass == {"winter": [0.05] * 24, "summer": [0.04] * 24}
    assert fuels["supply_id"].isna().tolist() == [True, True, False]
    assert fuels["import_max_kw"].isna().tolist() == [True, False, True]
    assert fuels["emissions_kg_per_kwh"].tolist() == [0.3, 0.2, 0.0]
    dist = inputs.fuel_distribution
    assert dist[["export_max_kw", "import_max_kw", "cost_per_kwh"]].to_numpy().tolist() == [
        [200.0, 0.0, 0.0],
        [0.0, 200.0, 0.0],
    ]
    days = inputs.day_types
    assert days["days_per_year"].sum() == 365.0
    assert days["ground_temperature_c"].isna().all()
    profiles = inputs.demand_profiles
    assert str(profiles["hour"].dtype) == "Int64"
    assert len(profiles) == 48
    assert profiles["value"].dtype == "float64"
    assert inputs.buildings["profile_id"].tolist()[0] == "office"
    assert inputs.buildings["profile_id"].isna().tolist() == [False, True, True]


def test_absent_or_empty_tables_are_none_without_a_word(make, tmp_path):
    inputs, issues = check(make(dict(_tiny())))
    assert inputs is not None
    assert issues == ()
    for name in DISPATCH_TABLES:
        assert getattr(inputs, name) is None, name
    assert inputs.buildings["profile_id"].isna().all()  # the new column, default null
    # heatnet init writes every dispatch table without rows: the same as absent
    template = write_template(tmp_path / "template.gpkg", crs="EPSG:27700")
    empty = {name: pyogrio.read_dataframe(template, layer=name) for name in DISPATCH_TABLES}
    assert all(len(frame) == 0 for frame in empty.values())
    inputs, issues = check(make(dict(_tiny()) | empty))
    assert inputs is not None
    assert issues == ()
    assert all(getattr(inputs, name) is None for name in DISPATCH_TABLES)


def test_tables_from_a_csv_folder_are_read_and_parsed(make, tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    frames = dispatch_frames()
    for name in DISPATCH_TABLES:
        frame = frames.pop(name)
        assert frame is not None
        frame.to_csv(folder / f"{name}.csv", index=False)
    inputs, issues = check(make(frames), tables=folder)
    assert inputs is not None, [i.message for i in issues if i.is_error]
    assert inputs.fuels["price_per_kwh"].iloc[0] == HOURLY
    assert list(inputs.plant_units.index) == [2, 3, 4]  # CSV lines
    assert inputs.plant_units["efficiency"].tolist() == [3.2, 1.0, 0.85]
    # a bad cell is named by its file line
    frames = dispatch_frames()
    bad = frames["fuels"].assign(price_per_kwh=["[0.1, 0.2]", "0.07", "0.05"])
    bad.to_csv(folder / "fuels.csv", index=False)
    _, issues = check(make(dict(_tiny())), tables=folder)
    found = [i for i in issues if i.code == "bad_fuel_price"]
    assert [(i.table, i.row, i.row_kind, i.column) for i in found] == [
        ("fuels", 2, "line", "price_per_kwh")
    ]


def test_dispatch_parameters_are_typed_attributes_with_defaults_and_overrides(make):
    schemas = load_schemas()
    keys = {
        "dispatch/horizon": ("dispatch_horizon", "typical-days"),
        "dispatch/mip-gap": ("dispatch_mip_gap", 0.01),
        "dispatch/runtime-limit": ("dispatch_runtime_limit_h", 0.05),
        "dispatch/iterations": ("dispatch_iterations", 3),
        "dispatch/status-boundary": ("dispatch_status_boundary", "cyclic"),
    }
    for key, (field, default) in keys.items():
        assert schemas.parameters[key].field_name == field
        assert schemas.parameters[key].default == default
        assert field in parameter_fields()
    path = make(dict(_tiny()))
    inputs, _ = check(path)
    assert inputs is not None
    p = inputs.parameters
    assert (p.dispatch_horizon, p.dispatch_mip_gap, p.dispatch_runtime_limit_h) == (
        "typical-days", 0.01, 0.05,
    )  # fmt: skip
    assert (p.dispatch_iterations, p.dispatch_status_boundary) == (3, "cyclic")
    overrides = {"dispatch/horizon": "Year", ":dispatch/iterations": "0",
                 "dispatch/status-boundary": "free", "dispatch/mip-gap": "0.001"}  # fmt: skip
    inputs, _ = check_inputs(read_inputs(path), overrides=overrides)
    assert inputs is not None
    p = inputs.parameters
    assert (p.dispatch_horizon, p.dispatch_iterations, p.dispatch_status_boundary) == (
        "year", 0, "free",
    )  # fmt: skip
    assert isinstance(p.dispatch_iterations, int)
    assert p.dispatch_mip_gap == 0.001
    bad = {"dispatch/status-boundary": "loose", "dispatch/runtime-limit": "0",
           "dispatch/iterations": "-1", "dispatch/horizon": "week"}  # fmt: skip
    inputs, issues = check_inputs(read_inputs(path), overrides=bad)
    assert inputs is None
    assert sorted(i.feature_id for i in issues if i.code == "bad_parameter_value") == sorted(bad)


# --- every rule -----------------------------------------------------------------------------

WINTER_ONLY = json.dumps({"winter": [0.05] * 24})
NO_SUMMER = _profiles().query("day_type_id == 'winter'")

# case -> (changed tables, code, table, fid or None, column, words in the message, is an error)
CASES: dict[str, tuple[Callable[[], Changes], str, str, int | None, str | None, str, bool]] = {
    "a fuel nobody can buy": (
        lambda: changed(fuel_distribution=None), "unbuyable_fuel", "plant_units", 3, "fuel_id",
        "a fuel nobody can buy at S2", True,
    ),
    "distributed from no site that sends it": (
        lambda: edited("fuel_distribution", "export_max_kw", 0, 0.0), "unbuyable_fuel", "plant_units", 3,
        "fuel_id", "no other site both buys it", True,
    ),
    "sold only with import_max_kw 0": (
        lambda: edited("fuels", "import_max_kw", 2, 0.0), "unbuyable_fuel", "plant_units", 3,
        "fuel_id", "a fuel nobody can buy at S2", True,
    ),
    "hourly prices of the wrong length": (
        lambda: edited("fuels", "price_per_kwh", 0, json.dumps(HOURLY[:23])), "bad_fuel_price", "fuels", 1,
        "price_per_kwh", "needs 24 values (hours 0 to 23), not 23", True,
    ),
    "prices missing a day type": (
        lambda: edited("fuels", "price_per_kwh", 2, WINTER_ONLY), "bad_fuel_price", "fuels", 3,
        "price_per_kwh", "no prices for day type(s) 'summer'", True,
    ),
    "prices for an unknown day type": (
        lambda: edited("fuels", "price_per_kwh", 2, json.dumps({"winter": [1] * 24, "summer": [1] * 24, "spring": [1] * 24})),
        "bad_fuel_price", "fuels", 3, "price_per_kwh", "'spring' are not in day_types", True,
    ),
    "prices by day type without day types": (
        lambda: changed(day_types=None, demand_profiles=None, buildings=_tiny()["buildings"]),
        "bad_fuel_price", "fuels", 3, "price_per_kwh", "need a day_types table", True,
    ),
    "an hourly price above its limit": (
        lambda: edited("fuels", "price_per_kwh", 0, json.dumps([*HOURLY[:5], 2e5, *HOURLY[6:]])),
        "above_maximum", "fuels", 1, "price_per_kwh", "hour 5: 200000 must be at most 100000 ¤/kWh", True,
    ),
    "a negative price": (
        lambda: edited("fuels", "price_per_kwh", 1, -0.01), "negative_value", "fuels", 2,
        "price_per_kwh", "must be at least 0", True,
    ),
    "a price that is not JSON": (
        lambda: edited("fuels", "price_per_kwh", 1, "cheap"), "bad_fuel_price", "fuels", 2,
        "price_per_kwh", "neither a number nor valid JSON", True,
    ),
    "a price that is a JSON string": (
        lambda: edited("fuels", "price_per_kwh", 1, '"0.07"'), "bad_fuel_price", "fuels", 2,
        "price_per_kwh", "must be a number, a JSON list of 24 hourly prices", True,
    ),
    "no price": (
        lambda: edited("fuels", "price_per_kwh", 1, None), "null_value", "fuels", 2,
        "price_per_kwh", "a value is required", True,
    ),
    "a fuel sold everywhere and at a site": (
        lambda: changed(fuels=pd.concat([dispatch_frames()["fuels"], pd.DataFrame({"fuel_id": ["gas"], "supply_id": ["S2"], "price_per_kwh": ["0.06"]})], ignore_index=True)),
        "duplicate_id", "fuels", 4, "supply_id", "sold at 'S2' by this row and at every site by fid 2", True,
    ),
    "a fuel sold twice at one site": (
        lambda: changed(fuels=pd.concat([dispatch_frames()["fuels"], pd.DataFrame({"fuel_id": ["biomass"], "supply_id": ["S1"], "price_per_kwh": ["0.06"]})], ignore_index=True)),
        "duplicate_id", "fuels", 4, "fuel_id", "is used by more than one row", True,
    ),
    "a fuel twice without a site": (
        lambda: changed(fuels=pd.concat([dispatch_frames()["fuels"], pd.DataFrame({"fuel_id": ["gas"], "supply_id": [None], "price_per_kwh": ["0.06"]})], ignore_index=True)),
        "duplicate_id", "fuels", 4, "supply_id", "by more than one row", True,
    ),
    "dispatch tables without plant_units": (
        lambda: changed(plant_units=None), "dispatch_tables_ignored", "plant_units", None, None,
        "storages, fuels, fuel_distribution, day_types, demand_profiles are given but plant_units is not", False,
    ),
    "a unit on a forbidden supply": (
        lambda: edited("supplies", "constraint", 1, "forbidden"), "forbidden_supply", "plant_units", 3,
        "supply_id", "'S2' is forbidden", False,
    ),
    "a store on a forbidden supply": (
        lambda: edited("supplies", "constraint", 0, "forbidden"), "forbidden_supply", "storages", 1,
        "supply_id", "'S1' is forbidden", False,
    ),
    "a store at a site without units": (
        lambda: edited("storages", "supply_id", 0, "S2") | {"plant_units": dispatch_frames()["plant_units"].iloc[:2]},
        "storage_without_units", "storages", 1, "supply_id", "has no plant units", False,
    ),
    "a store on an unknown supply": (
        lambda: edited("storages", "supply_id", 0, "S9"), "unknown_supply_id", "storages", 1, "supply_id",
        "'S9' is not in supplies.supply_id", True,
    ),
    "a unit on an unknown supply": (
        lambda: edited("plant_units", "supply_id", 1, "S9"), "unknown_supply_id", "plant_units", 2,
        "supply_id", "'S9' is not in supplies.supply_id", True,
    ),
    "a unit on an unknown fuel": (
        lambda: edited("plant_units", "fuel_id", 1, "coal"), "unknown_fuel_id", "plant_units", 2,
        "fuel_id", "'coal' is not in fuels.fuel_id", True,
    ),
    "units without fuels": (
        lambda: changed(fuels=None), "unknown_fuel_id", "plant_units", 1, "fuel_id", "no fuels table", True,
    ),
    "distribution of an unknown fuel": (
        lambda: edited("fuel_distribution", "fuel_id", 1, "coal"), "unknown_fuel_id", "fuel_distribution", 2,
        "fuel_id", "'coal' is not in fuels.fuel_id", True,
    ),
    "fuels at an unknown supply": (
        lambda: edited("fuels", "supply_id", 2, "S9"), "unknown_supply_id", "fuels", 3, "supply_id",
        "'S9' is not in supplies.supply_id", True,
    ),
    "a duplicate unit id": (
        lambda: edited("plant_units", "unit_id", 1, "heat-pump"), "duplicate_id", "plant_units", 2,
        "unit_id", "used by more than one row", True,
    ),
    "a unit missing its heat_max_kw column": (
        lambda: changed(plant_units=dispatch_frames()["plant_units"].drop(columns="heat_max_kw")),
        "missing_column", "plant_units", None, "heat_max_kw", "'heat_max_kw' is missing", True,
    ),
    "a unit of efficiency 0": (
        lambda: edited("plant_units", "efficiency", 0, 0.0), "below_minimum", "plant_units", 1,
        "efficiency", "must be more than 0", True,
    ),
    "a unit of efficiency 11": (
        lambda: edited("plant_units", "efficiency", 0, 11.0), "above_maximum", "plant_units", 1,
        "efficiency", "must be at most 10", True,
    ),
    "a store losing everything": (
        lambda: edited("storages", "loss_per_h", 0, 1.0), "above_maximum", "storages", 1,
        "loss_per_h", "must be less than 1", True,
    ),
    "a minimum load beyond the fuel limit": (
        lambda: edited("plant_units", "fuel_max_kw", 0, 10.0), "min_load_unreachable", "plant_units", 1,
        "min_load_fraction", "the minimum load 45 kW", True,
    ),
    "more than a year of days": (
        lambda: edited("day_types", "days_per_year", 0, 200.0), "too_many_days", "day_types", None,
        "days_per_year", "382.5 days together, more than a year", True,
    ),
    "less than a year of days": (
        lambda: edited("day_types", "days_per_year", 0, 100.0), "not_a_year", "day_types", None,
        "days_per_year", "282.5 days together, not a year", False,
    ),
    "a day of 400 days": (
        lambda: edited("day_types", "days_per_year", 0, 400.0), "above_maximum", "day_types", 1,
        "days_per_year", "must be at most 366", True,
    ),
    "a profile missing hours": (
        lambda: changed(demand_profiles=_profiles().drop(index=[27, 28, 29, 40])), "incomplete_profile",
        "demand_profiles", 25, "hour", "no value for hour(s) 3-5, 16 of day type 'summer'", True,
    ),
    "a profile with an hour twice": (
        lambda: edited("demand_profiles", "hour", 5, 4), "duplicate_id", "demand_profiles", 5, "profile_id",
        "used by more than one row", True,
    ),
    "a profile of hour 24": (
        lambda: edited("demand_profiles", "hour", 0, 24), "above_maximum", "demand_profiles", 1, "hour",
        "must be at most 23", True,
    ),
    "a profile missing a day type": (
        lambda: changed(demand_profiles=NO_SUMMER), "incomplete_profile", "demand_profiles", 1,
        "day_type_id", "no values for day type(s) 'summer'", True,
    ),
    "a profile of zeros": (
        lambda: changed(demand_profiles=_profiles().assign(value=0.0)), "zero_profile", "demand_profiles", 1,
        "value", "is 0 in every hour", True,
    ),
    "a profile for an unknown day type": (
        lambda: edited("demand_profiles", "day_type_id", 0, "spring"), "unknown_day_type_id", "demand_profiles", 1,
        "day_type_id", "'spring' is not in day_types.day_type_id", True,
    ),
    "profiles without day types": (
        lambda: changed(day_types=None), "missing_table", "day_types", None, None,
        "demand_profiles is given but day_types is missing", True,
    ),
    "a building with an unknown profile": (
        lambda: edited("buildings", "profile_id", 1, "school"), "unknown_profile_id", "buildings", 2,
        "profile_id", "'school' is not in demand_profiles.profile_id", True,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_rule_names_table_row_and_column(case, make_changed):
    build, code, table, row, column, words, is_error = CASES[case]
    inputs, issues = check(make_changed(build()))
    found = [i for i in issues if i.code == code]
    assert found, [(i.code, i.message) for i in issues]
    match = [i for i in found if (i.table, i.row, i.column) == (table, row, column)]
    assert match, [(i.table, i.row, i.column, i.message) for i in found]
    assert any(words in i.message for i in match), [i.message for i in match]
    assert all(i.is_error == is_error for i in found)
    assert (inputs is None) == any(i.is_error for i in issues)
    for issue in match:
        if issue.row is not None:
            assert issue.feature_id is not None  # every row issue names the row's own id


def test_profiles_without_day_types_are_one_error_not_one_per_row(make):
    frames = dispatch_frames() | edited("fuels", "price_per_kwh", 2, "0.05") | {"day_types": None}
    _, issues = check(make(frames))
    assert [i.code for i in issues if i.is_error] == ["missing_table"]


def test_every_problem_is_reported_at_once(make):
    frames = dispatch_frames() | edited("fuels", "price_per_kwh", 0, "[1, 2]")
    frames["fuel_distribution"] = None
    frames["demand_profiles"] = _profiles().assign(value=0.0)
    day_types = frames["day_types"]
    assert day_types is not None
    frames["day_types"] = day_types.assign(days_per_year=[300.0, 300.0])
    _, issues = check(make(frames))
    codes = {i.code for i in issues if i.is_error}
    assert {"bad_fuel_price", "unbuyable_fuel", "zero_profile", "too_many_days"} <= codes


def test_validate_exits_3_and_names_table_row_and_column(make, runner):
    path = make(dispatch_frames() | {"fuel_distribution": None})
    result = runner.invoke(cli, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 3, result.output
    found = [i for i in json.loads(result.output)["issues"] if i["code"] == "unbuyable_fuel"]
    assert [(i["table"], i["row"], i["column"], i["feature_id"]) for i in found] == [
        ("plant_units", 3, "fuel_id", "biomass-boiler")
    ]
    text = runner.invoke(cli, ["validate", str(path)]).output
    assert "plant_units: 1 error" in text
    assert "[fuel_id] fuel_id 'biomass' is a fuel nobody can buy at S2" in text


def test_schema_help_and_table_lists_know_the_dispatch_tables(runner):
    assert set(DISPATCH_TABLES) <= set(TABLES)
    assert set(DISPATCH_TABLES) <= set(load_schemas().inputs)
    result = runner.invoke(cli, ["schema", "plant_units"])
    assert result.exit_code == 0
    for column in ("unit_id", "supply_id", "fuel_id", "efficiency", "heat_max_kw", "fuel_max_kw",
                   "min_load_fraction", "min_up_h", "min_down_h", "startup_cost", "cost_per_kwh"):  # fmt: skip
        assert f"\n  {column}" in result.output, column
    assert "→ fuels.fuel_id" in result.output
    fuels = runner.invoke(cli, ["schema", "fuels"]).output
    assert "price_per_kwh (required)  [string/number, ¤/kWh]" in fuels
    assert "→ demand_profiles.profile_id" in runner.invoke(cli, ["schema", "buildings"]).output
    listing = runner.invoke(cli, ["schema"]).output
    assert all(f"  {name} " in listing for name in DISPATCH_TABLES)
