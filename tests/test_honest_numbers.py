"""What heatnet says about a design is true of it: the cases the honest-numbers issue reproduced.

Each case is the sample ``tiny.gpkg`` (three buildings on one street, one supply) changed as the
issue describes, run end to end through ``heatnet run``; the written ``solution_summary``,
``warnings`` and layers are read back from disk (and checked for upper ≥ lower = objective by
``tests.runs.read_output``).
"""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest

from tests.conftest import TINY, write_gpkg
from tests.runs import headline, heatnet, read_output

MODELS = ("linear", "discrete")


def tiny_frames() -> dict[str, pd.DataFrame]:
    return {name: pyogrio.read_dataframe(TINY, layer=name) for name, _ in pyogrio.list_layers(TINY)}


def with_parameters(frames: dict[str, pd.DataFrame], **values: str) -> dict[str, pd.DataFrame]:
    table = frames["parameters"]
    extra = pd.DataFrame({"parameter": list(values), "value": list(values.values())})
    keep = table[~table["parameter"].isin(list(values))]
    return {**frames, "parameters": pd.concat([keep, extra], ignore_index=True)}


@pytest.mark.parametrize("model", MODELS)
def test_a_building_no_pipe_carries_is_left_out_and_named(tmp_path, model):
    # B1 at 1,500 kW: tiny's largest pipe carries less, so B1 cannot be connected in either
    # model; B2 alone still pays. The warning and B1's unreachable_reason say why.
    frames = tiny_frames()
    b = frames["buildings"]
    b.loc[b["building_id"] == "B1", "peak_demand_kw"] = 1500.0
    source = write_gpkg(
        tmp_path / "big.gpkg", with_parameters(frames, **{"heatnet/pipe-model": model})
    )
    out = tmp_path / "out.gpkg"
    result = heatnet("run", source, "-o", out)
    assert result.returncode == 0, result.stderr
    written = read_output(source, out)
    buildings = written["buildings"].set_index("building_id")
    assert not buildings.at["B1", "in_network"]
    assert "largest pipe" in buildings.at["B1", "unreachable_reason"]
    warnings = written["warnings"]
    mine = warnings[warnings["code"] == "building_exceeds_largest_pipe"]
    assert mine["feature_id"].tolist() == ["B1"]
    assert "1500 kW" in mine["message"].iloc[0]
    # the design and its proof are those of the problem without B1
    assert buildings.at["B2", "in_network"]
    s = written.summary
    assert s["state"] == "optimal"
    assert s["upper_bound"] == pytest.approx(s["objective"], rel=1e-4)


@pytest.mark.parametrize("model", MODELS)
def test_both_pipe_models_agree_on_the_tiny_optimum_and_prove_it(tmp_path, model):
    # sample_data/README.md: B1 and B2 connected, NPV 55,134 (priced by hand there)
    source = write_gpkg(
        tmp_path / "t.gpkg", with_parameters(tiny_frames(), **{"heatnet/pipe-model": model})
    )
    out = tmp_path / "out.gpkg"
    assert heatnet("run", source, "-o", out).returncode == 0
    written = read_output(source, out)
    b = written["buildings"].set_index("building_id")["in_network"]
    assert b.to_dict() == {"B1": True, "B2": True, "B3": False}
    s = written.summary
    assert s["state"] == "optimal"
    assert s["mip_gap"] <= 1e-4
    assert s["network_npv"] == pytest.approx(55_134.22, abs=0.01)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("capacity", "code"), [(110_000.0, 4), (110_200.0, 0)])
def test_a_required_building_the_supply_cannot_serve_is_proven_infeasible(
    tmp_path, model, capacity, code
):
    # B1 is required; alone it needs 100,000 kWh/yr plus its pipes' losses at 10 °C ground
    # (110,115 kWh/yr as priced). Below that, no design exists and the relaxation proves it
    # (exit 4, the supply named); just above it, the design fits the supply once priced.
    frames = tiny_frames()
    frames["supplies"]["annual_capacity_kwh"] = capacity
    b = frames["buildings"]
    b.loc[b["building_id"] == "B1", "constraint"] = "required"
    params = {"optimiser/ground-temperature": "10", "heatnet/pipe-model": model}
    source = write_gpkg(tmp_path / "cap.gpkg", with_parameters(frames, **params))
    out = tmp_path / "out.gpkg"
    result = heatnet("run", source, "-o", out)
    assert result.returncode == code, result.stderr
    written = read_output(source, out)
    s = written.summary
    if code == 4:
        assert s["state"] == "infeasible"
        assert pd.isna(s["objective"])
        assert pd.isna(s["upper_bound"])
        assert not written["buildings"]["in_network"].any()
        messages = written["infeasible_reasons"]["message"].tolist()
        assert any("supply S1 annual capacity" in m for m in messages), messages
    else:
        supply = written["supplies"].iloc[0]
        assert 110_000.0 < supply["load_kwh"] <= capacity
        assert written["buildings"].set_index("building_id").at["B1", "in_network"]
        assert s["upper_bound"] >= s["objective"]


def test_a_network_without_tariffs_says_why_nothing_connected(tmp_path):
    frames = tiny_frames()
    frames["buildings"]["tariff_id"] = None
    source = write_gpkg(tmp_path / "free.gpkg", frames)
    out = tmp_path / "out.gpkg"
    result = heatnet("run", source, "-o", out)
    assert result.returncode == 0, result.stderr
    written = read_output(source, out)
    assert written.summary["network_building_count"] == 0
    assert written.summary["state"] == "optimal"  # nothing pays: the empty network, proven
    lines = headline(result.stdout)
    assert lines["why nothing"] == "no building earns a tariff (no tariff_id, or tariffs of 0)"


def test_every_building_unreachable_is_the_empty_design_proven(tmp_path):
    # a 1 mm connector limit leaves every building unreachable: the empty network is the only
    # design, proven optimal (exit 0), and the closing lines say why nothing connected
    out = tmp_path / "out.gpkg"
    result = heatnet("run", TINY, "-o", out, "--set", "heatnet/max-connector-length=0.001")
    assert result.returncode == 0, result.stderr
    s = read_output(TINY, out).summary
    assert s["state"] == "optimal"
    assert s["network_building_count"] == 0
    assert s["objective"] == 0.0
    assert s["upper_bound"] == 0.0
    assert headline(result.stdout)["why nothing"].startswith("no building can be reached")


def test_a_capacity_curve_is_priced_exactly_between_its_breakpoints():
    # A rate falling from 10 ¤/kW at 0 kW to 6 ¤/kW at 100 kW: total(x) = x · (10 − 0.04 x),
    # 0 at 0 kW, 400 at 50 kW (the midpoint), 600 at 100 kW. At 25 kW it is 25 · 9 = 225 and at
    # 75 kW 75 · 7 = 525, where the chord says 150 and 450; below and beyond, flat.
    from heatnet.optimise.evaluate import curve_at

    kw, pv = (0.0, 100.0), (0.0, 600.0)
    assert curve_at(25.0, kw, pv, (400.0,)) == pytest.approx(225.0, rel=1e-12)
    assert curve_at(75.0, kw, pv, (400.0,)) == pytest.approx(525.0, rel=1e-12)
    assert curve_at(50.0, kw, pv, (400.0,)) == pytest.approx(400.0, rel=1e-12)
    assert curve_at(100.0, kw, pv, (400.0,)) == pytest.approx(600.0, rel=1e-12)
    assert curve_at(150.0, kw, pv, (400.0,)) == pytest.approx(600.0, rel=1e-12)
    assert curve_at(25.0, kw, pv) == pytest.approx(150.0, rel=1e-12)  # no midpoints: chord


def test_the_search_prices_a_design_as_the_written_tables_do():
    # The district's supply has a capacity cost curve. The design the search keeps (here the
    # best construction: the limit, 3.6 ms, is spent before any MIP) must be worth exactly what
    # the written line items say: the search used to price the curve on its chords (98 ¤ off).
    from heatnet.optimise.loop import optimise
    from heatnet.outputs.results import RunInfo, results
    from heatnet.pipeline import check
    from heatnet.problem.from_network import network_problem
    from heatnet.topology import build_network
    from tests.conftest import SAMPLE

    inputs = check(SAMPLE, overrides={"optimiser/runtime-limit": "1e-6"}).inputs
    assert inputs is not None
    network = build_network(inputs)
    problem = network_problem(inputs, network)
    assert any(len(kw) for kw in problem.supplies["curve_kw"])  # a curve to price
    solution = optimise(problem)
    assert solution.objective is not None
    written = results(
        inputs, network=network, problem=problem, solution=solution,
        info=RunInfo("run", "user", "rev", "today"),
    )  # fmt: skip
    assert written.summary["objective"] == pytest.approx(solution.objective, rel=1e-9)
