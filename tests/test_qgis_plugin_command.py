"""The QGIS plugin's QGIS-free logic (qgis_plugin/heatnet_processing/command.py), without QGIS.

Parameter specs from the schema, argv, the progress classifier on real heatnet lines, the
``run --json`` parser, and the runner on real heatnet processes (tiny to its optimum; the
district cancelled once a design is priced, which keeps that design).
"""

from __future__ import annotations

import json
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "qgis_plugin"))
from heatnet_processing import command

sys.path.insert(0, str(ROOT / "qgis_plugin"))
import build_zip

HEATNET = str(Path(sys.executable).with_name("heatnet"))
SCHEMA = ROOT / "schemas" / "parameters.schema.json"
PROPERTIES = json.loads(SCHEMA.read_text(encoding="utf-8"))["x-parameters"]["properties"]
SPECS = {spec.key: spec for spec in command.load_specs()}
RUN_TIMEOUT_S = 300.0

# real lines of `heatnet run` with stderr a pipe (sample_data/tiny.gpkg and district.gpkg)
LINES = {
    "14:50:16 INFO stage validate (0.0 s)": ("stage", "validate"),
    "14:51:19 INFO stage topology (0.4 s)": ("stage", "topology"),
    "14:50:16 INFO stage optimise (0.4 s)": ("stage", "optimise"),
    "14:51:20 INFO stage write (1.0 s)": ("stage", "write"),
    "14:51:19 INFO MIP 1: incumbent 62,435  bound -  gap -  nodes 0 (new incumbent)": (
        "incumbent",
        None,
    ),
    "14:51:52 INFO MIP 2: incumbent 1,181,911  bound 1,369,889  gap 15.90%  nodes 0": (
        "incumbent",
        None,
    ),
    "14:51:19 INFO seed: design priced at 55,134 (best 55,134)": ("priced", None),
    "14:52:15 INFO MIP 3: design priced at 1,146,279 (best 1,194,957)": ("priced", None),
    "input: INVALID (1 error, 0 warnings)": ("other", None),
    "  ERROR   finance/npv-rate  bad_parameter_value: [value] --set 'finance/npv-rate': '2' must be less than 1": (
        "error",
        None,
    ),
    "10:00:00 WARNING buildings B7: unreachable": ("warning", None),
}


def test_every_schema_key_is_one_spec() -> None:
    specs = command.load_specs()
    assert [spec.key for spec in specs] == list(PROPERTIES)
    assert len({spec.name for spec in specs}) == len(specs)  # Processing names unique
    for spec in specs:
        prop = PROPERTIES[spec.key]
        assert spec.description == prop["description"].strip()
        assert spec.default == prop["default"]
        assert spec.unit == prop.get("x-unit")
        assert spec.baked == prop.get("x-baked")
        assert spec.description in spec.help()
        assert f"Default: {spec.default_text()}" in spec.help()
        if spec.unit:
            assert spec.unit in spec.help()


def test_spec_types_follow_the_schema() -> None:
    assert SPECS["finance/npv-rate"].kind == "number"
    assert (SPECS["finance/npv-rate"].minimum, SPECS["finance/npv-rate"].maximum) == (0.0, 1.0)
    assert SPECS["finance/npv-term"].kind == "integer"
    assert (SPECS["finance/npv-term"].minimum, SPECS["finance/npv-term"].maximum) == (1.0, 500.0)
    assert SPECS["constraint/max-buildings"].kind == "integer"
    assert SPECS["constraint/max-buildings"].nullable
    assert SPECS["constraint/max-buildings"].default_text() == "null (no limit)"
    assert SPECS["optimiser/prevent-loops"].kind == "boolean"
    assert SPECS["optimiser/prevent-loops"].choices == (command.UNSET, "true", "false")
    assert SPECS["heatnet/pipe-model"].kind == "enum"
    assert SPECS["heatnet/pipe-model"].choices == (command.UNSET, "linear", "discrete")
    assert SPECS["finance/npv-rate"].name == "FINANCE_NPV_RATE"
    kinds = {spec.kind for spec in SPECS.values()}
    assert kinds == {"number", "integer", "boolean", "enum"}
    for spec in SPECS.values():
        types = PROPERTIES[spec.key]["type"]
        base = types if isinstance(types, str) else next(t for t in types if t != "null")
        expected = "enum" if "enum" in PROPERTIES[spec.key] else base
        assert spec.kind == expected, spec.key


def test_schema_found_next_to_the_plugin_first(tmp_path: Path) -> None:
    assert command.schema_path() == SCHEMA  # the repository's, in development
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / command.SCHEMA_NAME).write_text("{}", encoding="utf-8")
    assert command.schema_path(tmp_path / "a" / "b") == tmp_path / "a" / "b" / command.SCHEMA_NAME
    with pytest.raises(FileNotFoundError):
        command.schema_path(tmp_path / "x" / "y")


def test_only_set_parameters_are_passed() -> None:
    specs = list(SPECS.values())
    assert command.set_arguments(specs, {}) == []
    unset = {spec.name: None for spec in specs} | {
        "OPTIMISER_PREVENT_LOOPS": 0,
        "HEATNET_PIPE_MODEL": 0,
    }
    assert command.set_arguments(specs, unset) == []
    values = {
        "FINANCE_NPV_RATE": 0.05,
        "FINANCE_NPV_TERM": 30.0,  # Processing gives integers as whole floats too
        "OPTIMISER_MIP_GAP": 0.0,
        "CONSTRAINT_MAX_BUILDINGS": 12,
        "OPTIMISER_PREVENT_LOOPS": 1,
        "OBJECTIVE_USE_TARIFFS": 2,
        "HEATNET_PIPE_MODEL": 2,
        "OPTIMISER_OBJECTIVE": 0,
        "OPTIMISER_RUNTIME_LIMIT": 0.25,
    }
    assert command.set_arguments(specs, values) == [
        *("--set", "finance/npv-rate=0.05"),
        *("--set", "finance/npv-term=30"),
        *("--set", "optimiser/runtime-limit=0.25"),
        *("--set", "optimiser/mip-gap=0"),
        *("--set", "optimiser/prevent-loops=true"),
        *("--set", "constraint/max-buildings=12"),
        *("--set", "objective/use-tariffs=false"),
        *("--set", "heatnet/pipe-model=discrete"),
    ]


def test_values_are_formatted_as_heatnet_reads_them() -> None:
    assert command.format_value(SPECS["finance/npv-rate"], 1e-7) == "1e-07"
    assert command.format_value(SPECS["finance/npv-rate"], float("nan")) is None
    assert command.format_value(SPECS["optimiser/prevent-loops"], True) == "true"
    assert command.format_value(SPECS["optimiser/prevent-loops"], "false") == "false"
    assert command.format_value(SPECS["heatnet/pipe-model"], command.UNSET) is None
    assert command.format_value(SPECS["heatnet/pipe-model"], "  ") is None


def test_time_limit() -> None:
    assert command.time_limit_text(None) is None
    assert command.time_limit_text("") is None
    assert command.time_limit_text(" 10m ") == "10m"
    assert command.time_limit_text(90) == "90s"
    assert command.time_limit_text(0) is None
    assert command.time_limit_seconds("1h30m") == 5400
    assert command.time_limit_seconds("90s") == 90
    assert command.time_limit_seconds("120") == 120
    assert command.time_limit_seconds("soon") is None


def test_argv_of_each_command() -> None:
    argv = command.run_argv(
        "heatnet",
        "in.gpkg",
        "out.gpkg",
        mapping="m.toml",
        time_limit="10m",
        threads=2,
        settings=["--set", "finance/npv-rate=0.05"],
    )
    assert argv == [
        "heatnet", "run", "in.gpkg", "-o", "out.gpkg", "--map", "m.toml", "--time-limit", "10m",
        "--threads", "2", "--set", "finance/npv-rate=0.05", "--overwrite", "--mkdir", "--json",
    ]  # fmt: skip
    assert command.run_argv("h", "i", "o") == [
        "h",
        "run",
        "i",
        "-o",
        "o",
        "--overwrite",
        "--mkdir",
        "--json",
    ]
    assert command.validate_argv("h", "i", tables="t/") == [
        "h", "validate", "i", "--tables", "t/", "--format", "json",
    ]  # fmt: skip
    assert command.report_argv("h", "d.gpkg", "d.png")[1:5] == ["report", "d.gpkg", "-o", "d.png"]
    assert command.init_argv("h", "t.gpkg", "EPSG:25832") == [
        "h", "init", "t.gpkg", "--crs", "EPSG:25832", "--buildings", "polygon", "--overwrite", "--mkdir",
    ]  # fmt: skip


@pytest.mark.parametrize(("line", "expected"), list(LINES.items()))
def test_lines_are_classified(line: str, expected: tuple[str, str | None]) -> None:
    info = command.classify_line(line + "\n")
    assert (info.kind, info.stage) == expected


def test_progress_moves_through_the_stages() -> None:
    now = [0.0]
    tracker = command.ProgressTracker(time_limit_s=100, clock=lambda: now[0])
    tracker.feed("14:50:16 INFO stage validate (0.0 s)")
    assert tracker.percent == 0
    tracker.feed("14:50:16 INFO stage topology (0.0 s)")
    tracker.feed("14:50:16 INFO stage optimise (0.4 s)")
    assert tracker.percent == command.STAGE_PERCENT["optimise"]
    now[0] = 50.0
    tracker.feed("14:51:19 INFO seed: design priced at 55,134 (best 55,134)")
    assert tracker.percent == pytest.approx(47.5)
    assert tracker.best == "55,134"
    assert "55,134" in tracker.text
    now[0] = 500.0
    assert tracker.tick() == command.OPTIMISE_END
    tracker.feed("14:51:20 INFO stage write (1.0 s)")
    assert tracker.percent == command.STAGE_PERCENT["write"]
    tracker.feed("14:51:20 INFO stage validate (1.0 s)")  # never backwards
    assert tracker.percent == command.STAGE_PERCENT["write"]


def test_without_a_given_limit_the_one_heatnet_logs_is_used() -> None:
    now = [0.0]
    tracker = command.ProgressTracker(clock=lambda: now[0])
    tracker.feed("14:50:16 INFO stage optimise (0.4 s)")
    tracker.feed("14:50:16 INFO search: runtime limit 200 s")
    assert tracker.time_limit_s == 200.0
    now[0] = 100.0
    start, end = command.STAGE_PERCENT["optimise"], command.OPTIMISE_END
    assert tracker.tick() == pytest.approx(start + 0.5 * (end - start))
    given = command.ProgressTracker(time_limit_s=60)
    given.feed("14:50:16 INFO search: runtime limit 200 s")
    assert given.time_limit_s == 60  # the user's --time-limit is what heatnet uses


def test_run_json_is_parsed() -> None:
    stdout = json.dumps(
        {
            "state": "feasible",
            "exit_code": 0,
            "output": "/tmp/d.gpkg",
            "summary": {
                "state": "feasible",
                "objective": 1194855.04,
                "mip_gap": 0.17,
                "upper_bound": None,
            },
            "dispatch": None,
            "warnings": [
                {"code": "run_interrupted", "table": "run", "where": "", "message": "..."}
            ],
        }
    )
    outcome = command.parse_run_json(stdout)
    assert (outcome.state, outcome.exit_code, outcome.output) == ("feasible", 0, "/tmp/d.gpkg")
    assert (outcome.objective, outcome.mip_gap, outcome.upper_bound) == (1194855.04, 0.17, None)
    assert outcome.interrupted
    with pytest.raises(ValueError, match="no JSON"):
        command.parse_run_json("")


def test_validate_json_and_issues() -> None:
    issue = {
        "severity": "error", "code": "bad_parameter_value", "table": "parameters",
        "message": "'2' must be less than 1", "column": "value", "row": None,
        "feature_id": "finance/npv-rate",
    }  # fmt: skip
    data = command.parse_validate_json(json.dumps({"valid": False, "errors": 1, "issues": [issue]}))
    assert data["valid"] is False
    assert command.issue_text(issue) == (
        "parameters finance/npv-rate [value]: bad_parameter_value: '2' must be less than 1"
    )


def test_child_environment_drops_qgis_python() -> None:
    env = command.child_environment(
        {"PATH": "/bin", "PYTHONHOME": "/qgis", "PYTHONPATH": "/qgis/py"}
    )
    assert env["PATH"] == "/bin"
    assert "PYTHONHOME" not in env
    assert "PYTHONPATH" not in env
    assert env["PYTHONUNBUFFERED"] == "1"


def test_a_missing_executable_says_where_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(command.HeatnetNotFound, match="Processing > Options > Providers"):
        command.run_heatnet([str(tmp_path / "no-heatnet"), "--version"])


def test_the_zip_holds_the_plugin_and_the_schema(tmp_path: Path) -> None:
    target = build_zip.build(tmp_path / "heatnet_processing.zip")
    names = zipfile.ZipFile(target).namelist()
    for name in ("__init__.py", "metadata.txt", "plugin.py", "provider.py", "algorithms.py",
                 "command.py", "parameters.schema.json"):  # fmt: skip
        assert f"heatnet_processing/{name}" in names
    assert all(name.startswith("heatnet_processing/") for name in names)
    assert not any("__pycache__" in name for name in names)
    metadata = zipfile.ZipFile(target).read("heatnet_processing/metadata.txt").decode()
    assert "qgisMinimumVersion=3.22" in metadata
    assert "hasProcessingProvider=yes" in metadata


@pytest.mark.slow
def test_a_failed_run_names_the_input_issue(tmp_path: Path) -> None:
    """Invalid input (exit 3): the message lists heatnet's issue (from run --json), not a trace."""
    output = tmp_path / "never.gpkg"
    [spec] = [s for s in command.load_specs() if s.key == "finance/npv-rate"]
    argv = command.run_argv(
        HEATNET, str(ROOT / "sample_data" / "tiny.gpkg"), str(output),
        settings=command.set_arguments([spec], {spec.name: 1.0}),
    )  # fmt: skip
    completed = command.run_heatnet(argv, timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 3
    message = command.failure_message("run", completed)
    assert (
        message.splitlines()[0] == "heatnet run failed (exit 3: invalid input (nothing written)):"
    )
    assert message.splitlines()[1].startswith(
        "parameters finance/npv-rate [value]: bad_parameter_value: --set 'finance/npv-rate'"
    )
    assert not output.exists()


def test_runner_designs_tiny(tmp_path: Path) -> None:
    """tiny's optimum connects 2 of its 3 buildings (checkable by hand)."""
    output = tmp_path / "sub" / "tiny-design.gpkg"
    lines: list[str] = []
    argv = command.run_argv(HEATNET, str(ROOT / "sample_data" / "tiny.gpkg"), str(output))
    completed = command.run_heatnet(argv, lines.append, timeout_s=RUN_TIMEOUT_S)
    assert completed.returncode == 0, completed.stderr_tail()
    assert not completed.canceled
    outcome = command.parse_run_json(completed.stdout)
    assert outcome.state == "optimal"
    assert outcome.summary["network_building_count"] == 2
    assert outcome.output == str(output)
    assert output.is_file()
    assert [command.classify_line(line).stage for line in lines if "stage" in line] == [
        "validate", "topology", "optimise", "write",
    ]  # fmt: skip
    tracker = command.ProgressTracker()
    for line in lines:
        tracker.feed(line)
    assert tracker.time_limit_s == 3600.0  # tiny leaves optimiser/runtime-limit at 1 h


@pytest.mark.slow
def test_runner_cancel_keeps_the_best_design(tmp_path: Path) -> None:
    """One interrupt once a design is priced: heatnet writes it (exit 0) and says so."""
    output = tmp_path / "district-design.gpkg"
    priced = threading.Event()

    def on_line(line: str) -> None:
        if command.classify_line(line).kind == "priced":
            priced.set()

    argv = command.run_argv(
        HEATNET, str(ROOT / "sample_data" / "district.gpkg"), str(output), time_limit="10m"
    )
    completed = command.run_heatnet(argv, on_line, priced.is_set, timeout_s=RUN_TIMEOUT_S)
    assert not completed.killed
    assert completed.canceled
    assert completed.returncode == 0, completed.stderr_tail()
    outcome = command.parse_run_json(completed.stdout)
    assert outcome.state == "feasible"
    assert outcome.interrupted
    assert output.is_file()
