"""heatnet batch on Dask: a sweep on run_batch's own LocalCluster, failures beside successes
through the command line, and a real ``dask scheduler`` / ``dask worker`` cluster.

Dask costs seconds per cluster, so batches are shared: each module fixture runs one batch and
several tests read what it wrote. Outputs are always read back from disk with pyogrio (helpers in
``tests/batches.py``). The scenarios file: ``tests/test_batch_scenarios.py``; dead workers and
``--resume``: ``tests/test_batch_recovery.py``.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from heatnet import __version__
from heatnet.batch.runner import BatchOutcome, run_batch
from heatnet.batch.scenarios import Scenario, read_scenarios
from tests.batches import (
    RATES,
    SWEEP,
    manifest,
    output_params,
    port_8787_taken_or_not,
    solution_summary,
    summary_gpkg,
    write_csv,
)
from tests.conftest import ROOT, TINY, base_frames, sha256, write_gpkg

HEATNET = (sys.executable, "-m", "heatnet")
DASK = Path(sys.executable).parent / "dask"


# ---------------------------------------------------------------------------------------------
# Helpers


def null(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def same(a: object, b: object) -> bool:
    """Cell equality across formats: nulls alike, numbers (or numeric text) to 1e-12."""
    if null(a) or null(b):
        return null(a) and null(b)
    try:
        x, y = float(a), float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(a) == str(b)
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)


def summary_csv(folder: Path) -> pd.DataFrame:
    table = pd.read_csv(folder / "summary.csv", dtype=str, keep_default_na=False)
    return table.set_index("scenario")


def connected(path: Path) -> set[str]:
    buildings = pyogrio.read_dataframe(path, layer="buildings", read_geometry=False)
    return set(buildings.loc[buildings["in_network"].astype(bool), "building_id"])


def broken_input(folder: Path) -> Path:
    """base_frames with a negative annual demand: a validation error."""
    frames = base_frames()
    frames["buildings"] = frames["buildings"].assign(annual_demand_kwh=[-5.0, 40_000.0])
    return write_gpkg(folder / "broken.gpkg", frames)


# ---------------------------------------------------------------------------------------------
# Batches shared by the tests below


@dataclass(frozen=True)
class Batch:
    folder: Path
    scenarios: list[Scenario]
    report: BatchOutcome


@pytest.fixture(scope="module")
def sweep_batch(tmp_path_factory) -> Batch:
    """tiny.gpkg × four npv-rates, on run_batch's own LocalCluster."""
    base = tmp_path_factory.mktemp("sweep")
    csv = write_csv(base / "scenarios.csv", f"scenario,input\ntiny,{TINY}\n")
    scenarios = read_scenarios(csv, [SWEEP])
    with port_8787_taken_or_not():
        report = run_batch(scenarios, base / "out", workers=2)
    return Batch(base / "out", scenarios, report)


# ---------------------------------------------------------------------------------------------
# 1. A sweep on a LocalCluster


def test_a_sweep_batch_writes_one_output_per_value(sweep_batch):
    names = [f"tiny__npv-rate={r}" for r in RATES]
    assert [r.name for r in sweep_batch.report.results] == names
    assert [r.exit_code for r in sweep_batch.report.results] == [0] * 4
    assert sweep_batch.report.exit_code == 0
    assert sweep_batch.report.skipped == ()
    assert sorted(p.name for p in sweep_batch.folder.glob("tiny__*.gpkg")) == sorted(
        f"{n}.gpkg" for n in names
    )
    # each ran in a worker process of the cluster, not in the test's process
    assert all(r.worker.startswith("tcp://") for r in sweep_batch.report.results)


def test_each_summary_row_matches_its_outputs_solution_summary(sweep_batch):
    table = summary_gpkg(sweep_batch.folder)
    assert sorted(table.index) == sorted(r.name for r in sweep_batch.report.results)
    for name, row in table.iterrows():
        written = solution_summary(sweep_batch.folder / f"{name}.gpkg")
        assert written["run"] == name
        assert written["state"] == "optimal"
        mismatched = {k: (row[k], v) for k, v in written.items() if not same(row[k], v)}
        assert not mismatched, f"{name}: {mismatched}"
        assert row["exit_code"] == 0
        assert row["status"] == "design"


def test_the_swept_rate_is_applied_to_each_output(sweep_batch):
    table = summary_gpkg(sweep_batch.folder)
    for rate in RATES:
        name = f"tiny__npv-rate={rate}"
        params = output_params(sweep_batch.folder / f"{name}.gpkg")
        assert float(params["finance/npv-rate"]) == float(rate)
        assert table.loc[name, "finance/npv-rate"] == rate


def test_npv_falls_as_the_rate_rises(sweep_batch):
    # tiny's proven optimum is {B1, B2} up to 6 %; at 9 % B2's discounted tariff no longer pays
    # for its pipe and {B1} alone is optimal (both proven: upper bound = objective)
    outputs = [sweep_batch.folder / f"tiny__npv-rate={r}.gpkg" for r in RATES]
    designs = [connected(path) for path in outputs]
    assert designs[0], "tiny connects some buildings"
    assert all(design == designs[0] for design in designs[:3])
    assert designs[3] < designs[0]
    assert all(solution_summary(path)["state"] == "optimal" for path in outputs)
    npv = [solution_summary(path)["network_npv"] for path in outputs]
    assert all(later < earlier for earlier, later in itertools.pairwise(npv)), npv


def test_summary_csv_and_gpkg_hold_the_same_rows(sweep_batch):
    text, table = summary_csv(sweep_batch.folder), summary_gpkg(sweep_batch.folder)
    assert list(text.columns) == list(table.columns)
    assert list(text.index) == list(table.index)
    differ = [
        (name, column, text.loc[name, column], table.loc[name, column])
        for name in text.index
        for column in text.columns
        if not same(text.loc[name, column], table.loc[name, column])
    ]
    assert not differ


def test_the_manifest_records_hash_parameters_and_version(sweep_batch):
    recorded = manifest(sweep_batch.folder)
    assert recorded["heatnet_version"] == __version__
    entries = recorded["scenarios"]
    assert sorted(entries) == sorted(s.name for s in sweep_batch.scenarios)
    digest = sha256(TINY)
    for rate in RATES:
        entry = entries[f"tiny__npv-rate={rate}"]
        assert entry["input"] == str(TINY)
        assert entry["input_sha256"] == digest
        assert entry["parameters"] == {"finance/npv-rate": rate}
        assert entry["heatnet_version"] == __version__
        assert entry["exit_code"] == 0
        assert entry["output"] == f"tiny__npv-rate={rate}.gpkg"


# ---------------------------------------------------------------------------------------------
# 2. Bad input, infeasibility and good scenarios in one batch, through the command line


@pytest.fixture(scope="module")
def mixed_batch(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    base = tmp_path_factory.mktemp("mixed")
    broken_input(base)
    csv = write_csv(
        base / "scenarios.csv",
        "scenario,input,finance/npv-rate,constraint/min-buildings\n"
        f"good,{TINY},,\n"
        f"cheap,{TINY},0.01,\n"
        "broken,broken.gpkg,,\n"
        f"infeasible,{TINY},,99\n"
        "missing,nowhere/missing.gpkg,,\n",
    )
    done = subprocess.run(
        [*HEATNET, "batch", str(csv), "-o", str(base / "out"), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    return done, base / "out"


def test_the_batch_exits_with_the_worst_code(mixed_batch):
    done, _ = mixed_batch
    assert done.returncode == 3, done.stderr
    assert "scenarios    5 (2 design, 1 infeasible, 2 invalid-input)" in done.stdout


def test_good_scenarios_are_written_beside_failing_ones(mixed_batch):
    _, folder = mixed_batch
    table = summary_gpkg(folder)
    for name in ("good", "cheap"):
        assert table.loc[name, "exit_code"] == 0
        assert table.loc[name, "state"] == "optimal"
        assert solution_summary(folder / f"{name}.gpkg")["run"] == name
    assert output_params(folder / "cheap.gpkg")["finance/npv-rate"] == "0.01"


def test_a_broken_input_fails_with_exit_3_naming_the_problem(mixed_batch):
    _, folder = mixed_batch
    row = summary_gpkg(folder).loc["broken"]
    assert row["exit_code"] == 3
    assert row["status"] == "invalid-input"
    assert "annual_demand_kwh" in row["message"]
    assert "at least 0" in row["message"]
    assert null(row["output"])
    assert not (folder / "broken.gpkg").exists()


def test_a_missing_input_fails_only_its_own_scenario(mixed_batch):
    _, folder = mixed_batch
    row = summary_gpkg(folder).loc["missing"]
    assert row["exit_code"] == 3
    assert "missing.gpkg" in row["message"]
    assert "not found" in row["message"]
    assert manifest(folder)["scenarios"]["missing"]["input_sha256"] is None


def test_an_infeasible_scenario_exits_4_with_its_reason_and_an_output(mixed_batch):
    _, folder = mixed_batch
    row = summary_gpkg(folder).loc["infeasible"]
    assert row["exit_code"] == 4
    assert row["status"] == "infeasible"
    assert "min-buildings" in row["message"]
    assert row["state"] == "infeasible"
    reasons = pyogrio.read_dataframe(folder / "infeasible.gpkg", layer="infeasible_reasons")
    assert "min_buildings" in set(reasons["reason_type"])
    assert manifest(folder)["scenarios"]["infeasible"]["output"] == "infeasible.gpkg"


def test_every_outcome_is_in_the_manifest(mixed_batch):
    _, folder = mixed_batch
    codes = {n: e["exit_code"] for n, e in manifest(folder)["scenarios"].items()}
    assert codes == {"good": 0, "cheap": 0, "broken": 3, "infeasible": 4, "missing": 3}


# ---------------------------------------------------------------------------------------------
# 3. A real cluster: dask scheduler and two dask workers


@dataclass(frozen=True)
class DaskCluster:
    address: str
    workers: frozenset[str]
    base: Path


def scheduler_address(file: Path, timeout_s: float = 60) -> str:
    """The address in a scheduler file, once the scheduler has written it whole."""
    deadline = time.monotonic() + timeout_s
    while True:
        with suppress(OSError, ValueError, KeyError):
            return str(json.loads(file.read_text(encoding="utf-8"))["address"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"no scheduler address in {file}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory) -> Iterator[DaskCluster]:
    """``dask scheduler`` and two ``dask worker`` processes on loopback.

    The workers start in their own folder, as they would on other machines.
    """
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    (base / "workers").mkdir()
    file = base / "scheduler.json"
    log = (base / "dask.log").open("w")
    common = ["--scheduler-file", str(file), "--no-dashboard"]
    # --no-dashboard still serves /health and /metrics, on 0.0.0.0:8787 unless told otherwise
    scheduler = [DASK, "scheduler", *common, "--port", "0", "--host", "127.0.0.1"]
    scheduler += ["--dashboard-address", "127.0.0.1:0"]
    worker = [DASK, "worker", *common, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1"]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(subprocess.Popen(scheduler, cwd=base, stdout=log, stderr=log))
        address = scheduler_address(file)
        for _ in range(2):
            processes.append(subprocess.Popen(worker, cwd=base / "workers", stdout=log, stderr=log))
        with Client(scheduler_file=str(file), timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
            workers = frozenset(client.scheduler_info()["workers"])
        yield DaskCluster(address, workers, base)
    finally:
        for process in reversed(processes):  # workers first: they would wait for the scheduler
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


@pytest.mark.slow
def test_a_batch_runs_on_a_running_dask_cluster(dask_cluster, tmp_path):
    csv = write_csv(
        tmp_path / "scenarios.csv",
        f"scenario,input,finance/npv-rate\nlow,{TINY},0.01\nhigh,{TINY},0.08\n",
    )
    folder = tmp_path / "out"

    done = subprocess.run(
        [*HEATNET, "batch", str(csv), "-o", str(folder), "--scheduler", dask_cluster.address],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    entries = manifest(folder)["scenarios"]
    assert sorted(entries) == ["high", "low"]
    for name, entry in entries.items():
        assert entry["exit_code"] == 0
        assert entry["result"]["worker"] in dask_cluster.workers  # ran on the cluster
        assert solution_summary(folder / f"{name}.gpkg")["run"] == name
    assert output_params(folder / "high.gpkg")["finance/npv-rate"] == "0.08"
    table = summary_gpkg(folder)
    assert table.loc["low", "network_npv"] > table.loc["high", "network_npv"]
    assert not [
        p.name for p in (dask_cluster.base / "workers").rglob("*.gpkg") if p.stem in entries
    ]


@pytest.mark.slow
def test_a_relative_output_folder_is_the_clients_on_a_cluster(dask_cluster, tmp_path):
    csv = write_csv(tmp_path / "scenarios.csv", f"scenario,input\nrel,{TINY}\n")
    done = subprocess.run(
        [*HEATNET, "batch", "scenarios.csv", "-o", "out", "--scheduler", dask_cluster.address],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=csv.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "rel.gpkg").is_file()
