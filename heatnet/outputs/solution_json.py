"""The JSON form of a :class:`~heatnet.optimise.loop.Solution` (``schemas/solution.schema.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heatnet.core.units import HOURS_PER_YEAR
from heatnet.optimise.solution import Solution
from heatnet.problem.definition import PATH_CLASSES, PV_CLASSES, SUPPLY_CLASSES, Problem
from heatnet.problem.json_form import VERSION, class_values, json_records, json_scalar, write_json

SOLUTION_FORMAT = "heatnet-solution"


_SUMMARY = ("objective", "network_npv", "mip_gap", "lower_bound", "upper_bound")
_TOTALS = (
    "network_building_count", "network_connection_count", "network_length", "network_kwh",
    "network_losses_kwh", "network_linear_density",
)  # fmt: skip
_EDGE_RESULTS = (
    "tail", "head", "diversity", "load_kw", "diameter_mm", "capacity_kw", "losses_kwh", "existing",
)  # fmt: skip
_RESULTS: dict[str, tuple[str, str | None, tuple[str, ...], tuple[str, ...]]] = {
    # JSON array: (key of the design's index, id column of the problem, results, PV classes)
    "buildings": ("vertex", "building_id", (), PV_CLASSES),
    "supplies": ("vertex", "supply_id", ("diversity", "load_kw", "load_kwh"), SUPPLY_CLASSES),
    "edges": ("id", None, _EDGE_RESULTS, PATH_CLASSES),
}


def solution_to_json(solution: Solution, problem: Problem) -> dict[str, Any]:
    """The JSON form of a solution (see ``schemas/solution.schema.json``).

    Parameters
    ----------
    solution
        What :func:`heatnet.optimise.loop.optimise` returned for ``problem``.
    problem
        The problem solved (ids, lengths, connections).

    Returns
    -------
    dict
        Summary, history, per-element results and network totals (null, with empty element
        lists, when there is no design).
    """
    history = ("mip_objective", "mip_bound", "settled_objective", "objective")
    out: dict[str, Any] = {
        "format": SOLUTION_FORMAT,
        "version": VERSION,
        "problem": problem.name,
        "state": str(solution.state),
        **{k: json_scalar(getattr(solution, k)) for k in _SUMMARY},
        "runtime": float(solution.runtime_s),
        "iterations": int(solution.iterations),
        "pipe_model": str(solution.pipe_model),
        "reasons": [{"reason_type": t, "message": m} for t, m in solution.reasons],
        "history": [
            {"number": it.number, "status": str(it.status)}
            | {k: json_scalar(getattr(it, k)) for k in history}
            | {"runtime": float(it.runtime_s), "relaxation": bool(it.relaxation)}
            | {"settled": bool(it.settled), "rejected": it.rejected}
            for it in solution.history
        ],
    }
    design = solution.design
    if design is None:
        return out | dict.fromkeys(_TOTALS) | {t: [] for t in _RESULTS}
    connected = design.buildings["in_network"].astype(bool)
    used = design.edges["in_network"].astype(bool)
    losses_kwh = design.edges["loss_kw"].astype(float) * HOURS_PER_YEAR
    length = float(problem.edges.loc[used[used].index, "length_m"].sum())
    kwh = float(design.kwh)
    connections = problem.buildings.loc[connected[connected].index, "connections"]
    totals = (
        int(connected.sum()), int(connections.sum()), length, kwh,
        float(losses_kwh[used].fillna(0.0).sum()), kwh / length if length > 0 else None,
    )  # fmt: skip
    out |= dict(zip(_TOTALS, totals, strict=True))
    frames = {
        "buildings": design.buildings,
        "supplies": design.supplies,
        "edges": design.edges.assign(losses_kwh=losses_kwh),
    }
    for table, (key, id_column, columns, classes) in _RESULTS.items():
        ids = getattr(problem, table)[id_column] if id_column else None
        out[table] = [
            {key: str(i)}
            | ({} if ids is None else {str(id_column): str(ids[i])})
            | {c: json_scalar(r[c]) for c in ("in_network", *columns)}
            | {"pv": class_values(r, "pv_", classes)}
            for i, r in zip(frames[table].index, json_records(frames[table]), strict=True)
        ]
    return out


def write_solution(
    solution: Solution, problem: Problem, path: Path | str, *, overwrite: bool = False
) -> None:
    """Write a solution as JSON, atomically (see :func:`solution_to_json`).

    Raises
    ------
    heatnet.core.atomic.OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    write_json(solution_to_json(solution, problem), path, overwrite)
