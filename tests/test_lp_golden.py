"""LP-file golden tests: the formulation of every model builder on micro problems, as LP text.

For each micro problem the model is built as :func:`heatnet.optimise.build.build_model` builds it,
recording which constraints each builder (``add_buildings``, ``add_pipes``, ...) added and the NPV
it returned. One LP file per builder holds only that builder's rows, with its NPV contribution as
the objective (none for builders without one), written with unique symbolic names, rows and
columns sorted by name, numbers to 12 significant digits. A formulation change shows as a
unified diff against ``tests/data/lp/<problem>/<component>.lp``.

Regenerate the goldens after an intended formulation change, then review them with ``git diff``::

    HEATNET_REGEN_LP=1 .venv/bin/pytest tests/test_lp_golden.py -p no:cacheprovider -q

Components: ``buildings``, ``pipes-linear`` / ``pipes-discrete`` (``add_pipes`` in each pipe
model), ``losses-linear`` / ``losses-discrete`` (``add_losses``), ``flow``, ``connectivity``,
``pendant-linear`` / ``pendant-discrete`` (``add_pendant``),
``supplies``, ``constraints``; all but the ``*-discrete`` ones from the ``linear`` model as built
(``relaxing`` = 1, ``settling`` = 1, optimistic diversity and losses).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
from pathlib import Path
from typing import Any

import pyomo.environ as pyo
import pytest

from heatnet.optimise import build
from heatnet.optimise.prepare import prepare
from tests.problems import make_problem

GOLDEN = Path(__file__).parent / "data" / "lp"
REGENERATE = os.environ.get("HEATNET_REGEN_LP") == "1"

BUILDERS = {
    "add_buildings": "buildings",
    "add_pipes": "pipes",
    "add_losses": "losses",
    "add_flow": "flow",
    "add_supplies": "supplies",
    "add_connectivity": "connectivity",
    "add_pendant": "pendant",
    "add_constraints": "constraints",
}
COMPONENTS = {  # component → (pipe model, builder part)
    "buildings": ("linear", "buildings"),
    "pipes-linear": ("linear", "pipes"),
    "pipes-discrete": ("discrete", "pipes"),
    "losses-linear": ("linear", "losses"),
    "losses-discrete": ("discrete", "losses"),
    "flow": ("linear", "flow"),
    "connectivity": ("linear", "connectivity"),
    "pendant-linear": ("linear", "pendant"),
    "pendant-discrete": ("discrete", "pendant"),
    "supplies": ("linear", "supplies"),
    "constraints": ("linear", "constraints"),
}


def one() -> Any:
    """One building and one supply on one street edge (the connector J:1–B:1 is folded)."""
    return make_problem(
        [{"id": "1", "kwh": 20000, "peak": 10, "value": 3000, "cost": 500}],
        [("S:1", "J:1", 50), ("J:1", "B:1", 10)],
        [{"id": "1", "fixed": 100, "per_kw": 10, "heat": 0.05}],
    )


def path() -> Any:
    """Two buildings along a path, a demand group, a required supply, losses and diversity on.

    Default (non-exact) parameters: 8 °C ground, diversity limit 0.62; loops prevented.
    """
    return make_problem(
        [
            {"id": "1", "kwh": 30000, "peak": 15, "value": 4000, "group": "g"},
            {"id": "2", "kwh": 10000, "peak": 5, "value": 1500, "group": "g"},
        ],
        [("S:1", "J:1", 40), ("J:1", "J:2", 30), ("J:1", "B:1", 5), ("J:2", "B:2", 5)],
        [{"id": "1", "fixed": 200, "per_kw": 20, "heat": 0.04, "required": True}],
        params={"optimiser/prevent-loops": "true"},
        exact=False,
    )


def loop() -> Any:
    """A loop of three edges fed by two supplies; capacities, a cost curve, constraint rows.

    Loops prevented: at most one pipe into each vertex.
    """
    return make_problem(
        [
            {"id": "1", "kwh": 50000, "peak": 30, "value": 6000},
            {"id": "2", "kwh": 8000, "peak": 4, "value": 900},
        ],
        [
            ("J:1", "J:2", 60),
            ("J:2", "J:3", 40),
            ("J:3", "J:1", 50),
            ("S:1", "J:1", 10),
            ("S:2", "J:2", 10),
            ("J:3", "B:1", 8),
            ("J:1", "B:2", 8),
        ],
        [
            {"id": "1", "peak": 25, "annual": 40000, "fixed": 100, "heat": 0.05, "emissions": 0.2},
            {
                "id": "2",
                "fixed": 300,
                "heat": 0.02,
                "emissions": 0.05,
                "curve": [(0, 0), (20, 500), (50, 800)],
            },
        ],
        params={
            "constraint/max-supplies": 1,
            "constraint/min-kwh": 5000,
            "constraint/max-emissions-factor": 0.15,
            "optimiser/prevent-loops": "true",
        },
    )


def existing() -> Any:
    """An existing pipe that may be upgraded, required elements, an unfolded building.

    The existing 20 mm pipe (about 24 kW) is smaller than the 28 kW both buildings need, so
    the ``linear`` model may upgrade it; B:2 touches two junctions, so it is not folded: arcs
    into it carry its given peak.
    """
    return make_problem(
        [
            {"id": "1", "kwh": 40000, "peak": 20, "value": 5000, "required": True},
            {"id": "2", "kwh": 15000, "peak": 8, "value": 2000, "cost": 300},
        ],
        [
            {"u": "S:1", "v": "J:1", "length": 30, "existing": 20, "required": True},
            ("J:1", "J:2", 20),
            ("J:2", "B:1", 6),
            ("J:1", "B:2", 7),
            ("J:2", "B:2", 9),
        ],
        [{"id": "1", "per_kw": 15, "heat": 0.03}],
        params={
            "constraint/max-buildings": 2,
            "constraint/max-network-length": 100,
            "constraint/min-linear-density": 100,
            "constraint/max-npv": 100000,
        },
    )


PROBLEMS = {"one": one, "path": path, "loop": loop, "existing": existing}

ESCAPE = str.maketrans(
    {"#": "##", "+": "#p", "-": "#m", ":": "#c", " ": "#s", "*": "#t", "^": "#h",
     "[": "(", "]": ")", "<": "#l", ">": "#g", "=": "#e"}
)  # fmt: skip
"""Unique LP names: Pyomo's own labels map both ``ain[E1+]`` and ``ain[E1-]`` to ``ain(E1_)``."""
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _label(obj: Any) -> str:
    return str(obj.name).translate(ESCAPE)


def _number(token: str) -> str:
    """A numeric token to 12 significant digits (stable across platforms), sign kept."""
    if not NUMBER.match(token):
        return token
    text = f"{float(token):.12g}"
    return f"+{text}" if token.startswith("+") and not text.startswith("-") else text


def _normalise(text: str) -> str:
    return "\n".join(" ".join(map(_number, line.split(" "))) for line in text.splitlines()) + "\n"


def _lp(m: pyo.ConcreteModel, rows: list[Any], npv: Any, where: Path) -> str:
    """LP text with only ``rows`` active and ``npv`` (or nothing) as the objective."""
    keep = {id(c) for c in rows}
    for con in m.component_objects(pyo.Constraint):
        if id(con) in keep:
            con.activate()
        else:
            con.deactivate()
    m.objective.deactivate()
    if m.component("golden_objective") is not None:
        m.del_component("golden_objective")
    m.golden_objective = pyo.Objective(expr=0 if npv is None else npv, sense=pyo.maximize)
    order = sorted(m.component_data_objects(pyo.Constraint, active=True), key=lambda c: c.name)
    columns = sorted(m.component_data_objects(pyo.Var), key=lambda v: v.name)
    m.write(str(where), io_options={"labeler": _label, "row_order": order, "column_order": columns})
    return _normalise(where.read_text())


@functools.cache
def _components(problem: str, model: str, where: Path) -> dict[str, str]:
    """LP text of every builder's part of ``problem``'s model (``linear`` or ``discrete``)."""
    p = PROBLEMS[problem]()
    params = dataclasses.replace(p.parameters, pipe_model=model)
    data = prepare(dataclasses.replace(p, parameters=params))
    parts: dict[str, tuple[list[Any], Any]] = {}

    def recording(name: str, builder: Any) -> Any:
        def run(m: pyo.ConcreteModel, *args: Any, **kwargs: Any) -> Any:
            before = set(m.component_map(pyo.Constraint))
            out = builder(m, *args, **kwargs)
            rows = [c for n, c in m.component_map(pyo.Constraint).items() if n not in before]
            parts[BUILDERS[name]] = (rows, out.npv if name == "add_pipes" else out)
            return out

        return run

    with pytest.MonkeyPatch.context() as patch:
        for name in BUILDERS:
            patch.setattr(build, name, recording(name, getattr(build, name)))
        m = build.build_model(data, discrete=model == "discrete")
    assert set(parts) == set(BUILDERS.values()), "build_model no longer calls every builder"
    return {
        part: _lp(m, rows, npv, where / f"{problem}-{model}-{part}.lp")
        for part, (rows, npv) in parts.items()
    }


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lp")


@pytest.mark.parametrize("component", list(COMPONENTS))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_builder_lp_matches_golden(problem: str, component: str, scratch: Path) -> None:
    model, part = COMPONENTS[component]
    actual = _components(problem, model, scratch)[part]
    golden = GOLDEN / problem / f"{component}.lp"
    if REGENERATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual)
        return
    assert golden.exists(), f"no golden {golden}: regenerate with HEATNET_REGEN_LP=1"
    expected = golden.read_text()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            fromfile=str(golden.relative_to(Path(__file__).parent.parent)),
            tofile=f"{problem} {component} as built",
            lineterm="",
        )
        pytest.fail(
            f"the {component} rows of micro problem {problem!r} changed "
            "(if intended: HEATNET_REGEN_LP=1, then review git diff tests/data/lp):\n"
            + "\n".join(diff),
            pytrace=False,
        )


def test_goldens_are_small_and_all_used() -> None:
    files = sorted(GOLDEN.rglob("*.lp"))
    expected = {GOLDEN / p / f"{c}.lp" for p in PROBLEMS for c in COMPONENTS}
    assert set(files) == expected
    assert all(f.stat().st_size < 8000 for f in files)
