"""heatnet batch: the scenarios file (``heatnet.batch.scenarios``), read without Dask.

Paths resolve against the file's folder, columns name parameters, sweeps expand every row, and
every problem of a file is reported at once with its line; the batch's exit code is its worst
scenario's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heatnet.batch.runner import BatchOutcome
from heatnet.batch.scenarios import read_scenarios
from heatnet.batch.worker import ScenarioResult
from heatnet.cli.commands import cli
from heatnet.core.errors import ValidationError
from tests.batches import RATES, SWEEP, write_csv
from tests.conftest import TINY

# ---------------------------------------------------------------------------------------------
# Helpers


def problems(csv: Path, sweeps: tuple[str, ...] = ()) -> list[Any]:
    with pytest.raises(ValidationError) as caught:
        read_scenarios(csv, sweeps)
    assert all(issue.is_error for issue in caught.value.issues)
    return list(caught.value.issues)


# ---------------------------------------------------------------------------------------------
# The scenarios file (no Dask)


def test_paths_resolve_against_the_csv_folder_and_columns_name_parameters(tmp_path):
    csv = write_csv(
        tmp_path / "plans" / "scenarios.csv",
        "scenario,input,tables,:finance/npv-rate,Constraint/Max-Buildings\n"
        "base,../data/in.gpkg,,0.05,\n"
        "capped, sub/in.gpkg ,tables,  ,2\n"
        f"absolute,{TINY},{tmp_path / 'tables.gpkg'},0.07,3\n",
    )
    base, capped, absolute = read_scenarios(csv)

    assert [base.name, capped.name, absolute.name] == ["base", "capped", "absolute"]
    assert base.input == tmp_path / "data" / "in.gpkg"  # missing inputs are not checked here
    assert base.tables is None
    assert capped.input == tmp_path / "plans" / "sub" / "in.gpkg"
    assert capped.tables == tmp_path / "plans" / "tables"
    assert absolute.input == TINY
    assert absolute.tables == tmp_path / "tables.gpkg"
    # empty (or blank) cells override nothing; leading colons and case do not matter
    assert dict(base.overrides) == {"finance/npv-rate": "0.05"}
    assert dict(capped.overrides) == {"constraint/max-buildings": "2"}
    assert dict(absolute.overrides) == {"finance/npv-rate": "0.07", "constraint/max-buildings": "3"}


def test_a_sweep_includes_its_stop_and_names_each_value(tmp_path):
    csv = write_csv(tmp_path / "s.csv", "scenario,input,finance/npv-rate\ntiny,tiny.gpkg,0.5\n")

    scenarios = read_scenarios(csv, [SWEEP])

    assert [s.name for s in scenarios] == [f"tiny__npv-rate={r}" for r in RATES]
    # the sweep replaces the row's own value
    assert [s.overrides["finance/npv-rate"] for s in scenarios] == list(RATES)
    # a STOP the steps do not land on is not passed
    uneven = read_scenarios(csv, ["finance/npv-rate=0:0.1:0.03"])
    assert [s.overrides["finance/npv-rate"] for s in uneven] == list(RATES)


def test_two_sweeps_give_their_product_for_every_row(tmp_path):
    csv = write_csv(tmp_path / "s.csv", "scenario,input,finance/npv-term\na,a.gpkg,20\nb,b.gpkg,\n")

    scenarios = read_scenarios(csv, [SWEEP, ":constraint/max-buildings=1:2:1"])

    assert len(scenarios) == 2 * 4 * 2
    assert [s.name for s in scenarios[:3]] == [
        "a__npv-rate=0__max-buildings=1",
        "a__npv-rate=0__max-buildings=2",
        "a__npv-rate=0.03__max-buildings=1",
    ]
    assert scenarios[-1].name == "b__npv-rate=0.09__max-buildings=2"
    assert dict(scenarios[1].overrides) == {
        "finance/npv-term": "20",
        "finance/npv-rate": "0",
        "constraint/max-buildings": "2",
    }
    assert "finance/npv-term" not in scenarios[-1].overrides
    assert len({s.name for s in scenarios}) == len(scenarios)


def test_every_row_problem_is_reported_at_once_with_its_line(tmp_path):
    csv = write_csv(
        tmp_path / "s.csv",
        "scenario,input,finance/npv-rate\n"
        "good,tiny.gpkg,0.05\n"  # line 2
        "bad name,tiny.gpkg,\n"  # line 3
        "rate,tiny.gpkg,abc\n"  # line 4
        "twice,tiny.gpkg,\n"  # line 5
        "twice,other.gpkg,\n"  # line 6
        "noinput,,\n",  # line 7
    )

    found = problems(csv, ("constraint/max-buildings=1:2:1",))

    located = sorted((i.code, i.row) for i in found if i.code != "duplicate_id")
    assert located == [
        ("bad_parameter_value", 4),  # once per swept scenario
        ("bad_parameter_value", 4),
        ("bad_scenario_name", 3),
        ("missing_input", 7),
    ]
    assert all(i.row_kind == "line" for i in found if i.row is not None)
    bad_value = next(i for i in found if i.code == "bad_parameter_value")
    assert bad_value.column == "finance/npv-rate"
    assert "abc" in bad_value.message
    # duplicate names after the sweep's expansion
    duplicates = sorted(i.feature_id for i in found if i.code == "duplicate_id")
    assert duplicates == ["twice__max-buildings=1", "twice__max-buildings=2"]


def test_every_column_and_sweep_problem_is_reported_at_once(tmp_path):
    csv = write_csv(tmp_path / "s.csv", "scenario,input,npv-rate,colour\na,tiny.gpkg,0.1,red\n")
    sweeps = (
        "finance/npv-rat=0:1:0.5",
        "finance/npv-rate=1:0:0.5",
        "finance/npv-rate=0:1",
        "finance/npv-rate=a:1:1",
        "finance/npv-rate=0:1:0",
        "finance/npv-rate=0:1:-1",
    )

    found = problems(csv, sweeps)

    assert sorted(i.code for i in found) == ["bad_sweep"] * 6 + ["unknown_parameter"] * 2
    unknown = {i.column: i.message for i in found if i.code == "unknown_parameter"}
    assert "did you mean 'finance/npv-rate'?" in unknown["npv-rate"]
    assert "did you mean" not in unknown["colour"]
    messages = [i.message for i in found if i.code == "bad_sweep"]
    assert all(any(m.startswith(f"--sweep {s}: ") for m in messages) for s in sweeps)


def test_a_scenarios_file_without_an_input_column_is_refused(tmp_path):
    csv = write_csv(tmp_path / "s.csv", "scenario,file\na,tiny.gpkg\n")
    codes = {(i.code, i.column) for i in problems(csv)}
    assert ("missing_column", "input") in codes


def test_an_unknown_column_does_not_hide_row_problems(tmp_path):
    csv = write_csv(tmp_path / "s.csv", "scenario,input,colour\nbad name,tiny.gpkg,red\n")
    codes = {i.code for i in problems(csv)}
    assert codes == {"unknown_parameter", "bad_scenario_name"}


def test_line_numbers_count_blank_lines(tmp_path):
    csv = write_csv(
        tmp_path / "s.csv", "scenario,input,finance/npv-rate\na,tiny.gpkg,0.1\n\nb,tiny.gpkg,abc\n"
    )
    (issue,) = problems(csv)
    assert (issue.code, issue.row) == ("bad_parameter_value", 4)


def test_the_cli_reports_a_bad_scenarios_file_with_exit_3(tmp_path, runner):
    csv = write_csv(tmp_path / "s.csv", "scenario,input\nbad name,tiny.gpkg\nok,\n")
    result = runner.invoke(cli, ["batch", str(csv), "-o", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    assert "line 2" in result.output
    assert "bad_scenario_name" in result.output
    assert "line 3" in result.output
    assert "missing_input" in result.output
    assert not (tmp_path / "out").exists()


def test_the_batch_exit_code_is_the_worst_scenario_code():
    def report(*codes: int) -> BatchOutcome:
        results = tuple(ScenarioResult(f"s{i}", c, "", 0.0, {}, None) for i, c in enumerate(codes))
        return BatchOutcome(Path(), results, (), 0.0, None)

    assert report().exit_code == 0
    assert report(0, 4, 0).exit_code == 4
    assert report(4, 5, 0).exit_code == 5
    assert report(5, 3, 4).exit_code == 3
    assert report(3, 1, 0).exit_code == 1
