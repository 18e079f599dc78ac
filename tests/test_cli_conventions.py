"""Command-line conventions of GIS tools (rio, fio, ogr2ogr), issue 17.

- -v/-q/--debug/--log before or after the command's name, on every command;
- usage errors exit 2 (click's code): a bad option, a missing one, an existing output without
  --overwrite, an output into a folder that does not exist (unless --mkdir);
- --time-limit takes 90s, 10m, 1h, 1h30m (the parameter stays in hours);
- run --json prints one JSON object; validate --format json gives numbers;
- the template's parameters are blank (the default) until a user writes one;
- init needs --crs, a code or a file to take it from.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.batch.scenarios import Scenario
from heatnet.cli.batch import with_overrides
from heatnet.cli.commands import cli
from heatnet.cli.common import parse_duration
from heatnet.inputs.params import parse_parameters
from heatnet.inputs.schema import load_schemas
from tests.conftest import SAMPLE, TINY, sha256

# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("1h30m", 5400.0), ("1.5h", 5400.0),
        ("45", 45.0), (" 2m 30s ", 150.0), ("0.5s", 0.5), ("1H", 3600.0),
    ],
)  # fmt: skip
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "10x", "0s", "-5s", "h", "1h-2m", "10 minutes"])
def test_a_bad_or_empty_duration_is_refused(text):
    with pytest.raises(ValueError, match=r"duration|more than zero"):
        parse_duration(text)


@settings(max_examples=50, deadline=None)
@given(h=st.integers(0, 99), m=st.integers(0, 59), s=st.integers(0, 59))
def test_hours_minutes_and_seconds_add_up(h, m, s):
    if h == m == s == 0:
        return
    text = "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v)
    assert parse_duration(text) == pytest.approx(3600 * h + 60 * m + s)


# --- where options go --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--log", "{log}", "topology", str(TINY), "-o", "{out}"],
        ["topology", str(TINY), "-o", "{out}", "--log", "{log}"],
    ],
)
def test_log_goes_before_or_after_the_command(runner, tmp_path, args):
    log, out = tmp_path / "t.log", tmp_path / "t.gpkg"
    filled = [a.format(log=log, out=out) for a in args]
    result = runner.invoke(cli, filled)
    assert result.exit_code == 0, result.output
    text = log.read_text(encoding="utf-8")
    assert "DEBUG heatnet.inputs.load: read civil_costs" in text  # everything, at DEBUG


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_and_quiet_work_either_side_of_the_command(runner, where):
    def call(flag: str) -> int:
        args = ["validate", str(TINY)]
        args = [flag, *args] if where == "before" else [*args, flag]
        assert runner.invoke(cli, args).exit_code == 0
        return logging.getLogger("heatnet").handlers[0].level

    assert call("-v") == logging.INFO
    assert call("-q") == logging.ERROR


def test_two_different_log_files_are_a_usage_error(runner, tmp_path):
    args = ["--log", str(tmp_path / "a.log"), "validate", str(TINY), "--log", str(tmp_path / "b")]
    assert runner.invoke(cli, args).exit_code == 2


# --- usage errors exit 2 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", str(TINY)],  # no -o
        ["run", str(TINY), "-o", "{tmp}/x.gpkg", "--bogus"],
        ["run", str(TINY), "-o", "{tmp}/x.gpkg", "--time-limit", "10x"],
        ["run", str(TINY), "-o", "{tmp}/x.gpkg", "--time-limit", "1m",
         "--set", "optimiser/runtime-limit=0.5"],
        ["init", "{tmp}/t.gpkg"],  # no --crs
        ["init", "{tmp}/t.gpkg", "--crs", "EPSG:99999999"],
        ["report", str(TINY), "-o", "{tmp}/r.txt"],
        ["batch", "{tmp}/s.csv", "-o", "{tmp}/b", "--set", "finance/npv-rate=0.05",
         "--sweep", "finance/npv-rate=0.02:0.04:0.01"],
    ],
)  # fmt: skip
def test_usage_errors_exit_2_and_write_nothing(runner, tmp_path, args):
    (tmp_path / "s.csv").write_text(f"scenario,input\nt,{TINY}\n", encoding="utf-8")
    before = set(tmp_path.iterdir())
    result = runner.invoke(cli, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert set(tmp_path.iterdir()) == before


def test_an_existing_output_without_overwrite_is_a_usage_error(runner, tmp_path):
    out = tmp_path / "t.gpkg"
    out.write_bytes(b"mine")
    result = runner.invoke(cli, ["topology", str(TINY), "-o", str(out)])
    assert result.exit_code == 2
    assert "--overwrite" in result.output
    assert out.read_bytes() == b"mine"


def test_an_output_in_a_missing_folder_needs_mkdir(runner, tmp_path):
    out = tmp_path / "new" / "deeper" / "t.gpkg"
    refused = runner.invoke(cli, ["topology", str(TINY), "-o", str(out)])
    assert refused.exit_code == 2
    assert "does not exist (--mkdir creates it)" in refused.output
    assert not (tmp_path / "new").exists()
    made = runner.invoke(cli, ["topology", str(TINY), "-o", str(out), "--mkdir"])
    assert made.exit_code == 0, made.output
    assert out.is_file()


# --- time limits -------------------------------------------------------------------------------


def test_time_limit_is_written_in_hours(runner, tmp_path):
    out = tmp_path / "t.gpkg"
    result = runner.invoke(cli, ["run", str(TINY), "-o", str(out), "--time-limit", "90s", "-q"])
    assert result.exit_code == 0, result.output
    table = pyogrio.read_dataframe(out, layer="parameters").set_index("parameter")
    assert float(table.loc["optimiser/runtime-limit", "value"]) == pytest.approx(90 / 3600)
    assert table.loc["optimiser/runtime-limit", "source"] == "--set"


def test_batch_set_and_time_limit_reach_every_scenario_over_its_columns(
    runner, tmp_path, monkeypatch
):
    csv = tmp_path / "s.csv"
    csv.write_text(f"scenario,input,finance/npv-rate\na,{TINY},0.02\nb,{TINY},\n", encoding="utf-8")
    seen = []

    def fake_run_batch(scenarios, folder, **_kw):
        seen.extend(scenarios)
        return SimpleNamespace(results=[], skipped=[], runtime_s=0.0, exit_code=0)

    monkeypatch.setattr("heatnet.batch.runner.run_batch", fake_run_batch)
    args = ["batch", str(csv), "-o", str(tmp_path / "out"), "--set", ":Finance/NPV-Rate=0.07",
            "--time-limit", "10m"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert [s.name for s in seen] == ["a", "b"]
    for scenario in seen:
        rates = {k: v for k, v in scenario.overrides.items() if "npv-rate" in k.lower()}
        assert rates == {":Finance/NPV-Rate": "0.07"}  # --set wins over the column
        assert float(scenario.overrides["optimiser/runtime-limit"]) == pytest.approx(1 / 6)


def test_set_replaces_a_scenarios_own_value_for_the_same_key():
    scenario = Scenario("x", TINY, None, {"finance/npv-rate": "0.02", "finance/npv-term": "30"})
    out = with_overrides(scenario, {"FINANCE/NPV-RATE": "0.05"})
    assert dict(out.overrides) == {"finance/npv-term": "30", "FINANCE/NPV-RATE": "0.05"}
    assert dict(scenario.overrides)["finance/npv-rate"] == "0.02"  # the scenario is not changed


# --- machine-readable output -------------------------------------------------------------------


def test_run_json_is_one_object_with_the_summary_of_the_written_design(runner, tmp_path):
    out = tmp_path / "t.gpkg"
    result = runner.invoke(cli, ["run", str(TINY), "-o", str(out), "--json", "-q"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["exit_code"] == 0
    assert payload["output"] == str(out)
    assert payload["dispatch"] is None
    written = pyogrio.read_dataframe(out, layer="solution_summary").iloc[0]
    assert payload["state"] == written["state"] == payload["summary"]["state"]
    assert payload["summary"]["network_npv"] == pytest.approx(written["network_npv"], rel=1e-12)
    assert isinstance(payload["summary"]["network_building_count"], int)


def test_run_json_reports_invalid_input_as_one_object_with_its_issues(runner, tmp_path):
    out = tmp_path / "t.gpkg"
    args = ["run", str(TINY), "-o", str(out), "--json", "--set", "finance/npv-rate=1"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 3
    payload = json.loads(result.stdout)  # stdout holds the object and nothing else
    assert (payload["state"], payload["exit_code"], payload["output"]) == ("invalid-input", 3, None)
    [issue] = payload["issues"]
    assert (issue["table"], issue["feature_id"], issue["code"]) == (
        "parameters", "finance/npv-rate", "bad_parameter_value",
    )  # fmt: skip
    assert not out.exists()


def test_run_json_reports_a_usage_error_found_while_running(runner, tmp_path):
    copy = tmp_path / "tiny.gpkg"
    copy.write_bytes(TINY.read_bytes())
    result = runner.invoke(cli, ["run", str(copy), "-o", str(copy), "--overwrite", "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert (payload["state"], payload["exit_code"]) == ("usage-error", 2)
    assert "over the input" in payload["error"]


def test_run_json_reports_a_bug_and_a_bad_log_as_objects(runner, tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("heatnet.pipeline.run", broken)
    result = runner.invoke(cli, ["run", str(TINY), "-o", str(tmp_path / "t.gpkg"), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert (payload["state"], payload["exit_code"]) == ("error", 1)
    assert "boom" in payload["error"]
    args = ["run", str(TINY), "-o", str(tmp_path / "u.gpkg"), "--json", "--log", str(TINY)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert json.loads(result.stdout)["state"] == "usage-error"


def test_run_json_reports_a_usage_error_of_the_command_line(runner, tmp_path):
    out = tmp_path / "missing" / "t.gpkg"
    result = runner.invoke(cli, ["run", str(TINY), "-o", str(out), "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert (payload["state"], payload["exit_code"]) == ("usage-error", 2)
    assert "--mkdir" in payload["error"]
    plain = runner.invoke(cli, ["run", str(TINY), "-o", str(out)])
    assert plain.exit_code == 2
    assert plain.stdout == ""  # without --json nothing on stdout, as before


def test_validate_json_gives_numbers(runner):
    result = runner.invoke(cli, ["validate", str(TINY), "--format", "json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)["summary"]
    buildings = pyogrio.read_dataframe(TINY, layer="buildings")
    assert summary["buildings"] == {"rows": len(buildings), "required": 0, "forbidden": 0}
    assert summary["civil_costs"] == {"rows": 4}
    table = pyogrio.read_dataframe(TINY, layer="parameters")
    given = sorted(table.loc[table["value"].notna(), "parameter"].str.lstrip(":").str.lower())
    assert summary["parameters"]["set"] == given
    total = len(load_schemas().parameters)
    assert summary["parameters"]["default"] == total - len(given)


# --- the template ------------------------------------------------------------------------------


def test_the_template_sets_no_parameter_until_a_user_writes_one(runner, tmp_path):
    out = tmp_path / "t.gpkg"
    assert runner.invoke(cli, ["init", str(out), "--crs", "EPSG:25832"]).exit_code == 0
    table = pyogrio.read_dataframe(out, layer="parameters")
    schemas = load_schemas()
    assert list(table["parameter"]) == list(schemas.parameters)
    assert table["value"].isna().all()
    assert table.set_index("parameter").loc["finance/npv-rate", "default"] == "0.03"
    values, issues = parse_parameters(table, {}, schemas)
    assert issues == []
    assert set(values.source.values()) == {"default"}
    table.loc[table["parameter"] == "finance/npv-rate", "value"] = "0.05"
    values, _ = parse_parameters(table, {}, schemas)
    assert [k for k, v in values.source.items() if v != "default"] == ["finance/npv-rate"]


def test_init_takes_the_crs_of_a_given_file(runner, tmp_path):
    out = tmp_path / "t.gpkg"
    before = sha256(SAMPLE)
    result = runner.invoke(cli, ["init", str(out), "--crs", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    wanted = pyogrio.read_info(SAMPLE, layer="buildings")["crs"]
    assert pyogrio.read_info(out, layer="buildings")["crs"] == wanted
    assert sha256(SAMPLE) == before


def test_the_template_parameters_frame_leaves_values_blank_and_describes_each():
    from heatnet.inputs.template import parameters_frame

    frame = parameters_frame(load_schemas())
    assert isinstance(frame, pd.DataFrame)
    assert frame["value"].isna().all()
    assert frame["description"].str.len().min() > 10


# --- the bundled samples -----------------------------------------------------------------------


def test_sample_writes_the_bundled_inputs_byte_for_byte(runner, tmp_path):
    folder = tmp_path / "try"
    refused = runner.invoke(cli, ["sample", str(folder)])
    assert refused.exit_code == 2  # no such folder, and no --mkdir
    result = runner.invoke(cli, ["sample", str(folder), "--mkdir"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["district.gpkg", "district-plants.gpkg", "tiny.gpkg", "README.md", "LICENSE-topotherm.txt"]
    )
    assert sha256(folder / "district.gpkg") == sha256(SAMPLE)
    assert sha256(folder / "tiny.gpkg") == sha256(TINY)
    assert "MIT" in (folder / "LICENSE-topotherm.txt").read_text(encoding="utf-8")
    valid = runner.invoke(cli, ["validate", str(folder / "district-plants.gpkg")])
    assert valid.exit_code == 0, valid.output


def test_the_copied_readme_links_only_to_what_the_copy_holds(runner, tmp_path):
    assert runner.invoke(cli, ["sample", str(tmp_path)]).exit_code == 0
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    local = [link for link in links if "://" not in link]
    assert "LICENSE-topotherm.txt" in local
    assert [link for link in local if not (tmp_path / link).exists()] == []
    assert readme.startswith("> Written by `heatnet sample`")


def test_sample_keeps_what_is_there_without_overwrite(runner, tmp_path):
    (tmp_path / "tiny.gpkg").write_bytes(b"mine")
    result = runner.invoke(cli, ["sample", str(tmp_path)])
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.gpkg"]  # nothing written
    assert (tmp_path / "tiny.gpkg").read_bytes() == b"mine"
    assert runner.invoke(cli, ["sample", str(tmp_path), "--overwrite"]).exit_code == 0
    assert sha256(tmp_path / "tiny.gpkg") == sha256(TINY)


# --- optional dependencies ---------------------------------------------------------------------

_WITHOUT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # as if not installed
from heatnet.cli.commands import main
sys.argv = ["heatnet", *{args!r}]
main()
"""


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        (["matplotlib"], ["report", str(TINY), "-o", "{tmp}/r.png"], "report"),
        (["dask", "distributed"], ["batch", "{tmp}/s.csv", "-o", "{tmp}/b"], "batch"),
    ],
)
def test_a_command_without_its_extra_says_what_to_install(tmp_path, blocked, args, extra):
    (tmp_path / "s.csv").write_text(f"scenario,input\nt,{TINY}\n", encoding="utf-8")
    filled = [a.format(tmp=tmp_path) for a in args]
    code = _WITHOUT.format(blocked=blocked, args=filled)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert f"pip install 'heatnet[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]  # nothing written


def test_the_core_install_needs_neither_matplotlib_nor_dask():
    from importlib.metadata import requires

    core = [r for r in requires("heatnet") or [] if "extra" not in r]
    names = {re.split(r"[<>=\[;! ]", r, maxsplit=1)[0].lower() for r in core}
    assert not names & {"matplotlib", "dask", "distributed"}
    assert {"pyomo", "highspy", "geopandas", "click"} <= names


def test_an_installed_package_takes_the_samples_from_inside_it(tmp_path, monkeypatch):
    import heatnet.samples as samples

    inside = tmp_path / "heatnet" / "sample_data"
    inside.mkdir(parents=True)
    for name in (*samples.SAMPLES, samples.LICENCE):
        (inside / name).write_text(name, encoding="utf-8")
    monkeypatch.setattr(samples.resources, "files", lambda _pkg: tmp_path / "heatnet")
    files = samples.sample_files()
    assert files == {name: inside / name for name in (*samples.SAMPLES, samples.LICENCE)}


def test_a_refused_log_file_is_never_written_by_later_logging_in_the_process(runner, tmp_path):
    # in-process (a test, a notebook): the --log handler must not outlive the command, or the
    # library's later log lines would append to the file it names, here the input itself
    data = tmp_path / "tiny.gpkg"
    shutil.copyfile(TINY, data)
    before = data.read_bytes()
    args = ["run", str(data), "-o", str(tmp_path / "u.gpkg"), "--json", "--log", str(data)]
    assert runner.invoke(cli, args).exit_code == 2
    logging.getLogger("heatnet.optimise").warning("a later line of the same process")
    assert data.read_bytes() == before
    assert not any(
        isinstance(h, logging.FileHandler) for h in logging.getLogger("heatnet").handlers
    )
