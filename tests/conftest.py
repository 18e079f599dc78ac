"""Builders for small inputs: GeoDataFrames from WKT, written to a GeoPackage in tmp_path.

Also a check on every optimisation of the suite: each :class:`~heatnet.optimise.loop.Solution` that
``heatnet.optimise.loop.optimise`` returns (wherever it is called from in this process) must keep the
bounds' definitions (:func:`bound_problems`), or the test fails.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from heatnet.inputs.load import RawInputs
from heatnet.inputs.validate import Inputs, check_inputs

# A test run started in the background by a non-interactive shell (`pytest ... &`) inherits
# SIGINT as ignored, and so would every heatnet process a test starts: the interrupt tests need
# Ctrl-C delivered as a terminal delivers it. (heatnet itself keeps a signal its parent ignored.)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "district.gpkg"
TINY = ROOT / "sample_data" / "tiny.gpkg"
CRS = "EPSG:27700"


def layer(rows: list[dict[str, Any]], crs: str | None = CRS) -> gpd.GeoDataFrame:
    """A layer from dicts whose ``geometry`` is WKT (or None)."""
    frame = pd.DataFrame(rows)
    geometry = [None if w is None else shapely.from_wkt(w) for w in frame.pop("geometry")]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=crs))


def base_frames() -> dict[str, pd.DataFrame]:
    """A small valid input: one street, two buildings, one supply, every table."""
    return {
        "buildings": layer(
            [
                {
                    "building_id": "B1",
                    "annual_demand_kwh": 20000.0,
                    "peak_demand_kw": 10.0,
                    "connections": 1,
                    "constraint": "optional",
                    "demand_group": None,
                    "connection_cost_id": 1,
                    "tariff_id": 1,
                    "extra_pv": None,
                    "geometry": "POLYGON ((10 5, 20 5, 20 15, 10 15, 10 5))",
                },
                {
                    "building_id": "B2",
                    "annual_demand_kwh": 40000.0,
                    "peak_demand_kw": 20.0,
                    "connections": 2,
                    "constraint": ":required",
                    "demand_group": None,
                    "connection_cost_id": 1,
                    "tariff_id": 1,
                    "extra_pv": 100.0,
                    "geometry": "POINT (60 10)",
                },
            ]
        ),
        "paths": layer(
            [
                {
                    "path_id": "P1",
                    "constraint": "optional",
                    "existing_diameter": None,
                    "civil_cost_id": None,
                    "extra_pv": None,
                    "geometry": "LINESTRING (0 0, 100 0)",
                },
                {
                    "path_id": "P2",
                    "constraint": "optional",
                    "existing_diameter": 50.0,
                    "civil_cost_id": 2,
                    "extra_pv": None,
                    "geometry": "LINESTRING (100 0, 100 50)",
                },
            ]
        ),
        "supplies": layer(
            [
                {
                    "supply_id": "S1",
                    "constraint": "optional",
                    "annual_capacity_kwh": None,
                    "peak_capacity_kw": 1000.0,
                    "capex_fixed": 1000.0,
                    "capex_per_kw": 100.0,
                    "opex_fixed": 0.0,
                    "opex_per_kw": 0.0,
                    "repex_fixed": 0.0,
                    "repex_per_kw": 0.0,
                    "cost_per_kwh": 0.05,
                    "emissions_per_kwh": 0.2,
                    "supply_cost_type": "hp",
                    "geometry": "POINT (0 -10)",
                }
            ]
        ),
        "tariffs": pd.DataFrame(
            [
                {
                    "tariff_id": 1,
                    "name": "standard",
                    "annual_charge_fixed": 100.0,
                    "annual_charge_per_kwh": 0.1,
                    "annual_charge_per_kw": 0.0,
                    "connection_charge_fixed": 0.0,
                    "connection_charge_per_kw": 0.0,
                }
            ]
        ),
        "connection_costs": pd.DataFrame(
            [
                {
                    "connection_cost_id": 1,
                    "name": "hiu",
                    "capex_fixed": 3000.0,
                    "capex_per_connection": 0.0,
                    "capex_per_kw": 100.0,
                    "repex_fixed": 0.0,
                    "repex_per_connection": 0.0,
                    "repex_per_kw": 0.0,
                    "opex_fixed": 0.0,
                    "opex_per_connection": 0.0,
                    "opex_per_kw": 0.0,
                }
            ]
        ),
        "civil_costs": pd.DataFrame(
            {
                "diameter_mm": [25.0, 50.0, 100.0, 25.0, 50.0, 100.0],
                "civil_cost_id": [1, 1, 1, 2, 2, 2],
                "cost_m": [300.0, 400.0, 600.0, 600.0, 700.0, 900.0],
            }
        ),
        "civil_cost_names": pd.DataFrame(
            {"civil_cost_id": [1, 2], "name": ["soft", "hard"], "is_default": [True, False]}
        ),
        "supply_costs": pd.DataFrame(
            {
                "supply_cost_type": ["hp", "hp"],
                "type": ["plant", "electricity"],
                "cost": ["capex_per_kw", "heat_per_kwh"],
                "value": ["[[100, 900], [1000, 700]]", "0.04"],
            }
        ),
        "parameters": pd.DataFrame(
            {"parameter": [":finance/npv-rate", "optimiser/mip-gap"], "value": ["0.035", ""]}
        ),
    }


def write_gpkg(path: Path, frames: Mapping[str, pd.DataFrame | None]) -> Path:
    """Write frames (``None`` = leave that table out) as one GeoPackage."""
    path.unlink(missing_ok=True)
    for name, frame in frames.items():
        if frame is None:
            continue
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="'crs' was not provided")
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
    return path


def valid_inputs(raw: RawInputs) -> Inputs:
    """The checked inputs of ``raw``, which must have no error (the test fails showing them)."""
    inputs, issues = check_inputs(raw)
    assert inputs is not None, [i.message for i in issues if i.is_error]
    return inputs


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def make_input(tmp_path: Path) -> Callable[..., Path]:
    """Write ``base_frames()`` changed by keyword overrides (``None`` drops a table)."""
    counter = iter(range(10_000))

    def make(**changes: pd.DataFrame | None) -> Path:
        frames: dict[str, pd.DataFrame | None] = {**base_frames(), **changes}
        return write_gpkg(tmp_path / f"input-{next(counter)}.gpkg", frames)

    return make


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# ---------------------------------------------------------------------------------------------
# Every solution keeps the bounds' definitions

BOUND_TOLERANCE = 1e-6
"""Relative slack (of max(1, |lower|)) for the upper bound against the lower bound."""
OPTIMAL_GAP = 1e-4
"""The largest gap at which a solution may say ``optimal``."""
BOUND_PROBLEMS = pytest.StashKey[list[str]]()


def _known(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def bound_problems(state: str, objective: Any, lower: Any, upper: Any, gap: Any) -> list[str]:
    """What breaks the definitions of a design's bounds (nothing when there is no design).

    As ``schemas/solution_summary.schema.json`` defines them: lower bound = objective (the
    written design, exactly priced); upper bound a proven bound on every design (None: unknown),
    so never below the lower; gap = (upper − lower) / max(|lower|, 1) (clamped at 0) when the
    upper bound is known, else None; ``optimal`` exactly when that gap is at most
    :data:`OPTIMAL_GAP`, ``feasible`` when it is larger or unknown.
    """
    if not _known(objective):
        return []
    out = []
    if not _known(lower) or lower != objective:
        return [f"lower_bound {lower!r} is not the objective {objective!r}"]
    scale = max(1.0, abs(lower))
    if _known(upper):
        if upper < lower - BOUND_TOLERANCE * scale:
            out.append(f"upper_bound {upper!r} is below lower_bound {lower!r}")
        want = max(0.0, (upper - lower) / scale)
        if not _known(gap) or not math.isclose(gap, want, rel_tol=1e-9, abs_tol=1e-12):
            out.append(f"mip_gap {gap!r} is not (upper − lower) / max(|lower|, 1) = {want!r}")
    elif _known(gap):
        out.append(f"mip_gap {gap!r} without an upper bound")
    proven = _known(gap) and gap <= OPTIMAL_GAP + 1e-12
    if state == "optimal" and not proven:
        out.append(f"state is optimal at mip_gap {gap!r} (optimal needs <= {OPTIMAL_GAP})")
    if state == "feasible" and proven:
        out.append(f"state is feasible at mip_gap {gap!r} <= {OPTIMAL_GAP} (that is optimal)")
    return out


def solution_bound_problems(solution: Any) -> list[str]:
    """:func:`bound_problems` of a :class:`~heatnet.optimise.loop.Solution`."""
    return bound_problems(
        solution.state,
        solution.objective,
        solution.lower_bound,
        solution.upper_bound,
        solution.mip_gap,
    )


@pytest.fixture(autouse=True)
def _every_solution_keeps_its_bounds(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrap ``heatnet.optimise.loop.optimise`` in every module holding it: check what it returns."""
    import heatnet.optimise.loop

    real = heatnet.optimise.loop.optimise
    found = request.node.stash.setdefault(BOUND_PROBLEMS, [])

    def checked(*args: Any, **kwargs: Any) -> Any:
        solution = real(*args, **kwargs)
        problems = solution_bound_problems(solution)
        if problems:
            message = (
                f"optimise returned a {solution.state} {solution.pipe_model} solution whose bounds "
                f"break their definition: objective {solution.objective!r}, lower_bound "
                f"{solution.lower_bound!r}, upper_bound {solution.upper_bound!r}, mip_gap "
                f"{solution.mip_gap!r}:\n  " + "\n  ".join(problems)
            )
            found.append(message)
            pytest.fail(message)
        return solution

    for module in list(sys.modules.values()):
        if module is not None and vars(module).get("optimise") is real:
            monkeypatch.setattr(module, "optimise", checked)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail a test whose code swallowed the bounds check's failure."""
    result = yield
    found = item.stash.get(BOUND_PROBLEMS, [])
    if found:
        pytest.fail(
            "\n".join(found)
            + "\n(this failure was raised inside the code under test, which caught it)"
        )
    return result


# ---------------------------------------------------------------------------------------------
# A real QGIS (the system Python's python3-qgis) for tests/test_qgis*.py

QGIS_PYTHON = os.environ.get("HEATNET_QGIS_PYTHON", "/usr/bin/python3")


def has_qgis() -> bool:
    """Whether :data:`QGIS_PYTHON` can import ``qgis.core`` (the QGIS tests skip otherwise)."""
    try:
        probe = subprocess.run(
            [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.fixture(autouse=True, scope="session")
def _bundled_samples_stay_as_they_are() -> Iterator[None]:
    """No test may change the bundled sample data (a leaked --log handler once appended to it)."""
    files = sorted((ROOT / "sample_data").glob("*.gpkg"))
    before = {p.name: sha256(p) for p in files}
    yield
    after = {p.name: sha256(p) for p in files}
    changed = sorted(name for name in before if after[name] != before[name])
    assert not changed, f"the suite changed sample_data: {changed}"
