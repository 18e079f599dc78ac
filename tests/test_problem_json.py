"""The JSON form of problems and solutions: exact round trips, schema validity, every fault named."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest

from heatnet.core.atomic import OutputExistsError
from heatnet.core.errors import InputError
from heatnet.core.units import HOURS_PER_YEAR
from heatnet.economics import CostClass, pv_by_class, schedule_for
from heatnet.inputs.schema import load_schemas
from heatnet.optimise.loop import optimise
from heatnet.optimise.solution import Solution
from heatnet.outputs.solution_json import solution_to_json, write_solution
from heatnet.pipeline import check
from heatnet.problem.definition import PV_CLASSES, SUPPLY_CLASSES, Problem
from heatnet.problem.from_network import network_problem
from heatnet.problem.json_form import (
    json_schema,
    problem_from_json,
    problem_to_json,
    read_problem,
    write_problem,
)
from heatnet.topology.build import build_network
from tests.conftest import SAMPLE, TINY
from tests.problems import CIVIL, make_problem


def sample_problem(path: Path) -> Problem:
    inputs = check(path).inputs
    assert inputs is not None
    return network_problem(inputs, build_network(inputs), name=path.stem)


@pytest.fixture(scope="module")
def district() -> Problem:
    return sample_problem(SAMPLE)


@pytest.fixture(scope="module")
def tiny() -> Problem:
    return sample_problem(TINY)


def hand_made() -> Problem:
    """Every feature the frames can carry: groups, curves, caps, existing pipes, two dig types."""
    civil = pd.concat([CIVIL, CIVIL.assign(civil_cost_id=2, cost_m=CIVIL["cost_m"] * 1.5)])
    return make_problem(
        [
            {"id": "a", "kwh": 1000, "peak": 10, "value": 5000, "group": "g", "connections": 3},
            {"id": "b", "kwh": 2000.5, "peak": 12.25, "value": 0.1, "required": True},
            {"id": "c", "kwh": 1e-3, "peak": 1 / 3, "cost": 7, "extra": -2, "group": "g"},
        ],
        [
            ("S:1", "J", 10),
            {"u": "J", "v": "B:a", "length": 10, "existing": 50.0, "civil": 2},
            {"u": "J", "v": "B:b", "length": 0.1, "required": True, "extra": 3.5},
            {"u": "J", "v": "B:c", "length": 0, "id": "zero"},
            {"u": "S:2", "v": "J", "length": 1 / 7, "civil": 2},
        ],
        [
            {"id": "1", "heat": 0.1, "peak": 100, "emissions": 0.2, "fixed": 10},
            {"id": "2", "annual": 5e4, "per_kw": 3, "curve": [(0, 0), (10, 100), (50, 300)]},
        ],
        params={"constraint/max-buildings": 2, "objective/use-tariffs": "false"},
        civil_costs=civil,
    )


def through_text(data: dict[str, Any]) -> dict[str, Any]:
    """What a reader sees: the data written as JSON text and parsed again."""
    loaded: dict[str, Any] = json.loads(json.dumps(data, allow_nan=False))
    return loaded


def assert_same_problem(a: Problem, b: Problem) -> None:
    for table in ("buildings", "supplies", "edges"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True)
    for name in ("diameter_mm", "capacity_kw", "loss_w_per_m"):
        np.testing.assert_array_equal(getattr(a.catalogue, name), getattr(b.catalogue, name))
    pd.testing.assert_frame_equal(a.catalogue.cost_m, b.catalogue.cost_m, check_exact=True)
    assert (a.catalogue.flow_c, a.catalogue.return_c, a.catalogue.ground_c) == (
        b.catalogue.flow_c, b.catalogue.return_c, b.catalogue.ground_c,
    )  # fmt: skip
    assert a.parameters == b.parameters
    assert (a.reasons, a.name) == (b.reasons, b.name)


def assert_valid(data: Any, name: str) -> None:
    validator = jsonschema.Draft202012Validator(json_schema(name))
    assert [e.message for e in validator.iter_errors(data)] == []


# --- round trips -----------------------------------------------------------------------------


def test_sample_district_round_trips_through_a_file(district, tmp_path):
    path = tmp_path / "district.json"
    write_problem(district, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert_valid(data, "problem")
    assert data["parameters"]["finance/npv-rate"] == district.parameters.npv_rate
    assert len(data["buildings"]) == len(district.buildings)
    assert_same_problem(district, read_problem(path))


def test_building_items_are_what_the_pv_columns_are_priced_from_and_stay_in_memory(district):
    items = district.building_items
    assert items is not None
    pv = pv_by_class(items, schedule_for(district.parameters), "building_id")
    pv = pv.reindex(district.buildings["building_id"].to_numpy(), fill_value=0.0)
    for klass in CostClass:
        np.testing.assert_array_equal(
            pv[klass].to_numpy(float), district.buildings[f"pv_{klass.column}"].to_numpy(float)
        )
    again = problem_from_json(problem_to_json(district))
    assert again.building_items is None  # not part of the JSON form: solved to JSON only


def test_hand_made_problem_round_trips():
    # tests/problems.py names the edge index "id"; network_problem (and the JSON reader) leave
    # it unnamed
    problem = dataclasses.replace(hand_made(), edges=hand_made().edges.rename_axis(None))
    data = through_text(problem_to_json(problem))
    assert_valid(data, "problem")
    assert data["supplies"][0]["peak_capacity_kw"] == 100
    assert data["supplies"][1]["peak_capacity_kw"] is None  # NaN: unlimited
    assert data["edges"][1]["existing_diameter_mm"] == 50
    assert data["edges"][1]["civil_lengths_m"] == {"2": 10.0}
    assert [p["kw"] for p in data["supplies"][1]["curve"]] == [0, 10, 50]
    assert_same_problem(problem, problem_from_json(data))


def test_round_tripped_tiny_sample_solves_the_same(tiny):
    again = problem_from_json(through_text(problem_to_json(tiny)))
    first, second = optimise(tiny), optimise(again)
    assert first.state == second.state == "optimal"
    assert second.objective == pytest.approx(first.objective, rel=1e-9)
    assert second.design is not None
    assert first.design is not None
    assert second.design.key == first.design.key


def test_defaults_fill_a_minimal_hand_written_problem():
    problem = problem_from_json(
        {
            "format": "heatnet-problem",
            "version": 1,
            "pipes": problem_to_json(hand_made())["pipes"] | {"ground_c": 8},
            "buildings": [
                {"vertex": "b", "building_id": "B", "annual_demand_kwh": 1, "peak_demand_kw": 1}
            ],
            "supplies": [{"vertex": "s", "supply_id": "S"}],
            "edges": [{"id": "e", "u": "s", "v": "b", "length_m": 0}],
        }
    )
    b, s, e = (problem.buildings.iloc[0], problem.supplies.iloc[0], problem.edges.iloc[0])
    assert (b["connections"], b["required"], b["demand_group"]) == (1, False, None)
    assert all(b[f"pv_{c}"] == 0 for c in PV_CLASSES)
    assert np.isnan(s["peak_capacity_kw"])
    assert np.isnan(s["annual_capacity_kwh"])
    assert s["curve_kw"] == ()
    assert s["curve_supply_capex"] == ()
    assert np.isnan(e["existing_diameter_mm"])
    assert (e["civil_lengths_m"], e["members"], e["extra_pv"]) == ({}, (), 0.0)
    assert problem.parameters.npv_rate == load_schemas().parameters["finance/npv-rate"].default
    assert (problem.name, problem.reasons) == ("problem", ())


# --- broken input ----------------------------------------------------------------------------


def error_text(data: Any) -> str:
    with pytest.raises(InputError) as caught:
        problem_from_json(data)
    return str(caught.value)


def test_schema_faults_are_all_named_with_their_paths(tiny):
    data = through_text(problem_to_json(tiny))
    data["format"] = "heatnet-solution"
    data["surplus"] = 1
    data["parameters"]["finance/npv-rate"] = [0.03]
    data["pipes"]["rows"][1]["capacity_kw"] = "lots"
    data["buildings"][0]["annual_demand_kwh"] = -1
    del data["edges"][2]["u"]
    data["edges"][3]["civil_lengths_m"] = {"one": 5.0}
    data["supplies"][0]["fixed"]["pipe_capex"] = 1.0
    text = error_text(data)
    assert "8 error(s)" in text
    for path in (
        "$.format", "$: Additional properties", "$.parameters['finance/npv-rate']",
        "$.pipes.rows[1].capacity_kw", "$.buildings[0].annual_demand_kwh", "$.edges[2]:",
        "'u' is a required property", "$.edges[3].civil_lengths_m", "$.supplies[0].fixed",
    ):  # fmt: skip
        assert path in text


def test_semantic_faults_are_all_named_at_once(tiny):
    data = through_text(problem_to_json(tiny))
    data["supplies"][0]["vertex"] = data["buildings"][1]["vertex"]
    data["buildings"][2]["building_id"] = data["buildings"][0]["building_id"]
    data["edges"][1]["id"] = data["edges"][0]["id"]
    data["edges"][2]["civil_lengths_m"] = {"9": data["edges"][2]["length_m"]}
    data["edges"][3]["civil_lengths_m"] = {"1": 1.0}
    data["edges"][4]["v"] = data["edges"][4]["u"]
    data["pipes"]["rows"][0]["diameter_mm"] = 1e6
    data["parameters"]["finance/npv-rte"] = 0.05
    data["parameters"]["finance/npv-term"] = 2.5
    text = error_text(data)
    assert "9 error(s)" in text
    for fragment in (
        "$.supplies[0].vertex", "a vertex is a building or a supply", "$.buildings[2].building_id",
        "$.edges[1].id", "$.edges[2].civil_lengths_m: unknown civil ids ['9']",
        "$.edges[3].civil_lengths_m: 1 m in all", "$.edges[4]: both ends",
        "diameter_mm must increase", "did you mean 'finance/npv-rate'", "not a whole number",
    ):  # fmt: skip
        assert fragment in text


def test_catalogue_must_match_the_temperature_parameters(tiny):
    data = through_text(problem_to_json(tiny))
    data["parameters"]["optimiser/flow-temperature"] = 70
    assert "$.pipes.flow_c: the catalogue is for 90 °C" in error_text(data)


def test_files_that_are_not_json_or_not_there(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "heatnet-problem",', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        read_problem(bad)
    bad.write_text('{"edges": [{"length_m": NaN}], "x": {"a b": 1e400, "y": Infinity}}')
    with pytest.raises(InputError) as caught:
        read_problem(bad)
    for where in ("$.edges[0].length_m: nan", "$.x['a b']: inf", "$.x.y: inf"):
        assert where in str(caught.value)
    assert "too large" in error_text({"a": [10**400]})
    with pytest.raises(InputError, match="cannot read"):
        read_problem(tmp_path / "missing.json")
    assert "is not of type 'object'" in error_text([1, 2])


def test_writing_refuses_to_overwrite_unless_asked(tiny, tmp_path):
    path = tmp_path / "p.json"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        write_problem(tiny, path)
    assert path.read_text(encoding="utf-8") == "old"
    write_problem(tiny, path, overwrite=True)
    assert_same_problem(tiny, read_problem(path))
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]  # no temporary left


# --- solutions -------------------------------------------------------------------------------


def test_solution_json_is_valid_and_its_totals_match_the_design(tiny, tmp_path):
    solution = optimise(tiny)
    design = solution.design
    assert design is not None
    path = tmp_path / "solution.json"
    write_solution(solution, tiny, path)
    with pytest.raises(OutputExistsError):
        write_solution(solution, tiny, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert_valid(data, "solution")
    assert data["state"] == solution.state
    assert data["objective"] == solution.objective
    assert data["network_npv"] == solution.network_npv
    assert data["iterations"] == solution.iterations == len(data["history"])
    connected = design.buildings["in_network"]
    used = design.edges["in_network"].astype(bool)
    length = tiny.edges.loc[used[used].index, "length_m"].sum()
    assert data["network_building_count"] == connected.sum() > 0
    assert data["network_connection_count"] == tiny.buildings["connections"][connected].sum()
    assert data["network_length"] == pytest.approx(length)
    assert data["network_kwh"] == pytest.approx(design.kwh)
    losses = design.edges["loss_kw"][used].sum() * HOURS_PER_YEAR
    assert data["network_losses_kwh"] == pytest.approx(losses)
    assert data["network_linear_density"] == pytest.approx(design.kwh / length)
    by_id = {e["id"]: e for e in data["edges"]}
    assert sum(e["losses_kwh"] or 0 for e in by_id.values()) == pytest.approx(losses)
    for eid, row in design.edges.iterrows():
        assert by_id[eid]["in_network"] == bool(row["in_network"])
        assert (by_id[eid]["diameter_mm"] is None) == bool(np.isnan(row["diameter_mm"]))
    supply = data["supplies"][0]
    assert set(supply["pv"]) == set(SUPPLY_CLASSES)
    assert supply["load_kwh"] == pytest.approx(design.supplies["load_kwh"].iloc[0])
    npv = sum(sum(x["pv"].values()) for t in ("buildings", "supplies", "edges") for x in data[t])
    assert npv == pytest.approx(solution.network_npv)


def test_solution_without_a_design_has_nulls_and_no_elements(tiny):
    solution = Solution(
        "infeasible", None, None, None, None, None, float("nan"), 0.5, 1, "linear",
        (("unreachable_required_building", "B1 cannot be reached"),),
    )  # fmt: skip
    data = through_text(solution_to_json(solution, tiny))
    assert_valid(data, "solution")
    assert data["upper_bound"] is None  # NaN
    assert data["network_length"] is None
    assert data["buildings"] == []
    assert data["reasons"] == [
        {"reason_type": "unreachable_required_building", "message": "B1 cannot be reached"}
    ]


# --- the schemas themselves ------------------------------------------------------------------


def properties(schema: dict[str, Any], path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """Every property schema, with where it is."""
    out = []
    for name, prop in schema.get("properties", {}).items():
        out += [(f"{path}.{name}", prop), *properties(prop, f"{path}.{name}")]
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out += properties(schema[key], f"{path}.{key}")
    for name, sub in schema.get("$defs", {}).items():
        out += properties(sub, f"{path}.$defs.{name}")
    return out


@pytest.mark.parametrize("name", ["problem", "solution"])
def test_every_property_is_described_and_numbers_have_units(name):
    schema = copy.deepcopy(json_schema(name))
    jsonschema.Draft202012Validator.check_schema(schema)
    found = properties(schema)
    assert len(found) > 40
    for where, prop in found:
        assert prop.get("description"), where
        types = prop.get("type", [])
        numeric = {"number", "integer"} & set([types] if isinstance(types, str) else types)
        in_pv = ".$defs.pv" in where  # classes share their holder's unit
        assert "x-unit" in prop or not numeric or in_pv, where
    assert "x-table" not in schema
    assert name not in {*load_schemas().inputs, *load_schemas().outputs}


def test_problem_schema_names_the_pv_classes():
    defs = json_schema("problem")["$defs"]
    assert tuple(defs["pv_building"]["properties"]) == PV_CLASSES
    assert tuple(defs["pv_supply"]["properties"]) == SUPPLY_CLASSES
    assert set(json_schema("solution")["$defs"]["pv"]["propertyNames"]["enum"]) == set(PV_CLASSES)
