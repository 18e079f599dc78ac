"""Plant dispatch without geometry: which plant runs when, stores, links between sites, fuels.

A dispatch problem (``schemas/dispatch.schema.json``; the rules in docs/decisions.md §6) is
read and checked by :mod:`~heatnet.dispatch.problem`, built as a Pyomo MILP by
:mod:`~heatnet.dispatch.model`, solved with HiGHS by :mod:`~heatnet.dispatch.solve` and written
as RESULT.json by :mod:`~heatnet.dispatch.result`. :func:`dispatch_solve` chains them
(``heatnet dispatch-solve``). A long horizon (a year of hours) can be solved in windows of
consecutive steps, each starting where the one before ended: :mod:`~heatnet.dispatch.windows`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from heatnet.core.atomic import check_output
from heatnet.dispatch.problem import DispatchProblem, dispatch_from_json, read_dispatch
from heatnet.dispatch.result import result_to_json, write_result
from heatnet.dispatch.solve import DispatchSolution, solve_dispatch
from heatnet.dispatch.windows import solve_in_windows
from heatnet.optimise.stopping import Stop

__all__ = [
    "DispatchProblem",
    "DispatchSolution",
    "dispatch_from_json",
    "dispatch_solve",
    "read_dispatch",
    "result_to_json",
    "solve_dispatch",
    "solve_in_windows",
    "write_result",
]


def dispatch_solve(
    path: Path | str,
    output: Path | str,
    *,
    overrides: Mapping[str, str] | None = None,
    overwrite: bool = False,
    stop: Stop | None = None,
    log_solver: bool = False,
    window_steps: int = 0,
) -> tuple[DispatchProblem, DispatchSolution]:
    """Read, check and solve a dispatch problem file and write RESULT.json (atomically).

    The result is written whatever the state (with empty series when there is no dispatch);
    the solution's :attr:`~DispatchSolution.exit_code` says how it went. ``window_steps``
    above 0 (and below the problem's steps) solves it in windows of that many steps
    (:func:`~heatnet.dispatch.windows.solve_in_windows`: a heuristic, without a bound); 0
    solves it whole.

    Raises
    ------
    InputError
        If the problem or an override is invalid, or the output may not be written (checked
        before solving; nothing is written).
    KeyboardInterrupt
        When interrupted (nothing is written).
    ValueError
        If ``window_steps`` is negative.
    """
    if window_steps < 0:
        raise ValueError(f"window_steps must be 0 (one window) or more, not {window_steps}")
    problem = read_dispatch(path, overrides)
    check_output(Path(output), overwrite=overwrite, protect=(Path(path),))
    if window_steps:
        solution = solve_in_windows(problem, window_steps, stop=stop, log_solver=log_solver)
    else:
        solution = solve_dispatch(problem, stop=stop, log_solver=log_solver)
    write_result(result_to_json(problem, solution), output, overwrite=overwrite)
    return problem, solution
