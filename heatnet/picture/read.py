"""Read a heatnet output for the pictures, check it, and turn it into figures for people."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from numpy.typing import NDArray
from pyogrio.errors import DataLayerError, DataSourceError

from heatnet.core.errors import InputError
from heatnet.inputs.load import read_only

log = logging.getLogger(__name__)

REQUIRED: Mapping[str, tuple[str, ...]] = {
    "buildings": ("geometry", "in_network", "unreachable"),
    "paths": ("geometry", "in_network", "connector", "diameter_mm", "unreachable"),
    "supplies": ("geometry", "in_network"),
    "cashflow": ("year", "value", "cost"),
    "solution_summary": (
        "state", "objective", "mip_gap", "runtime", "network_building_count",
        "network_connection_count", "network_length", "network_kwh", "network_losses_kwh",
        "network_npv", "run",
    ),
}  # fmt: skip
"""Layers and tables every heatnet output holds, with the columns the pictures read."""

OPTIONAL: Mapping[str, tuple[str, ...]] = {
    "parameters": ("parameter", "value"),
    "infeasible_reasons": ("reason_type", "message"),
    "dispatch": (
        "day_type",
        "hour",
        "element_type",
        "element_id",
        "heat_kw",
        "on",
        "start",
        "level_kwh",
    ),
}
"""Tables read when present (their columns are then required)."""

NPV_RATE_KEY = "finance/npv-rate"
NO_VALUE = "—"
COST_KINDS = ("capex", "repex", "opex", "heat", "extra", "revenue")
"""Cost kinds in stacking order; any other ``cost`` (or none) is counted as "other"."""


@dataclass(frozen=True, slots=True)
class OutputData:
    """A heatnet output as the pictures need it.

    Attributes
    ----------
    source
        The GeoPackage read.
    buildings, paths, supplies
        The layers as read, without rows whose geometry is null or empty (nothing to draw).
    building_count
        Rows in the ``buildings`` layer, with or without geometry.
    cashflow
        The ``cashflow`` table as read.
    summary
        The single ``solution_summary`` row, by column.
    reasons
        ``infeasible_reasons`` (reason_type, message); empty when the table is absent.
    npv_rate
        ``finance/npv-rate`` from ``parameters``, or None when absent or blank.
    dispatch
        The ``dispatch`` table (plants hour by hour), or None when absent or empty.
    """

    source: Path
    buildings: gpd.GeoDataFrame
    paths: gpd.GeoDataFrame
    supplies: gpd.GeoDataFrame
    building_count: int
    cashflow: pd.DataFrame
    summary: dict[str, Any]
    reasons: pd.DataFrame
    npv_rate: float | None
    dispatch: pd.DataFrame | None = None

    @property
    def has_design(self) -> bool:
        """Whether any building or path is in the network (not so when infeasible)."""
        return bool(
            flag(self.buildings["in_network"]).any() or flag(self.paths["in_network"]).any()
        )


def read_output(gpkg: Path) -> OutputData:
    """Read and check every layer and table the pictures use.

    Parameters
    ----------
    gpkg
        The output GeoPackage.

    Returns
    -------
    OutputData
        The layers and tables, unchanged apart from dropping rows without geometry.

    Raises
    ------
    InputError
        If the file cannot be read, or lacks a layer, table or column of :data:`REQUIRED` (or of
        a present :data:`OPTIONAL` table); one error names every gap.
    """
    if not gpkg.is_file():
        raise InputError(f"{gpkg} does not exist or is not a file")
    with read_only(gpkg) as readable:  # a copy when it has a -wal: GDAL would checkpoint it
        try:
            present = {str(name) for name in pyogrio.list_layers(readable)[:, 0]}
        except (DataSourceError, OSError) as error:
            raise InputError(f"cannot read {gpkg} as a GeoPackage: {error}") from error
        missing = [name for name in REQUIRED if name not in present]
        if missing:
            listed = ", ".join(missing)
            raise InputError(f"{gpkg} is not a heatnet output: no layer/table {listed}")
        wanted = {**REQUIRED, **{k: v for k, v in OPTIONAL.items() if k in present}}
        frames = {name: _read_layer(readable, name, gpkg) for name in wanted}
    absent = [
        f"{name}.{column}"
        for name, columns in wanted.items()
        for column in columns
        if column not in frames[name].columns
    ]
    if absent:
        raise InputError(f"{gpkg} is not a heatnet output: no column {', '.join(absent)}")
    if frames["solution_summary"].empty:
        raise InputError(f"{gpkg} is not a heatnet output: solution_summary has no row")
    return OutputData(
        source=gpkg,
        buildings=_drawable(frames["buildings"]),
        paths=_drawable(frames["paths"]),
        supplies=_drawable(frames["supplies"]),
        building_count=len(frames["buildings"]),
        cashflow=frames["cashflow"],
        summary={str(k): v for k, v in frames["solution_summary"].iloc[0].items()},
        reasons=frames.get("infeasible_reasons", pd.DataFrame(columns=["reason_type", "message"])),
        npv_rate=_npv_rate(frames.get("parameters")),
        dispatch=_nonempty(frames.get("dispatch")),
    )


def _nonempty(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if frame is None or frame.empty else frame


def _read_layer(readable: Path, name: str, gpkg: Path) -> pd.DataFrame:
    """A layer (GeoDataFrame) or a table (DataFrame), as GDAL reads it from ``readable``."""
    try:
        frame: pd.DataFrame = pyogrio.read_dataframe(readable, layer=name)
    except (DataSourceError, DataLayerError, OSError) as error:
        raise InputError(f"cannot read {name} from {gpkg}: {error}") from error
    return frame


def _drawable(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows with a geometry to draw (not null, not empty)."""
    return layer[(layer.geometry.notna() & ~layer.geometry.is_empty).to_numpy()]


def _npv_rate(parameters: pd.DataFrame | None) -> float | None:
    """``finance/npv-rate`` from the parameters table; None when absent, blank or unusable."""
    if parameters is None:
        return None
    keys = parameters["parameter"].astype("string").str.strip().str.lstrip(":").str.lower()
    values = parameters.loc[(keys == NPV_RATE_KEY).fillna(False).to_numpy(), "value"]
    raw = text(values.iloc[0]).strip() if len(values) else ""
    rate = number(raw)
    if raw and (rate is None or rate <= -1):
        log.warning("ignoring %s = %r in the parameters table", NPV_RATE_KEY, raw)
        return None
    return rate


def flag(values: pd.Series) -> NDArray[np.bool_]:
    """A boolean column as GDAL hands it back (bool, 0/1 integers or text); null is False."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean").fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return (pd.to_numeric(values, errors="coerce").fillna(0) != 0).to_numpy(dtype=bool)
    words = values.astype("string").str.strip().str.lower()
    return words.isin(["1", "true", "t", "yes", "y"]).fillna(False).to_numpy(dtype=bool)


def number(value: object) -> float | None:
    """A finite float, or None for null, NaN and text that is not a number."""
    if not isinstance(value, int | float | np.number | str):
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def text(value: object) -> str:
    """Text of a table cell; null, NaN and NA become ""."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def headline_figures(data: OutputData) -> dict[str, str]:
    """The headline figures, formatted (see :func:`heatnet.picture.headline`)."""
    s = data.summary
    state = text(s["state"]) or "unknown"
    total = data.building_count
    connected = number(s["network_building_count"])
    if connected is None:
        connected = float(flag(data.buildings["in_network"]).sum())
    kwh, losses = number(s["network_kwh"]), number(s["network_losses_kwh"])
    share = f" ({connected / total:.1%})" if total else ""
    return {
        "State": state if data.has_design else f"{state} (no design)",
        "NPV": _format(number(s["network_npv"]), "{:,.0f}"),
        "Objective": _format(number(s["objective"]), "{:,.0f}"),
        "Proven gap": _format(number(s["mip_gap"]), "{:.2%}"),
        "Buildings connected": f"{connected:,.0f} of {total:,}{share}",
        "Connections": _format(number(s["network_connection_count"]), "{:,.0f}"),
        "Network length": _format(number(s["network_length"]), "{:,.2f} km", scale=1e-3),
        "Heat delivered": _mwh(kwh),
        "Losses": _losses(kwh, losses),
        "Runtime": _duration(number(s["runtime"])),
    }


def _format(value: float | None, pattern: str, *, scale: float = 1.0) -> str:
    return NO_VALUE if value is None else pattern.format(value * scale)


def _mwh(kwh: float | None) -> str:
    """kWh/yr as MWh/yr, with one decimal below 100 MWh."""
    pattern = "{:,.1f} MWh/yr" if kwh is not None and abs(kwh) < 1e5 else "{:,.0f} MWh/yr"
    return _format(kwh, pattern, scale=1e-3)


def _losses(kwh: float | None, losses: float | None) -> str:
    """Losses, and their share of the heat supplied (delivered + losses)."""
    supplied = (kwh or 0.0) + (losses or 0.0)
    if losses is None or supplied <= 0:
        return _mwh(losses)
    return f"{_mwh(losses)} ({losses / supplied:.1%} of heat supplied)"


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds < 60:
        return _format(seconds, "{:.1f} s")
    minutes, rest = divmod(round(seconds), 60)
    return (
        f"{minutes} min {rest:02d} s"
        if minutes < 60
        else f"{minutes // 60} h {minutes % 60:02d} min"
    )


def title(data: OutputData) -> str:
    """The map title: run name (else the file name), state, and whether there is a design."""
    run = text(data.summary["run"]) or data.source.stem
    state = text(data.summary["state"]) or "unknown state"
    return f"Heat network: {run} ({state}{'' if data.has_design else ', no design'})"


def provenance(data: OutputData) -> str:
    """Where the figures come from: file, user, start date and heatnet version."""
    parts = [data.source.name]
    for label, key in (("run by ", "user"), ("started ", "start_date"), ("heatnet ", "git_rev")):
        value = text(data.summary.get(key))
        if value:
            parts.append(value if value.startswith(label.strip()) else label + value)
    return " · ".join(parts)


def cashflow_table(cashflow: pd.DataFrame) -> pd.DataFrame:
    """Nominal value by year (rows from 0 to the last year, none missing) and cost kind.

    Columns follow :data:`COST_KINDS` (only kinds present), then "other"; values keep the
    table's signs (costs negative). No rows: an empty frame.
    """
    kind = cashflow["cost"].astype("string").str.strip().str.lower()
    frame = pd.DataFrame(
        {
            "year": pd.to_numeric(cashflow["year"], errors="coerce"),
            "kind": kind.where(kind.isin(COST_KINDS), "other").fillna("other"),
            "value": pd.to_numeric(cashflow["value"], errors="coerce"),
        }
    ).dropna()
    if frame.empty:
        return pd.DataFrame(index=pd.RangeIndex(0, name="year"))
    table = frame.pivot_table(
        index="year", columns="kind", values="value", aggfunc="sum", fill_value=0.0
    )
    years = pd.RangeIndex(min(0, int(frame["year"].min())), int(frame["year"].max()) + 1)
    table = table.reindex(index=years, fill_value=0.0)
    return table[[k for k in (*COST_KINDS, "other") if k in table.columns]]


def cumulative_npv(table: pd.DataFrame, rate: float) -> pd.Series:
    """Running sum over years y of (Σ values in y) × (1 + rate)^−y, for :func:`cashflow_table`."""
    years = table.index.to_numpy(dtype=float)
    return (table.sum(axis=1) * (1.0 + rate) ** -years).cumsum()
