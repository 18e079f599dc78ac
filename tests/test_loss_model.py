"""The λ heat-loss model (`heatnet/heat-loss-model` = lambda, docs/decisions.md §8.2), by hand.

Only the supply line loses heat: λ(D) · |T_flow − T_ground| W/m, λ per diameter from the
``civil_costs`` column ``loss_factor_w_per_m_k``. The default ``fit`` model is unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatnet.economics import build_catalogue
from heatnet.economics.physics import heat_loss_w_per_m, supply_line_loss_w_per_m
from heatnet.inputs.load import read_inputs
from heatnet.inputs.params import parse_parameters
from heatnet.inputs.schema import load_schemas
from heatnet.inputs.validate import check_inputs
from heatnet.optimise.loop import optimise
from heatnet.pipeline import check
from heatnet.problem.from_network import network_problem
from heatnet.problem.json_form import problem_from_json, problem_to_json
from heatnet.topology.build import build_network
from tests.conftest import TINY, base_frames

KEY = "heatnet/heat-loss-model"
COLUMN = "loss_factor_w_per_m_k"


def params(**values):
    table = pd.DataFrame({"parameter": list(values), "value": [str(v) for v in values.values()]})
    parsed, issues = parse_parameters(table, {}, load_schemas())
    assert issues == []
    return parsed.parameters


def temperatures(model, flow=80, back=50, ground=10):
    return params(
        **{
            KEY: model,
            "optimiser/flow-temperature": flow,
            "optimiser/return-temperature": back,
            "optimiser/ground-temperature": ground,
        }
    )


# --- the formula -----------------------------------------------------------------------------


def test_supply_line_loss_by_hand():
    # 0.2 W/(m K) x (80 - 10) K = 14 W/m
    assert supply_line_loss_w_per_m(0.2, flow_c=80, ground_c=10) == pytest.approx(14.0)
    np.testing.assert_allclose(
        supply_line_loss_w_per_m([0.1, 0.2, 0.5], flow_c=80, ground_c=10), [7.0, 14.0, 35.0]
    )


def test_supply_line_loss_of_a_cooling_network_is_its_magnitude():
    # flow 5 °C in 12 °C ground: the pipe gains 0.2 x 7 = 1.4 W/m, which the plant must remove
    assert supply_line_loss_w_per_m(0.2, flow_c=5, ground_c=12) == pytest.approx(1.4)
    assert supply_line_loss_w_per_m(0.2, flow_c=12, ground_c=12) == 0.0


def test_the_parameter_defaults_to_fit_and_reads_keywords():
    assert params().heat_loss_model == "fit"
    assert params(**{KEY: ":Lambda"}).heat_loss_model == "lambda"
    table = pd.DataFrame({"parameter": [KEY], "value": ["exact"]})
    _, issues = parse_parameters(table, {}, load_schemas())
    assert [(i.code, i.feature_id) for i in issues] == [("bad_parameter_value", KEY)]
    assert load_schemas().parameters[KEY].baked  # a saved problem holds the losses


# --- the catalogue ---------------------------------------------------------------------------

CIVIL = pd.DataFrame(
    {
        "diameter_mm": [50.0, 100.0, 50.0, 100.0],
        "civil_cost_id": [1, 1, 2, 2],
        "cost_m": [400.0, 600.0, 700.0, 900.0],
        COLUMN: [0.2, 0.3, 0.2, 0.3],
    }
)


def test_lambda_catalogue_is_lambda_times_flow_minus_ground_per_diameter():
    cat = build_catalogue(CIVIL, temperatures("lambda"))
    assert cat.diameter_mm.tolist() == [50.0, 100.0]
    assert cat.heat_loss_model == "lambda"
    # 0.2 x 70 and 0.3 x 70: the return temperature plays no part
    np.testing.assert_allclose(cat.loss_w_per_m, [14.0, 21.0])
    np.testing.assert_allclose(
        build_catalogue(CIVIL, temperatures("lambda", back=20)).loss_w_per_m, [14.0, 21.0]
    )
    # a diameter between two listed ones (an existing pipe) interpolates; beyond them, flat
    np.testing.assert_allclose(cat.loss_at_diameter([75.0, 20.0, 400.0]), [17.5, 14.0, 21.0])
    np.testing.assert_allclose(cat.loss_at_diameter(cat.diameter_mm), cat.loss_w_per_m)
    # capacity and cost do not depend on the loss model
    fit = build_catalogue(CIVIL, temperatures("fit"))
    np.testing.assert_array_equal(cat.capacity_kw, fit.capacity_kw)
    pd.testing.assert_frame_equal(cat.cost_m, fit.cost_m)


def test_lambda_catalogue_of_a_cooling_network():
    # flow 5 °C, return 12 °C, ground 10 °C: |5 - 10| = 5 K
    cat = build_catalogue(CIVIL, temperatures("lambda", flow=5, back=12, ground=10))
    np.testing.assert_allclose(cat.loss_w_per_m, [1.0, 1.5])


def test_fit_catalogue_is_unchanged_and_ignores_the_column():
    p = temperatures("fit")
    expected = heat_loss_w_per_m([50.0, 100.0], flow_c=80, return_c=50, ground_c=10)
    for civil in (CIVIL, CIVIL.drop(columns=COLUMN)):
        cat = build_catalogue(civil, p)
        assert cat.heat_loss_model == "fit"
        np.testing.assert_array_equal(cat.loss_w_per_m, expected)
        assert cat.loss_at_diameter(75.0) == pytest.approx(
            heat_loss_w_per_m(75.0, flow_c=80, return_c=50, ground_c=10)
        )


@pytest.mark.parametrize(
    ("civil", "words"),
    [
        (CIVIL.drop(columns=COLUMN), "no column"),
        (CIVIL.assign(**{COLUMN: [0.2, 0.3, 0.2, np.nan]}), "100 mm has no"),
        (CIVIL.assign(**{COLUMN: [0.2, 0.3, 0.25, 0.3]}), "50 mm disagree"),
    ],
)
def test_lambda_catalogue_refuses_unusable_factors(civil, words):
    with pytest.raises(ValueError, match=words):
        build_catalogue(civil, temperatures("lambda"))


# --- validation ------------------------------------------------------------------------------

FACTORS = [0.15, 0.2, 0.3, 0.15, 0.2, 0.3]
"""λ of the base civil_costs rows (25, 50, 100 mm for civil ids 1 and 2)."""


def frames(factors=FACTORS, *, model="lambda", civil=True):
    """base_frames() with λ in civil_costs and the model as the third parameter row (fid 3)."""
    out = base_frames()
    if factors is not None:
        out["civil_costs"] = out["civil_costs"].assign(
            **{COLUMN: pd.Series(factors, dtype="float64")}
        )
    if not civil:
        out["civil_costs"] = out["civil_cost_names"] = None
    parameters = out["parameters"]
    out["parameters"] = pd.concat(
        [parameters, pd.DataFrame({"parameter": [KEY], "value": [model]})], ignore_index=True
    )
    return out


def validate(make_input, changed, **kwargs):
    return check_inputs(read_inputs(make_input(**changed)), **kwargs)


def loss_issues(issues):
    return [i for i in issues if "loss_factor" in i.code]


def test_lambda_with_every_factor_is_valid(make_input):
    inputs, issues = validate(make_input, frames())
    assert inputs is not None, [i.message for i in issues if i.is_error]
    assert inputs.parameters.heat_loss_model == "lambda"
    assert inputs.civil_costs[COLUMN].tolist() == FACTORS
    assert loss_issues(issues) == []


def test_fit_needs_no_factors(make_input):
    for factors in (None, [0.15, None, 0.3, 0.15, 0.25, 0.1]):  # absent; empty, disagreeing
        inputs, issues = validate(make_input, frames(factors, model="fit"))
        assert inputs is not None, [i.message for i in issues if i.is_error]
        assert loss_issues(issues) == []


def test_a_row_without_a_factor_is_an_error_naming_it(make_input):
    factors = [*FACTORS]
    factors[4] = None  # fid 5: civil id 2, 50 mm
    inputs, issues = validate(make_input, frames(factors))
    assert inputs is None
    [issue] = loss_issues(issues)
    assert (issue.code, issue.table, issue.row, issue.column) == (
        "missing_loss_factor",
        "civil_costs",
        5,
        COLUMN,
    )
    assert issue.is_error
    assert issue.feature_id is not None
    assert KEY in issue.message
    assert "empty" in issue.message


def test_no_factor_at_all_is_one_error_on_the_column(make_input):
    for factors in (None, [None] * 6):
        inputs, issues = validate(make_input, frames(factors))
        assert inputs is None
        [issue] = loss_issues(issues)
        assert (issue.code, issue.table, issue.row, issue.column) == (
            "missing_loss_factor",
            "civil_costs",
            None,
            COLUMN,
        )


def test_factors_of_one_diameter_must_agree(make_input):
    factors = [*FACTORS]
    factors[3] = 0.16  # fid 4: civil id 2, 25 mm; fid 1 (civil id 1, 25 mm) says 0.15
    inputs, issues = validate(make_input, frames(factors))
    assert inputs is None
    [issue] = loss_issues(issues)
    assert (issue.code, issue.table, issue.row, issue.column) == (
        "conflicting_loss_factor",
        "civil_costs",
        4,
        COLUMN,
    )
    assert "0.16 differs from 0.15 on fid 1" in issue.message
    assert "diameter_mm 25" in issue.message


def test_a_factor_must_not_fall_as_the_diameter_grows(make_input):
    # 50 mm loses less than 25 mm: an error on both 50 mm rows (fids 2 and 5)
    factors = [0.25, 0.2, 0.3, 0.25, 0.2, 0.3]
    inputs, issues = validate(make_input, frames(factors))
    assert inputs is None
    found = loss_issues(issues)
    assert [(i.code, i.row) for i in found] == [
        ("falling_loss_factor", 2),
        ("falling_loss_factor", 5),
    ]
    assert "0.2 at diameter_mm 50 is below 0.25 at diameter_mm 25" in found[0].message
    equal = [0.2, 0.2, 0.3, 0.2, 0.2, 0.3]  # equal is fine
    inputs, issues = validate(make_input, frames(equal))
    assert inputs is not None, [i.message for i in issues if i.is_error]


def test_lambda_without_a_civil_costs_table_is_an_error_on_the_parameter(make_input):
    inputs, issues = validate(make_input, frames(None, civil=False))
    assert inputs is None
    [issue] = [i for i in issues if i.is_error]
    assert (issue.code, issue.table, issue.row, issue.column, issue.feature_id) == (
        "missing_loss_factor",
        "parameters",
        3,
        "value",
        KEY,
    )
    assert "needs a civil_costs table with loss_factor_w_per_m_k" in issue.message
    # set on the command line: no row, and the message says --set
    changed = frames(None, model="", civil=False)
    _, issues = validate(make_input, changed, overrides={KEY: "lambda"})
    [issue] = [i for i in issues if i.is_error]
    assert (issue.table, issue.row, issue.feature_id) == ("parameters", None, KEY)
    assert issue.message.startswith("--set")


def test_a_bad_factor_is_reported_once_not_also_as_empty(make_input):
    for value, code in ((-1.0, "below_minimum"), (0.0, "below_minimum"), (500.0, "above_maximum")):
        factors = [*FACTORS]
        factors[0] = value
        _, issues = validate(make_input, frames(factors))
        on_row = [i for i in issues if i.table == "civil_costs" and i.row == 1]
        assert [i.code for i in on_row] == [code], value
    changed = frames()
    civil = changed["civil_costs"].astype({COLUMN: object})
    civil.loc[0, COLUMN] = "lots"
    _, issues = validate(make_input, {**changed, "civil_costs": civil})
    on_row = [i for i in issues if i.table == "civil_costs" and i.row == 1]
    assert [i.code for i in on_row] == ["bad_type"]


def test_every_loss_factor_problem_is_reported_at_once(make_input):
    factors = [0.15, None, 0.3, 0.16, 0.2, 0.1]  # fid 2 empty; 25 mm and 100 mm disagree
    changed = frames(factors)
    changed["buildings"] = changed["buildings"].assign(annual_demand_kwh=[20000.0, -5.0])
    inputs, issues = validate(make_input, changed)
    assert inputs is None
    found = {(i.code, i.table, i.row) for i in issues if i.is_error}
    assert {
        ("missing_loss_factor", "civil_costs", 2),
        ("conflicting_loss_factor", "civil_costs", 4),
        ("conflicting_loss_factor", "civil_costs", 6),
    } <= found
    assert any(i.table == "buildings" for i in issues if i.is_error)


# --- end to end ------------------------------------------------------------------------------


TINY_FACTORS = {25.0: 0.1, 50.0: 0.15, 80.0: 0.2, 100.0: 0.25}
"""λ for the diameters of sample_data/tiny.gpkg's civil_costs."""


def tiny_lambda_problem(tmp_path):
    """sample_data/tiny.gpkg with λ in a civil_costs.csv (--tables) and lambda by --set."""
    civil = read_inputs(TINY).tables["civil_costs"]
    assert civil is not None
    folder = tmp_path / "tables"
    folder.mkdir()
    civil.assign(**{COLUMN: civil["diameter_mm"].map(TINY_FACTORS)}).to_csv(
        folder / "civil_costs.csv", index=False
    )
    inputs = check(TINY, tables=folder, overrides={KEY: "lambda"}).inputs
    assert inputs is not None
    return network_problem(inputs, build_network(inputs), name="tiny-lambda")


def test_a_problem_built_with_lambda_has_lambda_times_delta_t_losses(tmp_path):
    problem = tiny_lambda_problem(tmp_path)
    p = problem.parameters
    assert p.heat_loss_model == "lambda"
    cat = problem.catalogue
    assert cat.heat_loss_model == "lambda"
    delta = p.flow_temperature_c - p.ground_temperature_c  # 90 - 8 = 82 K by default
    assert delta == 82.0
    expected = [TINY_FACTORS[d] * delta for d in cat.diameter_mm]
    np.testing.assert_allclose(cat.loss_w_per_m, expected, rtol=1e-12)
    assert cat.loss_w_per_m[0] == pytest.approx(8.2)
    # the JSON form keeps the losses and the model (for diameters not in the table)
    again = problem_from_json(problem_to_json(problem))
    np.testing.assert_array_equal(again.catalogue.loss_w_per_m, cat.loss_w_per_m)
    assert again.catalogue.heat_loss_model == "lambda"
    assert again.catalogue.loss_at_diameter(65.0) == pytest.approx((12.3 + 16.4) / 2)
    # and a design's pipes lose what the λ model says
    solution = optimise(problem)
    design = solution.design
    assert design is not None
    used = design.edges[design.edges["in_network"].astype(bool) & design.edges["loss_kw"].gt(0)]
    assert len(used) > 0
    length = problem.edges.loc[used.index, "length_m"]
    lam = used["diameter_mm"].map(TINY_FACTORS)
    np.testing.assert_allclose(used["loss_kw"], length * lam * delta / 1000.0, rtol=1e-9)
