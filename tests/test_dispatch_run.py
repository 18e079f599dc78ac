"""``heatnet run`` with plant units: the design's dispatch, its heat price and the outputs.

Hand-checkable: with one unit burning a fuel at a flat price p with efficiency η, every kWh a
site delivers costs p/η whatever the hour, so the site's effective heat price is exactly p/η
and its yearly dispatch cost p/η × its annual output. With a flat profile on one day type of
365 days the demand is the same every hour, so a cheap unit of C kW runs flat out and the
dear one covers the rest: cost = 8,760·C·c₁ + (output − 8,760·C)·c₂.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.dispatch.profiles import (
    DayType,
    default_day_types,
    default_profile,
    hourly_kw,
)
from tests.conftest import ROOT, TINY
from tests.runs import check_column, column_types, discounted, run_library

HOURS_PER_YEAR = 8760.0


def with_tables(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """A copy of tiny.gpkg with ``tables`` added (or replaced)."""
    out = folder / "tiny-plants.gpkg"
    for name in pyogrio.list_layers(TINY)[:, 0]:
        frame = pyogrio.read_dataframe(TINY, layer=name)
        pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG")
    for name, frame in tables.items():
        pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG")
    return out


def fuels(*rows: tuple[str, object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fuel_id": [r[0] for r in rows],
            "supply_id": pd.Series([None] * len(rows), dtype=object),
            "price_per_kwh": [r[1] for r in rows],
        }
    )


def units(*rows: tuple[str, str, float, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_id": [r[0] for r in rows],
            "supply_id": ["S1"] * len(rows),
            "fuel_id": [r[1] for r in rows],
            "efficiency": [r[2] for r in rows],
            "heat_max_kw": [r[3] for r in rows],
        }
    )


def flat_year() -> dict[str, pd.DataFrame]:
    """One day type of 365 days and a profile equal in every hour, used by every building."""
    return {
        "day_types": pd.DataFrame({"day_type_id": ["day"], "days_per_year": [365.0]}),
        "demand_profiles": pd.DataFrame(
            {
                "profile_id": ["flat"] * 24,
                "day_type_id": ["day"] * 24,
                "hour": np.arange(24, dtype="int64"),
                "value": [1.0] * 24,
            }
        ),
    }


@pytest.fixture(scope="module")
def one_boiler(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("one-boiler")
    source = with_tables(
        folder, {"fuels": fuels(("gas", 0.06)), "plant_units": units(("boiler", "gas", 0.8, 500))}
    )
    return run_library(source, folder / "out.gpkg")


def site_row(written) -> pd.Series:
    summary = written["dispatch_summary"]
    return summary[summary["element_type"] == "site"].iloc[0]


def test_one_unit_heat_costs_its_fuel_over_its_efficiency(one_boiler):
    supplies = one_boiler["supplies"]
    built = supplies[supplies["in_network"]].iloc[0]
    assert built["dispatch_heat_price"] == pytest.approx(0.06 / 0.8, rel=1e-6)
    site = site_row(one_boiler)
    assert site["demand_kwh"] == pytest.approx(built["load_kwh"], rel=1e-9)
    assert site["cost"] == pytest.approx(0.075 * built["load_kwh"], rel=1e-6)
    assert built["dispatch_cost"] == pytest.approx(site["cost"], rel=1e-9)


def test_the_dispatch_asks_the_supplys_annual_output(one_boiler):
    steps = one_boiler["dispatch"]
    site = steps[steps["element_type"] == "site"]
    year = float((site["heat_kw"] * site["days_per_year"]).sum())  # one-hour steps
    built = one_boiler["supplies"].query("in_network").iloc[0]
    assert year == pytest.approx(built["load_kwh"], rel=1e-6)
    unit = steps[steps["element_type"] == "unit"]
    assert float((unit["heat_kw"] * unit["days_per_year"]).sum()) == pytest.approx(year, rel=1e-6)
    assert set(steps["day_type"]) == {d.id for d in default_day_types()}  # no day_types table


def test_the_cashflow_prices_heat_at_the_dispatch_price_and_sums_to_npv(one_boiler):
    cash = one_boiler["cashflow"]
    built = one_boiler["supplies"].query("in_network").iloc[0]
    heat = cash[(cash["cost"] == "heat") & (cash["type"] == "supply")]
    assert len(heat) > 0
    assert heat["value"].to_numpy() == pytest.approx(-0.075 * built["load_kwh"], rel=1e-6)
    npv = float(discounted(cash, one_boiler.rate).sum())
    assert npv == pytest.approx(one_boiler.summary["network_npv"], rel=1e-9, abs=1e-6)


def test_a_design_priced_at_other_prices_than_its_own_claims_no_bound(one_boiler):
    s = one_boiler.summary
    assert s["state"] == "feasible"
    assert s["upper_bound"] is None or math.isnan(s["upper_bound"])


def test_a_capacity_limited_cheap_unit_runs_flat_out(tmp_path):
    tables = flat_year() | {
        "fuels": fuels(("heat", 0.02), ("gas", 0.06)),
        "plant_units": units(("cheap", "heat", 1.0, 1.0), ("boiler", "gas", 0.8, 500.0)),
    }
    source = with_tables(tmp_path, tables)
    layer = pyogrio.read_dataframe(source, layer="buildings")
    layer["profile_id"] = "flat"
    pyogrio.write_dataframe(layer, source, layer="buildings", driver="GPKG")
    written = run_library(source, tmp_path / "out.gpkg")
    built = written["supplies"].query("in_network").iloc[0]
    output = float(built["load_kwh"])
    assert output > HOURS_PER_YEAR  # the dear unit is needed
    expected = HOURS_PER_YEAR * 1.0 * 0.02 + (output - HOURS_PER_YEAR) * 0.06 / 0.8
    assert site_row(written)["cost"] == pytest.approx(expected, rel=1e-6)
    summary = written["dispatch_summary"].set_index("element_id")
    assert summary.loc["cheap", "full_load_hours"] == pytest.approx(HOURS_PER_YEAR, rel=1e-6)


# --- the default profile -------------------------------------------------------------------


def test_the_default_profile_is_a_year_and_winter_needs_more_than_summer():
    days = default_day_types()
    profile = default_profile(days)
    assert sum(d.days_per_year for d in days) == pytest.approx(365.0)
    assert sum(d.days_per_year * sum(profile[d.id]) for d in days) == pytest.approx(1.0)
    assert sum(profile["jan-weekday"]) > 3 * sum(profile["jul-weekday"])
    assert sum(profile["jul-weekday"]) == pytest.approx(0.15 / 365)  # hot water only


@settings(max_examples=40, deadline=None)
@given(
    kwh=st.floats(0.0, 1e8),
    days=st.lists(
        st.tuples(st.floats(0.5, 200.0), st.one_of(st.none(), st.floats(-20.0, 30.0))),
        min_size=1,
        max_size=6,
    ),
)
def test_a_year_of_typical_days_delivers_the_annual_kwh(kwh, days):
    types = [DayType(f"d{i}-weekday", n, t) for i, (n, t) in enumerate(days)]
    kw = hourly_kw(kwh, default_profile(types), types)
    year = sum(d.days_per_year * sum(kw[d.id]) for d in types)
    assert year == pytest.approx(kwh, rel=1e-9, abs=1e-6)
    assert all(v >= 0 for d in types for v in kw[d.id])


@pytest.mark.parametrize("name", ["dispatch", "dispatch_summary", "supplies"])
def test_every_dispatch_output_column_has_its_schema_type(one_boiler, name):
    schema_file = {"dispatch": "dispatch.output", "supplies": "supplies.output"}.get(name, name)
    schema = json.loads((ROOT / "schemas" / f"{schema_file}.schema.json").read_text())
    frame = pyogrio.read_dataframe(one_boiler.path, layer=name)
    info = pyogrio.read_info(one_boiler.path, layer=name)
    stored = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert set(schema["required"]) - {"geometry"} <= set(frame.columns)
    for column, spec in schema["properties"].items():
        if column == "geometry":
            continue
        if "boolean" in column_types(spec) and frame[column].isna().any():
            assert set(frame[column].dropna()) <= {True, False}, column
            continue
        check_column(frame, column, spec, stored[column])
