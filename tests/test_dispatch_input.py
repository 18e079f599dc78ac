"""Dispatch (`heatnet dispatch-solve`): its input checks and its command line.

Every problem of an input is named at once with where it is; ``--set`` reaches only the options;
the command line writes the result (or an infeasible one's reasons) and exits with its state's
code, and an interrupt exits 130 writing nothing. Cases derived by hand: ``tests/test_dispatch.py``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from heatnet.cli.commands import cli
from heatnet.core.errors import InputError
from heatnet.dispatch import dispatch_from_json, solve_dispatch
from heatnet.dispatch.problem import apply_overrides
from heatnet.dispatch.solve import DispatchSolution
from heatnet.inputs.schema import load_schemas
from heatnet.optimise.stopping import Stop
from tests.conftest import ROOT
from tests.dispatch_cases import boiler_status, distribution_case, fuel, multi_node, unit

# --- input, command line -----------------------------------------------------------------------


def bad_problem() -> dict[str, Any]:
    data = multi_node()
    data["units"] += [
        unit("lost", "Z", "gas", 10),  # unknown node
        unit("odd", "A", "gas", 10, efficiency=-0.5),  # negative efficiency
        unit("coal_fired", "A", "coal", 10),  # a fuel nobody sells
        unit("far", "A", "oil", 10),  # oil is sold at B only and not distributed
    ]
    data["fuels"][0]["price_per_kwh"] = [0.05] * 23  # one short
    return data


BAD_MESSAGES = (
    "$.units[2].node: unknown node 'Z'",
    "$.units[3].efficiency: -0.5 is less than or equal to the minimum of 0",
    "$.units[4].fuel: unknown fuel 'coal'",
    "$.units[5].fuel: 'oil' can be neither bought at node 'A' nor distributed to it",
    "$.fuels[0].price_per_kwh: 23 values, but steps.count is 24",
)


def test_every_problem_of_an_input_is_named_at_once():
    with pytest.raises(InputError) as caught:
        dispatch_from_json(bad_problem(), source="p.json")
    text = str(caught.value)
    assert "(5 error(s))" in text
    for message in BAD_MESSAGES:
        assert message in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["nodes"].append({"id": "A"}), "$.nodes[2]: node 'A' is also in $.nodes[0]"),
        (lambda d: d["links"][0].update({"to": "A"}), "$.links[0]: 'from' and 'to' are both 'A'"),
        (lambda d: d["steps"].update({"hours": [1, 2]}), "$.steps.hours: 2 values"),
        (lambda d: d["nodes"][1].update({"demand_kw": [1, -2]}), "$.nodes[1].demand_kw[1]: -2"),
        (lambda d: d.update({"units": [{"id": "x"}]}), "'node' is a required property"),
        (
            lambda d: d["fuel_distribution"].append({"fuel": "steam", "node": "B"}),
            "$.fuel_distribution[0].fuel: unknown fuel 'steam'",
        ),
        (
            lambda d: d["units"][0].update({"min_load_fraction": 0.5, "fuel_max_kw": 10}),
            "$.units[0].min_load_fraction: the minimum load 50 kW needs more fuel",
        ),
        (lambda d: d["steps"].update({"count": 0}), "$.steps.count: 0 is less than the minimum"),
    ],
)
def test_each_check_names_where(change, message):
    data = copy.deepcopy(multi_node())
    data.setdefault("fuel_distribution", [])
    change(data)
    with pytest.raises(InputError, match=None) as caught:
        dispatch_from_json(data)
    assert message in str(caught.value)


def test_a_fuel_distributed_to_a_node_can_be_used_there():
    data = distribution_case(10, 10)
    dispatch_from_json(data)  # gas reaches B through distribution: valid
    data["fuel_distribution"][0]["export_max_kw"] = 0  # ... not when A may not send it
    with pytest.raises(InputError, match=r"'gas' can be neither bought at node 'B'"):
        dispatch_from_json(data)


def test_overrides_reach_only_the_options():
    data = multi_node()
    assert apply_overrides(data, {"options/mip_gap": "0.01"})["options"]["mip_gap"] == 0.01
    assert apply_overrides(data, {"options/status_boundary": "cyclic"})["options"] == {
        "mip_gap": 0.0, "status_boundary": "cyclic",
    }  # fmt: skip
    with pytest.raises(InputError, match="only options can be set"):
        apply_overrides(data, {"steps/count": "3"})


def test_the_dispatch_schema_is_not_a_table():
    schemas = load_schemas()
    assert "dispatch" not in schemas.inputs
    # the output table of that name is heatnet run's, from its own file
    assert schemas.outputs["dispatch"].description.startswith("The design's plants hour by hour")
    assert (ROOT / "schemas" / "dispatch.schema.json").is_file()


def write(tmp_path, data: dict[str, Any], name: str = "problem.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_cli_bad_input_exits_3_naming_every_problem(runner, tmp_path):
    path = write(tmp_path, bad_problem())
    out = tmp_path / "result.json"
    result = runner.invoke(cli, ["dispatch-solve", str(path), "-o", str(out)])
    assert result.exit_code == 3, result.output
    for message in BAD_MESSAGES:
        assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_solves_and_writes_the_result(runner, tmp_path):
    path = write(tmp_path, multi_node())
    out = tmp_path / "result.json"
    args = ["dispatch-solve", str(path), "-o", str(out), "--set", "options/mip_gap=0.001"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["state"] == "optimal"
    assert written["mip_gap"] == 0.001
    assert written["objective"] == pytest.approx(110.3336, abs=1e-4)
    assert len(written["units"][0]["heat_kw"]) == 24
    # the output exists: refused without --overwrite (exit 2, a usage error), replaced with it
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 2
    assert "use --overwrite" in refused.output
    assert runner.invoke(cli, [*args, "--overwrite"]).exit_code == 0
    # a bad option is invalid input, named
    bad = runner.invoke(cli, [*args, "--overwrite", "--set", "options/status_boundary=x"])
    assert bad.exit_code == 3
    assert "$.options.status_boundary: 'x' is not one of" in bad.output


def test_cli_infeasible_exits_4_with_the_reasons_written(runner, tmp_path):
    data = multi_node()
    data["units"] = data["units"][:1]  # no backup: the pipe cannot carry the peak
    path = write(tmp_path, data)
    out = tmp_path / "result.json"
    result = runner.invoke(cli, ["dispatch-solve", str(path), "-o", str(out)])
    assert result.exit_code == 4, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["state"] == "infeasible"
    assert written["objective"] is None
    assert written["units"] == []
    # the pipe brings 57 kW: the peak hours are short of demand at B
    assert any("node 'B'" in r and "cannot be met" in r for r in written["reasons"])


def test_exit_codes_of_the_states():
    def code(state: str, values: dict[str, Any]) -> int:
        return DispatchSolution(state, "", None, None, None, 0.0, values).exit_code

    assert code("optimal", {"heat": {("b", 0): 1.0}}) == 0
    assert code("feasible", {"heat": {("b", 0): 1.0}}) == 0
    assert code("infeasible", {}) == 4
    assert code("no-solution", {}) == 5
    assert code("error", {}) == 5


def test_a_stop_request_keeps_nothing():
    stop = Stop()
    stop.request()
    with pytest.raises(KeyboardInterrupt):
        solve_dispatch(dispatch_from_json(boiler_status()), stop=stop)


def big_problem() -> dict[str, Any]:
    """A year of hours with six status units: minutes to solve, so an interrupt finds it running."""
    count = 8760
    demand = [60 + 40 * math.sin(2 * math.pi * t / 24) for t in range(count)]
    units = [
        unit(f"b{i}", "N", "gas", 30, min_load_fraction=0.5, min_up_h=3, min_down_h=2,
             startup_cost=1.0 + i)
        for i in range(6)
    ]  # fmt: skip
    return {
        "steps": {"count": count},
        "nodes": [{"id": "N", "demand_kw": demand}],
        "fuels": [fuel("gas", "N", [0.1 + 0.01 * (t % 7) for t in range(count)])],
        "units": units,
        "options": {"mip_gap": 0.0},
    }


@pytest.mark.timeout(60)
def test_an_interrupt_exits_130_and_writes_nothing(tmp_path):
    path = write(tmp_path, big_problem())
    out = tmp_path / "result.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "heatnet", "dispatch-solve", str(path), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        time.sleep(2.5)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130, err
    assert not out.exists()
    assert not list(tmp_path.glob(".result*"))  # no temporary file left behind
