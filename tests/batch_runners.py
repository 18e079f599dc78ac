"""Scenario runners for ``tests/test_batch_recovery.py``, importable by Dask workers.

``run_batch(..., runner=...)`` pickles its runner by reference, so a worker process has to import
it: functions defined in a test module would not do (pytest imports those under its own name).
Each runner records its process id in ``<folder>/pids/<scenario>.<pid>``, so a test can see which
process ran (or is running) a scenario, kill it, and count the attempts.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from heatnet.batch.scenarios import Scenario
from heatnet.batch.worker import ScenarioResult, run_scenario

SLOW_S = 2.0
"""How long ``slow_runner`` waits before running a ``slow-*`` scenario: time to kill its worker."""


def pid_files(folder: Path, name: str) -> list[Path]:
    """The pid files of a scenario's attempts so far, oldest first."""
    return sorted((folder / "pids").glob(f"{name}.*"), key=lambda p: p.stat().st_mtime_ns)


def _record_pid(scenario: Scenario, folder: str) -> None:
    pids = Path(folder) / "pids"
    pids.mkdir(exist_ok=True)
    (pids / f"{scenario.name}.{os.getpid()}").touch()


def slow_runner(scenario: Scenario, folder: str) -> ScenarioResult:
    """``run_scenario``, after ``SLOW_S`` seconds for a scenario whose name starts ``slow``."""
    _record_pid(scenario, folder)
    return _run(scenario, folder)


def _run(scenario: Scenario, folder: str) -> ScenarioResult:
    if scenario.name.startswith("slow"):
        time.sleep(SLOW_S)
    return run_scenario(scenario, folder)


def crashing_runner(scenario: Scenario, folder: str) -> ScenarioResult:
    """``slow_runner``, except that a ``crash*`` scenario ends its worker process.

    ``os._exit`` is what a segfault in a solver or the out-of-memory killer looks like to Dask:
    the process is gone without a word. ``crash-after-N`` first waits (up to a minute) until the
    batch's manifest records N scenarios, so that they are safely done before it strikes.
    """
    _record_pid(scenario, folder)
    if scenario.name.startswith("crash"):
        _, after, count = scenario.name.rpartition("-after-")
        wait_for = int(count) if after else 0
        manifest = Path(folder) / "manifest.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _recorded(manifest) < wait_for:
            time.sleep(0.05)
        os._exit(1)
    return _run(scenario, folder)


def _recorded(manifest: Path) -> int:
    try:
        return len(json.loads(manifest.read_text(encoding="utf-8"))["scenarios"])
    except (OSError, ValueError, KeyError):
        return 0


def failing_runner(scenario: Scenario, folder: str) -> ScenarioResult:
    """``run_scenario``, except that a ``fail*`` scenario raises (as a bug in a worker would)."""
    _record_pid(scenario, folder)
    if scenario.name.startswith("fail"):
        raise RuntimeError(f"{scenario.name} failed on purpose")
    return run_scenario(scenario, folder)
