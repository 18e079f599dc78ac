"""Helpers for ``tests/test_batch*.py``: scenarios files, and what a batch wrote, read back.

Outputs are always read back from disk with pyogrio. The scenario runners Dask workers import
live apart, in ``tests/batch_runners.py``.
"""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

RATES = ("0", "0.03", "0.06", "0.09")
SWEEP = "finance/npv-rate=0:0.09:0.03"


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def summary_gpkg(folder: Path) -> pd.DataFrame:
    return pyogrio.read_dataframe(folder / "summary.gpkg", layer="summary").set_index("scenario")


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def solution_summary(path: Path) -> dict[str, Any]:
    return pyogrio.read_dataframe(path, layer="solution_summary").iloc[0].to_dict()


def output_params(path: Path) -> dict[str, str]:
    table = pyogrio.read_dataframe(path, layer="parameters")
    return dict(zip(table["parameter"], table["value"], strict=True))


@contextmanager
def port_8787_taken_or_not() -> Iterator[None]:
    """Around run_batch's own LocalCluster, which wants port 8787 (see
    test_a_second_batch_on_the_machine_runs_without_warnings in tests/test_batch_recovery.py):
    another batch on this machine (a benchmark, a colleague's run) may hold it, and then Dask
    warns and leaks the socket it tried. Neither is what the tests using this are about."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Port 8787 is already in use", UserWarning)
        warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        try:
            yield
        finally:
            gc.collect()  # the leaked socket warns here, not in some later test
