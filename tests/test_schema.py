"""The schemas are valid JSON Schema, cover the table format exactly once, and drive the checker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heatnet.inputs.checker import RowContext, check_table
from heatnet.inputs.params import parameter_fields
from heatnet.inputs.schema import load_schemas, schema_dir

FORMAT = Path(__file__).parent / "data" / "network-model-tables.txt"
OWN_TABLES = {
    "plant_units", "storages", "fuels", "fuel_distribution", "day_types", "demand_profiles",
}  # fmt: skip
"""heatnet's own input tables, beyond the format: the dispatch tables."""
OWN_COLUMNS = {"buildings": ["profile_id"], "civil_costs": ["loss_factor_w_per_m_k"]}
"""heatnet's own input columns, after the format's."""
OWN_PARAMETER_GROUPS = ("heatnet/", "dispatch/")


def parse_format() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """Input columns, output columns (by table) and parameter keys named in the format file."""
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    params: list[str] = []
    current: list[str] | None = None
    in_outputs = False
    for line in FORMAT.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^([a-z_]+)[A-Z]", line)
        if header and "|" not in line:
            name = header.group(1)
            in_outputs = in_outputs or name in inputs
            target = outputs if in_outputs else inputs
            current = target.setdefault(name, [])
            continue
        cells = [c.strip() for c in line.split("|")]
        if (
            current is None
            or len(cells) < 3
            or cells[0] in ("", "Field")
            or cells[0].startswith("-")
        ):
            continue
        current.append(cells[0])
        if cells[0] == "parameter":
            params = re.findall(r":([a-z-]+/[a-z-]+)", cells[1])
    return inputs, outputs, params


def test_every_schema_file_is_valid_json_schema():
    files = sorted(schema_dir().glob("*.schema.json"))
    assert len(files) >= 15
    for path in files:
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_format_parser_finds_every_table():
    inputs, outputs, params = parse_format()
    assert set(inputs) == {
        "buildings", "paths", "supply_costs", "tariffs", "connection_costs", "supplies",
        "parameters", "civil_costs", "civil_cost_names",
    }  # fmt: skip
    assert set(outputs) == {
        "buildings", "supplies", "paths", "cashflow", "solution_summary", "infeasible_reasons",
    }  # fmt: skip
    assert len(params) == 39


def test_every_format_column_is_covered_exactly_once():
    inputs, outputs, _ = parse_format()
    schemas = load_schemas()
    for name, columns in inputs.items():
        assert list(schemas.inputs[name].columns) == columns + OWN_COLUMNS.get(name, []), name
    own_outputs = {"supplies": ["dispatch_cost", "dispatch_heat_price"]}  # with plant units
    for name, columns in outputs.items():
        assert list(schemas.outputs[name].columns) == columns + own_outputs.get(name, []), name
    assert set(schemas.inputs) == set(inputs) | OWN_TABLES
    # heatnet's own: input warnings, and the dispatch of plant units
    assert set(schemas.outputs) == set(outputs) | {"warnings", "dispatch", "dispatch_summary"}


def test_every_format_parameter_is_covered_and_only_heatnet_keys_are_extra():
    _, _, keys = parse_format()
    schema_keys = list(load_schemas().parameters)
    assert len(schema_keys) == len(set(schema_keys))
    assert set(keys) <= set(schema_keys)
    extra = set(schema_keys) - set(keys)
    assert extra, "heatnet's own keys exist"
    assert all(k.startswith(OWN_PARAMETER_GROUPS) for k in extra)


def test_parameters_dataclass_matches_schema_fields():
    specs = load_schemas().parameters
    assert parameter_fields() == tuple(s.field_name for s in specs.values())


def test_baked_markers_are_documented_reasons_on_parameters_only():
    schemas = load_schemas()
    assert "`x-baked`" in schemas.input("parameters").description
    baked = {k: s.raw["x-baked"] for k, s in schemas.parameters.items() if "x-baked" in s.raw}
    assert {"finance/npv-rate", "heatnet/max-connector-length"} <= set(baked)
    for key, reason in baked.items():
        assert isinstance(reason, str), key
        assert reason.strip(), key
        assert not reason.rstrip().endswith("."), key  # the message's clause goes on after it
        assert schemas.parameters[key].baked == reason
    for table in (*schemas.inputs.values(), *schemas.outputs.values()):
        assert not [c.name for c in table.columns.values() if "x-baked" in c.raw], table.name


def test_every_parameter_default_satisfies_its_own_schema():
    for spec in load_schemas().parameters.values():
        jsonschema.validate(spec.default, dict(spec.raw))


def test_foreign_keys_point_at_real_columns():
    schemas = load_schemas()
    for table in schemas.inputs.values():
        for spec in table.columns.values():
            if spec.references:
                target, column = spec.references
                assert column in schemas.inputs[target].columns


# --- the vectorised checker agrees with jsonschema on typed rows ----------------------------

NUMBERS = st.one_of(
    st.none(),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(min_value=-5, max_value=5),
)


@pytest.mark.parametrize("table", ["tariffs", "connection_costs", "civil_costs"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_checker_agrees_with_jsonschema(table, data):
    schema = load_schemas().inputs[table]
    rows = [
        {name: data.draw(NUMBERS) for name in schema.columns if name != "name"} for _ in range(3)
    ]
    frame = pd.DataFrame(rows, index=[1, 2, 3], dtype=object)
    ctx = RowContext(table, pd.Series(pd.NA, index=frame.index), pd.Series(True, index=frame.index))
    _, issues = check_table(frame, schema, ctx)
    flagged = {(i.row, i.column) for i in issues if i.code != "duplicate_id"}
    validator = jsonschema.Draft202012Validator(dict(schema.raw))
    expected = set()
    for row, record in zip(frame.index, rows, strict=True):
        cleaned = {k: v for k, v in record.items() if v is not None or not _has_default(schema, k)}
        for err in validator.iter_errors(cleaned):
            column = err.path[0] if err.path else err.message.split("'")[1]
            expected.add((row, column))
    assert flagged == expected


def _has_default(schema, name):
    spec = schema.columns[name]
    return spec.has_default
