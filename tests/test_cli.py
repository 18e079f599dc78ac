"""The command line: exit codes, reports, init template, schema help, and the shipped wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from heatnet.cli.commands import cli
from heatnet.inputs.schema import load_schemas
from tests.conftest import ROOT, SAMPLE, TINY, base_frames, sha256


def test_validate_sample_exit_0(runner):
    before = sha256(SAMPLE)
    result = runner.invoke(cli, ["validate", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "valid (0 errors" in result.output
    assert "buildings          200" in result.output
    assert sha256(SAMPLE) == before


def test_validate_tiny_sample(runner):
    result = runner.invoke(cli, ["validate", str(TINY), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["valid"] is True
    assert report["errors"] == 0


def test_validate_broken_exit_3_with_grouped_report(runner, make_input):
    buildings = base_frames()["buildings"].assign(tariff_id=[1, 42])
    path = make_input(
        buildings=buildings, parameters=pd.DataFrame({"parameter": ["npv-rate"], "value": ["x"]})
    )
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3
    assert "INVALID" in result.output
    assert "buildings: 1 error" in result.output
    assert "fid 2 (B2)" in result.output
    assert "unknown_tariff_id" in result.output
    assert "did you mean 'finance/npv-rate'" in result.output
    assert "Traceback" not in result.output


def test_validate_json_lists_every_issue(runner, make_input):
    path = make_input(buildings=base_frames()["buildings"].assign(peak_demand_kw=[-1.0, -2.0]))
    result = runner.invoke(cli, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 3
    report = json.loads(result.output)
    rows = sorted(
        (i["table"], i["row"], i["column"], i["code"])
        for i in report["issues"]
        if i["severity"] == "error"
    )
    assert rows == [
        ("buildings", 1, "peak_demand_kw", "negative_value"),
        ("buildings", 2, "peak_demand_kw", "negative_value"),
    ]


def test_not_a_geopackage_exit_3(runner, tmp_path):
    path = tmp_path / "x.gpkg"
    path.write_bytes(b"hello")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3
    assert "unreadable_input" in result.output


def test_bad_set_is_usage_error(runner):
    result = runner.invoke(cli, ["validate", str(TINY), "--set", "finance/npv-rate"])
    assert result.exit_code == 2


def test_set_override_is_validated(runner):
    result = runner.invoke(cli, ["validate", str(TINY), "--set", "finance/npv-rate=2"])
    assert result.exit_code == 3
    assert "bad_parameter_value" in result.output


def test_init_template_has_every_layer_and_column_and_validates_once_filled(runner, tmp_path):
    out = tmp_path / "template.gpkg"
    result = runner.invoke(cli, ["init", str(out), "--crs", "EPSG:25832", "--buildings", "point"])
    assert result.exit_code == 0, result.output
    schemas = load_schemas()
    layers = dict(pyogrio.list_layers(out))
    assert layers["buildings"] == "Point"
    assert layers["paths"] == "LineString"
    for name, schema in schemas.inputs.items():
        fields = list(pyogrio.read_info(out, layer=name)["fields"])
        expected = [c.name for c in schema.attribute_columns]
        if name == "parameters":  # columns to read, ignored when reading
            expected += ["default", "unit", "description"]
        assert fields == expected, name
    params = pyogrio.read_dataframe(out, layer="parameters")
    assert len(params) == len(schemas.parameters)
    assert params["value"].isna().all()  # blank: every parameter at its default until set
    # an empty template is invalid (empty layers); with one feature each it validates
    assert runner.invoke(cli, ["validate", str(out)]).exit_code == 3
    frames = {
        "buildings": {
            "annual_demand_kwh": 1000.0,
            "peak_demand_kw": 1.0,
            "geometry": shapely.Point(0, 1),
        },
        "paths": {"geometry": shapely.LineString([(0, 0), (10, 0)])},
        "supplies": {"geometry": shapely.Point(10, 1)},
    }
    for name, row in frames.items():
        frame = gpd.GeoDataFrame([row], geometry="geometry", crs="EPSG:25832")
        pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG", append=True)
    result = runner.invoke(cli, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 set, the rest default" in result.output
    init = ["init", str(out), "--crs", "EPSG:25832"]
    refused = runner.invoke(cli, init)
    assert refused.exit_code == 2  # exists, no --overwrite: a usage error
    assert "use --overwrite" in refused.output
    assert runner.invoke(cli, [*init, "--overwrite"]).exit_code == 0


def test_schema_help_is_driven_by_the_schema_files(runner):
    result = runner.invoke(cli, ["schema", "parameters"])
    assert result.exit_code == 0
    for key, spec in load_schemas().parameters.items():
        assert key in result.output
        assert spec.description[:30] in result.output.replace("\n      ", " ")
        line = next(x for x in result.output.splitlines() if x.startswith(f"  {key}  ["))
        assert ("baked into a saved problem" in line) is bool(spec.baked), line
    listing = runner.invoke(cli, ["schema"])
    assert "cashflow" in listing.output
    assert "buildings" in listing.output
    assert runner.invoke(cli, ["schema", "paths", "--output"]).output.count("peripheral") >= 1
    assert runner.invoke(cli, ["schema", "nope"]).exit_code == 2


def test_internal_error_is_exit_1_without_traceback(runner, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr("heatnet.pipeline.check", boom)
    result = runner.invoke(cli, ["validate", str(TINY)])
    assert result.exit_code == 1
    assert "internal error" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["--debug", "validate", str(TINY)])
    assert isinstance(result.exception, RuntimeError)


@pytest.mark.slow
def test_wheel_ships_the_schemas(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("heatnet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.rsplit("/", 1)[-1] for n in names if n.startswith("heatnet/schemas/")}
    expected = {p.name for p in (ROOT / "schemas").glob("*.schema.json")}
    assert shipped == expected
    assert "heatnet/cli/commands.py" in names
    samples = {n.rsplit("/", 1)[-1] for n in names if n.startswith("heatnet/sample_data/")}
    assert samples == {
        "district.gpkg", "district-plants.gpkg", "tiny.gpkg", "README.md", "LICENSE-topotherm.txt"
    }  # fmt: skip


@pytest.mark.slow
def test_console_script_runs_on_sample():
    exe = ROOT / ".venv" / "bin" / "heatnet"
    if not exe.exists():
        pytest.skip("console script not installed in .venv")
    done = subprocess.run(
        [str(exe), "validate", str(SAMPLE), "--format", "json"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert json.loads(done.stdout)["summary"]["crs"] == "EPSG:25832"


def test_topology_command_writes_an_inspectable_network(runner, tmp_path):
    out = tmp_path / "net.gpkg"
    before = sha256(SAMPLE)
    result = runner.invoke(cli, ["topology", str(SAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "connectors     201" in result.output
    assert sha256(SAMPLE) == before
    paths = gpd.read_file(out, layer="paths")
    buildings = gpd.read_file(out, layer="buildings")
    assert paths.crs.to_epsg() == 25832
    for column in ("path_id", "connector", "unreachable", "peripheral", "civil_cost_id", "wdm_txt"):
        assert column in paths.columns
    assert paths["path_id"].is_unique
    assert paths["connector"].sum() == 201
    # every non-connector row maps back to an input path: its id is the input id or <id>-<n>
    inputs = set(gpd.read_file(SAMPLE, layer="paths")["path_id"])
    bases = paths.loc[~paths["connector"], "path_id"].str.replace(r"-\d+$", "", regex=True)
    assert set(bases) <= inputs
    assert {"unreachable", "building_id", "ts_0"} <= set(buildings.columns)
    refused = runner.invoke(cli, ["topology", str(SAMPLE), "-o", str(out)])
    assert refused.exit_code == 2  # exists, no --overwrite: a usage error
    assert "use --overwrite" in refused.output
    assert (
        runner.invoke(cli, ["topology", str(SAMPLE), "-o", str(out), "--overwrite"]).exit_code == 0
    )


def test_topology_refuses_broken_input_and_writes_nothing(runner, make_input, tmp_path):
    path = make_input(buildings=base_frames()["buildings"].assign(peak_demand_kw=-1.0))
    out = tmp_path / "never.gpkg"
    result = runner.invoke(cli, ["topology", str(path), "-o", str(out)])
    assert result.exit_code == 3
    assert "negative_value" in result.output
    assert not out.exists()
    assert (
        runner.invoke(cli, ["topology", str(path), "-o", str(path), "--overwrite"]).exit_code == 3
    )


def test_topology_never_writes_over_its_input(runner, tmp_path):
    import shutil

    copy = shutil.copy(TINY, tmp_path / "tiny.gpkg")
    before = sha256(copy)
    result = runner.invoke(cli, ["topology", str(copy), "-o", str(copy), "--overwrite"])
    assert result.exit_code == 2  # a usage error, as an output that exists is
    assert "refusing to write over the input" in result.output
    assert sha256(copy) == before


HEAVY = ("geopandas", "pandas", "pyogrio", "shapely", "pyomo", "highspy", "dask", "distributed")


@pytest.mark.timeout(120)
def test_the_command_line_imports_no_heavy_library_until_a_command_needs_it():
    # `heatnet --help` and `--version` stay quick: importing the command line loads none of the
    # libraries that take a second to import; each command imports what it needs
    code = (
        "import sys, heatnet.cli, heatnet.entry\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=100
    )
    assert done.stdout.strip() == "[]"
    help_run = subprocess.run(
        [sys.executable, "-m", "heatnet", "--help"], capture_output=True, text=True, timeout=100
    )
    assert help_run.returncode == 0
    assert "validate" in help_run.stdout


@pytest.mark.parametrize(
    ("state", "has_design", "code"),
    [
        ("optimal", True, 0),
        ("feasible", True, 0),  # a time-limited design is still written: exit 0
        ("infeasible", False, 4),
        ("no-solution", False, 5),
        ("error", False, 5),
        ("optimal", False, 5),  # never claimed without a design, but no design is never 0
    ],
)
def test_one_outcome_to_exit_code_mapping(state, has_design, code):
    from heatnet.core.exits import ExitCode, outcome_code

    assert outcome_code(state, has_design=has_design) == code
    assert ExitCode(code).status in {"design", "infeasible", "no-design"}
