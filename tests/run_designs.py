"""The ``heatnet run`` outputs shared by ``tests/test_run*.py``, as module fixtures.

Each is a design (or not) written to disk and read back (:class:`~tests.runs.Written`):
``tiny`` (the tiny sample), ``rich`` (forbidden and unreachable elements), ``switched`` (tiny
with parts of the objective switched off), ``hand_rate0`` and ``hand_rate10`` (the case priced
on paper), ``district`` (the district sample, slow) and ``infeasible``; ``written`` is every one
holding a design, ``any_output`` every one. A test module uses them by importing them under
their own names (``from tests.run_designs import tiny as tiny``): each then runs once per module
that asks for it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, TINY, sha256, write_gpkg
from tests.runs import Written, hand_frames, heatnet, read_output, rich_frames, run_library


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_library(TINY, tmp_path_factory.mktemp("tiny") / "tiny-out.gpkg")


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Written:
    folder = tmp_path_factory.mktemp("rich")
    source = write_gpkg(folder / "rich.gpkg", rich_frames())
    return run_library(source, folder / "rich-out.gpkg")


SWITCHED_OFF = {"objective/use-supply-opex": "false", "objective/use-connection-repex": "false"}


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """tiny at 5 % with heat, supply opex and connection repex left out of the objective."""
    out = tmp_path_factory.mktemp("switched") / "switched.gpkg"
    return run_library(TINY, out, overrides={"finance/npv-rate": "0.05", **SWITCHED_OFF})


def run_hand(tmp_path_factory: pytest.TempPathFactory, rate: float) -> Written:
    folder = tmp_path_factory.mktemp("hand")
    source = write_gpkg(folder / "hand.gpkg", hand_frames(rate))
    return run_library(source, folder / "hand-out.gpkg")


@pytest.fixture(scope="module")
def hand_rate0(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_hand(tmp_path_factory, 0.0)


@pytest.fixture(scope="module")
def hand_rate10(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return run_hand(tmp_path_factory, 0.1)


@dataclass(frozen=True)
class CliRun:
    result: subprocess.CompletedProcess[str]
    written: Written | None
    input_hash_before: str
    log: Path | None = None


DISTRICT_LIMIT_S = 60.0


@pytest.fixture(scope="module")
def district_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """``heatnet run`` on the district sample with a 60 s limit (the sample's is 180 s).

    The sample asks for a 1 % gap, which heatnet cannot prove on it: the loop's design comes in
    about 15 s, then the proving MIP runs to the limit. Only ``tests/test_run.py`` reads it, so
    the suite (one file per worker) runs it once.
    """
    out = tmp_path_factory.mktemp("district") / "district-out.gpkg"
    before = sha256(SAMPLE)
    limit = f"optimiser/runtime-limit={DISTRICT_LIMIT_S / 3600}"
    result = heatnet("run", SAMPLE, "-o", out, "--set", limit, timeout=400)
    return CliRun(result, read_output(SAMPLE, out) if out.exists() else None, before)


@pytest.fixture(scope="module")
def district(district_run: CliRun) -> Written:
    assert district_run.result.returncode == 0, district_run.result.stderr
    assert district_run.written is not None
    return district_run.written


@pytest.fixture(scope="module")
def infeasible_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    out = tmp_path_factory.mktemp("infeasible") / "infeasible.gpkg"
    before = sha256(TINY)
    result = heatnet("run", TINY, "-o", out, "--set", "constraint/min-buildings=99")
    return CliRun(result, read_output(TINY, out) if out.exists() else None, before)


@pytest.fixture(scope="module")
def infeasible(infeasible_run: CliRun) -> Written:
    assert infeasible_run.written is not None, infeasible_run.result.stderr
    return infeasible_run.written


DESIGNS = [
    "tiny",
    "rich",
    "switched",
    "hand_rate10",
    pytest.param("district", marks=pytest.mark.slow),
]


@pytest.fixture(params=DESIGNS)
def written(request: pytest.FixtureRequest) -> Written:
    """Every output that holds a design."""
    return request.getfixturevalue(request.param)


@pytest.fixture(params=[*DESIGNS, "infeasible"])
def any_output(request: pytest.FixtureRequest) -> Written:
    """Every output, a design or not."""
    return request.getfixturevalue(request.param)
