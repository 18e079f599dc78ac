"""The dispatch chart: a design's plants hour by hour on each typical day.

Drawn from the ``dispatch`` table ``heatnet run`` writes with plant units
(``schemas/dispatch.output.schema.json``), day types side by side, 24 hours each:

- heat: each unit's output stacked (a store's discharge on top of them, its charge below zero)
  against the sites' demand (their buildings and their pipes' standing losses);
- on/off: one strip per unit with on/off status, dark where it runs, a mark where it starts;
- storage: each store's level at the end of each hour.

A year solved hour by hour (``dispatch/horizon`` year) is shown the same way, each day type's
hours averaged over the days of the year built from it (a unit counts as on in an hour when it
runs on at least half of those days, and as starting when it starts on any).

Like :mod:`heatnet.picture.draw`, it draws only on the figure it is given (no pyplot).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import FuncFormatter
from numpy.typing import NDArray

from heatnet.picture.read import OutputData, flag

HOURS = 24
_PALETTE = ("#1f4e79", "#c8553d", "#4f9d69", "#f2a541", "#8e7cc3", "#6f93c4", "#9a9a9a")
_STORE = "#2a9d8f"


def has_dispatch(data: OutputData) -> bool:
    """Whether the output holds a dispatch with at least one unit."""
    frame = data.dispatch
    return frame is not None and bool((frame["element_type"] == "unit").any())


def typical_days(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Rows by (day type, hour, element); a year's days averaged by day type.

    Returns the rows and whether they are averages of a year hour by hour.
    """
    year = "day_of_year" in frame.columns and bool(frame["day_of_year"].notna().any())
    if not year:
        return frame, False
    work = frame.assign(on=flag(frame["on"]), start=flag(frame["start"]))
    keys = ["day_type", "hour", "element_type", "element_id"]
    grouped = work.groupby(keys, sort=False)
    out = grouped.agg(heat_kw=("heat_kw", "mean"), level_kwh=("level_kwh", "mean"),
                      on=("on", "mean"), start=("start", "max"))  # fmt: skip
    out["on"] = out["on"] >= 0.5
    status = frame.groupby("element_id", sort=False)["on"].apply(lambda s: s.notna().any())
    out = out.reset_index()
    with_status = out["element_id"].map(status).fillna(False).to_numpy(bool)
    out["on"] = out["on"].where(with_status, None)
    return out, True


def draw_dispatch(fig: Figure | SubFigure, data: OutputData) -> None:
    """The heat, on/off and storage panels on ``fig`` (see the module docstring)."""
    assert data.dispatch is not None
    frame, averaged = typical_days(data.dispatch)
    days = list(dict.fromkeys(frame["day_type"].astype(str)))
    position = {d: i * HOURS for i, d in enumerate(days)}
    frame = frame.assign(x=frame["day_type"].astype(str).map(position) + frame["hour"].astype(int))
    n = len(days) * HOURS
    units = _by_step(frame, "unit", "heat_kw", n)
    stores = _by_step(frame, "storage", "heat_kw", n)
    levels = _by_step(frame, "storage", "level_kwh", n)
    on = frame[(frame["element_type"] == "unit") & frame["on"].notna()]
    status = list(dict.fromkeys(on["element_id"].astype(str)))
    demand = frame[frame["element_type"] == "site"].groupby("x")["heat_kw"].sum().reindex(range(n))
    ratios = [3.0] + [0.25 * len(status) + 0.4] * bool(status) + [1.2] * bool(len(levels.columns))
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    panels = list(np.atleast_1d(axes))
    axes = panels[:]
    heat_ax = axes.pop(0)
    title = "Dispatch: heat by hour on each typical day"
    if averaged:
        title = "Dispatch: a year hour by hour, each day type's days averaged"
    heat_ax.set_title(title, loc="left", fontsize=13, fontweight="bold")
    _draw_heat(heat_ax, units, stores, demand.to_numpy(float))
    if status:
        _draw_status(axes.pop(0), on, status)
    if len(levels.columns):
        _draw_levels(axes.pop(0), levels)
    bottom = panels[-1]
    for ax in panels:
        for i in range(1, len(days)):
            ax.axvline(i * HOURS, color="#bbbbbb", lw=0.6, zorder=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    bottom.set_xlim(0, n)
    bottom.set_xticks([position[d] + HOURS / 2 for d in days], days, rotation=90, fontsize=7.5)
    bottom.tick_params(axis="x", length=0)


def _by_step(frame: pd.DataFrame, kind: str, column: str, n: int) -> pd.DataFrame:
    """One column per element of ``kind``, one row per step (0 where it has no row)."""
    rows = frame[frame["element_type"] == kind]
    if rows.empty:
        return pd.DataFrame(index=range(n))
    table = rows.pivot_table(index="x", columns="element_id", values=column, aggfunc="sum")
    order = list(dict.fromkeys(rows["element_id"].astype(str)))
    return table.reindex(index=range(n), columns=order).fillna(0.0)


def _steps(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Values drawn as steps over [x, x + 1): the last one held to the right edge."""
    out: NDArray[np.float64] = np.r_[values, values[-1:]]
    return out


def _draw_heat(
    ax: Axes, units: pd.DataFrame, stores: pd.DataFrame, demand: NDArray[np.float64]
) -> None:
    x = np.arange(len(demand) + 1)
    below = np.zeros(len(demand))
    above = np.zeros(len(demand))
    for i, (uid, kw) in enumerate(units.items()):
        top = above + kw.to_numpy(float).clip(0)
        ax.fill_between(x, _steps(above), _steps(top), step="post", lw=0,
                        color=_PALETTE[i % len(_PALETTE)], label=str(uid))  # fmt: skip
        above = top
    if len(stores.columns):
        net = stores.sum(axis=1).to_numpy(float)
        top = above + net.clip(0)
        ax.fill_between(x, _steps(above), _steps(top), step="post", lw=0, color=_STORE,
                        label="storage discharge")  # fmt: skip
        ax.fill_between(x, _steps(below), _steps(net.clip(None, 0)), step="post", lw=0,
                        color=_STORE, alpha=0.4, label="storage charge")  # fmt: skip
        ax.axhline(0, color="#444444", lw=0.6)
    ax.step(x, _steps(np.nan_to_num(demand)), where="post", color="black", lw=1.0, label="demand")
    ax.set_ylabel("heat (kW)", fontsize=9)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,g}"))
    ax.grid(axis="y", color="#e6e6e6")
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, ncol=6, loc="upper right", frameon=False)


def _draw_status(ax: Axes, on: pd.DataFrame, status: list[str]) -> None:
    for row, uid in enumerate(status):
        mine = on[on["element_id"].astype(str) == uid]
        running = mine.loc[flag(mine["on"]), "x"].to_numpy(int)
        ax.broken_barh([(int(s), 1) for s in running], (row - 0.35, 0.7), color="#333333", lw=0)
        starts = mine.loc[flag(mine["start"]), "x"].to_numpy(int)
        ax.plot(starts + 0.5, np.full(len(starts), row + 0.45), "v", color="#c8553d", ms=4,
                label="start" if row == 0 else None)  # fmt: skip
    ax.set_yticks(range(len(status)), status, fontsize=8)
    ax.set_ylim(len(status) - 0.4, -0.6)
    ax.set_ylabel("on", fontsize=9)
    if len(ax.get_legend_handles_labels()[0]):
        ax.legend(fontsize=8, loc="upper right", frameon=False)


def _draw_levels(ax: Axes, levels: pd.DataFrame) -> None:
    x = np.arange(len(levels) + 1)
    for i, (sid, kwh) in enumerate(levels.items()):
        ax.step(x, _steps(kwh.to_numpy(float)), where="post", lw=1.1, label=str(sid),
                color=_PALETTE[(i + 2) % len(_PALETTE)])  # fmt: skip
    ax.set_ylabel("stored (kWh)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,g}"))
    ax.grid(axis="y", color="#e6e6e6")
    ax.legend(fontsize=8, loc="upper right", frameon=False)


def dispatch_note(data: OutputData) -> dict[str, Any]:
    """What the chart shows, for the HTML page's caption: day types and elements drawn."""
    frame = data.dispatch
    assert frame is not None
    kinds = frame.groupby("element_type")["element_id"].nunique()
    return {
        "day_types": int(frame["day_type"].nunique()),
        "units": int(kinds.get("unit", 0)),
        "storages": int(kinds.get("storage", 0)),
        "averaged": "day_of_year" in frame.columns and bool(frame["day_of_year"].notna().any()),
    }
