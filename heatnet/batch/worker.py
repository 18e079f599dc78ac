"""One scenario, run in a Dask worker: the whole pipeline, every outcome an exit code."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heatnet.batch.scenarios import Scenario
from heatnet.core.errors import HeatnetError, ValidationError
from heatnet.core.exits import ExitCode
from heatnet.optimise.highs import SolverOptions
from heatnet.pipeline import run

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """What one scenario did (sent back from the worker; plain data only)."""

    name: str
    exit_code: int
    message: str
    runtime_s: float
    summary: dict[str, Any]
    output: str | None
    worker: str = ""

    @property
    def status(self) -> str:
        """``design``, ``invalid-input``, ``infeasible``, ``no-design`` or ``error``."""
        known = self.exit_code in ExitCode.__members__.values()
        return ExitCode(self.exit_code).status if known else "error"


def run_scenario(scenario: Scenario, folder: str) -> ScenarioResult:
    """Run one scenario into ``folder``; every outcome becomes an exit code, never an exception.

    Runs in a Dask worker (one solver thread). Its log goes to ``folder/logs/<name>.log``.
    """
    began = time.perf_counter()
    output = Path(folder) / scenario.output_name
    logs = Path(folder) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(logs / f"{scenario.name}.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("heatnet")
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    code, message, summary, written = ExitCode.BUG, "", {}, None
    try:
        report = run(
            scenario.input,
            output,
            tables=scenario.tables,
            overrides=dict(scenario.overrides),
            overwrite=True,
            run_name=scenario.name,
            options=SolverOptions(threads=1),
        )
        summary = {k: _plain(v) for k, v in report.summary.items()}
        written = str(output)
        code = report.exit_code
        message = "; ".join(f"{kind}: {text}" for kind, text in report.solution.reasons)
    except ValidationError as exc:
        errors = [i for i in exc.issues if i.is_error]
        code = ExitCode.INVALID
        message = "; ".join(
            f"{i.table}{'' if i.row is None else f' row {i.row}'}"
            f"{'' if i.column is None else f' {i.column}'}: {i.message}"
            for i in errors[:5]
        ) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
    except HeatnetError as exc:
        code, message = exc.exit_code, str(exc)
    except Exception as exc:  # a bug in heatnet: recorded, the batch goes on
        log.exception("scenario %s failed", scenario.name)
        code, message = ExitCode.BUG, f"internal error: {exc!r}"
    finally:
        package.removeHandler(handler)
        handler.close()
    return ScenarioResult(
        scenario.name, code, message, time.perf_counter() - began, summary, written, _worker()
    )


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (NaN → None, numpy → Python)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _worker() -> str:
    try:
        from distributed import get_worker  # only inside a Dask worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"
