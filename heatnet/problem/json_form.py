"""The JSON form of a :class:`~heatnet.problem.definition.Problem` (the solution's is in :mod:`heatnet.outputs.solution_json`).

A problem saved as JSON can be shared and solved on its own (``heatnet solve PROBLEM.json``).
The layouts are ``schemas/problem.schema.json`` and ``schemas/solution.schema.json`` (JSON
Schema, not tables, so :func:`heatnet.inputs.schema.load_schemas` skips them). Parameters are written by
key (``finance/npv-rate``) and read back through :func:`heatnet.inputs.params.parse_parameters`, so they
obey the parameters schema; numbers are JSON numbers (Python floats round-trip exactly) and NaN
is written as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pandas as pd

from heatnet.core.atomic import atomic_output
from heatnet.core.errors import InputError, SchemaError
from heatnet.economics import PipeCatalogue
from heatnet.inputs.params import Parameters, parse_parameters
from heatnet.inputs.schema import load_schemas, schema_dir
from heatnet.problem.definition import (
    BUILDING_COLUMNS,
    EDGE_COLUMNS,
    PV_CLASSES,
    SUPPLY_CLASSES,
    SUPPLY_COLUMNS,
    Problem,
)

PROBLEM_FORMAT = "heatnet-problem"
VERSION = 1
_TEMPERATURES = ("flow", "return", "ground")
"""``pipes/<t>_c`` must equal parameter ``optimiser/<t>-temperature`` (``<t>_temperature_c``)."""


@cache
def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``name`` (``problem``, ``solution``, ``dispatch``), checked to be valid.

    Raises
    ------
    SchemaError
        If the file is missing, not JSON or not a valid schema (a broken installation).
    """
    path = schema_dir() / f"{name}.schema.json"
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(raw)
    except (OSError, ValueError, jsonschema.SchemaError) as exc:
        raise SchemaError(f"schema file {path.name} is broken: {exc}") from exc
    return raw


def schema_errors(data: Any, name: str) -> list[str]:
    """Every error of ``data`` against schema ``name``, as ``"<JSON path>: <message>"``."""
    validator = jsonschema.Draft202012Validator(json_schema(name))
    errors = sorted(
        validator.iter_errors(data),
        key=lambda e: ([str(p).zfill(12) for p in e.absolute_path], e.message),  # [9] < [10]
    )
    return [f"{e.json_path}: {e.message}" for e in errors]


def non_finite(value: Any, path: str = "$") -> list[str]:
    """Where ``value`` holds NaN, an infinity or a number too large for a float."""
    if isinstance(value, dict):
        keys = {k: f".{k}" if str(k).isidentifier() else f"[{str(k)!r}]" for k in value}
        return [e for k, v in value.items() for e in non_finite(v, path + keys[k])]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in non_finite(v, f"{path}[{i}]")]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return [] if math.isfinite(value) else [f"{path}: {value} is not a finite number"]
        except OverflowError:
            return [f"{path}: the number is too large"]
    return []


def json_scalar(value: Any) -> Any:
    """A cell as a JSON scalar: NaN and infinities become None (JSON has none of them)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def class_values(row: Mapping[str, Any], prefix: str, classes: Iterable[str]) -> dict[str, float]:
    """``{class: row[prefix + class]}`` as floats, for ``classes``."""
    return {c: float(row[prefix + c]) for c in classes}


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts (index left out)."""
    return [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(index=False)]


# --- problem <-> JSON ------------------------------------------------------------------------

_Nested = dict[str, tuple[str, tuple[str, ...]]]
_EDGE_SCALARS = ("u", "v", "length_m", "required", "existing_diameter_mm", "extra_pv")
_TABLES: dict[str, tuple[str, str | None, tuple[str, ...], _Nested]] = {
    # JSON array: (key of the frame's index, index name, scalar columns, nested PVs by class)
    "buildings": ("vertex", "vertex", BUILDING_COLUMNS[:6], {"pv": ("pv_", PV_CLASSES)}),
    "supplies": (
        "vertex", "vertex", SUPPLY_COLUMNS[:5],
        {p: (f"{p}_", SUPPLY_CLASSES) for p in ("fixed", "per_kw", "per_kwh", "curve_slack")},
    ),
    "edges": ("id", None, _EDGE_SCALARS, {}),
}  # fmt: skip
_DTYPES: dict[str, Any] = {"connections": np.int64, "required": bool}
_TEXT = frozenset({"building_id", "supply_id", "u", "v", "demand_group"})


def parameters_to_json(params: Parameters) -> dict[str, Any]:
    """Every parameter by key, in schema order (the inverse of parsing them)."""
    specs = load_schemas().parameters
    return {key: json_scalar(getattr(params, str(spec.field_name))) for key, spec in specs.items()}


def _table_to_json(frame: pd.DataFrame, table: str) -> list[dict[str, Any]]:
    key, _, scalars, nested = _TABLES[table]
    out = []
    for ident, row in zip(frame.index, json_records(frame), strict=True):
        record = {key: str(ident)} | {c: json_scalar(row[c]) for c in scalars}
        record |= {c: str(record[c]) for c in _TEXT & set(scalars) if record[c] is not None}
        for name, (prefix, classes) in nested.items():
            record[name] = class_values(row, prefix, classes)
        if table == "supplies":
            columns = [row["curve_kw"], *(row[f"curve_{c}"] for c in SUPPLY_CLASSES)]
            record["curve"] = [
                {"kw": float(kw), "pv": dict(zip(SUPPLY_CLASSES, map(float, pv), strict=True))}
                for kw, *pv in zip(*columns, strict=True)
            ]
            mids = [row[f"curve_mid_{c}"] for c in SUPPLY_CLASSES]
            if len(mids[0]) and len(mids[0]) == len(record["curve"]) - 1:
                for point, *mid in zip(record["curve"], *mids, strict=False):
                    point["mid"] = dict(zip(SUPPLY_CLASSES, map(float, mid), strict=True))
        if table == "edges":
            civil = row["civil_lengths_m"].items()
            record["civil_lengths_m"] = {str(int(c)): float(m) for c, m in civil}
            record["members"] = [str(m) for m in row["members"]]
        out.append(record)
    return out


def problem_to_json(problem: Problem) -> dict[str, Any]:
    """The JSON form of a problem (see ``schemas/problem.schema.json``).

    Parameters
    ----------
    problem
        The problem.

    Returns
    -------
    dict
        Plain JSON data: every parameter by key, the catalogue, one object per building,
        supply, edge and reason.
    """
    cat = problem.catalogue
    civil = [str(int(c)) for c in cat.cost_m.index]
    costs = cat.cost_m.to_numpy(dtype=float)
    rows = [
        {
            "diameter_mm": float(d),
            "capacity_kw": float(cat.capacity_kw[j]),
            "loss_w_per_m": float(cat.loss_w_per_m[j]),
            "cost_m": {c: float(x) for c, x in zip(civil, costs[:, j], strict=True)},
        }
        for j, d in enumerate(cat.diameter_mm)
    ]
    temperatures = {"flow_c": cat.flow_c, "return_c": cat.return_c, "ground_c": cat.ground_c}
    return {
        "format": PROBLEM_FORMAT,
        "version": VERSION,
        "name": problem.name,
        "parameters": parameters_to_json(problem.parameters),
        "pipes": {k: float(t) for k, t in temperatures.items()} | {"rows": rows},
        **{t: _table_to_json(getattr(problem, t), t) for t in _TABLES},
        "reasons": [{"reason_type": t, "message": m} for t, m in problem.reasons],
    }


def _with_defaults(records: Sequence[Mapping[str, Any]], table: str) -> list[dict[str, Any]]:
    """Records with the schema's defaults filled in."""
    props = json_schema("problem")["properties"][table]["items"]["properties"]
    defaults = {k: p["default"] for k, p in props.items() if "default" in p}
    return [{**defaults, **r} for r in records]


def _table_frame(records: list[dict[str, Any]], table: str) -> pd.DataFrame:
    key, index_name, scalars, nested = _TABLES[table]
    data: dict[str, Any] = {}
    for c in scalars:
        values = [r[c] for r in records]
        if c in _TEXT:  # a list, so pandas infers the dtype as the problem builders' lists do
            data[c] = [None if v is None else str(v) for v in values]
        elif c in _DTYPES:
            data[c] = np.array(values, dtype=_DTYPES[c])
        else:
            data[c] = np.array([np.nan if v is None else v for v in values], dtype=float)
    for name, (prefix, classes) in nested.items():
        for c in classes:
            data[prefix + c] = np.array([r[name].get(c, 0.0) for r in records], dtype=float)
    if table == "supplies":
        data["curve_kw"] = [tuple(float(p["kw"]) for p in r["curve"]) for r in records]
        for c in SUPPLY_CLASSES:
            data[f"curve_{c}"] = [
                tuple(float(p["pv"].get(c, 0)) for p in r["curve"]) for r in records
            ]
            data[f"curve_mid_{c}"] = [
                tuple(float(p["mid"].get(c, 0)) for p in r["curve"][:-1])
                if r["curve"] and all("mid" in p for p in r["curve"][:-1])
                else ()
                for r in records
            ]
    if table == "edges":
        civil = [{int(c): float(m) for c, m in r["civil_lengths_m"].items()} for r in records]
        data["civil_lengths_m"] = civil
        data["members"] = [tuple(str(m) for m in r["members"]) for r in records]
    index = pd.Index([str(r[key]) for r in records], name=index_name)
    columns = {"buildings": BUILDING_COLUMNS, "supplies": SUPPLY_COLUMNS, "edges": EDGE_COLUMNS}
    return pd.DataFrame(data, index=index)[list(columns[table])]


def _duplicates(records: Sequence[Mapping[str, Any]], table: str, column: str) -> list[str]:
    first: dict[str, int] = {}
    for i, r in enumerate(records):
        first.setdefault(r[column], i)
    return [
        f"$.{table}[{i}].{column}: {r[column]!r} is also in $.{table}[{first[r[column]]}]"
        for i, r in enumerate(records)
        if first[r[column]] != i
    ]


_UNIQUE = (
    ("buildings", "vertex"), ("buildings", "building_id"), ("supplies", "vertex"),
    ("supplies", "supply_id"), ("edges", "id"),
)  # fmt: skip


def _semantic_errors(
    data: Mapping[str, Any], tables: Mapping[str, list[dict[str, Any]]]
) -> list[str]:
    """What the schema cannot say: unique ids, known civil ids, consistent numbers."""
    errors = [e for table, column in _UNIQUE for e in _duplicates(tables[table], table, column)]
    building_at = {b["vertex"]: i for i, b in enumerate(tables["buildings"])}
    for i, s in enumerate(tables["supplies"]):
        if s["vertex"] in building_at:
            errors.append(
                f"$.supplies[{i}].vertex: {s['vertex']!r} is also the vertex of "
                f"$.buildings[{building_at[s['vertex']]}]: a vertex is a building or a supply"
            )
        if any(a["kw"] >= b["kw"] for a, b in pairwise(s["curve"])):
            errors.append(f"$.supplies[{i}].curve: kw must increase from point to point")
    return errors + _pipe_errors(data["pipes"]["rows"], tables["edges"])


def _pipe_errors(rows: list[dict[str, Any]], edges: list[dict[str, Any]]) -> list[str]:
    """The catalogue is sorted and lists the same civil ids in every row; edges use them."""
    civil = set(rows[0]["cost_m"])
    errors = [
        f"$.pipes.rows[{j}].cost_m: civil ids {sorted(r['cost_m'])}, not {sorted(civil)}"
        for j, r in enumerate(rows)
        if set(r["cost_m"]) != civil
    ]
    for column in ("diameter_mm", "capacity_kw"):
        if any(a[column] >= b[column] for a, b in pairwise(rows)):
            errors.append(f"$.pipes.rows: {column} must increase from row to row")
    for i, e in enumerate(edges):
        if e["u"] == e["v"]:
            errors.append(f"$.edges[{i}]: both ends are {e['u']!r}")
        unknown = sorted(set(e["civil_lengths_m"]) - civil)
        if unknown:
            errors.append(f"$.edges[{i}].civil_lengths_m: unknown civil ids {unknown}")
        total = sum(e["civil_lengths_m"].values())
        if not math.isclose(total, e["length_m"], rel_tol=1e-6, abs_tol=1e-6):
            errors.append(
                f"$.edges[{i}].civil_lengths_m: {total:g} m in all, but length_m is "
                f"{e['length_m']:g} m"
            )
    return errors


def _parameters(given: Mapping[str, Any], pipes: Mapping[str, Any]) -> tuple[Parameters, list[str]]:
    """Parse parameters by key (as the parameters table) and check the catalogue's temperatures."""
    table = pd.DataFrame(
        {"parameter": list(given), "value": pd.Series(list(given.values()), dtype=object)}
    )
    values, issues = parse_parameters(table, {}, load_schemas(), row_kind="key")
    errors = [f"$.parameters: {i.message}" for i in issues if i.is_error]
    params = values.parameters
    for t in _TEMPERATURES if not errors else ():
        want, used = float(pipes[f"{t}_c"]), float(getattr(params, f"{t}_temperature_c"))
        if want != used:
            errors.append(
                f"$.pipes.{t}_c: the catalogue is for {want:g} °C but parameter "
                f"'optimiser/{t}-temperature' is {used:g} °C"
            )
    return params, errors


def problem_from_json(data: Any, *, source: str = "the input") -> Problem:
    """A problem from its JSON form, checked first against the schema and then for sense.

    Parameters
    ----------
    data
        Parsed JSON (see ``schemas/problem.schema.json``).
    source
        What to call the data in error messages (e.g. the file name).

    Returns
    -------
    Problem
        Frames, catalogue and parameters as :func:`heatnet.problem.from_network.network_problem`
        makes them.

    Raises
    ------
    InputError
        Listing every schema error with its JSON path; or, when the layout is right, every
        semantic error (duplicate or clashing ids, unknown civil ids or parameters, ...).
    """
    errors = non_finite(data) or schema_errors(data, "problem")
    if errors:
        raise _invalid(source, errors)
    tables = {t: _with_defaults(data[t], t) for t in _TABLES}
    errors = _semantic_errors(data, tables)
    params, more = _parameters(data.get("parameters", {}), data["pipes"])
    if errors or more:
        raise _invalid(source, errors + more)
    buildings, supplies, edges = (_table_frame(tables[t], t) for t in _TABLES)
    return Problem(
        buildings,
        supplies,
        edges,
        _catalogue(data["pipes"], params),
        params,
        tuple((r["reason_type"], r["message"]) for r in data.get("reasons", [])),
        str(data.get("name", "problem")),
    )


def _invalid(source: str, errors: Sequence[str]) -> InputError:
    lines = "".join(f"\n  {e}" for e in errors)
    return InputError(f"{source} is not a valid heatnet problem ({len(errors)} error(s)):{lines}")


def _catalogue(pipes: Mapping[str, Any], params: Parameters) -> PipeCatalogue:
    """The catalogue as stored; its loss model (how other diameters lose heat) is the parameter's."""
    rows = pipes["rows"]
    civil = sorted(rows[0]["cost_m"], key=int)
    diameters = np.array([r["diameter_mm"] for r in rows], dtype=float)
    cost = np.array([[r["cost_m"][c] for r in rows] for c in civil], dtype=float)
    return PipeCatalogue(
        diameter_mm=diameters,
        capacity_kw=np.array([r["capacity_kw"] for r in rows], dtype=float),
        loss_w_per_m=np.array([r["loss_w_per_m"] for r in rows], dtype=float),
        cost_m=pd.DataFrame(
            cost, index=pd.Index([int(c) for c in civil], dtype=np.int64), columns=diameters
        ),
        flow_c=float(pipes["flow_c"]),
        return_c=float(pipes["return_c"]),
        ground_c=float(pipes["ground_c"]),
        heat_loss_model=params.heat_loss_model,
    )


# --- files -----------------------------------------------------------------------------------


def read_problem(path: Path | str) -> Problem:
    """Read a problem from a JSON file (see :func:`problem_from_json`).

    Raises
    ------
    InputError
        If the file cannot be read, is not JSON or is not a valid problem (``NaN`` and
        ``Infinity`` included).
    """
    return problem_from_json(read_json(path), source=str(path))


def read_json(path: Path | str) -> Any:
    """A JSON file's content; InputError (exit 3) if it cannot be read or is not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # JSONDecodeError, bad UTF-8
        raise InputError(f"{path} is not valid JSON: {exc}") from exc


def write_json(data: Mapping[str, Any], path: Path | str, overwrite: bool) -> None:
    """Write ``data`` as indented JSON, atomically (NaN refused: write ``None``)."""
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    with atomic_output(Path(path), overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_problem(problem: Problem, path: Path | str, *, overwrite: bool = False) -> None:
    """Write a problem as JSON, atomically.

    Raises
    ------
    heatnet.core.atomic.OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    write_json(problem_to_json(problem), path, overwrite)
