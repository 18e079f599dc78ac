"""From a solved problem back to the GIS layers and the format's output tables.

Every money figure written comes from one set of line items (:mod:`heatnet.economics.money`):
the connected buildings' tariffs and connection costs, the built supplies' plant costs at the
load and output the design gives them, and the laid pipes at their catalogue diameters, one
item per output path row. The ``*_pv`` columns are the items' present values, ``cashflow`` is
the same items spread over the years, and ``network_npv`` and the objective in
``solution_summary`` are their sums, so the numbers reconcile by construction. The buildings'
items are the ones the problem was priced from (:attr:`~heatnet.problem.definition.Problem.building_items`),
not a second pricing; supplies and pipes are priced here at the design's loads and diameters,
exactly (a supply cost curve at the load, where the model interpolates between breakpoints).
"""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from heatnet import __version__
from heatnet.core.issues import Issue, Severity
from heatnet.core.units import HOURS_PER_YEAR
from heatnet.economics import CONNECTION, PATH, SUPPLY, CostClass, schedule_for, switches
from heatnet.economics.money import cashflow, present_value
from heatnet.economics.prices import pipe_items, supply_items
from heatnet.inputs.params import parameters_table
from heatnet.inputs.validate import Inputs
from heatnet.optimise.proof import honest_bound, proven_state, relative_gap
from heatnet.optimise.solution import Solution
from heatnet.outputs.network_layers import topology_layers
from heatnet.problem.definition import Problem
from heatnet.topology import Network


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Who ran what, when: the metadata columns of ``solution_summary``."""

    run: str
    user: str
    git_rev: str
    start_date: str

    @classmethod
    def now(cls, run: str) -> RunInfo:
        """Metadata for a run starting now (UTC), by the current user, of this heatnet."""
        return cls(
            run=run,
            user=_user(),
            git_rev=heatnet_revision(),
            start_date=datetime.now(UTC).isoformat(timespec="seconds"),
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER variable
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def heatnet_revision() -> str:
    """``heatnet <version>``, plus ``git <sha>[-dirty]`` when running from a git checkout."""
    source = Path(__file__).resolve().parents[2]
    if not (source / ".git").exists():
        return f"heatnet {__version__}"
    try:
        sha = subprocess.run(
            ["git", "-C", str(source), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"heatnet {__version__}"
    return f"heatnet {__version__} (git {sha})"


@dataclass(frozen=True, slots=True)
class Results:
    """Everything written for one run.

    Attributes
    ----------
    layers
        ``buildings``, ``paths``, ``supplies`` (GeoDataFrames, input CRS) and the tables
        ``cashflow``, ``solution_summary``, ``infeasible_reasons``, ``parameters``, in the order
        they are written.
    summary
        The single ``solution_summary`` row as a dict.
    """

    layers: dict[str, pd.DataFrame]
    summary: dict[str, Any]


def results(
    inputs: Inputs,
    *,
    network: Network,
    problem: Problem,
    solution: Solution,
    info: RunInfo,
    warnings: Sequence[Issue] = (),
) -> Results:
    """The output layers and tables of a solved problem.

    Parameters
    ----------
    inputs
        The validated inputs (every input column is kept).
    network
        Their network (path rows, connectors, unreachable and peripheral flags).
    problem
        The problem that was solved (its parameters and catalogue are the ones used).
    solution
        What the optimiser found; without a design every ``in_network`` is false.
    info
        Run metadata.
    warnings
        Warnings about the input and its network, written to the ``warnings`` table.

    Returns
    -------
    Results
        Layers in the input CRS, and the summary row.
    """
    layers = topology_layers(inputs, network)
    rows = _match(layers, network, solution)
    params = problem.parameters
    schedule = schedule_for(params)
    items = _items(inputs, problem, layers["paths"], rows)
    pv = present_value(items, schedule)

    def pv_of(key: str, classes: tuple[CostClass, ...], ids: pd.Series) -> NDArray[np.float64]:
        mine = items["class"].isin(classes).to_numpy()
        sums = pd.Series(pv[mine]).groupby(items.loc[mine, key].to_numpy()).sum()
        return np.asarray(sums.reindex(ids.to_numpy(), fill_value=0.0), dtype=np.float64)

    buildings = layers["buildings"]
    buildings["in_network"] = rows.buildings
    for code, message, element in solution.warnings:  # left out by the optimiser: say why
        if code == "building_exceeds_largest_pipe" and element is not None:
            mine = (buildings["building_id"].astype(str) == element).to_numpy()
            buildings.loc[
                mine & buildings["unreachable_reason"].isna().to_numpy(), "unreachable_reason"
            ] = message
    ids = buildings["building_id"]
    buildings["connection_cost_pv"] = pv_of("building_id", CONNECTION, ids)
    buildings["tariff_pv"] = pv_of("building_id", (CostClass.TARIFFS,), ids)
    buildings = _after(buildings, "building_id", ["in_network", "unreachable"])

    supplies = layers["supplies"]
    supplies["in_network"] = rows.supplies["in_network"].to_numpy()
    for column in ("diversity", "load_kw", "load_kwh"):
        supplies[column] = rows.supplies[column].to_numpy(float)
    plant = pv_of("supply_id", SUPPLY, supplies["supply_id"])
    supplies["plant_pv"] = np.where(supplies["in_network"], plant, np.nan)
    supplies = _after(supplies, "supply_id", ["in_network", "unreachable"])

    paths = layers["paths"]
    pipes = rows.paths
    used = pipes["in_network"].to_numpy(bool)
    paths["in_network"] = used
    for column in ("diameter_mm", "diversity", "load_kw", "capacity_kw"):
        paths[column] = pipes[column].to_numpy(float)
    share = np.divide(
        pipes["length_m"].to_numpy(float),
        pipes["edge_length_m"].to_numpy(float),
        out=np.zeros(len(pipes)),
        where=pipes["edge_length_m"].to_numpy(float) > 0,
    )
    paths["losses_kwh"] = pipes["loss_kw"].to_numpy(float) * share * HOURS_PER_YEAR
    paths["cost_pv"] = np.where(used, pv_of("path_id", PATH, paths["path_id"]), np.nan)
    paths = _after(
        paths.drop(columns="model_edge"),
        "path_id",
        ["in_network", "connector", "diameter_mm", "diversity", "load_kw", "capacity_kw"],
    )

    length = float(pipes.loc[used, "length_m"].sum())
    summary = _summary(problem, solution, info, items, pv, buildings, paths, length)
    reasons = pd.DataFrame(
        {
            "reason_type": pd.Series([r[0] for r in solution.reasons], dtype=object),
            "message": pd.Series([r[1] for r in solution.reasons], dtype=object),
        }
    )
    return Results(
        {
            "buildings": buildings,
            "paths": paths,
            "supplies": supplies,
            "cashflow": _typed_cashflow(cashflow(items, schedule)),
            "solution_summary": pd.DataFrame([summary]),
            "infeasible_reasons": reasons,
            "parameters": parameters_table(inputs.parameter_values),
            "warnings": _warnings(warnings),
        },
        summary,
    )


@dataclass(frozen=True, slots=True)
class _Rows:
    """The design, row by row of the output layers (NaN / False where not in the network)."""

    buildings: NDArray[np.bool_]
    supplies: pd.DataFrame  # in_network, diversity, load_kw, load_kwh
    paths: pd.DataFrame  # in_network, diameter_mm, ..., existing, loss_kw, length_m, edge_length_m


def _match(layers: dict[str, gpd.GeoDataFrame], network: Network, solution: Solution) -> _Rows:
    """Look every output row's model element up in the design."""
    design = solution.design
    b_vertex = network.buildings["vertex"].reindex(layers["buildings"].index).astype(str)
    s_vertex = network.supplies["vertex"].reindex(layers["supplies"].index).astype(str)
    paths = layers["paths"]
    edge_of = [str(e) if pd.notna(e) else "" for e in paths["model_edge"]]
    supply_columns = ["in_network", "diversity", "load_kw", "load_kwh"]
    path_columns = [
        "in_network", "diameter_mm", "diversity", "load_kw", "capacity_kw", "existing", "loss_kw",
    ]  # fmt: skip
    if design is None:
        supplies = pd.DataFrame(np.nan, index=range(len(s_vertex)), columns=supply_columns)
        pipes = pd.DataFrame(np.nan, index=range(len(paths)), columns=path_columns)
        connected = np.zeros(len(b_vertex), dtype=bool)
    else:
        supplies = design.supplies.reindex(s_vertex.to_numpy())[supply_columns]
        pipes = design.edges.reindex(edge_of)[path_columns]
        connected = b_vertex.map(design.buildings["in_network"]).fillna(False).to_numpy(bool)
    supplies = supplies.reset_index(drop=True)
    supplies["in_network"] = supplies["in_network"].fillna(False).astype(bool)
    pipes = pipes.reset_index(drop=True)
    pipes["in_network"] = pipes["in_network"].fillna(False).astype(bool)
    pipes["existing"] = pipes["existing"].fillna(False).astype(bool)
    pipes["length_m"] = network.paths["length_m"].reindex(paths["path_id"]).to_numpy(float)
    pipes["edge_length_m"] = (
        network.model.edges["length_m"].rename(index=str).reindex(edge_of).to_numpy(float)
    )
    off = ~pipes["in_network"].to_numpy(bool)
    pipes.loc[off, ["diameter_mm", "diversity", "load_kw", "capacity_kw", "loss_kw"]] = np.nan
    return _Rows(connected, supplies, pipes)


def _items(inputs: Inputs, problem: Problem, paths: pd.DataFrame, rows: _Rows) -> pd.DataFrame:
    """Line items of everything built, priced exactly (catalogue diameters, true curves).

    The connected buildings' items are the problem's own (those its ``pv_*`` columns came from).

    Raises
    ------
    ValueError
        When the problem carries no building items (read from JSON or made by hand).
    """
    params = problem.parameters
    if problem.building_items is None:
        raise ValueError(
            f"problem {problem.name!r} carries no building line items (a problem read from JSON "
            "is solved to JSON, not written as a GeoPackage): build it with network_problem"
        )
    connected = inputs.buildings["building_id"].to_numpy()[rows.buildings]
    b_items = problem.building_items
    b_items = b_items[b_items["building_id"].isin(connected).to_numpy()].reset_index(drop=True)
    built = rows.supplies["in_network"].to_numpy(bool)
    s_items = supply_items(
        inputs.supplies.loc[inputs.supplies.index[built]].drop(columns="geometry"),
        inputs.supply_costs,
        rows.supplies.loc[built, "load_kw"].to_numpy(float),
        rows.supplies.loc[built, "load_kwh"].to_numpy(float),
        params,
    )
    pipes = rows.paths
    used = pipes["in_network"].to_numpy(bool)
    extra = paths["extra_pv"] if "extra_pv" in paths else pd.Series(np.nan, index=paths.index)
    pipe_rows = pd.DataFrame(
        {
            "path_id": paths["path_id"].to_numpy(),
            "length_m": pipes["length_m"].to_numpy(float),
            "civil_cost_id": paths["civil_cost_id"].to_numpy(),
            "diameter_mm": pipes["diameter_mm"].to_numpy(float),
            "existing": pipes["existing"].to_numpy(bool),
            "extra_pv": pd.to_numeric(extra).fillna(0.0).to_numpy(float),
        }
    )[used]
    unsized = pipe_rows["diameter_mm"].isna()  # zero-length links: only their extra_pv counts
    pipe_rows.loc[unsized, "length_m"] = 0.0
    pipe_rows.loc[unsized, "diameter_mm"] = float(problem.catalogue.diameter_mm[0])
    p_items = pipe_items(pipe_rows, problem.catalogue, params)
    return pd.concat([b_items, s_items, p_items], ignore_index=True)


def solution_issues(solution: Solution) -> tuple[Issue, ...]:
    """The optimiser's warnings as issues (for the ``warnings`` table and the log)."""
    return tuple(
        Issue(
            Severity.WARNING, code, "buildings" if element is not None else "optimiser", message,
            feature_id=element, row_kind="key",
        )
        for code, message, element in solution.warnings
    )  # fmt: skip


def _warnings(issues: Sequence[Issue]) -> pd.DataFrame:
    """The ``warnings`` table (typed even when empty)."""
    return pd.DataFrame(
        {
            "code": pd.Series([i.code for i in issues], dtype=object),
            "table_name": pd.Series([i.table for i in issues], dtype=object),
            "row": pd.array([i.row for i in issues], dtype="Int64"),
            "feature_id": pd.Series([i.feature_id for i in issues], dtype=object),
            "column_name": pd.Series([i.column for i in issues], dtype=object),
            "message": pd.Series([i.message for i in issues], dtype=object),
        }
    )


def _after(frame: gpd.GeoDataFrame, anchor: str, columns: list[str]) -> gpd.GeoDataFrame:
    """Move ``columns`` right after ``anchor`` (ids and the flags a person reads first)."""
    order = [c for c in frame.columns if c not in columns]
    at = order.index(anchor) + 1
    return frame[[*order[:at], *columns, *order[at:]]]


def _summary(
    problem: Problem,
    solution: Solution,
    info: RunInfo,
    items: pd.DataFrame,
    pv: np.ndarray,
    buildings: pd.DataFrame,
    paths: pd.DataFrame,
    length: float,
) -> dict[str, Any]:
    params = problem.parameters
    design = solution.design
    on = switches(params)
    network_npv = float(pv.sum()) if design is not None else np.nan
    npv = float(pv[items["class"].map(on).to_numpy(bool)].sum()) if design is not None else np.nan
    demand = buildings["annual_demand_kwh"].to_numpy(float)
    b = buildings["in_network"].to_numpy(bool)
    kwh = float(demand[b].sum())
    objective = (kwh if params.objective == "kwh" else npv) if design is not None else np.nan
    # the bound holds for exact prices; the gap and state are those of the design written
    upper, gap, state = solution.upper_bound, solution.mip_gap, solution.state
    if design is not None:
        upper = honest_bound(upper, objective)
        gap = relative_gap(upper, objective)
        state = proven_state(gap)
    losses = float(np.nansum(paths["losses_kwh"].to_numpy(float)))
    return {
        "state": state,
        "objective": objective,
        "mip_gap": _number(gap),
        "runtime": float(solution.runtime_s),
        "iterations": int(solution.iterations),
        "lower_bound": objective,
        "upper_bound": _number(upper),
        "network_building_count": int(b.sum()),
        "network_connection_count": int(buildings["connections"].to_numpy()[b].sum()),
        "network_length": length,
        "network_linear_density": kwh / length if length > 0 else np.nan,
        "network_kwh": kwh,
        "network_losses_kwh": losses,
        "network_npv": network_npv,
        "git_rev": info.git_rev,
        "user": info.user,
        "run": info.run,
        "start_date": info.start_date,
    }


def _number(value: float | None) -> float:
    """A float for the table: None and ±inf (no bound) are NaN, written as null."""
    return np.nan if value is None or not np.isfinite(value) else float(value)


def _typed_cashflow(flows: pd.DataFrame) -> pd.DataFrame:
    out = flows.copy()
    out["year"] = out["year"].astype("int64")
    out["value"] = out["value"].astype(float)
    for column in ("connection_cost_id", "tariff_id", "civil_cost_id"):
        out[column] = pd.to_numeric(out[column]).astype("Int64")
    for column in ("cost", "type", "building_id", "supply_id", "path_id"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out
