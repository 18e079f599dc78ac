"""Build the bundled heatnet sample GeoPackages.

Run from anywhere::

    python sample_data/build_samples.py            # writes the three GeoPackages
    python sample_data/build_samples.py --explain  # also prints the per-building economics

Writes, next to this script:

- ``district.gpkg``: the real topotherm district (Bavaria, EPSG:25832) from
  ``source/topotherm-district/`` with the costs documented in ``README.md``.
- ``district-plants.gpkg``: the district with plant units, a store and fuels (the dispatch
  stage of ``heatnet run``).
- ``tiny.gpkg``: a made-up, hand-checkable case (EPSG:27700): one street, one supply,
  three buildings.

Deterministic: no network, no randomness, fixed GeoPackage timestamps (``OGR_CURRENT_DATE``),
so two runs give byte-identical files with the same GDAL version. Every number used here is
documented, with its reasoning, in ``README.md``; change both together.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source" / "topotherm-district"

#: Fixed gpkg_contents.last_change so rebuilds are byte-identical.
FIXED_TIMESTAMP = "2025-01-01T00:00:00.000Z"

#: Peak demand (kW) from which a building is "commercial" (tariff 2, connection cost 2).
LARGE_KW = 30.0

# --------------------------------------------------------------------------------------------
# district.gpkg money (EUR, net of VAT, real terms). Reasoning for each figure: README.md.
# --------------------------------------------------------------------------------------------

DISTRICT_TARIFFS = [
    # tariff_id, name, fixed ¤/yr, ¤/kWh, ¤/kW/yr, connection fixed ¤, connection ¤/kW
    (1, "domestic (< 30 kW)", 120.0, 0.105, 50.0, 3500.0, 0.0),
    (2, "commercial (>= 30 kW)", 300.0, 0.095, 45.0, 5000.0, 50.0),
]

DISTRICT_CONNECTION_COSTS = [
    # id, name, capex fixed/per conn/per kW, repex fixed/per conn/per kW, opex fixed/per conn/per kW
    (1, "small substation (< 30 kW)", 3000.0, 4000.0, 50.0, 0.0, 4000.0, 50.0, 0.0, 100.0, 0.0),
    (2, "large substation (>= 30 kW)", 6000.0, 6000.0, 80.0, 0.0, 6000.0, 80.0, 0.0, 250.0, 0.0),
]

#: The established tool's default pipe table: DN -> (pipe, soft-dig civil, hard-dig civil),
#: ¤ per metre of a flow + return pair. cost_m = pipe + civil. Stops at DN500 for the sample.
PIPE_TABLE = {
    20: (81, 206, 534),
    25: (91, 208, 545),
    32: (107, 211, 562),
    40: (126, 215, 583),
    50: (152, 220, 611),
    65: (193, 228, 656),
    80: (237, 237, 705),
    100: (300, 249, 774),
    125: (385, 266, 866),
    150: (474, 283, 964),
    200: (667, 321, 1174),
    250: (874, 362, 1401),
    300: (1094, 405, 1642),
    400: (1568, 498, 2161),
    450: (1819, 547, 2435),
    500: (2079, 598, 2719),
}
SOFT_DIG, HARD_DIG = 1, 2
#: Road classes laid in the carriageway of a classified road -> hard dig.
HARD_DIG_ROADS = {"Landesstraße, Staatsstraße", "Kreisstraße"}

#: Large heat pump energy centre. Simple columns hold the costs that are plain numbers; the
#: capacity-dependent capex and the year-dependent heat price live only in supply_costs
#: (type "heat_pump"), whose rows are ADDED to the simple columns, so neither is double counted.
HP_PEAK_KW = 4000.0
HP_SIMPLE = {
    "capex_fixed": 250_000.0,  # site, building, HV/LV grid connection
    "capex_per_kw": 0.0,  # -> supply_costs curve
    "opex_fixed": 10_000.0,
    "opex_per_kw": 15.0,
    "repex_fixed": 0.0,
    "repex_per_kw": 400.0,  # compressors/machinery at finance/plant-lifetime (25 y)
    "cost_per_kwh": 0.0,  # -> supply_costs series
}
#: [kW built, ¤/kW] economies of scale, linear between points, flat beyond the ends.
HP_CAPEX_CURVE = [[500, 1400], [1000, 1100], [2000, 900], [4000, 750]]
#: Electricity ~0.16 ¤/kWh_el / SCOP 3.2 = 0.050 ¤/kWh_th in year 1, +1 %/yr real to year 11.
HP_ELECTRICITY_EUR_KWH = 0.16
HP_SCOP = 3.2
HP_DRIFT = 0.01
HP_DRIFT_YEARS = 10
#: German grid ~0.36 kgCO2e/kWh_el / SCOP 3.2.
GRID_KG_PER_KWH_EL = 0.36


def heat_price_series() -> list[float]:
    """Heat price by year (entry N = year N), flat after the last entry."""
    base = HP_ELECTRICITY_EUR_KWH / HP_SCOP
    # year 0 carries no heat; give it the year-1 price so the list reads naturally.
    return [round(base * (1 + HP_DRIFT) ** max(n - 1, 0), 5) for n in range(HP_DRIFT_YEARS + 2)]


DISTRICT_PARAMETERS = [
    ("finance/npv-rate", "0.03"),
    ("finance/npv-term", "40"),
    ("optimiser/mip-gap", "0.01"),
    ("optimiser/runtime-limit", "0.05"),  # hours: 3 minutes
    ("heatnet/pipe-model", "linear"),
]

# --------------------------------------------------------------------------------------------
# tiny.gpkg: hand-checkable (see README.md for the worked PVs).
# --------------------------------------------------------------------------------------------

TINY_CRS = "EPSG:27700"
TINY_X0, TINY_Y0 = 400_000.0, 300_000.0
TINY_STREET_M = 200.0
TINY_BUILDINGS = [
    # id, dx east of the west end, dy north of the street, peak kW, annual kWh
    ("B1", 50.0, 15.0, 40.0, 100_000.0),
    ("B2", 120.0, 20.0, 35.0, 80_000.0),
    ("B3", 180.0, 90.0, 5.0, 5_000.0),
]
TINY_TARIFF = (1, "standard", 100.0, 0.10, 20.0, 500.0, 0.0)
TINY_CONNECTION_COST = (1, "substation", 1000.0, 0.0, 10.0, 200.0, 0.0, 0.0, 50.0, 0.0, 0.0)
TINY_CIVIL = {25.0: 300.0, 50.0: 400.0, 80.0: 500.0, 100.0: 600.0}
TINY_PARAMETERS = [
    ("finance/npv-rate", "0"),
    ("finance/npv-term", "11"),
    ("finance/building-hx-lifetime", "5"),  # connection repex in years 5 and 10
]

# --------------------------------------------------------------------------------------------
# table builders
# --------------------------------------------------------------------------------------------

TARIFF_COLUMNS = [
    "tariff_id",
    "name",
    "annual_charge_fixed",
    "annual_charge_per_kwh",
    "annual_charge_per_kw",
    "connection_charge_fixed",
    "connection_charge_per_kw",
]
CONNECTION_COST_COLUMNS = [
    "connection_cost_id",
    "name",
    "capex_fixed",
    "capex_per_connection",
    "capex_per_kw",
    "repex_fixed",
    "repex_per_connection",
    "repex_per_kw",
    "opex_fixed",
    "opex_per_connection",
    "opex_per_kw",
]
SUPPLY_MONEY_COLUMNS = [
    "capex_fixed",
    "capex_per_kw",
    "opex_fixed",
    "opex_per_kw",
    "repex_fixed",
    "repex_per_kw",
    "cost_per_kwh",
]
SUPPLY_COST_COLUMNS = ["supply_cost_type", "type", "cost", "value"]


def _table(
    rows: list[tuple[object, ...]], columns: list[str], int_columns: list[str]
) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col in int_columns:
            df[col] = df[col].astype("int64")
        elif col == "name":
            df[col] = df[col].astype(str)
        else:
            df[col] = df[col].astype("float64")
    return df


def tariffs_table(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return _table(rows, TARIFF_COLUMNS, ["tariff_id"])


def connection_costs_table(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return _table(rows, CONNECTION_COST_COLUMNS, ["connection_cost_id"])


def civil_costs_table(rows: list[tuple[float, int, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["diameter_mm", "civil_cost_id", "cost_m"])
    return df.astype({"diameter_mm": "float64", "civil_cost_id": "int64", "cost_m": "float64"})


def civil_cost_names_table(rows: list[tuple[int, str, bool]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["civil_cost_id", "name", "is_default"])
    return df.astype({"civil_cost_id": "int64", "name": str, "is_default": bool})


def supply_costs_table(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SUPPLY_COST_COLUMNS).astype(
        dict.fromkeys(SUPPLY_COST_COLUMNS, str)
    )


def parameters_table(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["parameter", "value"]).astype(str)


def nulls(n: int, dtype: str) -> pd.Series:
    """An all-null column that still has the right storage type in the GeoPackage."""
    if dtype == "float64":
        return pd.Series(np.full(n, np.nan), dtype="float64")
    if dtype == "Int64":
        return pd.Series([pd.NA] * n, dtype="Int64")
    return pd.Series([None] * n, dtype=object)  # nullable string


def supplies_frame(
    supply_id: str,
    point: shapely.Point,
    crs: str,
    peak_kw: float,
    money: dict[str, float],
    emissions: float | None,
    supply_cost_type: str | None,
) -> gpd.GeoDataFrame:
    data: dict[str, object] = {
        "supply_id": [supply_id],
        "constraint": ["optional"],
        "annual_capacity_kwh": nulls(1, "float64"),  # unlimited
        "peak_capacity_kw": [float(peak_kw)],
    }
    data.update({col: [float(money[col])] for col in SUPPLY_MONEY_COLUMNS})
    data["emissions_per_kwh"] = [np.nan if emissions is None else float(emissions)]
    data["supply_cost_type"] = pd.Series([supply_cost_type], dtype=object)
    return gpd.GeoDataFrame(data, geometry=[point], crs=crs)


# --------------------------------------------------------------------------------------------
# district.gpkg
# --------------------------------------------------------------------------------------------


def district_buildings() -> gpd.GeoDataFrame:
    sinks = gpd.read_file(SOURCE / "sinks.gpkg")
    n = len(sinks)
    peak = sinks["ts_0"].astype("float64")
    large = (peak >= LARGE_KW).to_numpy()
    out = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:03d}" for i in range(1, n + 1)],
            "annual_demand_kwh": (sinks["ts_0"] * sinks["flh_0"]).astype("float64"),
            "peak_demand_kw": peak,
            "connections": np.ones(n, dtype="int64"),
            "constraint": ["optional"] * n,
            "demand_group": nulls(n, "str"),
            "connection_cost_id": np.where(large, 2, 1).astype("int64"),
            "tariff_id": np.where(large, 2, 1).astype("int64"),
            "extra_pv": nulls(n, "float64"),
            "ts_0": sinks["ts_0"].astype("float64"),
            "flh_0": sinks["flh_0"].astype("float64"),
        },
        geometry=sinks.geometry.to_numpy(),
        crs=sinks.crs,
    )
    return out


ROAD_COLUMNS = [
    "land",
    "modellart",
    "objart",
    "objart_txt",
    "wdm",
    "wdm_txt",
    "art",
    "fkt",
    "bef",
    "objid",
    "nam",
    "id_ta",
]


def district_paths() -> gpd.GeoDataFrame:
    roads = gpd.read_file(SOURCE / "roads.gpkg")
    if not roads["objid"].is_unique:
        raise ValueError("roads.objid is not unique")
    n = len(roads)
    hard = roads["wdm_txt"].isin(HARD_DIG_ROADS).to_numpy()
    data: dict[str, object] = {
        "path_id": roads["objid"].astype(str).to_numpy(),
        "constraint": ["optional"] * n,
        "existing_diameter": nulls(n, "float64"),
        "civil_cost_id": np.where(hard, HARD_DIG, SOFT_DIG).astype("int64"),
        "extra_pv": nulls(n, "float64"),
    }
    for col in ROAD_COLUMNS:
        data[col] = roads[col].to_numpy()
    return gpd.GeoDataFrame(data, geometry=roads.geometry.to_numpy(), crs=roads.crs)


def district_supplies() -> gpd.GeoDataFrame:
    source = gpd.read_file(SOURCE / "source.gpkg")
    if len(source) != 1:
        raise ValueError(f"expected one source point, found {len(source)}")
    return supplies_frame(
        "S1",
        source.geometry.iloc[0],
        source.crs,
        HP_PEAK_KW,
        HP_SIMPLE,
        round(GRID_KG_PER_KWH_EL / HP_SCOP, 4),
        "heat_pump",
    )


def district_supply_costs() -> pd.DataFrame:
    return supply_costs_table(
        [
            ("heat_pump", "plant", "capex_per_kw", json.dumps(HP_CAPEX_CURVE)),
            ("heat_pump", "electricity", "heat_per_kwh", json.dumps(heat_price_series())),
        ]
    )


def district_civil_costs() -> tuple[pd.DataFrame, pd.DataFrame]:
    soft = [(float(dn), SOFT_DIG, float(pipe + s)) for dn, (pipe, s, _) in PIPE_TABLE.items()]
    hard = [(float(dn), HARD_DIG, float(pipe + h)) for dn, (pipe, _, h) in PIPE_TABLE.items()]
    rows = soft + hard
    names = [(SOFT_DIG, "soft dig", True), (HARD_DIG, "hard dig", False)]
    return civil_costs_table(rows), civil_cost_names_table(names)


def district_layers() -> dict[str, pd.DataFrame]:
    civil, civil_names = district_civil_costs()
    return {
        "buildings": district_buildings(),
        "paths": district_paths(),
        "supplies": district_supplies(),
        "tariffs": tariffs_table(DISTRICT_TARIFFS),
        "connection_costs": connection_costs_table(DISTRICT_CONNECTION_COSTS),
        "civil_costs": civil,
        "civil_cost_names": civil_names,
        "supply_costs": district_supply_costs(),
        "parameters": parameters_table(DISTRICT_PARAMETERS),
    }


# --------------------------------------------------------------------------------------------
# district-plants.gpkg: the district with its plants, for the dispatch stage (README.md)
# --------------------------------------------------------------------------------------------

#: Electricity ¤/kWh_el by hour of day (every day type): cheap nights, dear morning and evening
#: peaks, averaging the district's 0.16 ¤/kWh_el.
ELECTRICITY_BY_HOUR = [0.12] * 6 + [0.19] * 4 + [0.15] * 7 + [0.21] * 4 + [0.14] * 3
GAS_EUR_KWH = 0.07
GAS_KG_PER_KWH = 0.2
#: (unit_id, fuel_id, efficiency, heat_max_kw, min_load_fraction, min_up_h, min_down_h,
#: startup_cost): the heat pump (SCOP 3.2) must run at 30 % or more, for 3 h at least once on
#: and stay off 2 h once off, and costs 15 ¤ a start (wear); the gas boiler covers the peaks.
DISTRICT_UNITS = [
    ("heat-pump", "electricity", HP_SCOP, 1200.0, 0.3, 3.0, 2.0, 15.0),
    ("gas-boiler", "gas", 0.92, 2500.0, 0.0, 0.0, 0.0, 0.0),
]
#: A 3 MWh tank: 600 kW in or out, 98 % each way, 0.5 % of its heat lost per hour.
DISTRICT_STORE = ("tank", 3000.0, 600.0, 0.98, 0.98, 0.005)


def district_plant_tables() -> dict[str, pd.DataFrame]:
    units = pd.DataFrame(
        {
            "unit_id": [u[0] for u in DISTRICT_UNITS],
            "supply_id": ["S1"] * len(DISTRICT_UNITS),
            "fuel_id": [u[1] for u in DISTRICT_UNITS],
            "efficiency": [u[2] for u in DISTRICT_UNITS],
            "heat_max_kw": [u[3] for u in DISTRICT_UNITS],
            "min_load_fraction": [u[4] for u in DISTRICT_UNITS],
            "min_up_h": [u[5] for u in DISTRICT_UNITS],
            "min_down_h": [u[6] for u in DISTRICT_UNITS],
            "startup_cost": [u[7] for u in DISTRICT_UNITS],
        }
    )
    name, capacity, rate, eta_in, eta_out, loss = DISTRICT_STORE
    storages = pd.DataFrame(
        {
            "storage_id": [name],
            "supply_id": ["S1"],
            "capacity_kwh": [capacity],
            "charge_max_kw": [rate],
            "eta_charge": [eta_in],
            "eta_discharge": [eta_out],
            "loss_per_h": [loss],
        }
    )
    fuels = pd.DataFrame(
        {
            "fuel_id": ["electricity", "gas"],
            "supply_id": nulls(2, "str"),
            "price_per_kwh": [json.dumps(ELECTRICITY_BY_HOUR), str(GAS_EUR_KWH)],
            "emissions_kg_per_kwh": [GRID_KG_PER_KWH_EL, GAS_KG_PER_KWH],
        }
    )
    return {"plant_units": units, "storages": storages, "fuels": fuels}


# --------------------------------------------------------------------------------------------
# tiny.gpkg
# --------------------------------------------------------------------------------------------


def tiny_layers() -> dict[str, pd.DataFrame]:
    n = len(TINY_BUILDINGS)
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [b[0] for b in TINY_BUILDINGS],
            "annual_demand_kwh": np.array([b[4] for b in TINY_BUILDINGS], dtype="float64"),
            "peak_demand_kw": np.array([b[3] for b in TINY_BUILDINGS], dtype="float64"),
            "connections": np.ones(n, dtype="int64"),
            "constraint": ["optional"] * n,
            "demand_group": nulls(n, "str"),
            "connection_cost_id": np.ones(n, dtype="int64"),
            "tariff_id": np.ones(n, dtype="int64"),
            "extra_pv": nulls(n, "float64"),
        },
        geometry=[shapely.Point(TINY_X0 + b[1], TINY_Y0 + b[2]) for b in TINY_BUILDINGS],
        crs=TINY_CRS,
    )
    paths = gpd.GeoDataFrame(
        {
            "path_id": ["P1"],
            "constraint": ["optional"],
            "existing_diameter": nulls(1, "float64"),
            "civil_cost_id": nulls(1, "Int64"),  # null -> the default civil cost
            "extra_pv": nulls(1, "float64"),
        },
        geometry=[shapely.LineString([(TINY_X0, TINY_Y0), (TINY_X0 + TINY_STREET_M, TINY_Y0)])],
        crs=TINY_CRS,
    )
    money = dict.fromkeys(SUPPLY_MONEY_COLUMNS, 0.0)
    money["cost_per_kwh"] = 0.04
    supplies = supplies_frame(
        "S1", shapely.Point(TINY_X0, TINY_Y0 - 10.0), TINY_CRS, 200.0, money, 0.2, None
    )
    civil = civil_costs_table([(d, 1, c) for d, c in TINY_CIVIL.items()])
    return {
        "buildings": buildings,
        "paths": paths,
        "supplies": supplies,
        "tariffs": tariffs_table([TINY_TARIFF]),
        "connection_costs": connection_costs_table([TINY_CONNECTION_COST]),
        "civil_costs": civil,
        "civil_cost_names": civil_cost_names_table([(1, "standard", True)]),
        "supply_costs": supply_costs_table([]),
        "parameters": parameters_table(TINY_PARAMETERS),
    }


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def write_gpkg(path: Path, layers: dict[str, pd.DataFrame]) -> None:
    if path.exists():
        path.unlink()
    first = True
    for name, df in layers.items():
        kwargs: dict[str, object] = {"driver": "GPKG", "layer": name}
        if first:
            kwargs["dataset_options"] = {"VERSION": "1.2"}
            first = False
        pyogrio.write_dataframe(df, path, **kwargs)


# --------------------------------------------------------------------------------------------
# --explain: per-building economics, with the cost rules of README.md
# --------------------------------------------------------------------------------------------


def _pv(values_by_year: dict[int, float], rate: float) -> float:
    return sum(v / (1 + rate) ** y for y, v in values_by_year.items())


def _curve_rate(curve: list[list[float]], kw: float) -> float:
    xs = [p[0] for p in curve]
    ys = [p[1] for p in curve]
    return float(np.interp(kw, xs, ys))


def explain_district(
    rate: float = 0.03,
    term: int = 40,
    diversity: float = 0.62,
    loss_allowance: float = 0.15,
) -> None:
    """Print rough per-building PVs for district.gpkg (default lifetimes 20 y / 25 y).

    ``margin`` = tariff PV - connection-cost PV - heat PV - plant PV: what a building can
    spend on pipe. Heat losses are not modelled here; ``margin_with_losses`` adds
    ``loss_allowance`` to the heat bought. The frontage check assigns each building to its
    nearest path and asks whether the margins on a path pay for a soft-dig connector
    (DN25, 299 ¤/m) per building plus the path itself (380 ¤/m soft, 700 ¤/m hard).
    """
    b = district_buildings()
    tariffs = {t[0]: t for t in DISTRICT_TARIFFS}
    ccosts = {c[0]: c for c in DISTRICT_CONNECTION_COSTS}
    prices = heat_price_series()
    annual = range(1, term)
    af = _pv(dict.fromkeys(annual, 1.0), rate)
    hx_pv = sum((1 + rate) ** -y for y in range(1, term) if y % 20 == 0)
    plant_repex_pv = sum((1 + rate) ** -y for y in range(1, term) if y % 25 == 0)
    heat_factor = _pv({y: prices[min(y, len(prices) - 1)] for y in annual}, rate)
    total_div_kw = diversity * float(b["peak_demand_kw"].sum())
    hp_rate = _curve_rate(HP_CAPEX_CURVE, total_div_kw)
    plant_per_kw = (
        hp_rate + HP_SIMPLE["opex_per_kw"] * af + HP_SIMPLE["repex_per_kw"] * plant_repex_pv
    )
    print(f"annuity factor, years 1..{term - 1} at {rate:.0%}: {af:.3f}")
    print(f"heat price PV per kWh/yr: {heat_factor:.4f} (series {prices})")
    print(f"all 200 buildings diversified: ~{total_div_kw:.0f} kW")
    print(f"  -> heat pump capex {hp_rate:.0f} ¤/kW; plant PV {plant_per_kw:.0f} ¤/kW")
    fixed = HP_SIMPLE["capex_fixed"] + HP_SIMPLE["opex_fixed"] * af
    print(f"energy-centre fixed costs PV: {fixed:.0f}")

    def one(kw: float, kwh: float, tid: int, cid: int) -> dict[str, float]:
        t = tariffs[tid]
        c = ccosts[cid]
        tariff = t[5] + t[6] * kw + (t[2] + t[3] * kwh + t[4] * kw) * af
        capex = c[2] + c[3] + c[4] * kw
        conn = capex + (c[8] + c[9] + c[10] * kw) * af + (c[5] + c[6] + c[7] * kw) * hx_pv
        heat = kwh * heat_factor
        plant = diversity * kw * plant_per_kw
        margin = tariff - conn - heat - plant
        return {
            "tariff_pv": tariff,
            "connection_pv": conn,
            "net_of_connection": tariff - conn,
            "heat_pv": heat,
            "plant_pv": plant,
            "margin": margin,
            "margin_with_losses": margin - loss_allowance * heat,
        }

    avg_kw = float(b["peak_demand_kw"].mean())
    avg_kwh = float(b["annual_demand_kwh"].mean())
    cases = {f"average ({avg_kw:.1f} kW, {avg_kwh / 1000:.1f} MWh)": (avg_kw, avg_kwh, 1, 1)}
    order = b["peak_demand_kw"].sort_values(kind="stable").index
    picks = {"smallest": order[0], "median": order[len(order) // 2], "largest": order[-1]}
    for label, idx in picks.items():
        row = b.loc[idx]
        kw, kwh = float(row["peak_demand_kw"]), float(row["annual_demand_kwh"])
        name = f"{label} {row['building_id']} ({kw:.1f} kW, {kwh / 1000:.1f} MWh)"
        cases[name] = (kw, kwh, int(row["tariff_id"]), int(row["connection_cost_id"]))
    for label, args in cases.items():
        print(label, {k: round(v) for k, v in one(*args).items()})

    cols = ["peak_demand_kw", "annual_demand_kwh", "tariff_id", "connection_cost_id"]
    b["margin"] = [one(*r)["margin_with_losses"] for r in b[cols].itertuples(index=False)]
    pct = np.percentile(b["margin"], [0, 25, 50, 75, 100]).round()
    print(f"margin_with_losses over all 200, min/p25/median/p75/max: {pct.tolist()}")

    paths = district_paths()
    near = paths.sindex.nearest(b.geometry, return_all=False)[1]
    b["path"] = near
    b["connector_m"] = b.geometry.distance(paths.geometry.iloc[near], align=False).to_numpy()
    b["net"] = b["margin"] - 299.0 * b["connector_m"]
    per_path = b.groupby("path").agg(n=("net", "size"), net=("net", "sum"))
    length = paths.length.iloc[per_path.index].to_numpy()
    rate_m = np.where(paths["civil_cost_id"].iloc[per_path.index] == HARD_DIG, 700.0, 380.0)
    pays = per_path["net"].to_numpy() > length * rate_m
    conn_m = b["connector_m"]
    print(f"connectors: total {conn_m.sum():.0f} m, median {conn_m.median():.1f} m")
    n_pay = int(per_path["n"][pays].sum())
    used_m, all_m = length.sum(), paths.length.sum()
    print(f"paths with buildings: {len(per_path)} ({used_m:.0f} m of {all_m:.0f} m)")
    print(f"  {int(pays.sum())} of them pay for themselves, carrying {n_pay} buildings")


def main(argv: list[str]) -> int:
    write_gpkg(HERE / "district.gpkg", district_layers())
    write_gpkg(HERE / "tiny.gpkg", tiny_layers())
    write_gpkg(HERE / "district-plants.gpkg", district_layers() | district_plant_tables())
    if "--explain" in argv:
        explain_district()
    return 0


if __name__ == "__main__":
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        sys.exit(main(sys.argv[1:]))
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
