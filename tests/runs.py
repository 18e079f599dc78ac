"""Helpers for ``tests/test_run*.py``: run ``heatnet run``, read back what it wrote, build inputs.

Outputs are always checked as read back from disk with pyogrio (:class:`Written`). The command
line runs in a child process (:func:`heatnet`): the real entry point, with a real stderr (whose
file descriptor ``heatnet run`` duplicates for its progress), and a process to send signals to.
"""

from __future__ import annotations

import math
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio

from heatnet.pipeline import run
from tests.conftest import ROOT, base_frames, bound_problems, layer, write_gpkg

HEATNET = (sys.executable, "-m", "heatnet")
SCHEMAS = ROOT / "schemas"
LAYERS = ("buildings", "paths", "supplies")
TABLES = ("cashflow", "solution_summary", "infeasible_reasons", "parameters", "warnings")
OUTPUT_SCHEMA = {
    "buildings": "buildings.output",
    "paths": "paths.output",
    "supplies": "supplies.output",
    "cashflow": "cashflow",
    "solution_summary": "solution_summary",
    "infeasible_reasons": "infeasible_reasons",
}
KEY = {"buildings": "building_id", "paths": "path_id", "supplies": "supply_id"}
REL = 1e-6
ONE_SECOND_H = "0.000278"  # optimiser/runtime-limit is in hours

# The objective/use-* class of each kind of cashflow row, by (cost, type).
# docs/decisions.md §2: use-supply-opex gates the heat bought as well; extra_pv is always in
# the objective.
CLASS_OF = {
    ("revenue", "building"): "tariffs",
    ("extra", "building"): "extra",
    ("capex", "connection"): "connection-capex",
    ("opex", "connection"): "connection-opex",
    ("repex", "connection"): "connection-repex",
    ("capex", "supply"): "supply-capex",
    ("opex", "supply"): "supply-opex",
    ("heat", "supply"): "supply-opex",
    ("repex", "supply"): "supply-repex",
    ("capex", "pipe"): "pipe-capex",
    ("repex", "pipe"): "pipe-repex",
    ("extra", "pipe"): "extra",
}
SWITCHED = (
    "connection-capex", "connection-repex", "connection-opex", "supply-capex", "supply-repex",
    "supply-opex", "pipe-capex", "pipe-repex", "tariffs",
)  # fmt: skip
LIFETIME_OF = {
    "connection": "finance/building-hx-lifetime",
    "supply": "finance/plant-lifetime",
    "pipe": "finance/distribution-lifetime",
}


# ---------------------------------------------------------------------------------------------
# Reading outputs and running heatnet


@dataclass(frozen=True)
class Written:
    """An output GeoPackage read back with pyogrio, and the input it was made from."""

    input: Path
    path: Path
    layers: dict[str, pd.DataFrame]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.layers[name]

    @property
    def summary(self) -> dict[str, Any]:
        return self.layers["solution_summary"].iloc[0].to_dict()

    @property
    def params(self) -> dict[str, str]:
        table = self.layers["parameters"]
        return dict(zip(table["parameter"], table["value"], strict=True))

    @property
    def rate(self) -> float:
        return float(self.params["finance/npv-rate"])

    def switched_on(self, klass: str) -> bool:
        return klass == "extra" or self.params[f"objective/use-{klass}"] == "true"


def read_output(source: Path, path: Path) -> Written:
    present = set(pyogrio.list_layers(path)[:, 0])
    optional = tuple(name for name in ("dispatch", "dispatch_summary") if name in present)
    written = Written(
        source,
        path,
        {name: pyogrio.read_dataframe(path, layer=name) for name in LAYERS + TABLES + optional},
    )
    if len(written["solution_summary"]):
        check_summary_bounds(written.summary)
    return written


def check_summary_bounds(summary: dict[str, Any]) -> None:
    """The written ``solution_summary`` keeps the bounds' definitions (:func:`bound_problems`)."""
    problems = bound_problems(
        summary["state"],
        summary["objective"],
        summary["lower_bound"],
        summary["upper_bound"],
        summary["mip_gap"],
    )
    assert not problems, (
        f"solution_summary breaks the bounds' definitions ({summary['state']}: objective "
        f"{summary['objective']!r}, lower_bound {summary['lower_bound']!r}, upper_bound "
        f"{summary['upper_bound']!r}, mip_gap {summary['mip_gap']!r}):\n  " + "\n  ".join(problems)
    )


def run_library(source: Path, output: Path, **kwargs: Any) -> Written:
    run(source, output, **kwargs)
    return read_output(source, output)


def heatnet(*args: object, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``heatnet ARGS`` in a child process (its progress goes to a duplicate of stderr's fd)."""
    return subprocess.run(
        [*HEATNET, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def headline(stdout: str) -> dict[str, str]:
    """The closing ``key   value`` lines of ``heatnet run``."""
    return {line[:18].strip(): line[18:].strip() for line in stdout.splitlines() if line.strip()}


def discounted(cash: pd.DataFrame, rate: float) -> pd.Series:
    return cash["value"] / (1.0 + rate) ** cash["year"]


def cost_class(cash: pd.DataFrame) -> pd.Series:
    kinds = list(zip(cash["cost"], cash["type"], strict=True))
    unknown = set(kinds) - CLASS_OF.keys()
    assert not unknown, f"cashflow rows of an unknown kind: {unknown}"
    return pd.Series([CLASS_OF[k] for k in kinds], index=cash.index, dtype=object)


def pv_per(cash: pd.DataFrame, rate: float, rows: pd.Series, key: str) -> pd.Series:
    """PV of the selected cashflow rows, summed per element id in column ``key``."""
    return discounted(cash, rate)[rows].groupby(cash.loc[rows, key].astype(object)).sum()


def same_values(a: pd.Series, b: pd.Series) -> list[int]:
    """Rows where two columns differ (nulls equal; numbers to 1e-12 relative)."""

    def plain(v: object) -> object:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    bad = []
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        x, y = plain(x), plain(y)
        if isinstance(x, int | float) and isinstance(y, int | float):
            if not math.isclose(x, y, rel_tol=1e-12):
                bad.append(i)
        elif x != y:
            bad.append(i)
    return bad


def default_civil_cost_id(source: Path) -> int:
    names = pyogrio.read_dataframe(source, layer="civil_cost_names")
    return int(names.loc[names["is_default"].astype(bool), "civil_cost_id"].iloc[0])


# ---------------------------------------------------------------------------------------------
# Inputs


def hand_frames(rate: float) -> dict[str, pd.DataFrame | None]:
    """Two buildings on one street and one supply, with flat prices, so the NPV is paper work.

    Street P1 runs (0, 0)-(100, 0); S1 sits 10 m south of its west end, B1 and B2 10 m north of
    x = 30 and x = 80. The network is 10 m (supply connector) + 30 + 50 m (street) + 2 × 10 m
    (building connectors) = 110 m; the street's last 20 m are peripheral. Pipes cost 100 ¤/m
    whatever their size, heat costs nothing (so losses cost nothing) and nothing depends on kW,
    so neither diversity nor pipe sizing moves the money. finance/npv-term 5: years 0 … 4.
    """
    frames: dict[str, pd.DataFrame | None] = dict(base_frames())
    building = {
        "connections": 1,
        "demand_group": None,
        "connection_cost_id": 1,
        "tariff_id": 1,
    }
    frames["buildings"] = layer(
        [
            {
                **building,
                "building_id": "B1",
                "annual_demand_kwh": 20_000.0,
                "peak_demand_kw": 10.0,
                "constraint": "optional",
                "extra_pv": None,
                "geometry": "POINT (30 10)",
            },
            {
                **building,
                "building_id": "B2",
                "annual_demand_kwh": 40_000.0,
                "peak_demand_kw": 20.0,
                "constraint": ":required",
                "extra_pv": 100.0,
                "geometry": "POINT (80 10)",
            },
        ]
    )
    frames["paths"] = layer(
        [
            {
                "path_id": "P1",
                "constraint": "optional",
                "existing_diameter": None,
                "civil_cost_id": None,
                "extra_pv": None,
                "geometry": "LINESTRING (0 0, 100 0)",
            }
        ]
    )
    supply = base_frames()["supplies"]
    frames["supplies"] = supply.assign(
        capex_fixed=2_000.0,
        capex_per_kw=0.0,
        opex_fixed=200.0,
        cost_per_kwh=0.0,
        supply_cost_type=None,
    )
    frames["tariffs"] = base_frames()["tariffs"].assign(
        annual_charge_fixed=1_000.0, annual_charge_per_kwh=0.1, connection_charge_fixed=500.0
    )
    frames["connection_costs"] = base_frames()["connection_costs"].assign(
        capex_fixed=1_000.0, capex_per_kw=0.0, opex_fixed=100.0
    )
    frames["civil_costs"] = base_frames()["civil_costs"].assign(cost_m=100.0)
    frames["supply_costs"] = None
    frames["parameters"] = pd.DataFrame(
        {"parameter": ["finance/npv-rate", "finance/npv-term"], "value": [repr(rate), "5"]}
    )
    return frames


def annuity(rate: float, years: range) -> float:
    return sum((1.0 + rate) ** -y for y in years)


def rich_frames() -> dict[str, pd.DataFrame | None]:
    """``base_frames`` (rate 3.5 %, a supply cost curve, a heat price, an existing pipe) plus a
    forbidden building, a building beyond every connector, one by a street no supply reaches,
    that street, a forbidden path, a forbidden supply and a supply beyond every connector."""
    frames: dict[str, pd.DataFrame | None] = dict(base_frames())
    base = {
        "annual_demand_kwh": 30_000.0,
        "peak_demand_kw": 15.0,
        "connections": 1,
        "demand_group": None,
        "connection_cost_id": 1,
        "tariff_id": 1,
        "extra_pv": None,
    }
    more = layer(
        [
            {**base, "building_id": "B3", "constraint": "forbidden", "geometry": "POINT (40 10)"},
            {
                **base,
                "building_id": "B4",
                "constraint": "optional",
                "geometry": "POINT (5000 5000)",
            },
            {**base, "building_id": "B5", "constraint": "optional", "geometry": "POINT (2010 10)"},
        ]
    )
    frames["buildings"] = pd.concat([base_frames()["buildings"], more], ignore_index=True)
    path = {"existing_diameter": None, "civil_cost_id": None, "extra_pv": None}
    more_paths = layer(
        [
            {**path, "path_id": "P3", "constraint": "forbidden", "geometry": "LINESTRING (0 0, 0 -100)"},
            {**path, "path_id": "P4", "constraint": "optional", "geometry": "LINESTRING (2000 0, 2100 0)"},
        ]
    )  # fmt: skip
    frames["paths"] = pd.concat([base_frames()["paths"], more_paths], ignore_index=True)
    s1 = base_frames()["supplies"]
    s2 = s1.assign(supply_id="S2", constraint="forbidden", geometry=s1.geometry.translate(50, 0))
    s3 = s1.assign(supply_id="S3", geometry=s1.geometry.translate(-3000, -3000))
    frames["supplies"] = pd.concat([s1, s2, s3], ignore_index=True)
    # all-null columns of the added rows are object: keep the format's numeric storage types
    for name, column in (
        ("buildings", "extra_pv"),
        ("paths", "existing_diameter"),
        ("paths", "extra_pv"),
        ("supplies", "annual_capacity_kwh"),
    ):
        frames[name][column] = frames[name][column].astype("float64")
    frames["paths"]["civil_cost_id"] = frames["paths"]["civil_cost_id"].astype("Int64")
    return frames


def column_types(spec: dict[str, Any]) -> list[str]:
    kind = spec.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def check_column(frame: pd.DataFrame, column: str, spec: dict[str, Any], stored: str) -> None:
    types = column_types(spec)
    values = frame[column]
    where = f"{column} ({values.dtype}, stored {stored})"
    if "null" not in types:
        assert values.notna().all(), f"{where} has nulls"
    if "boolean" in types:
        assert values.dtype == np.bool_, where
    elif "integer" in types:
        assert stored in ("int64", "int32"), where
        if not pd.api.types.is_integer_dtype(values.dtype):
            # pyogrio reads an integer column holding nulls as float64 (sample_data/README.md)
            assert "null" in types, where
            assert pd.api.types.is_float_dtype(values.dtype), where
            assert (values.dropna() % 1 == 0).all(), where
    elif "number" in types:
        assert pd.api.types.is_float_dtype(values.dtype), where
        assert stored == "float64", where
    elif "string" in types:
        assert values.dtype == object or pd.api.types.is_string_dtype(values.dtype), where
        assert stored == "object", where
        assert all(isinstance(v, str) for v in values.dropna()), where


def user_column_input(folder: Path) -> Path:
    frames = hand_frames(0.0)
    frames["buildings"] = frames["buildings"].assign(storeys=[2, 5], use=["house", "flats"])
    frames["paths"] = frames["paths"].assign(lanes=[2], street=["High St"])
    frames["supplies"] = frames["supplies"].assign(units=[3], owner=["council"])
    return write_gpkg(folder / "user-columns.gpkg", frames)


def looped_input(folder: Path, buildings: int) -> Path:
    """The optimiser benchmark's looped street grid (bench/looped.py --optimise)."""
    path = folder / f"looped-{buildings}.gpkg"
    made = subprocess.run(
        [sys.executable, "looped.py", str(path), str(buildings), "--optimise"],
        cwd=ROOT / "bench",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    return path


def pump_lines(stream: Any) -> tuple[queue.Queue[str | None], list[str]]:
    """Read a child's stream on a thread: its lines as they come (None at the end), and all."""
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        for line in stream:
            seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines, seen
