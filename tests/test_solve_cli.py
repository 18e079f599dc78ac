"""``heatnet problem`` and ``heatnet solve``: exit codes, outputs, the overwrite guard."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from heatnet.cli import cli
from tests.conftest import TINY, sha256


@pytest.fixture(scope="module")
def problem_json(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("problem") / "tiny.json"
    result = CliRunner().invoke(cli, ["problem", str(TINY), "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_problem_writes_the_network_without_geometry(problem_json):
    data = json.loads(problem_json.read_text())
    assert data["format"] == "heatnet-problem"
    assert sorted(b["building_id"] for b in data["buildings"]) == ["B1", "B2", "B3"]
    assert [s["supply_id"] for s in data["supplies"]] == ["S1"]


def test_problem_leaves_the_input_untouched(tmp_path):
    before = sha256(TINY)
    assert run("problem", str(TINY), "-o", str(tmp_path / "p.json")).exit_code == 0
    assert sha256(TINY) == before


def test_solve_writes_the_optimum_of_the_tiny_sample(problem_json, tmp_path):
    out = tmp_path / "s.json"
    result = run("solve", str(problem_json), "-o", str(out))
    assert result.exit_code == 0, result.output
    solution = json.loads(out.read_text())
    connected = {b["building_id"] for b in solution["buildings"] if b["in_network"]}
    assert connected == {"B1", "B2"}  # sample_data/README.md: B3 does not pay for its pipe
    assert solution["state"] == "optimal"
    assert solution["objective"] == pytest.approx(solution["network_npv"])


def test_solve_refuses_to_overwrite_without_the_flag(problem_json, tmp_path):
    out = tmp_path / "s.json"
    out.write_text("keep me")
    result = run("solve", str(problem_json), "-o", str(out))
    assert result.exit_code == 3
    assert out.read_text() == "keep me"
    assert run("solve", str(problem_json), "-o", str(out), "--overwrite").exit_code == 0
    assert json.loads(out.read_text())["format"] == "heatnet-solution"


def test_infeasible_problem_exits_4_with_reasons(problem_json, tmp_path):
    out = tmp_path / "s.json"
    result = run("solve", str(problem_json), "-o", str(out), "--set", "constraint/min-kwh=1e9")
    assert result.exit_code == 4, result.output
    solution = json.loads(out.read_text())
    assert solution["state"] == "infeasible"
    assert [r["reason_type"] for r in solution["reasons"]] == ["min_kwh"]


def test_no_design_in_time_exits_5(problem_json, tmp_path):
    out = tmp_path / "s.json"
    result = run(
        "solve", str(problem_json), "-o", str(out), "--set", "optimiser/runtime-limit=1e-9"
    )
    assert result.exit_code == 5, result.output
    assert json.loads(out.read_text())["state"] == "no-solution"


def test_bad_override_exits_3_and_writes_nothing(problem_json, tmp_path):
    out = tmp_path / "s.json"
    result = run("solve", str(problem_json), "-o", str(out), "--set", "finance/npv-rat=0.1")
    assert result.exit_code == 3
    assert "finance/npv-rate" in result.output
    assert not out.exists()


def test_broken_problem_file_exits_3(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "heatnet-problem", "buildings": 7}')
    result = run("solve", str(bad), "-o", str(tmp_path / "s.json"))
    assert result.exit_code == 3
    assert "buildings" in result.output


def test_temperature_override_resizes_the_pipes(problem_json, tmp_path):
    # a smaller flow/return difference carries less heat per pipe: the same design needs
    # pipes at least as big, and the catalogue must follow the override (not keep 90/60 °C)
    normal, cooler = tmp_path / "a.json", tmp_path / "b.json"
    assert run("solve", str(problem_json), "-o", str(normal)).exit_code == 0
    result = run(
        "solve", str(problem_json), "-o", str(cooler),
        "--set", "optimiser/flow-temperature=70", "--set", "optimiser/return-temperature=60",
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    def capacity(path):
        edges = json.loads(path.read_text())["edges"]
        return max(e["capacity_kw"] or 0 for e in edges if e["in_network"])

    assert capacity(cooler) < capacity(normal)
