"""A design's dispatch as output tables: ``dispatch`` (per step) and ``dispatch_summary``.

Columns are those of ``schemas/dispatch.output.schema.json`` and
``schemas/dispatch_summary.schema.json``. Yearly figures weight each typical day by the days it
stands for (result.py's totals, summed over the day types). A year solved hour by hour
(``dispatch/horizon`` year) has one row per day of the year, hour and element, each day named
with its day of the year and the day type it was built from, ``days_per_year`` 1.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from heatnet.dispatch.from_design import DesignDispatch

STEP_COLUMNS = (
    "day_type", "days_per_year", "day_of_year", "hour", "supply_id", "element_type", "element_id",
    "heat_kw", "fuel_kw", "on", "start", "level_kwh",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "element_type", "element_id", "supply_id", "demand_kwh", "heat_kwh", "fuel_kwh",
    "running_hours", "full_load_hours", "starts", "cycles", "hours_at_capacity", "cost",
    "heat_price", "emissions_kg",
)  # fmt: skip


class _Tables:
    """Rows of both tables, gathered day by day."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.totals: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, kind: str, eid: str, site: str, **figures: float) -> None:
        row = self.totals.setdefault(
            (kind, eid), {"element_type": kind, "element_id": eid, "supply_id": site}
        )
        for key, value in figures.items():
            row[key] = row.get(key, 0.0) + value

    def day(self, base: dict[str, Any], r: dict[str, Any]) -> None:
        for node in r["nodes"]:
            for hour, kw in enumerate(node["demand_kw"]):
                self.steps.append(
                    base | {"hour": hour, "supply_id": node["id"], "element_type": "site",
                            "element_id": node["id"], "heat_kw": kw}
                )  # fmt: skip
        for u in r["units"]:
            self.unit(base, u)
        for s in r["storages"]:
            for hour, (c, x) in enumerate(zip(s["charge_kw"], s["discharge_kw"], strict=True)):
                self.steps.append(
                    base | {"hour": hour, "supply_id": s["node"], "element_type": "storage",
                            "element_id": s["id"], "heat_kw": x - c,
                            "level_kwh": s["level_kwh"][hour]}
                )  # fmt: skip
            t = s["totals"]
            self.add(
                "storage", s["id"], s["node"], heat_kwh=t["discharged_kwh"], cycles=t["cycles"]
            )
        for k in r["links"]:
            back = k["back_entering_kw"] or [0.0] * len(k["entering_kw"])
            for hour, (a, b) in enumerate(zip(k["entering_kw"], back, strict=True)):
                self.steps.append(
                    base | {"hour": hour, "supply_id": k["from"], "element_type": "link",
                            "element_id": k["id"], "heat_kw": a - b}
                )  # fmt: skip
            t = k["totals"]
            self.add("link", k["id"], k["from"], heat_kwh=t["arriving_kwh"],
                     hours_at_capacity=t["hours_at_capacity"])  # fmt: skip

    def unit(self, base: dict[str, Any], u: dict[str, Any]) -> None:
        on, start = u["on"], u["start"]
        for hour, heat in enumerate(u["heat_kw"]):
            self.steps.append(
                base | {
                    "hour": hour, "supply_id": u["node"], "element_type": "unit",
                    "element_id": u["id"], "heat_kw": heat, "fuel_kw": u["fuel_kw"][hour],
                    "on": None if on is None else bool(on[hour] > 0.5),
                    "start": None if start is None else bool(start[hour] > 0.5),
                }
            )  # fmt: skip
        t = u["totals"]
        self.add("unit", u["id"], u["node"], heat_kwh=t["heat_kwh"], fuel_kwh=t["fuel_kwh"],
                 running_hours=t["running_hours"], full_load_hours=t["full_load_hours"],
                 starts=t["starts"], cost=t["cost"], emissions_kg=t["emissions_kg"])  # fmt: skip


def dispatch_tables(dispatch: DesignDispatch) -> dict[str, pd.DataFrame]:
    """The ``dispatch`` and ``dispatch_summary`` tables (empty, typed, without a dispatch)."""
    tables = _Tables()
    for day in dispatch.days:
        if day.result.get("nodes"):
            base = {"day_type": day.day_type.id, "days_per_year": day.day_type.days_per_year}
            first = len(tables.steps)
            tables.day(base, day.result)
            if dispatch.calendar:  # one result whose steps are the year's hours
                for step in tables.steps[first:]:
                    day_index, step["hour"] = divmod(step["hour"], 24)
                    step["day_of_year"] = day_index + 1
                    step["day_type"] = dispatch.calendar[day_index]
    if dispatch.objective is not None:
        for site, row in dispatch.sites.iterrows():
            tables.add("site", str(site), str(site), demand_kwh=float(row["demand_kwh"]),
                       cost=float(row["cost"]))  # fmt: skip
            tables.totals[("site", str(site))]["heat_price"] = float(row["price"])
    return {
        "dispatch": _typed(pd.DataFrame(tables.steps), STEP_COLUMNS),
        "dispatch_summary": _typed(pd.DataFrame(list(tables.totals.values())), SUMMARY_COLUMNS),
    }


_TEXT = {"day_type", "supply_id", "element_type", "element_id"}
_FLAGS = {"on", "start"}


def _typed(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = {}
    for c in columns:
        values = frame[c] if c in frame.columns else pd.Series([None] * len(frame), dtype=object)
        if c in _TEXT:
            out[c] = values.astype(object)
        elif c in _FLAGS:
            out[c] = values.astype("boolean")
        elif c == "hour":
            out[c] = values.astype("int64")
        elif c == "day_of_year":
            out[c] = pd.to_numeric(values, errors="coerce").astype("Int64")
        else:
            out[c] = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.DataFrame(out, columns=list(columns))


def supply_columns(dispatch: DesignDispatch, supply_ids: pd.Series) -> dict[str, np.ndarray]:
    """``dispatch_cost`` (¤/yr) and ``dispatch_heat_price`` (¤/kWh) by supply row (NaN: none)."""
    cost: dict[str, float] = defaultdict(lambda: np.nan)
    price: dict[str, float] = defaultdict(lambda: np.nan)
    if dispatch.objective is not None:
        for site, row in dispatch.sites.iterrows():
            cost[str(site)], price[str(site)] = float(row["cost"]), float(row["price"])
    ids = supply_ids.astype(str)
    return {
        "dispatch_cost": np.array([cost[i] for i in ids], dtype=float),
        "dispatch_heat_price": np.array([price[i] for i in ids], dtype=float),
    }
