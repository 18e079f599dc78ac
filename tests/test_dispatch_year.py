"""The dispatch of a design beyond one flat day: a year hour by hour, day temperatures, links.

Hand-checkable:

- the built-in day types fall on a 365-day year starting on a Monday: January 1-5 are weekdays,
  6-7 the weekend, and each month has as many weekdays as its calendar says;
- user day types cover consecutive days, their ``days_per_year`` rounded by largest remainder;
- a day type's temperatures scale the design's pipe losses by |T̄ − T_g| (fit model) or
  |T_flow − T_g| (λ model) and their capacity by ρ(T̄)·|T_flow − T_return|, the same for every
  diameter (heatnet/economics/physics.py);
- with one unit at a flat fuel price, a year hour by hour costs p/η per kWh, as typical days do.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from heatnet.dispatch.from_design import _links, day_scales
from heatnet.dispatch.profiles import MONTH_DAYS, MONTHS, DayType, calendar, default_day_types
from heatnet.economics.physics import water_density_kg_per_m3
from tests.problems import parameters
from tests.runs import run_library
from tests.test_dispatch_run import fuels, site_row, units, with_tables

# --- the calendar of a year ----------------------------------------------------------------


def test_the_built_in_day_types_fall_on_a_year_starting_on_a_monday():
    days = calendar(default_day_types())
    assert len(days) == 365
    assert days[:7] == ("jan-weekday",) * 5 + ("jan-weekend",) * 2
    assert days[31] == "feb-weekday"  # 1 February: day 32, a Thursday
    assert days[-1] == "dec-weekday"  # day 365 = 52 weeks + 1 day: a Monday
    counts = Counter(days)
    for name, n in zip(MONTHS, MONTH_DAYS, strict=True):
        assert counts[f"{name}-weekday"] + counts[f"{name}-weekend"] == n
    assert counts["jan-weekend"] == 8  # 6-7, 13-14, 20-21, 27-28 January
    assert sum(v for k, v in counts.items() if k.endswith("weekend")) == 104


def test_user_day_types_cover_consecutive_days_rounded_by_largest_remainder():
    types = [DayType("winter", 120.4), DayType("mid", 122.3), DayType("summer", 122.3)]
    days = calendar(types)
    # 365 days in all; floors 120 + 122 + 122 = 364, the largest remainder (0.4) gets the last
    assert len(days) == 365
    assert Counter(days) == {"winter": 121, "mid": 122, "summer": 122}
    assert days[0] == "winter"
    assert days[121] == "mid"
    assert days[-1] == "summer"


def test_a_short_year_of_day_types_is_not_stretched():
    assert calendar([DayType("a", 1.0), DayType("b", 2.0)]) == ("a", "b", "b")


# --- a day's temperatures ------------------------------------------------------------------


def test_a_day_without_temperatures_keeps_the_designs_pipes():
    params = parameters(exact=False)
    assert day_scales(DayType("d", 1.0), params) == (1.0, 1.0)


def test_the_fit_model_scales_losses_by_the_mean_temperature_over_the_ground():
    params = parameters(
        {
            "optimiser/flow-temperature": "90",
            "optimiser/return-temperature": "60",
            "optimiser/ground-temperature": "10",
        },
        exact=False,
    )
    day = DayType("mild", 1.0, flow_c=70.0, return_c=50.0, ground_c=15.0)
    capacity, loss = day_scales(day, params)
    assert loss == pytest.approx((60.0 - 15.0) / (75.0 - 10.0), rel=1e-12)
    rho = water_density_kg_per_m3([60.0, 75.0])
    assert capacity == pytest.approx(rho[0] * 20.0 / (rho[1] * 30.0), rel=1e-12)


def test_the_lambda_model_scales_losses_by_the_flow_temperature_over_the_ground():
    params = parameters(
        {
            "optimiser/flow-temperature": "90",
            "optimiser/return-temperature": "60",
            "optimiser/ground-temperature": "10",
            "heatnet/heat-loss-model": "lambda",
        },
        exact=False,
    )
    day = DayType("mild", 1.0, flow_c=70.0, ground_c=10.0)  # return: the parameter's
    _, loss = day_scales(day, params)
    assert loss == pytest.approx((70.0 - 10.0) / (90.0 - 10.0), rel=1e-12)


# --- links between sites -------------------------------------------------------------------


class _Laid:
    """Just what ``_links`` reads of a design: its edges."""

    def __init__(self, rows: list[tuple[str, str, str, float]]) -> None:
        self.edges = pd.DataFrame(
            {
                "in_network": [True] * len(rows),
                "tail": [r[1] for r in rows],
                "head": [r[2] for r in rows],
                "capacity_kw": [r[3] for r in rows],
                "loss_kw": [0.5] * len(rows),
            },
            index=[r[0] for r in rows],
        )


def test_sites_joined_by_laid_pipes_exchange_heat_up_to_the_smallest_pipe_on_the_way():
    # A -e1- x -e2- B -e3- C, and a pipe to a building from C; heat may pass each way.
    design = _Laid(
        [
            ("e1", "vA", "x", 300.0),
            ("e2", "x", "vB", 120.0),
            ("e3", "vC", "vB", 80.0),  # laid from C towards B: direction does not matter
            ("e4", "vC", "b1", 40.0),
        ]
    )
    links = _links(design, {"A": "vA", "B": "vB", "C": "vC"})  # type: ignore[arg-type]
    by_id = {k["id"]: k for k in links}
    assert set(by_id) == {"A~B", "B~C"}  # A~C would pass through B's site
    assert by_id["A~B"]["capacity_kw"] == 120.0
    assert by_id["B~C"]["capacity_kw"] == 80.0
    # losses are a standing load of the site feeding the pipe: nothing lost on the way
    assert all(k["efficiency"] == 1.0 and k["both_ways"] for k in links)


def test_sites_not_joined_by_laid_pipes_have_no_link():
    design = _Laid([("e1", "vA", "b1", 50.0), ("e2", "vB", "b2", 50.0)])
    assert _links(design, {"A": "vA", "B": "vB"}) == []  # type: ignore[arg-type]


# --- the GIS flow --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def year_run(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("year")
    source = with_tables(
        folder, {"fuels": fuels(("gas", 0.06)), "plant_units": units(("boiler", "gas", 0.8, 500))}
    )
    return run_library(source, folder / "out.gpkg", overrides={"dispatch/horizon": "year"})


def test_a_year_hour_by_hour_costs_the_fuel_over_the_efficiency(year_run):
    built = year_run["supplies"].query("in_network").iloc[0]
    assert built["dispatch_heat_price"] == pytest.approx(0.06 / 0.8, rel=1e-6)
    site = site_row(year_run)
    assert site["cost"] == pytest.approx(0.075 * built["load_kwh"], rel=1e-6)


def test_a_year_hour_by_hour_has_every_hour_of_every_day_and_asks_the_annual_output(year_run):
    steps = year_run["dispatch"]
    site = steps[steps["element_type"] == "site"]
    assert len(site) == 365 * 24
    assert sorted(set(site["day_of_year"])) == list(range(1, 366))
    assert (site["days_per_year"] == 1.0).all()
    assert Counter(site["hour"]) == dict.fromkeys(range(24), 365)
    first = site[site["day_of_year"] == 1]
    assert set(first["day_type"]) == {"jan-weekday"}
    assert set(site.loc[site["day_of_year"] == 6, "day_type"]) == {"jan-weekend"}
    built = year_run["supplies"].query("in_network").iloc[0]
    assert float(site["heat_kw"].sum()) == pytest.approx(built["load_kwh"], rel=1e-6)


def test_a_year_in_windows_claims_no_bound(year_run):
    summary = year_run["dispatch_summary"]
    assert not summary.empty
    s = year_run.summary
    assert s["upper_bound"] is None or math.isnan(s["upper_bound"])


def test_a_days_ground_temperature_scales_the_standing_losses(tmp_path):
    # fit model, defaults flow 90 / return 60 (mean 75), ground 8: a day at ground 41.5 loses
    # |75 − 41.5| / |75 − 8| = 0.5 of the design's losses.
    days = pd.DataFrame(
        {"day_type_id": ["day"], "days_per_year": [365.0], "ground_temperature_c": [41.5]}
    )
    flat = pd.DataFrame(
        {
            "profile_id": ["flat"] * 24,
            "day_type_id": ["day"] * 24,
            "hour": np.arange(24, dtype="int64"),
            "value": [1.0] * 24,
        }
    )
    tables = {
        "fuels": fuels(("gas", 0.06)),
        "plant_units": units(("boiler", "gas", 0.8, 500)),
        "day_types": days,
        "demand_profiles": flat,
    }
    written = run_library(with_tables(tmp_path, tables), tmp_path / "out.gpkg")
    built = written["supplies"].query("in_network").iloc[0]
    b = written["buildings"]
    delivered = float(b.loc[b["in_network"], "annual_demand_kwh"].sum())
    losses = float(built["load_kwh"]) - delivered
    assert losses > 0
    steps = written["dispatch"]
    site = steps[steps["element_type"] == "site"]
    year = float((site["heat_kw"] * site["days_per_year"]).sum())
    assert year == pytest.approx(delivered + 0.5 * losses, rel=1e-9)
    # the price is the year's cost over the design's output: cashflow still counts the cost
    assert site_row(written)["cost"] == pytest.approx(0.075 * year, rel=1e-6)
    assert built["dispatch_heat_price"] == pytest.approx(0.075 * year / built["load_kwh"])
