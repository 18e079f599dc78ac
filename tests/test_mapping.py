"""Bring your own layers (``--map mapping.toml``): a user's data read as it is.

The oracle: tiny.gpkg's own layers, renamed and re-unit-ed into a user's layout (a buildings
layer ``bldg`` with ``gml_id`` and demand in MWh, the streets in a separate GeoJSON file, the
supply in a layer named ``plant`` with no ``constraint`` column) and read back through a
mapping, must give the very design tiny.gpkg gives: the same NPV, the same buildings connected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyogrio
import pytest

from heatnet.cli.commands import cli
from heatnet.inputs.load import TABLES
from heatnet.inputs.mapping import read_mapping
from tests.conftest import TINY, sha256

MAPPING = """
[buildings]
layer = "bldg"
columns = { building_id = "gml_id", annual_demand_kwh = "heat_mwh" }
factors = { annual_demand_kwh = 1000 }

[paths]
file = "streets.geojson"
columns = { path_id = "name" }

[supplies]
layer = "plant"
constants = { constraint = "optional" }
"""


@pytest.fixture(scope="module")
def own_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny.gpkg in a user's layout, and its mapping file; returns the mapping's path."""
    folder = tmp_path_factory.mktemp("own")
    data = folder / "city.gpkg"
    buildings = pyogrio.read_dataframe(TINY, layer="buildings")
    buildings = buildings.rename(columns={"building_id": "gml_id"})
    buildings["heat_mwh"] = buildings.pop("annual_demand_kwh") / 1000.0
    pyogrio.write_dataframe(buildings, data, layer="bldg", driver="GPKG")
    supplies = pyogrio.read_dataframe(TINY, layer="supplies").drop(columns="constraint")
    pyogrio.write_dataframe(supplies, data, layer="plant", driver="GPKG")
    for name in pyogrio.list_layers(TINY)[:, 0]:
        if name in TABLES:
            table = pyogrio.read_dataframe(TINY, layer=name)
            pyogrio.write_dataframe(table, data, layer=name, driver="GPKG")
    paths = pyogrio.read_dataframe(TINY, layer="paths").rename(columns={"path_id": "name"})
    pyogrio.write_dataframe(paths, folder / "streets.geojson", driver="GeoJSON")
    (folder / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    return folder / "mapping.toml"


def test_mapped_layers_validate_as_the_originals(runner, own_data):
    data = own_data.parent / "city.gpkg"
    before = {p.name: sha256(p) for p in own_data.parent.iterdir()}
    mine = runner.invoke(cli, ["validate", str(data), "--map", str(own_data), "--format", "json"])
    assert mine.exit_code == 0, mine.output
    original = runner.invoke(cli, ["validate", str(TINY), "--format", "json"])
    ours, theirs = json.loads(mine.stdout)["summary"], json.loads(original.stdout)["summary"]
    for name in ("buildings", "paths", "supplies", "tariffs", "civil_costs"):
        assert ours[name] == theirs[name], name
    assert {p.name: sha256(p) for p in own_data.parent.iterdir()} == before  # nothing changed


def test_a_mapped_run_designs_what_the_original_designs(runner, own_data, tmp_path):
    data = own_data.parent / "city.gpkg"
    ours, theirs = tmp_path / "ours.gpkg", tmp_path / "theirs.gpkg"
    mapped = runner.invoke(cli, ["run", str(data), "--map", str(own_data), "-o", str(ours), "-q"])
    assert mapped.exit_code == 0, mapped.output
    plain = runner.invoke(cli, ["run", str(TINY), "-o", str(theirs), "-q"])
    assert plain.exit_code == 0, plain.output
    a = pyogrio.read_dataframe(ours, layer="solution_summary").iloc[0]
    b = pyogrio.read_dataframe(theirs, layer="solution_summary").iloc[0]
    assert a["state"] == b["state"] == "optimal"
    assert a["network_npv"] == pytest.approx(b["network_npv"], rel=1e-9)
    assert a["network_kwh"] == pytest.approx(b["network_kwh"], rel=1e-12)  # MWh × 1000
    connected = pyogrio.read_dataframe(ours, layer="buildings")
    original = pyogrio.read_dataframe(theirs, layer="buildings")
    assert sorted(connected.loc[connected["in_network"] == 1, "building_id"]) == sorted(
        original.loc[original["in_network"] == 1, "building_id"]
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[bildings]\nlayer = 'b'\n", "did you mean 'buildings'"),
        ("[buildings]\ncolumns = { building_idd = 'x' }\n", "did you mean 'building_id'"),
        ("[buildings]\nlayr = 'b'\n", "did you mean 'layer'"),
        ("[buildings]\nfactors = { annual_demand_kwh = -2 }\n", "a number above 0"),
        ("[paths]\nfile = 'nowhere.gpkg'\n", "does not exist"),
        ("[buildings\n", "not valid TOML"),
        ("[buildings]\ncolumns = { building_id = 'x' }\nconstants = { building_id = 'y' }\n",
         "both a source column and a constant"),
    ],
)  # fmt: skip
def test_a_bad_mapping_exits_3_naming_what_is_wrong(runner, tmp_path, text, says):
    mapping = tmp_path / "m.toml"
    mapping.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(TINY), "--map", str(mapping)])
    assert result.exit_code == 3, result.output
    assert says in result.output
    assert "mapping" in result.output


def test_every_problem_of_a_mapping_is_reported_at_once(tmp_path):
    from heatnet.core.errors import ValidationError

    mapping = tmp_path / "m.toml"
    mapping.write_text("[bildings]\n[paths]\nlayr = 1\nfactors = { path_id = 'x' }\n")
    with pytest.raises(ValidationError) as caught:
        read_mapping(mapping)
    assert len([i for i in caught.value.issues if i.is_error]) == 3


def test_a_mapped_column_the_source_lacks_is_named_with_what_it_has(runner, own_data, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        MAPPING.replace('path_id = "name"', 'path_id = "street_name"').replace(
            'file = "streets.geojson"', f'file = "{own_data.parent / "streets.geojson"}"'
        ),
        encoding="utf-8",
    )
    data = own_data.parent / "city.gpkg"
    result = runner.invoke(cli, ["validate", str(data), "--map", str(mapping)])
    assert result.exit_code == 3
    assert "path_id = 'street_name'" in result.output
    assert "name" in result.output  # the columns the source has


def test_a_factor_on_text_is_an_error(runner, own_data, tmp_path):
    mapping = tmp_path / "m.toml"
    text = MAPPING.replace(
        "factors = { annual_demand_kwh = 1000 }",
        'factors = { annual_demand_kwh = 1000 }\nconstants = { demand_group = "g" }',
    ).replace("[paths]", "[tariffs]\nfactors = { name = 2 }\n\n[paths]")
    text = text.replace(
        'file = "streets.geojson"', f'file = "{own_data.parent / "streets.geojson"}"'
    )
    mapping.write_text(text, encoding="utf-8")
    data = own_data.parent / "city.gpkg"
    result = runner.invoke(cli, ["validate", str(data), "--map", str(mapping)])
    assert result.exit_code == 3, result.output
    assert "factors.name" in result.output


def test_an_output_may_not_be_a_file_the_mapping_reads(runner, own_data, tmp_path):
    plant = tmp_path / "plant.gpkg"
    frame = pyogrio.read_dataframe(own_data.parent / "city.gpkg", layer="plant")
    pyogrio.write_dataframe(frame, plant, layer="plant", driver="GPKG")
    mapping = tmp_path / "m.toml"
    text = MAPPING.replace('layer = "plant"', f'file = "{plant}"\nlayer = "plant"')
    text = text.replace(
        'file = "streets.geojson"', f'file = "{own_data.parent / "streets.geojson"}"'
    )
    mapping.write_text(text, encoding="utf-8")
    data = own_data.parent / "city.gpkg"
    ok = runner.invoke(cli, ["validate", str(data), "--map", str(mapping)])
    assert ok.exit_code == 0, ok.output
    before = sha256(plant)
    args = ["topology", str(data), "--map", str(mapping), "-o", str(plant), "--overwrite"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "refusing to write over the input" in result.output
    assert sha256(plant) == before
