"""``heatnet problem`` and ``heatnet solve``: exit codes, outputs, the overwrite guard."""

from __future__ import annotations

import json

import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from heatnet.cli.commands import cli
from heatnet.inputs.schema import load_schemas
from heatnet.pipeline import check
from heatnet.problem.from_network import network_problem
from heatnet.problem.json_form import problem_to_json
from heatnet.topology.build import build_network
from tests.conftest import TINY, base_frames, sha256, write_gpkg


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
    assert result.exit_code == 2  # a usage error
    assert "--overwrite" in result.output
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
    # no time for a MIP, and the constructive seed ({B1, B2}) breaks min-buildings 3: no design
    out = tmp_path / "s.json"
    result = run(
        "solve", str(problem_json), "-o", str(out), "--set", "optimiser/runtime-limit=1e-9",
        "--set", "constraint/min-buildings=3",
    )  # fmt: skip
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
    # pipes at least as big, and the catalogue must follow the override (not keep 90/60 °C);
    # temperatures are baked into a problem, so the override goes to `heatnet problem`
    cool_problem = tmp_path / "cool.json"
    result = run(
        "problem", str(TINY), "-o", str(cool_problem),
        "--set", "optimiser/flow-temperature=70", "--set", "optimiser/return-temperature=60",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    normal, cooler = tmp_path / "a.json", tmp_path / "b.json"
    assert run("solve", str(problem_json), "-o", str(normal)).exit_code == 0
    result = run("solve", str(cool_problem), "-o", str(cooler))
    assert result.exit_code == 0, result.output

    def capacity(path):
        edges = json.loads(path.read_text())["edges"]
        return max(e["capacity_kw"] or 0 for e in edges if e["in_network"])

    assert capacity(cooler) < capacity(normal)


# --- `heatnet solve --set`: a key read when solving gives what `heatnet run --set` gives; a key
# baked into the saved problem (x-baked in the parameters schema) is refused ----------------------

SPECS = load_schemas().parameters
BAKED_VALUES = {  # each changes what a built problem holds, beyond its parameters
    "finance/npv-rate": "0.15",
    "finance/npv-term": "10",
    "finance/plant-lifetime": "3",
    "finance/building-hx-lifetime": "3",
    "optimiser/flow-temperature": "120",
    "optimiser/return-temperature": "40",
    "optimiser/ground-temperature": "-10",
    "heatnet/snap-tolerance": "5",
    "heatnet/max-connector-length": "100",
    "heatnet/heat-loss-model": "lambda",  # every_kind_of_input gives civil_costs its λ
}
SOLVE_TIME_VALUES = {  # any valid value other than the default
    "finance/distribution-lifetime": "7",
    "optimiser/runtime-limit": "0.5",
    "optimiser/mip-gap": "0.2",
    "optimiser/param-gap": "0.3",
    "optimiser/iteration-limit": "3",
    "network/diversity-limit": "0.5",
    "network/diversity-rate": "2",
    "optimiser/objective": "kwh",
    "optimiser/prevent-loops": "true",
    "constraint/min-linear-density": "1",
    "constraint/max-linear-density": "1e6",
    "constraint/min-kwh": "1",
    "constraint/max-kwh": "1e9",
    "constraint/min-network-length": "1",
    "constraint/max-network-length": "1e5",
    "constraint/min-npv": "-1e9",
    "constraint/max-npv": "1e9",
    "constraint/max-emissions-factor": "5",
    "constraint/min-buildings": "1",
    "constraint/max-buildings": "10",
    "constraint/min-connections": "1",
    "constraint/max-connections": "10",
    "constraint/max-supplies": "1",
    **{k: "false" for k in SPECS if k.startswith("objective/use-")},
    "heatnet/pipe-model": "discrete",
    # read by `heatnet run`'s dispatch stage, never held by a built problem
    "dispatch/horizon": "year",
    "dispatch/mip-gap": "0.1",
    "dispatch/runtime-limit": "0.2",
    "dispatch/iterations": "1",
    "dispatch/status-boundary": "free",
}


def test_every_parameter_key_is_classified_once():
    baked = {k for k, spec in SPECS.items() if spec.baked}
    assert set(BAKED_VALUES) == baked
    assert not set(BAKED_VALUES) & set(SOLVE_TIME_VALUES)
    assert set(BAKED_VALUES) | set(SOLVE_TIME_VALUES) == set(SPECS)


@pytest.fixture(scope="module")
def every_kind_of_input(tmp_path_factory: pytest.TempPathFactory):
    """The base input plus what each baked key acts on: supply and connection repex, a cost
    curve longer than the load bound, a path 3 m short of P1 with a building on it, and a
    building 102 m from the nearest path; λ in civil_costs for the lambda heat-loss model."""
    frames = base_frames()
    frames["civil_costs"]["loss_factor_w_per_m_k"] = [0.15, 0.2, 0.3, 0.15, 0.2, 0.3]
    frames["supplies"]["repex_fixed"] = 500.0
    frames["connection_costs"]["repex_fixed"] = 200.0
    paths = base_frames()["paths"].iloc[[0]].assign(path_id="P3")
    paths["geometry"] = [shapely.from_wkt("LINESTRING (45 3, 45 40)")]
    frames["paths"] = pd.concat([frames["paths"], paths], ignore_index=True)
    extra = frames["buildings"].iloc[[0, 0]].assign(building_id=["NEAR_P3", "FAR"])
    extra["geometry"] = [shapely.from_wkt("POINT (47 30)"), shapely.from_wkt("POINT (80 150)")]
    frames["buildings"] = pd.concat([frames["buildings"], extra], ignore_index=True)
    return write_gpkg(tmp_path_factory.mktemp("kinds") / "kinds.gpkg", frames)


def built_problem(path, overrides) -> dict:
    report = check(path, overrides=overrides)
    assert report.inputs is not None, report.issues
    return problem_to_json(network_problem(report.inputs, build_network(report.inputs)))


def test_solve_time_keys_leave_the_built_problem_unchanged(every_kind_of_input):
    default = built_problem(every_kind_of_input, {})
    changed = built_problem(every_kind_of_input, SOLVE_TIME_VALUES)
    assert changed.pop("parameters") != default.pop("parameters")
    assert changed == default


@pytest.mark.parametrize("key", sorted(BAKED_VALUES))
def test_each_baked_key_changes_the_built_problem(every_kind_of_input, key):
    # beyond the parameters and the pipe catalogue: a catalogue recomputed at new temperatures
    # would still leave the supplies' cost curves cut at the old load bound
    default = built_problem(every_kind_of_input, {})
    changed = built_problem(every_kind_of_input, {key: BAKED_VALUES[key]})
    for data in (default, changed):
        del data["parameters"], data["pipes"]
    assert changed != default


def outcome_of_run(path) -> tuple[set[str], float, str, int]:
    summary = pyogrio.read_dataframe(path, layer="solution_summary").iloc[0]
    buildings = pyogrio.read_dataframe(path, layer="buildings")
    connected = set(buildings.loc[buildings["in_network"].astype(bool), "building_id"])
    return connected, float(summary["network_npv"]), summary["state"], int(summary["iterations"])


def outcome_of_solve(path) -> tuple[set[str], float, str, int]:
    data = json.loads(path.read_text())
    connected = {b["building_id"] for b in data["buildings"] if b["in_network"]}
    return connected, data["network_npv"], data["state"], data["iterations"]


SOLVE_TIME_EXAMPLES = [  # a key per class; True: it changes tiny's design, NPV or MIP count
    # (None: either way; the solution's pipe_model shows the override arrived)
    ("finance/distribution-lifetime", "8", True),  # pipes are priced when solving
    ("constraint/max-kwh", "100000", True),
    ("objective/use-tariffs", "false", True),
    ("optimiser/objective", "kwh", True),
    ("network/diversity-limit", "0.1", True),
    # one loop MIP (the relaxation) instead of two; the proving MIP then makes the count equal
    ("optimiser/iteration-limit", "1", None),
    ("heatnet/pipe-model", "discrete", None),
]


@pytest.fixture(scope="module")
def default_solution(problem_json, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("default") / "s.json"
    assert run("solve", str(problem_json), "-o", str(out)).exit_code == 0
    return outcome_of_solve(out)


@pytest.mark.parametrize(("key", "value", "changes"), SOLVE_TIME_EXAMPLES)
def test_solve_set_gives_what_run_set_gives(
    problem_json, default_solution, tmp_path, key, value, changes
):
    assert key in SOLVE_TIME_VALUES
    solved, written = tmp_path / "s.json", tmp_path / "r.gpkg"
    result = run("solve", str(problem_json), "-o", str(solved), "--set", f"{key}={value}")
    assert result.exit_code == 0, result.output
    result = run("run", str(TINY), "-o", str(written), "--set", f"{key}={value}")
    assert result.exit_code == 0, result.output
    connected, npv, state, iterations = outcome_of_solve(solved)
    assert outcome_of_run(written) == (
        connected, pytest.approx(npv, rel=1e-6, abs=1e-6), state, iterations
    )  # fmt: skip
    was_connected, was_npv, _, was_iterations = default_solution
    moved = (connected, iterations) != (was_connected, was_iterations)
    if changes is not None:
        assert (moved or npv != pytest.approx(was_npv, rel=1e-9)) is changes
    solution = json.loads(solved.read_text())
    assert solution["pipe_model"] == (value if key == "heatnet/pipe-model" else "linear")
    if key == "optimiser/iteration-limit":  # one loop MIP; any others are relaxations
        assert [it["relaxation"] for it in solution["history"]].count(False) == 1


@pytest.mark.parametrize("key", sorted(BAKED_VALUES))
def test_solve_refuses_a_baked_key(problem_json, tmp_path, key):
    out = tmp_path / "s.json"
    given = ":" + key.upper()  # as the command line accepts it
    result = run(
        "solve", str(problem_json), "-o", str(out), "--set", f"{given}={BAKED_VALUES[key]}"
    )
    assert result.exit_code == 3, result.output
    assert (
        f"baked_parameter: [parameter] --set '{key}' cannot change a saved problem" in result.output
    )
    assert f"heatnet problem INPUT --set {key}={BAKED_VALUES[key]} -o P.json" in result.output
    assert not out.exists()


def test_a_baked_key_set_when_building_the_problem_gives_what_run_gives(tmp_path):
    # the issue's example: tiny's own rate is 0, so 15 % must change the answer
    built, solved, written = tmp_path / "p.json", tmp_path / "s.json", tmp_path / "r.gpkg"
    setting = ("--set", "finance/npv-rate=0.15")
    assert run("problem", str(TINY), "-o", str(built), *setting).exit_code == 0
    assert run("solve", str(built), "-o", str(solved)).exit_code == 0
    assert run("run", str(TINY), "-o", str(written), *setting).exit_code == 0
    connected, npv, state, iterations = outcome_of_solve(solved)
    assert outcome_of_run(written) == (
        connected, pytest.approx(npv, rel=1e-6), state, iterations
    )  # fmt: skip
    assert connected == {"B1"}  # at 15 % B2's tariff no longer pays for its pipe
