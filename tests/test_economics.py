"""Economics and pipe physics against numbers checked by hand and the reference's tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.economics import (
    CONNECTION,
    PATH,
    PIPE,
    SUPPLY,
    SWITCHED,
    CostClass,
    Schedule,
    build_catalogue,
    building_items,
    cashflow,
    diameter_options,
    diversity,
    fit_line,
    objective_weights,
    pipe_diversity,
    pipe_items,
    present_value,
    pv_by_class,
    schedule_for,
    supply_items,
    undiversified_peak_kw,
)
from heatnet.economics.money import ANNUAL, ONCE, items_frame, repex_pattern, series_pattern
from heatnet.economics.physics import capacity_kw, heat_loss_w_per_m
from heatnet.economics.prices import curve_breakpoints, curve_pv, curve_total
from heatnet.inputs.load import read_inputs
from heatnet.inputs.params import parse_parameters
from heatnet.inputs.schema import load_schemas
from heatnet.inputs.validate import check_inputs
from tests.conftest import TINY

# the reference's pipe table (docs/decisions.md §8.2): DN, kW (3 m/s cap), W/m at 90/60/8 °C
REFERENCE = [
    (20, 24.4, 13.36), (25, 43.9, 15.87), (32, 83.4, 18.65), (40, 148.0, 21.16), (50, 261.1, 23.67),
    (65, 506.3, 26.63), (80, 851.9, 28.97), (100, 1485.7, 31.48), (125, 2583.7, 33.99),
    (150, 4053.1, 36.05), (200, 8223.5, 39.28), (250, 14205, 41.80), (300, 22175, 43.85),
    (400, 44686, 47.09), (450, 58328, 48.42), (500, 72010, 49.60), (600, 103694, 51.66),
    (700, 141139, 53.39), (800, 184345, 54.90), (900, 233311, 56.22), (1000, 288039, 57.41),
]  # fmt: skip


def params(**values):
    table = pd.DataFrame({"parameter": list(values), "value": [str(v) for v in values.values()]})
    parsed, issues = parse_parameters(table, {}, load_schemas())
    assert issues == []
    return parsed.parameters


def counted(pv, p):
    """Per element, the PV the objective counts: each class's PV times its objective weight."""
    weights = objective_weights(p)
    return sum(pv[c] * weights[c.column] for c in CostClass)


def test_cost_classes_are_the_formats_spellings_and_groups_partition_them():
    schema_switches = {
        key.removeprefix("objective/use-")
        for key in load_schemas().parameters
        if key.startswith("objective/use-")
    }
    assert {c.value for c in SWITCHED} == schema_switches
    assert [c.column for c in CostClass][-3:] == ["pipe_repex", "tariffs", "extra"]
    assert CostClass.SUPPLY_OPEX.column == "supply_opex"
    assert CostClass.PIPE_CAPEX.switch == "use_pipe_capex"
    assert CostClass.EXTRA.switch is None
    groups = [*CONNECTION, *SUPPLY, *PATH, CostClass.TARIFFS]
    assert sorted(groups) == sorted(CostClass)  # every class in exactly one group
    assert set(PIPE) < set(PATH)
    assert all(objective_weights(params())[c.column] == 1.0 for c in CostClass)


@pytest.mark.parametrize(("dn", "kw", "loss"), REFERENCE)
def test_capacity_and_loss_match_the_reference_table(dn, kw, loss):
    assert capacity_kw(dn, flow_c=90, return_c=60) == pytest.approx(kw, rel=0.005)
    assert heat_loss_w_per_m(dn, flow_c=90, return_c=60, ground_c=8) == pytest.approx(
        loss, rel=0.005
    )


def test_cooling_network_works_with_magnitudes():
    # flow 5.5, return 13: ΔT 7.5 K, mean 9.25 °C, 0.75 K below 10 °C ground
    kw = capacity_kw(100, flow_c=5.5, return_c=13)
    heating = capacity_kw(100, flow_c=13, return_c=5.5)
    assert kw == pytest.approx(heating)
    assert kw == pytest.approx(1485.7 * 7.5 / 30 * 999.79 / 974.86, rel=0.01)
    assert heat_loss_w_per_m(100, flow_c=5.5, return_c=13, ground_c=10) == pytest.approx(
        0.75 * (0.16807 * np.log(0.1) + 0.85684)
    )


def test_catalogue_with_user_diameters_not_in_the_default_list():
    civil = pd.DataFrame(
        {
            "diameter_mm": [33.0, 77.0, 150.0, 50.0],
            "civil_cost_id": [1, 1, 1, 2],
            "cost_m": [100.0, 200.0, 400.0, 900.0],
        }
    )
    cat = build_catalogue(civil, params())
    assert cat.diameter_mm.tolist() == [33.0, 50.0, 77.0, 150.0]
    assert np.all(np.diff(cat.capacity_kw) > 0)
    assert cat.capacity_kw[0] == pytest.approx(capacity_kw(33, flow_c=90, return_c=60))
    # id 1 interpolates at 50 mm; id 2 (only 50 mm) is flat
    assert cat.cost_m.loc[1, 50.0] == pytest.approx(100 + (50 - 33) / (77 - 33) * 100)
    assert cat.cost_m.loc[2].tolist() == [900.0] * 4
    assert cat.diameter_for([0, cat.capacity_kw[1], cat.capacity_kw[1] + 1, 1e9]).tolist() == [
        33.0,
        50.0,
        77.0,
        150.0,
    ]
    assert cat.loss_at_kw(cat.capacity_kw[2]) == pytest.approx(cat.loss_w_per_m[2])
    mixed = cat.mixed_cost_m([{1: 30.0, 2: 10.0}, {}])
    assert mixed[0, 1] == pytest.approx(0.75 * cat.cost_m.loc[1, 50.0] + 0.25 * 900)
    assert mixed[1].tolist() == [0.0] * 4


def test_diversity_defaults_and_rounding_half_up():
    got = diversity([0, 1, 2, 3, 4, 10, 100], limit=0.62, rate=1.0)
    assert got.tolist() == [1.0, 1.0, 0.81, 0.75, 0.72, 0.66, 0.62]


def test_diversity_other_limits_and_rates():
    assert diversity([1, 2, 4], limit=0.5, rate=0.5).tolist() == [1.0, 1.0, 0.75]
    assert diversity([3], limit=0.4, rate=2.0).tolist() == [0.5]  # 0.4 + 0.6/6
    assert diversity([8], limit=0.7, rate=1.0).tolist() == [0.74]  # 0.7375 rounds half up


def test_undiversified_peak_and_pipe_floor():
    assert undiversified_peak_kw([30.0], [2], limit=0.62, rate=1.0)[0] == pytest.approx(30 / 0.81)
    # two 30 kW buildings: 0.81 × 60 = 48.6 kW (reference worked example)
    assert pipe_diversity([2], [60.0], [30.0], limit=0.62, rate=1.0)[0] == pytest.approx(0.81)
    # one big building among small ones: the pipe never shrinks below it
    assert pipe_diversity([100], [200.0], [150.0], limit=0.62, rate=1.0)[0] == pytest.approx(0.75)
    assert pipe_diversity([0], [0.0], [0.0], limit=0.62, rate=1.0)[0] == 1.0


def test_present_values_by_hand():
    zero = Schedule(0.0, 10)
    assert zero.factor(ONCE) == 1
    assert zero.factor(ANNUAL) == 9  # years 1..9
    assert zero.factor(repex_pattern(4)) == 2  # years 4 and 8
    assert np.flatnonzero(zero.vector(repex_pattern(4))).tolist() == [4, 8]
    ten = Schedule(0.1, 10)
    assert ten.discount[3] * 100 == pytest.approx(100 / 1.331)  # a single year-3 value
    assert ten.vector(series_pattern([0, 5, 7])) @ ten.discount == pytest.approx(
        5 / 1.1 + sum(7 / 1.1**y for y in range(2, 10))
    )
    assert Schedule(0.03, 40).factor(ANNUAL) == pytest.approx(22.808, abs=5e-4)
    assert Schedule(0.03, 40).factor(repex_pattern(15)) == pytest.approx(1.0538, abs=5e-5)
    assert Schedule(0.03, 40).factor(repex_pattern(40)) == 0


def test_least_squares_fits_of_the_reference_curves():
    c, m = fit_line([0, 10], [5, 15], [0, 5], [10, 10])
    assert c.tolist() == pytest.approx([5, 5])
    assert m.tolist() == pytest.approx([1, 1])
    c, m = fit_line([0, 1, 2, 3], [0, 1, 1, 2], [0, 1, 2, 0], [1, 2, 3, 3])
    assert c.tolist() == pytest.approx([0, 1, -1, 2 / 9])
    assert m.tolist() == pytest.approx([1, 0, 1, 14 / 27])
    c, m = fit_line([0, 1, 2, 3], [0, 1, 1, 2], [-5, 4, 1.5], [-1, 9, 1.55])  # outside, narrow
    assert c.tolist() == pytest.approx([0, 2, 1])
    assert m.tolist() == [0, 0, 0]


def worked_building(**tariff):
    buildings = pd.DataFrame({"building_id": ["B"], "annual_demand_kwh": [10_000.0], "peak_demand_kw": [30.0],
                              "connections": [1], "tariff_id": [1], "connection_cost_id": [1], "extra_pv": [np.nan]})  # fmt: skip
    tariffs = pd.DataFrame({"tariff_id": [1], "annual_charge_fixed": [50.0], "annual_charge_per_kwh": [0.05],
                            "annual_charge_per_kw": [0.0], "connection_charge_fixed": [0.0], "connection_charge_per_kw": [0.0]} | tariff)  # fmt: skip
    costs = pd.DataFrame(
        {"connection_cost_id": [1]}
        | {
            f"{k}_{u}": [0.0]
            for k in ("capex", "opex", "repex")
            for u in ("fixed", "per_connection", "per_kw")
        }
    )
    costs[["capex_fixed", "repex_fixed"]] = 3000.0
    costs[["capex_per_kw", "repex_per_kw"]] = 100.0
    return buildings, tariffs, costs


def test_reference_worked_building_example():
    p = params(**{"finance/building-hx-lifetime": 20})
    items = building_items(*worked_building(), p)
    pv = pv_by_class(items, schedule_for(p), "building_id").loc["B"]
    assert pv["tariffs"] == pytest.approx(12_544.5, abs=0.1)
    assert pv["connection-capex"] + pv["connection-repex"] == pytest.approx(-9322.1, abs=0.1)
    assert counted(pv, p) == pytest.approx(3222.5, abs=0.2)


def test_tiny_sample_hand_computed_pvs():
    inputs, issues = check_inputs(read_inputs(TINY))
    assert inputs is not None, issues
    p = inputs.parameters
    items = building_items(inputs.buildings, inputs.tariffs, inputs.connection_costs, p)
    pv = pv_by_class(items, schedule_for(p), "building_id")
    connection = pv[["connection-capex", "connection-opex", "connection-repex"]].sum(axis=1)
    assert pv["tariffs"].to_dict() == pytest.approx({"B1": 109_500, "B2": 88_500, "B3": 7_500})
    assert connection.to_dict() == pytest.approx({"B1": -2_300, "B2": -2_250, "B3": -1_950})


def test_supply_costs_columns_curves_and_series():
    p = params(**{"finance/npv-rate": 0, "finance/npv-term": 11, "finance/plant-lifetime": 5})
    supplies = pd.DataFrame({"supply_id": ["S"], "capex_fixed": [1000.0], "capex_per_kw": [10.0], "opex_fixed": [0.0],
                             "opex_per_kw": [2.0], "repex_fixed": [100.0], "repex_per_kw": [0.0], "cost_per_kwh": [0.01],
                             "supply_cost_type": ["hp"]})  # fmt: skip
    costs = pd.DataFrame({"supply_cost_type": ["hp", "hp", "hp"], "cost": ["capex_per_kw", "heat_per_kwh", "opex_fixed"],
                          "value": [((100.0, 900.0), (1000.0, 700.0)), (0.0, 0.05, 0.06), 30.0]})  # fmt: skip
    items = supply_items(supplies, costs, 550.0, 1000.0, p)
    pv = pv_by_class(items, schedule_for(p), "supply_id").loc["S"]
    assert curve_total(((100.0, 900.0), (1000.0, 700.0)), 550.0) == pytest.approx(550 * 800)
    assert pv["supply-capex"] == pytest.approx(-(1000 + 10 * 550 + 550 * 800))
    assert pv["supply-repex"] == pytest.approx(-2 * 100)
    heat = 10 * 0.01 * 1000 + (0.05 + 9 * 0.06) * 1000  # years 1..10, series flat after year 2
    assert pv["supply-opex"] == pytest.approx(-(10 * 2 * 550 + 10 * 30 + heat))
    linear = supply_items(supplies, costs, 550.0, 1000.0, p, curves=False)
    assert present_value(items, schedule_for(p)).sum() - present_value(
        linear, schedule_for(p)
    ).sum() == pytest.approx(-550 * 800)
    curve = ((100.0, 900.0), (1000.0, 700.0))
    xs, totals = curve_breakpoints(curve, 2000.0, rtol=1.0)  # no refinement
    assert xs.tolist() == [0, 100, 1000, 2000]
    assert totals.tolist() == pytest.approx([0, 90_000, 700_000, 1_400_000])
    # refined: the curve's own points stay, and the chord is within 1e-4 of the segment's total
    xs, totals = curve_breakpoints(curve, 2000.0)
    assert {0.0, 100.0, 1000.0, 2000.0} <= set(xs.tolist())
    assert np.all(np.diff(xs) > 0)
    grid = np.linspace(0.0, 2000.0, 4001)
    exact = np.array([curve_total(curve, x) for x in grid])
    chord = np.interp(grid, xs, totals)
    assert np.max(np.abs(chord - exact)) <= 1e-4 * 700_000 + 1e-6
    assert np.max(np.abs(chord - exact)) > 0  # the flat ends are exact; the middle is not


def test_pipe_items_new_and_existing():
    p = params(
        **{"finance/npv-rate": 0, "finance/npv-term": 41, "finance/distribution-lifetime": 20}
    )
    civil = pd.DataFrame(
        {"diameter_mm": [25.0, 50.0], "civil_cost_id": [1, 1], "cost_m": [300.0, 400.0]}
    )
    cat = build_catalogue(civil, p)
    rows = pd.DataFrame({"path_id": ["new", "old"], "length_m": [10.0, 10.0], "civil_cost_id": [1, 1],
                         "diameter_mm": [50.0, 40.0], "existing": [False, True], "extra_pv": [np.nan, -5.0]})  # fmt: skip
    pv = pv_by_class(pipe_items(rows, cat, p), schedule_for(p), "path_id")
    assert pv.loc["new", "pipe-capex"] == -4000
    assert pv.loc["new", "pipe-repex"] == -8000  # years 20 and 40
    assert pv.loc["old", "pipe-capex"] == 0  # an existing pipe pays repex only
    assert pv.loc["old", "pipe-repex"] == pytest.approx(-2 * 10 * 360)
    assert pv.loc["old", "extra"] == -5


# --- properties ------------------------------------------------------------------------------

AMOUNTS = st.floats(-1e6, 1e6, allow_nan=False)
PATTERNS = st.sampled_from(
    [ONCE, ANNUAL, repex_pattern(3), repex_pattern(7), series_pattern([0, 1, 2.5])]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(AMOUNTS, PATTERNS), min_size=1, max_size=8),
    st.floats(0, 0.2),
    st.integers(1, 60),
    AMOUNTS,
)
def test_pv_is_linear_and_cashflow_rows_sum_to_it(flows, rate, term, scale):
    schedule = Schedule(rate, term)
    items = items_frame(
        {
            "amount": [a for a, _ in flows],
            "pattern": [p for _, p in flows],
            "cost": "capex",
            "type": "pipe",
        }
    )
    pv = present_value(items, schedule)
    scaled = present_value(items.assign(amount=items["amount"] * scale), schedule)
    assert scaled.sum() == pytest.approx(scale * pv.sum(), rel=1e-9, abs=1e-6)
    rows = cashflow(items, schedule)
    discounted = (rows["value"] / (1 + rate) ** rows["year"]).sum()
    assert discounted == pytest.approx(pv.sum(), rel=1e-9, abs=1e-6)
    assert rows["year"].between(0, term - 1).all()


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(SWITCHED), st.floats(0, 0.1))
def test_each_switch_removes_exactly_its_class(klass, rate):
    on = params(
        **{
            "finance/npv-rate": rate,
            "finance/plant-lifetime": 7,
            "finance/distribution-lifetime": 9,
        }
    )
    off = params(
        **{
            "finance/npv-rate": rate,
            "finance/plant-lifetime": 7,
            "finance/distribution-lifetime": 9,
            "objective/use-" + klass: "false",
        }
    )
    buildings, tariffs, costs = worked_building(connection_charge_fixed=[500.0])
    costs[["opex_fixed"]] = 40.0
    supplies = pd.DataFrame({"supply_id": ["S"], "capex_fixed": [1000.0], "capex_per_kw": [10.0], "opex_fixed": [5.0], "opex_per_kw": [2.0],
                             "repex_fixed": [100.0], "repex_per_kw": [3.0], "cost_per_kwh": [0.01], "supply_cost_type": [None]})  # fmt: skip
    civil = pd.DataFrame(
        {"diameter_mm": [25.0, 50.0], "civil_cost_id": [1, 1], "cost_m": [300.0, 400.0]}
    )
    pipes = pd.DataFrame(
        {
            "path_id": ["P"],
            "length_m": [10.0],
            "civil_cost_id": [1],
            "diameter_mm": [50.0],
            "existing": [False],
            "extra_pv": [np.nan],
        }
    )
    items = pd.concat([
        building_items(buildings, tariffs, costs, on),
        supply_items(supplies, pd.DataFrame(columns=["supply_cost_type", "cost", "value"]), 100.0, 1e5, on),
        pipe_items(pipes, build_catalogue(civil, on), on),
    ], ignore_index=True)  # fmt: skip
    items["element"] = items["building_id"].fillna(items["supply_id"]).fillna(items["path_id"])
    pv = pv_by_class(items, schedule_for(on), "element")
    assert (pv[list(SWITCHED)] != 0).any().all()  # every class is present, so the check can fail
    assert objective_weights(off) == {**objective_weights(on), klass.column: 0.0}
    removed = counted(pv, on) - counted(pv, off)
    pd.testing.assert_series_equal(removed, pv[klass], check_names=False)


def test_linear_pipe_coefficients_mix_the_per_dig_type_fits():
    p = params(
        **{"finance/npv-rate": 0, "finance/npv-term": 41, "finance/distribution-lifetime": 20}
    )
    civil = pd.DataFrame({"diameter_mm": [25.0, 50.0, 100.0] * 2, "civil_cost_id": [1, 1, 1, 2, 2, 2],
                          "cost_m": [300.0, 400.0, 600.0, 700.0, 800.0, 1000.0]})  # fmt: skip
    cat = build_catalogue(civil, p)
    from heatnet.economics.prices import pipe_line_coefficients

    lengths = [{1: 75.0, 2: 25.0}, {2: 10.0}]
    coef = pipe_line_coefficients(
        cat, lengths, [0.0, 50.0], [cat.max_capacity_kw, 200.0], schedule_for(p), p
    )
    mixed_curve = cat.mixed_cost_m(lengths)
    for edge, (low, high) in enumerate([(0.0, cat.max_capacity_kw), (50.0, 200.0)]):
        c, m = fit_line(cat.capacity_kw, mixed_curve[edge], [low], [high])
        assert coef["pipe-capex"][0][edge] == pytest.approx(-c[0])
        assert coef["pipe-capex"][1][edge] == pytest.approx(-m[0])
        assert coef["pipe-repex"][0][edge] == pytest.approx(-2 * c[0])  # years 20 and 40


def test_supply_coefficients_match_the_items_they_come_from():
    from heatnet.economics.prices import supply_coefficients

    p = params(**{"finance/npv-rate": 0.05, "finance/plant-lifetime": 10})
    supplies = pd.DataFrame({"supply_id": ["S", "T"], "capex_fixed": [1000.0, 0.0], "capex_per_kw": [10.0, 0.0],
                             "opex_fixed": [5.0, 0.0], "opex_per_kw": [2.0, 1.0], "repex_fixed": [100.0, 0.0],
                             "repex_per_kw": [3.0, 0.0], "cost_per_kwh": [0.01, 0.02], "supply_cost_type": ["hp", None]})  # fmt: skip
    costs = pd.DataFrame(
        {
            "supply_cost_type": ["hp", "hp"],
            "cost": ["heat_per_kwh", "capex_per_kw"],
            "value": [(0.0, 0.05), 7.0],
        }
    )
    schedule = schedule_for(p)
    coef = supply_coefficients(supplies, costs, schedule, p)
    for capacity, output in [(0.0, 0.0), (300.0, 1e6), (12.5, 3.0)]:
        items = supply_items(supplies, costs, capacity, output, p)
        exact = pv_by_class(items, schedule, "supply_id").reindex(["S", "T"], fill_value=0.0)
        linear = coef["fixed"] + capacity * coef["per_kw"] + output * coef["per_kwh"]
        pd.testing.assert_frame_equal(linear, exact, rtol=1e-9, atol=1e-6)
    assert coef["per_kwh"].loc["T", "supply-opex"] == pytest.approx(-0.02 * schedule.factor(ANNUAL))
    assert coef["per_kw"].loc["S", "supply-capex"] == pytest.approx(-17.0)


def test_discrete_options_span_only_the_diameters_the_flow_bounds_allow():
    civil = pd.DataFrame(
        {
            "diameter_mm": [20.0, 25.0, 32.0, 40.0, 50.0],
            "civil_cost_id": [1] * 5,
            "cost_m": [1.0] * 5,
        }
    )
    cat = build_catalogue(civil, params())  # 24.4, 43.9, 83.4, 148, 261 kW
    first, last = diameter_options(
        cat, [0.0, 30.0, 30.0, 100.0, 500.0, 100.0], [10.0, 30.0, 150.0, 90.0, 900.0, 50.0]
    )
    assert first.tolist() == [0, 1, 1, 3, 4, 3]
    assert last.tolist() == [0, 1, 4, 3, 4, 2]  # 100 kW at least, 50 at most: no diameter


def test_catalogue_prices_and_sizes_diameters_not_in_the_table():
    civil = pd.DataFrame(
        {"diameter_mm": [25.0, 50.0], "civil_cost_id": [1, 1], "cost_m": [300.0, 400.0]}
    )
    cat = build_catalogue(civil, params())
    assert cat.capacity_of([40.0])[0] == pytest.approx(148.0, rel=0.005)  # reference row DN40
    assert cat.loss_at_diameter([40.0])[0] == pytest.approx(21.16, rel=0.005)
    assert cat.cost_per_m([1, 1], [40.0, 80.0]).tolist() == pytest.approx([360.0, 400.0])


@pytest.mark.parametrize("rate", [0.0, 0.07])
def test_curve_pv_is_the_curve_items_pv(rate):
    """curve_pv (vectorised, for the model's breakpoints) = PV of supply_items' curve rows."""
    p = params(**{"finance/npv-rate": rate, "finance/npv-term": 30, "finance/plant-lifetime": 12})
    supplies = pd.DataFrame({"supply_id": ["S"], "capex_fixed": [1000.0], "capex_per_kw": [10.0], "opex_fixed": [0.0],
                             "opex_per_kw": [2.0], "repex_fixed": [100.0], "repex_per_kw": [0.0], "cost_per_kwh": [0.01],
                             "supply_cost_type": ["hp"]})  # fmt: skip
    costs = pd.DataFrame({"supply_cost_type": ["hp", "hp", "hp", "other"],
                          "cost": ["capex_per_kw", "repex_per_kw", "opex_per_kw", "capex_per_kw"],
                          "value": [((100.0, 900.0), (1000.0, 700.0)), ((0.0, 50.0), (500.0, 20.0)), 3.0,
                                    ((0.0, 1e6),)]})  # fmt: skip
    schedule = schedule_for(p)
    capacities = np.array([0.0, 50.0, 550.0, 1000.0, 2500.0])
    fast = curve_pv("hp", costs, capacities, schedule, p)
    for i, kw in enumerate(capacities):
        with_curves = pv_by_class(supply_items(supplies, costs, kw, 0.0, p), schedule, "supply_id")
        without = pv_by_class(
            supply_items(supplies, costs, kw, 0.0, p, curves=False), schedule, "supply_id"
        )
        difference = with_curves.sum(axis=0) - without.sum(axis=0)
        for klass in ("supply-capex", "supply-repex", "supply-opex"):
            assert fast[klass][i] == pytest.approx(difference[klass], abs=1e-6), (kw, klass)
    assert fast["supply-capex"][2] == pytest.approx(-550 * 800)
